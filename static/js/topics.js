// Follow and unfollow in place. Without it the same forms post and come back here.
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll(".follow-form")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector(".follow-toggle");
      const label = form.querySelector(".follow-label");
      // Not `disabled`: a disabled button loses the keyboard focus.
      if (form.dataset.busy) return;
      form.dataset.busy = "true";
      try {
        const response = await fetch(form.action, {
          method: "POST", body: new FormData(form), headers: { Accept: "application/json" },
        });
        if (!response.ok || !response.headers.get("Content-Type")?.includes("json")) {
          form.submit(); // a log-in is needed, or something failed: let the server say
          return;
        }
        const { following } = await response.json();
        button.setAttribute("aria-pressed", following ? "true" : "false");
        label.textContent = following ? label.dataset.on : label.dataset.off;
        form.action = following ? form.dataset.unfollow : form.dataset.follow;
      } catch {
        form.submit();
      } finally {
        delete form.dataset.busy;
      }
    });
  }
});
