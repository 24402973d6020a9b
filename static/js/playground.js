// Small behaviours htmx does not cover: the ticking "Thinking… N s" label,
// folding the thought block when the answer starts, copy / raw / request
// panels, the controls for the chosen model, keyboard shortcuts, and keeping
// the view pinned to the newest text.
//
// The streaming path is the hot one: a frame appends one text node to a block.
// Nothing here reads the streamed text back or re-renders it; per frame the
// handlers below do a couple of class checks and schedule at most one scroll
// per animation frame.
(function () {
  "use strict";

  const store = {
    get: function (k) { try { return localStorage.getItem(k); } catch (e) { return null; } },
    set: function (k, v) { try { localStorage.setItem(k, v); } catch (e) { /* private mode */ } },
  };

  function keepOpen() { return document.body.dataset.keepThoughtsOpen === "1"; }

  // ---- the live label ----------------------------------------------------------------

  function answering(turn) {
    const c = turn && turn.querySelector(".content.streaming");
    return !!(c && c.hasChildNodes());
  }

  function tick() {
    const now = Date.now();
    document.querySelectorAll(".thinking-label.live").forEach(function (el) {
      const turn = el.closest(".turn");
      if (answering(turn)) { foldOnAnswer(turn); return; }
      const s = Math.max(0, Math.floor((now - parseFloat(el.dataset.started)) / 1000));
      el.textContent = el.dataset.prefix + " " + s + " s";
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // The answer has started: the thinking is over. Fold the block (unless the
  // user opened it or asked to keep thoughts open) and stop the ticking label.
  function foldOnAnswer(turn) {
    if (!turn || turn.dataset.folded) return;
    turn.dataset.folded = "1";
    const details = turn.querySelector("details.thought");
    if (!details) return;
    const label = details.querySelector(".thinking-label.live");
    if (label) {
      const s = Math.max(0, (Date.now() - parseFloat(label.dataset.started)) / 1000);
      const hidden = turn.dataset.hiddenReasoning;
      label.textContent = (hidden === "provider" ? "Reasoning hidden by the provider · "
        : hidden ? "Reasoning not shown · " : "Thought for ") + s.toFixed(1) + " s";
      label.classList.remove("live");
    }
    if (details.open && !details.dataset.userOpened && !keepOpen()) details.open = false;
  }

  // ---- scrolling: at most once per animation frame ----------------------------------

  let pinned = true;
  let scrollQueued = false;
  document.addEventListener("scroll", function () {
    const el = document.scrollingElement;
    pinned = el.scrollHeight - el.scrollTop - el.clientHeight < 160;
  }, { passive: true });

  // A thought block scrolls on its own: it follows its newest line unless the
  // reader scrolled it up (appends do not fire scroll events, so the flag holds).
  const boxPinned = new WeakMap();
  const grownBoxes = new Set();
  document.addEventListener("scroll", function (e) {
    const el = e.target;
    if (el.classList && el.classList.contains("reasoning")) {
      boxPinned.set(el, el.scrollHeight - el.scrollTop - el.clientHeight < 40);
    }
  }, { capture: true, passive: true });

  function followNewest(box) {
    if (box) grownBoxes.add(box);
    if (scrollQueued) return;
    scrollQueued = true;
    requestAnimationFrame(function () {
      scrollQueued = false;
      grownBoxes.forEach(function (b) {
        if (boxPinned.get(b) !== false && b.parentElement.open) b.scrollTop = b.scrollHeight;
      });
      grownBoxes.clear();
      if (pinned) window.scrollTo(0, document.scrollingElement.scrollHeight);
    });
  }

  // ---- swaps -------------------------------------------------------------------------

  const openBeforeSwap = new Map();

  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    const target = e.detail.target;
    // A finished turn replaces the streamed one: remember an open block the user chose.
    if (target && target.classList && target.classList.contains("turn")) {
      const d = target.querySelector("details.thought");
      if (d && d.open && d.dataset.userOpened) openBeforeSwap.set(target.id, true);
    }
  });

  document.addEventListener("htmx:oobAfterSwap", function (e) {
    const target = e.detail.target;
    if (target && target.id && target.classList.contains("streaming")) {
      if (target.id.endsWith("-c")) foldOnAnswer(target.closest(".turn"));
      else { followNewest(target); return; }
    }
    followNewest();
  });

  document.addEventListener("htmx:load", function (e) {
    const elt = e.detail.elt;
    if (!(elt instanceof Element)) return;
    if (elt.matches("dialog[data-autoshow]")) { elt.showModal(); return; }
    if (elt.matches(".turn")) {
      const d = elt.querySelector("details.thought");
      if (d && !elt.classList.contains("streaming") && (keepOpen() || openBeforeSwap.get(elt.id))) {
        d.open = true;
        d.dataset.userOpened = openBeforeSwap.get(elt.id) ? "1" : "";
      }
      openBeforeSwap.delete(elt.id);
    }
  });

  // A person opening a block (a click on its summary, also sent by Enter/Space)
  // keeps it open when the answer starts; a closed one stays closed.
  document.addEventListener("click", function (e) {
    const summary = e.target.closest && e.target.closest("details.thought > summary");
    if (summary) summary.parentElement.dataset.userOpened = summary.parentElement.open ? "" : "1";
  });

  // ---- buttons -----------------------------------------------------------------------

  document.addEventListener("click", function (e) {
    // On a phone the conversation list is a drawer: a tap beside it closes it.
    if (document.body.classList.contains("sidebar-open") && !e.target.closest(".sidebar, [data-toggle-sidebar]")) {
      document.body.classList.remove("sidebar-open");
    }
    const t = e.target.closest("button, a");
    if (!t) return;
    if (t.dataset.copy) {
      e.preventDefault();
      const label = t.textContent;
      fetch(t.dataset.copy, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); })
        .then(function (text) { return navigator.clipboard.writeText(text); })
        .then(function () { t.textContent = "Copied"; t.classList.add("done"); },
              function () { t.textContent = "Copy failed"; })
        .finally(function () { setTimeout(function () { t.textContent = label; t.classList.remove("done"); }, 1500); });
    } else if (t.hasAttribute("data-close")) {
      t.closest("dialog").close();
    } else if (t.dataset.edit) {
      const form = document.getElementById("edit-" + t.dataset.edit);
      form.hidden = false;
      const ta = form.querySelector("textarea");
      ta.focus(); ta.setSelectionRange(ta.value.length, ta.value.length);
    } else if (t.dataset.editCancel) {
      document.getElementById("edit-" + t.dataset.editCancel).hidden = true;
    } else if (t.hasAttribute("data-rename")) {
      const form = document.getElementById("rename-form");
      form.hidden = false;
      form.querySelector("input[name=title]").select();
    } else if (t.hasAttribute("data-rename-cancel")) {
      document.getElementById("rename-form").hidden = true;
    } else if (t.hasAttribute("data-toggle-sidebar")) {
      document.body.classList.toggle("sidebar-open");
    } else if (t.id === "controls-toggle") {
      setControlsOpen(t.getAttribute("aria-expanded") !== "true");
    }
  });

  // Dialogs opened from a turn are built per request; drop them when closed.
  document.addEventListener("close", function (e) {
    if (e.target.matches && e.target.matches("dialog[data-autoshow]")) e.target.remove();
  }, true);

  document.addEventListener("submit", function (e) {
    const msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);

  function setControlsOpen(open) {
    const btn = document.getElementById("controls-toggle");
    const panel = document.getElementById("controls-panel");
    if (!btn || !panel) return;
    btn.setAttribute("aria-expanded", open ? "true" : "false");
    panel.hidden = !open;
    store.set("controlsOpen", open ? "1" : "0");
  }

  // ---- the controls follow the chosen model ----------------------------------------

  document.addEventListener("change", function (e) {
    const sel = e.target;
    if (sel.id === "keep-thoughts-open") {
      document.body.dataset.keepThoughtsOpen = sel.checked ? "1" : "";
      store.set("keepThoughtsOpen", sel.checked ? "1" : "0");
      return;
    }
    if (sel.id !== "model") return;
    let url = sel.dataset.controlsUrl.replace("/0/", "/" + encodeURIComponent(sel.value) + "/");
    if (sel.dataset.conversation) url += "?conversation=" + sel.dataset.conversation;
    htmx.ajax("GET", url, { target: "#controls", swap: "outerHTML" }).then(function () {
      // Remember the new model (and what its controls kept) as the conversation's defaults.
      const controls = document.getElementById("controls");
      if (controls && controls.hasAttribute("hx-post")) htmx.trigger(controls, "change");
    });
  });

  // A refused htmx request (bad control value, a turn that is gone) says why.
  document.addEventListener("htmx:responseError", function (e) {
    const notice = document.getElementById("notice");
    const xhr = e.detail.xhr;
    if (!notice || !xhr) return;
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = xhr.status === 404 ? "Not found: it may have been deleted." : (xhr.responseText || "Request failed.").slice(0, 300);
    notice.replaceChildren(p);
  });

  // ---- composer ----------------------------------------------------------------------

  document.addEventListener("htmx:wsAfterSend", function (e) {
    const form = e.detail.elt;
    if (form && form.classList && form.classList.contains("composer")) {
      form.querySelector("textarea[name=prompt]").value = "";
      document.getElementById("notice").innerHTML = "";
      const hint = document.getElementById("empty-hint");
      if (hint) hint.remove();
      pinned = true;
    }
  });

  document.addEventListener("keydown", function (e) {
    const mod = e.ctrlKey || e.metaKey;
    if (e.key === "Enter" && mod && e.target.matches && e.target.matches("textarea") && e.target.form) {
      e.preventDefault();
      e.target.form.requestSubmit();
    } else if (e.key === "Escape" && !document.querySelector("dialog[open]")) {
      const stops = document.querySelectorAll(".stop-button");
      if (stops.length) { e.preventDefault(); stops[stops.length - 1].click(); }
      document.body.classList.remove("sidebar-open");
    } else if (mod && e.shiftKey && (e.key === "O" || e.key === "o")) {
      e.preventDefault();
      window.location.href = "/";
    } else if (mod && (e.key === "k" || e.key === "K")) {
      const search = document.getElementById("search");
      if (search) { e.preventDefault(); document.body.classList.add("sidebar-open"); search.focus(); }
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    const keep = store.get("keepThoughtsOpen") === "1";
    const box = document.getElementById("keep-thoughts-open");
    if (box) box.checked = keep;
    document.body.dataset.keepThoughtsOpen = keep ? "1" : "";
    if (keep) document.querySelectorAll("details.thought").forEach(function (d) { d.open = true; });
    if (store.get("controlsOpen") === "1") setControlsOpen(true);
    const prompt = document.getElementById("prompt");
    if (prompt && !document.querySelector(".turn.streaming")) prompt.focus({ preventScroll: true });
    if (document.querySelector(".turn")) window.scrollTo(0, document.scrollingElement.scrollHeight);
  });
})();
