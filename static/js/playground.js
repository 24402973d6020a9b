// Small behaviours htmx does not cover: the ticking "Thinking… N s" label,
// folding the thought block when the answer starts, keyboard shortcuts and
// keeping the view pinned to the newest text.
(function () {
  "use strict";

  function tick() {
    const now = Date.now() / 1000;
    document.querySelectorAll(".thinking-label[data-started]").forEach(function (el) {
      const turn = el.closest(".turn");
      const answering = turn && turn.querySelector(".content.streaming")?.textContent.length > 0;
      if (answering) return;
      const started = parseFloat(el.dataset.started);
      el.textContent = "Thinking… " + Math.max(0, Math.round(now - started)) + " s";
    });
  }
  setInterval(tick, 1000);

  function nearBottom() {
    const el = document.scrollingElement;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 120;
  }

  let pinned = true;
  document.addEventListener("scroll", function () { pinned = nearBottom(); }, { passive: true });

  document.addEventListener("htmx:oobAfterSwap", function (e) {
    const target = e.detail.target;
    if (target && target.classList && target.classList.contains("content") && target.classList.contains("streaming")) {
      const turn = target.closest(".turn");
      const details = turn && turn.querySelector("details.thought");
      if (details && details.open && !details.dataset.userOpened && !document.body.dataset.keepThoughtsOpen) {
        details.open = false;
        const label = details.querySelector(".thinking-label");
        if (label) {
          const started = parseFloat(label.dataset.started);
          label.textContent = "Thought for " + Math.max(0, Date.now() / 1000 - started).toFixed(1) + " s";
          label.removeAttribute("data-started");
        }
      }
    }
    if (pinned) window.scrollTo(0, document.scrollingElement.scrollHeight);
  });

  document.addEventListener("toggle", function (e) {
    if (e.target.matches && e.target.matches("details.thought") && e.isTrusted) {
      e.target.dataset.userOpened = "1";
    }
  }, true);

  document.addEventListener("htmx:wsAfterSend", function (e) {
    const form = e.detail.elt;
    if (form && form.classList && form.classList.contains("composer")) {
      form.querySelector("textarea").value = "";
      document.getElementById("notice").innerHTML = "";
      const hint = document.getElementById("empty-hint");
      if (hint) hint.remove();
    }
  });

  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.matches("textarea[name=prompt]")) {
      e.preventDefault();
      e.target.form.requestSubmit();
    }
  });
})();
