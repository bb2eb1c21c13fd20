// While Stripe's confirmation is on its way, look again every few seconds and show the
// answer in place (the section is a polite live region). Without it, "Check again" reloads.
document.addEventListener("DOMContentLoaded", () => {
  const section = document.querySelector("[data-checkout-status]");
  if (!section || section.dataset.waiting !== "true") return;
  let tries = 40;
  const look = async () => {
    try {
      const response = await fetch(location.href, { headers: { Accept: "text/html" } });
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html")
        .querySelector("[data-checkout-status]");
      if (fresh && fresh.dataset.checkoutStatus !== section.dataset.checkoutStatus) {
        section.innerHTML = fresh.innerHTML;
        section.dataset.checkoutStatus = fresh.dataset.checkoutStatus;
        if (fresh.dataset.waiting !== "true") return;
      }
    } catch {
      // A dropped connection: the next look may work.
    }
    if (--tries > 0) setTimeout(look, 3000);
  };
  setTimeout(look, 3000);
});
