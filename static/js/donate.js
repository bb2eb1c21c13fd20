// Progressive enhancement of the gift form; without it the amount links and the
// server-side fee preview still work.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector(".donate-form");
  if (!form) return;
  const amountInput = form.querySelector("#amount");
  const feePreview = form.querySelector("#fee-preview");
  const percent = Number(form.dataset.feePercent);
  const fixed = Number(form.dataset.feeFixed);

  const showAmountsFor = (frequency) => {
    for (const list of form.querySelectorAll(".amount-buttons")) {
      list.hidden = list.dataset.frequency !== frequency;
    }
  };
  for (const radio of form.querySelectorAll('input[name="frequency"]')) {
    radio.addEventListener("change", () => showAmountsFor(radio.value));
  }

  for (const button of form.querySelectorAll(".amount-button")) {
    button.addEventListener("click", (event) => {
      event.preventDefault();
      amountInput.value = button.dataset.amount;
      for (const other of form.querySelectorAll(".amount-button")) {
        other.removeAttribute("aria-current");
      }
      button.setAttribute("aria-current", "true");
      updateFee();
    });
  }

  // An estimate for display only; the server computes the exact fee in integer cents.
  const updateFee = () => {
    // As the server reads it (money.parse_amount): Arabic-Indic digits and separators too.
    const amount = Number((amountInput.value || "")
      .replace(/[\u0660-\u0669]/g, (d) => d.charCodeAt(0) - 0x0660)
      .replace(/[\u06f0-\u06f9]/g, (d) => d.charCodeAt(0) - 0x06f0)
      .replace(/\u066b/g, ".").replace(/[\u066c,]/g, ""));
    if (!feePreview || !Number.isFinite(amount) || amount <= 0) return;
    const currency = feePreview.dataset.currency;
    const lang = document.documentElement.lang || "en";
    const unit = 10 ** new Intl.NumberFormat(lang, { style: "currency", currency })
      .resolvedOptions().maximumFractionDigits;
    const gross = Math.ceil(((amount + fixed) / (1 - percent / 100)) * unit) / unit;
    const template = feePreview.dataset.template;
    if (template) {
      const fee = Math.round((gross - amount) * unit);  // in the currency's minor units
      feePreview.textContent = template.replace("{fee}", window.formatMoney(fee, currency, lang));
    }
  };
  amountInput.addEventListener("input", updateFee);
  updateFee();
});
