// Keeps a running campaign's figures live: reads progress.json every 30 seconds while
// the page is visible. Without it the page shows the figures as of its loading.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector(".progress[data-progress-url]");
  if (!box) return;
  const bar = box.querySelector("progress");
  const lang = document.documentElement.lang || "en";

  const money = (minor, currency) => window.formatMoney(minor, currency, lang);
  const show = (field, text) => {
    const cell = box.querySelector(`[data-field="${field}"]`);
    if (cell) cell.textContent = text;
  };

  const refresh = async () => {
    if (document.hidden) return;
    try {
      const response = await fetch(box.dataset.progressUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const progress = await response.json();
      const count = (n) => n.toLocaleString(`${lang}-u-nu-latn`);  // digits as the server's
      show("raised", money(progress.raised_cents, progress.currency));
      show("matched", money(progress.matched_cents, progress.currency));
      show("total", money(progress.total_cents, progress.currency));
      show("percent", `${progress.percent}%`);
      show("donors", count(progress.donors));
      show("days_left", String(progress.days_left));
      bar.value = Math.min(progress.percent, 100);
      bar.textContent = `${progress.percent}%`;
      // What a screen reader hears follows the figures: the server's words, new numbers.
      const category = new Intl.PluralRules(lang).select(progress.donors);
      const donors = (n) => (bar.dataset[`donor${category[0].toUpperCase()}${category.slice(1)}`]
        || bar.dataset.donorOther).replace("{n}", count(n));
      const value = progress.goal_type === "amount"
        ? money(progress.total_cents, progress.currency) : donors(progress.donors);
      bar.setAttribute("aria-valuetext", bar.dataset.valuetext
        .replace("{value}", value).replace("{percent}", String(progress.percent)));
    } catch {
      // Offline for a moment: the figures shown stay until the next try.
    }
  };
  setInterval(refresh, 30000);
});
