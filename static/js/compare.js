// Comparison screens: columns that keep their newest text in view and scroll
// together, the setup form's add/remove column buttons, and clearing the prompt
// once it was sent (Ctrl+Enter is playground.js's).
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

  // A finished turn replaces the streamed one (outerHTML): the swap's target is then
  // the detached old element, so the column is found through the new one by id.
  // Missing that left every column short of its last lines (metrics and tools)
  // whenever the finished render grew the column past its height.
  function followColumn(target) {
    const el = target && (target.isConnected ? target : target.id && document.getElementById(target.id));
    const stream = el && el.closest && el.closest(".column-stream");
    if (stream && pinned.get(stream) !== false) scrollColumn(stream, stream.scrollHeight);
  }
  document.addEventListener("htmx:oobAfterSwap", function (e) { followColumn(e.detail.target); });

  // ---- scrolling the columns together ------------------------------------------------
  // A reader scrolling one column moves the others to the same place in the same
  // round (the n-th prompt of each column), so answers to one prompt stay side by
  // side however long each is. Scrolls made here are remembered so they do not echo.
  const placed = new WeakMap();

  function scrollColumn(stream, top) {
    stream.scrollTop = top;
    placed.set(stream, stream.scrollTop);
  }

  function rounds(stream) {
    return Array.prototype.map.call(stream.querySelectorAll(".turns > article.turn.user"), function (u) {
      return u.offsetTop;
    });
  }

  function place(stream) {
    const starts = rounds(stream);
    const top = stream.scrollTop;
    if (top + stream.clientHeight >= stream.scrollHeight - 2) return { bottom: true };
    let i = 0;
    while (i + 1 < starts.length && starts[i + 1] <= top) i++;
    const start = starts[i] || 0;
    const end = i + 1 < starts.length ? starts[i + 1] : stream.scrollHeight;
    return { round: i, fraction: end > start ? (top - start) / (end - start) : 0 };
  }

  function moveTo(stream, where) {
    if (where.bottom) { scrollColumn(stream, stream.scrollHeight); return; }
    const starts = rounds(stream);
    if (!starts.length) return;
    const i = Math.min(where.round, starts.length - 1);
    const end = i + 1 < starts.length ? starts[i + 1] : stream.scrollHeight;
    scrollColumn(stream, starts[i] + where.fraction * (end - starts[i]));
  }

  function together() {
    const box = document.getElementById("scroll-together");
    return !!(box && box.checked);
  }

  document.addEventListener("scroll", function (e) {
    const stream = e.target;
    if (!stream.classList || !stream.classList.contains("column-stream")) return;
    if (Math.abs((placed.get(stream) ?? -1) - stream.scrollTop) < 1) return;  // our own scroll
    placed.set(stream, stream.scrollTop);
    if (!together()) return;
    const where = place(stream);
    document.querySelectorAll(".column-stream").forEach(function (other) {
      if (other !== stream) {
        moveTo(other, where);
        pinned.set(other, !!where.bottom);
      }
    });
  }, { capture: true, passive: true });

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
        const model = slot.querySelector("select");
        model.value = "";
        model.dispatchEvent(new Event("change", { bubbles: true }));  // the model picker's text follows
        slot.dataset.empty = "";
        refresh();
      });
    });
    refresh();

    // Offer only what the chosen model takes (its option carries what the server's
    // check accepts, templatetags control_offer), saying why the rest is unavailable.
    form.querySelectorAll(".slot").forEach(function (slot) {
      const model = slot.querySelector("select[name$='-model']");
      const effort = slot.querySelector("select[name$='-effort']");
      const thinking = slot.querySelector("select[name$='-thinking']");
      const budget = slot.querySelector("input[name$='-budget_tokens']");
      const temperature = slot.querySelector("input[name$='-temperature']");
      const notes = slot.querySelector(".unavailable-list");
      function limit() {
        const chosen = model.selectedOptions[0];
        const data = chosen && chosen.value ? chosen.dataset : null;
        const allowed = data ? (data.efforts || "").split(",") : null;
        const reasons = [];
        effort.querySelectorAll("option").forEach(function (option) {
          option.disabled = option.value !== "default" && allowed !== null && !allowed.includes(option.value);
        });
        if (effort.selectedOptions[0] && effort.selectedOptions[0].disabled) effort.value = "default";
        thinking.querySelectorAll("option").forEach(function (option) {
          const why = data && option.value !== "default" ? data["no" + option.value.charAt(0).toUpperCase() + option.value.slice(1)] : "";
          option.disabled = !!why;
          option.title = why ? why : "";
          if (why) reasons.push("Thinking " + option.value + ": " + why);
        });
        if (thinking.selectedOptions[0] && thinking.selectedOptions[0].disabled) thinking.value = "default";
        [[budget, "noBudget", "Budget"], [temperature, "noTemperature", "Temperature"]].forEach(function (c) {
          const why = data ? data[c[1]] : "";
          c[0].disabled = !!why;
          c[0].title = why || "";
          if (why) { c[0].value = ""; reasons.push(c[2] + ": " + why); }
        });
        notes.replaceChildren.apply(notes, reasons.map(function (r) {
          const li = document.createElement("li");
          li.textContent = r;
          return li;
        }));
        notes.hidden = !reasons.length;
      }
      model.addEventListener("change", limit);
      limit();
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.compare-setup").forEach(setupForm);
  });
})();
