// Comparison screens: columns that keep their newest text in view, the setup
// form's add/remove column buttons, and clearing the prompt once it was sent
// (Ctrl+Enter is playground.js's).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // ---- each column follows its own stream unless the reader scrolled up -----------
  const pinned = new WeakMap();
  document.addEventListener("scroll", function (e) {
    const el = e.target;
    if (el.classList && el.classList.contains("column-stream")) {
      pinned.set(el, el.scrollHeight - el.scrollTop - el.clientHeight < 60);
    }
  }, { capture: true, passive: true });

  document.addEventListener("htmx:oobAfterSwap", function (e) {
    const target = e.detail.target;
    const stream = target && target.closest && target.closest(".column-stream");
    if (stream && pinned.get(stream) !== false) stream.scrollTop = stream.scrollHeight;
  });

  document.addEventListener("compareSent", function (e) {
    const form = e.target.closest ? e.target.closest("form") : null;
    if (form) form.reset();
  });

  // ---- setup form: show empty column slots one at a time ----------------------------
  function setupForm(form) {
    const add = form.querySelector(".add-slot");
    function refresh() {
      add.hidden = !form.querySelector(".slot[data-empty]");
    }
    add.addEventListener("click", function () {
      const next = form.querySelector(".slot[data-empty]");
      if (next) {
        delete next.dataset.empty;
        next.querySelector("select").focus();
      }
      refresh();
    });
    form.querySelectorAll(".remove-slot").forEach(function (button) {
      button.addEventListener("click", function () {
        const slot = button.closest(".slot");
        slot.querySelector("select").value = "";
        slot.dataset.empty = "";
        refresh();
      });
    });
    refresh();

    // Offer only the efforts the chosen model takes (the server checks again).
    form.querySelectorAll(".slot").forEach(function (slot) {
      const model = slot.querySelector("select[name$='-model']");
      const effort = slot.querySelector("select[name$='-effort']");
      function limit() {
        const chosen = model.selectedOptions[0];
        const allowed = chosen && chosen.value ? (chosen.dataset.efforts || "").split(",") : null;
        effort.querySelectorAll("option").forEach(function (option) {
          option.disabled = option.value !== "default" && allowed !== null && !allowed.includes(option.value);
        });
        if (effort.selectedOptions[0] && effort.selectedOptions[0].disabled) effort.value = "default";
      }
      model.addEventListener("change", limit);
      limit();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.compare-setup").forEach(setupForm);
  });
})();
