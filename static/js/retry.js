// A rate-limited turn (429) counts down the provider's Retry-After and then asks
// again by itself (its "Try again" button, a regeneration); "Don't retry" stops it.
// Only a recent failure does so: an old one seen on a later visit waits for a click.
(function () {
  "use strict";

  const counting = new Set();

  function start(el) {
    if (el.dataset.retryState || el.closest(".compare-column")) return;
    el.dataset.retryState = "counting";
    el.dataset.retryLeft = String(Math.max(1, Math.round(parseFloat(el.dataset.retryAfter) || 5)));
    counting.add(el);
  }

  setInterval(function () {
    counting.forEach(function (el) {
      if (!el.isConnected || el.dataset.retryState !== "counting") { counting.delete(el); return; }
      const left = parseInt(el.dataset.retryLeft, 10) - 1;
      el.dataset.retryLeft = String(left);
      const text = el.querySelector(".retry-text");
      if (left > 0) { text.textContent = "Retrying in " + left + " s…"; return; }
      counting.delete(el);
      el.dataset.retryState = "done";
      text.textContent = "Retrying now…";
      const button = el.closest(".turn-error").querySelector("[data-retry-now]");
      if (button) button.click();
    });
  }, 1000);

  document.addEventListener("click", function (e) {
    const cancel = e.target.closest && e.target.closest("[data-retry-cancel]");
    if (!cancel) return;
    const el = cancel.closest("[data-retry-after]");
    el.dataset.retryState = "cancelled";
    el.querySelector(".retry-text").textContent = "Not retrying.";
    cancel.remove();
  });

  // On a page load, only a failure still inside its wait counts down (the first
  // prompt of a new chat fails before its page is there); older ones wait for a click.
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-retry-after]").forEach(function (el) {
      const left = parseFloat(el.dataset.failedAt) + 1000 * parseFloat(el.dataset.retryAfter) - Date.now();
      if (left > -2000) {
        el.dataset.retryAfter = String(Math.max(1, left / 1000));
        start(el);
      } else {
        el.dataset.retryState = "stale";
        el.hidden = true;
      }
    });
  });

  document.addEventListener("htmx:load", function (e) {
    const root = e.detail.elt;
    if (!(root instanceof Element)) return;
    if (root.matches("[data-retry-after]")) start(root);
    root.querySelectorAll("[data-retry-after]").forEach(start);
  });
})();
