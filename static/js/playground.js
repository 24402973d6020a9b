// Small behaviours htmx does not cover: the ticking "Thinking… N s" label,
// folding the thought block when the answer starts, copy / raw / request
// panels, the controls for the chosen model, keyboard shortcuts, keeping
// the view pinned to the newest text (with a "latest" button when the reader
// scrolled away), the connection banner, the composer's Send/Stop button,
// code-block copy buttons and math (KaTeX) in finished blocks.
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
    remove: function (k) { try { localStorage.removeItem(k); } catch (e) { /* private mode */ } },
  };

  function keepOpen() { return document.body.dataset.keepThoughtsOpen === "1"; }

  // ---- the live label ----------------------------------------------------------------

  function answering(turn) {
    const c = turn && turn.querySelector(".content.streaming");
    return !!(c && c.hasChildNodes());
  }

  function tick() {
    // Offline the page cannot know whether the run goes on: the label stops where it is.
    if (socketsDown.size) return;
    const now = Date.now();
    document.querySelectorAll(".thinking-label.live").forEach(function (el) {
      const turn = el.closest(".turn");
      if (answering(turn)) { foldOnAnswer(turn); return; }
      const s = Math.max(0, Math.floor((now - parseFloat(el.dataset.started)) / 1000));
      const shown = el.dataset.prefix + " " + s + " s";
      if (el.textContent !== shown) el.textContent = shown;
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // The answer has started: the thinking is over. Fold the block (unless the
  // user opened it or asked to keep thoughts open) and stop the ticking label.
  function foldOnAnswer(turn) {
    if (!turn || turn.dataset.folded) return;
    turn.dataset.folded = "1";
    const details = liveThought(turn);
    if (!details) return;
    const label = details.querySelector(".thinking-label.live");
    const hidden = turn.dataset.hiddenReasoning;
    const block = details.querySelector(".reasoning.streaming");
    if (!hidden && block && !block.hasChildNodes()) {
      // The answer came with no reasoning at all: nothing was thought, so no
      // "Thought for" (the finished turn has no thought block either). A
      // reclassification may still move text here: see thinkingAgain.
      details.hidden = true;
      if (label) label.classList.remove("live");
      return;
    }
    if (label) {
      // The run's own figure when it came with the answer (thought_clock.js): the
      // finished turn's label shows the same one, so the number does not jump.
      const ms = label.dataset.thoughtMs !== undefined ? parseInt(label.dataset.thoughtMs, 10)
        : Math.max(0, Date.now() - parseFloat(label.dataset.started));
      label.textContent = (hidden === "provider" ? "Reasoning hidden by the provider · "
        : hidden ? "Reasoning not shown · " : "Thought for ") + tenthsOfSeconds(ms);
      label.classList.remove("live");
    }
    const box = details.querySelector(".reasoning");
    if (box && !turn.dataset.hiddenReasoning && !box.textContent.trim()) {
      details.hidden = true;  // no reasoning came: nothing to say "Thought for" about
      return;
    }
    if (details.open && !details.dataset.userOpened && !keepOpen()) details.open = false;
  }

  // Milliseconds as "2.4 s", halves up, in whole numbers: the server's label
  // (templatetags seconds) rounds the same way, so the two agree to the tenth.
  function tenthsOfSeconds(ms) {
    const t = Math.floor((ms + 50) / 100);
    return Math.floor(t / 10) + "." + (t % 10) + " s";
  }

  // The answer block was emptied while the turn streams: what looked like the
  // answer was reasoning after all (a reclassification), or a tool loop's next
  // step begins. The thinking goes on: the label ticks again from the turn's
  // start, and folds with the right wording when the real answer comes.
  function thinkingAgain(turn) {
    if (!turn || !turn.dataset.folded) return;
    delete turn.dataset.folded;
    const details = liveThought(turn);
    if (!details) return;
    const label = details.querySelector(".thinking-label");
    const block = details.querySelector(".reasoning.streaming");
    details.hidden = false;
    if (label && !label.classList.contains("live")) {
      label.classList.add("live");
      label.textContent = label.dataset.prefix;
      // Both blocks empty: a tool loop's next step, whose thinking starts now.
      if (block && !block.hasChildNodes()) label.dataset.started = String(Date.now());
    }
    if (!turn.dataset.hiddenReasoning && !details.dataset.userClosed) details.open = true;
    tick();
  }

  // Reasoning came after the answer had started with none (a reclassification
  // whose frame also brought answer text): the block hidden then is shown, folded.
  function reasoningArrived(turn) {
    if (!turn || !turn.dataset.folded) return;
    const details = liveThought(turn);
    if (!details || !details.hidden) return;
    delete turn.dataset.folded;
    details.hidden = false;
    const label = details.querySelector(".thinking-label");
    if (label) label.classList.add("live");
    foldOnAnswer(turn);
  }

  // The thought block of the step that streams; a tool loop's finished steps have
  // thought blocks of their own before it (.step-thought).
  function liveThought(turn) {
    return turn.querySelector("details.thought:not(.step-thought)");
  }

  // A tool loop's step ended (#t<id>-steps swapped) or its calls changed
  // (#t<id>-calls): calls mean the step's thinking is over; finished steps get
  // what finished blocks get (code buttons, math, "keep thoughts open").
  function onStepsSwapped(target) {
    const turn = target.closest(".turn");
    if (target.id.endsWith("-calls")) {
      if (target.hasChildNodes()) foldOnAnswer(turn);
      return;
    }
    enhance(target);
    if (keepOpen()) target.querySelectorAll("details.step-thought").forEach(function (d) { d.open = true; });
  }

  // A reader at work in a thought (scrolling it, selecting or keying in it) keeps it
  // open when the answer starts, on Stop and when the turn ends, as if they had opened it.
  function readerIn(target) {
    const node = target && (target.nodeType === 1 ? target : target.parentElement);
    const details = node && node.closest && node.closest("details.thought");
    if (details && details.open && node.closest(".reasoning")) details.dataset.userOpened = "1";
  }
  ["wheel", "touchstart", "pointerdown", "keydown"].forEach(function (type) {
    document.addEventListener(type, function (e) { readerIn(e.target); }, { capture: true, passive: true });
  });
  document.addEventListener("selectionchange", function () {
    const sel = document.getSelection();
    if (sel && !sel.isCollapsed) readerIn(sel.anchorNode);
  });

  // ---- scrolling: at most once per animation frame ----------------------------------

  // The page follows the newest text while the reader is at the bottom; one who
  // scrolled up is left where they are and offered a "latest" button instead.
  let pinned = true;
  let scrollQueued = false;
  function atBottom() {
    const el = document.scrollingElement;
    return el.scrollHeight - el.scrollTop - el.clientHeight < 160;
  }
  function showLatest(show) {
    const btn = document.getElementById("jump-latest");
    if (btn && btn.hidden === show) btn.hidden = !show;
  }
  document.addEventListener("scroll", function () {
    pinned = atBottom();
    showLatest(!pinned);
  }, { passive: true });

  function toBottom() {
    pinned = true;
    showLatest(false);
    window.scrollTo(0, document.scrollingElement.scrollHeight);
  }

  // A thought block scrolls on its own: it follows its newest line unless the
  // reader scrolled it up (appends do not fire scroll events, so the flag holds).
  // The scroll event of our own scrollTop comes a frame later, when more text may
  // have come: measured then, the box would look scrolled up by the reader and stop
  // following. A scroll that leaves the box where we put it is ours, not the reader's.
  const boxPinned = new WeakMap();
  const followedTo = new WeakMap();
  const grownBoxes = new Set();
  document.addEventListener("scroll", function (e) {
    const el = e.target;
    if (el.classList && el.classList.contains("reasoning")) {
      if (followedTo.get(el) === el.scrollTop) return;
      boxPinned.set(el, el.scrollHeight - el.scrollTop - el.clientHeight < 40);
    }
  }, { capture: true, passive: true });

  // Whether the page itself may have grown since the last follow. A full thought box
  // (.box-full: its height is fixed) grows inside itself only: following it needs no
  // read of the page's height, nor a scroll of the page, on every frame of the stream.
  let pageGrown = false;
  function followNewest(box) {
    if (box) grownBoxes.add(box);
    if (!box || !box.classList.contains("box-full")) pageGrown = true;
    if (scrollQueued) return;
    scrollQueued = true;
    // Streamed text is applied in an animation frame (applyStreamed): followed right
    // after it, in the same frame, not in the next one.
    if (!applyingStreamed) requestAnimationFrame(follow);
  }
  function follow() {
    scrollQueued = false;
    grownBoxes.forEach(function (b) {
      // A box grown in this frame may have been replaced since by the finished
      // turn: it is detached, with no parent left to ask.
      const d = b.isConnected && b.parentElement;
      // A streaming thought that fills its box keeps the box's height from now on
      // (app.css, .box-full: size containment): an append then lays out the box
      // alone, not the page around it.
      if (d && d.open && b.classList.contains("streaming") && !b.classList.contains("box-full") &&
          b.scrollHeight > b.clientHeight) b.classList.add("box-full");
      if (d && d.open && boxPinned.get(b) !== false) {
        b.scrollTop = b.scrollHeight;
        followedTo.set(b, b.scrollTop);
      }
    });
    grownBoxes.clear();
    const grown = pageGrown;
    pageGrown = false;
    if (pinned) {
      if (grown) toBottom();
    } else showLatest(!atBottom());
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
    if (target && target.id === "notice") promptRefused();
    if (target && target.id === "turns") {
      promptAccepted();
      composerState();  // a new exchange
    } else if (target && target.id && (target.classList.contains("steps") || target.classList.contains("tool-calls"))) {
      onStepsSwapped(target);
    } else if (target && target.id && target.classList.contains("streaming")) {
      if (target.id.endsWith("-c")) {
        if (target.hasChildNodes()) foldOnAnswer(target.closest(".turn"));
        else thinkingAgain(target.closest(".turn"));
      } else {
        reasoningArrived(target.closest(".turn"));
        followNewest(target);
        return;
      }
    }
    followNewest();
  });

  // ---- streamed text, appended without htmx's swap machinery (issue 23.5) ---------------

  // A frame of streamed text is one or more `<div hx-swap-oob="beforeend:#t<id>-r">text</div>`
  // (playground.streaming.messages.text_swaps). htmx parses each message into a new
  // document and runs its swap, settle and event machinery on it: about 3 ms of CPU per
  // frame, 12 ms at a 4x throttle, 25 times a second, which left the page no time to lay
  // out and paint. Such a message is applied here as text nodes; htmx keeps every other
  // message. The same event follows (htmx:oobAfterSwap on the block), and the text is
  // what the HTML parser would have made of it (escapes decoded, CR LF as LF, no NUL).
  // A thinking frame starts with the run's thinking time for the label (messages.thought_clock,
  // into #t<id>-clock, read by thought_clock.js): applied here too, or every reasoning frame
  // would still go through htmx.
  const CLOCK = '<div hx-swap-oob="innerHTML:#t\\d+-clock"><i data-(?:think|thought)-ms>\\d+</i></div>';
  const TEXT = '<div hx-swap-oob="(?:beforeend|innerHTML):#t\\d+-[rc]">[^<]*</div>';
  const TEXT_FRAME = new RegExp("^(?:" + CLOCK + ")?(?:" + TEXT + ")+$");
  const TEXT_PART = /<div hx-swap-oob="(beforeend|innerHTML):#(t\d+-(?:[rc]|clock))">(<i data-(think|thought)-ms>(\d+)<\/i>|[^<]*)<\/div>/g;
  const OTHER_ENTITY = /&(?!(?:amp|lt|gt|quot|#x27|#39);)/;
  const ENTITIES = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": "\"", "&#x27;": "'", "&#39;": "'" };
  // Streamed text is applied once per animation frame, not once per message: on a slow
  // device several messages arrive between two frames, and each append, its event and
  // its handlers cost as much as the text they add (issue 23.5). Messages whose parts
  // go to the same blocks in the same order are merged (texts joined, the newest clock
  // kept); any other message applies what waits first, so the page sees every change
  // in the order the server sent it (a finished turn never overtakes its last text).
  let waiting = [];  // [kind, block, text or figure] of the messages not applied yet
  let waitingKey = "";
  let frameAsked = false;
  let applyingStreamed = false;
  function applyStreamed(inFrame) {
    frameAsked = false;
    const parts = waiting;
    waiting = [];
    waitingKey = "";
    applyingStreamed = true;
    try {
      parts.forEach(function (part) {
        const block = part[1];
        if (part[0] === "clock") {
          // What htmx would have made of it: <i data-think-ms="">1234</i>.
          const figure = document.createElement("i");
          figure.setAttribute("data-" + part[2][0] + "-ms", "");
          figure.textContent = part[2][1];
          block.replaceChildren(figure);
        } else if (part[0] === "innerHTML") {
          block.textContent = part[2];
        } else if (part[2]) {
          block.appendChild(document.createTextNode(part[2]));
        }
        block.dispatchEvent(new CustomEvent("htmx:oobAfterSwap", { bubbles: true, detail: { target: block } }));
      });
    } finally {
      applyingStreamed = false;
    }
    // Scrolled in this frame; outside one (what waited, before another message), in the next.
    if (scrollQueued) {
      if (inFrame) follow();
      else requestAnimationFrame(follow);
    }
  }
  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    const message = e.detail && e.detail.message;
    if (typeof message !== "string" || !TEXT_FRAME.test(message) || OTHER_ENTITY.test(message)) {
      if (waiting.length) applyStreamed();  // before htmx applies this one
      return;
    }
    const parts = [];
    let key = "";
    for (const m of message.matchAll(TEXT_PART)) {
      const block = document.getElementById(m[2]);
      if (!block) {  // not on this page (yet): htmx says so as it always did
        if (waiting.length) applyStreamed();
        return;
      }
      if (m[4]) parts.push(["clock", block, [m[4], m[5]]]);
      else {
        const text = m[3].replace(/&(?:amp|lt|gt|quot|#x27|#39);/g, function (x) { return ENTITIES[x]; })
          .replace(/\r\n?/g, "\n").replace(/\0/g, "");
        parts.push([m[1], block, text]);
      }
      key += (m[4] ? "clock" + m[4] : m[1]) + "#" + m[2] + " ";
    }
    e.preventDefault();
    if (waiting.length && (key !== waitingKey || key.includes("innerHTML"))) applyStreamed();
    if (!waiting.length) {
      waiting = parts;
      waitingKey = key;
    } else {
      parts.forEach(function (part, i) {
        if (part[0] === "clock") waiting[i][2] = part[2];
        else waiting[i][2] += part[2];
      });
    }
    if (document.visibilityState === "hidden") applyStreamed();  // no animation frames come
    else if (!frameAsked) {
      frameAsked = true;
      requestAnimationFrame(function () { if (waiting.length) applyStreamed(true); else frameAsked = false; });
    }
  });

  // ---- the end of a turn keeps what it streamed (issue 23.5) -------------------------

  // The finished turn leaves out a long block that this page shows whole (an empty
  // block marked data-streamed: fragments.streamed_blocks_to_keep). Parsing, swapping
  // and laying out a 30k-token thought's HTML again took one task of 300-450 ms on a
  // 4x throttled CPU, and showed nothing new. So the turn is patched in place: every
  // other part is the server's, the streamed blocks stay where they are (with their
  // scroll position and a reader's selection) and stream_markdown.js renders what they
  // still hold as plain text, a slice per task.
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    const old = e.detail.target;
    const fresh = e.detail.fragment && e.detail.fragment.firstElementChild;
    if (!old || !old.classList || !old.classList.contains("turn") || !fresh || !fresh.matches(".turn")) return;
    if (!fresh.querySelector("[data-streamed]")) return;
    e.detail.shouldSwap = false;
    finishInPlace(old, fresh);
  });

  function finishInPlace(old, fresh) {
    // Per kept block: the child of each article that holds it (the thought's <details>, or the block itself).
    const kept = [];
    fresh.querySelectorAll("[data-streamed]").forEach(function (placeholder) {
      const live = document.getElementById(placeholder.id);
      if (!live || !old.contains(live) || !live.classList.contains("streaming")) {
        fillFromRaw(placeholder);  // the page lost it after all: its text is fetched and rendered
        return;
      }
      kept.push({ placeholder: placeholder, live: live, fresh: childOf(fresh, placeholder), old: childOf(old, live) });
    });
    const parts = [];
    Array.from(fresh.childNodes).forEach(function (n) {
      const k = kept.find(function (x) { return x.fresh === n; });
      if (!k) { parts.push(n); return; }
      if (k.old !== k.live) {
        // The thought: its <details> stays (open or not, as the reader left it), with the server's label.
        k.old.className = k.fresh.className;
        const label = k.fresh.querySelector(":scope > summary");
        const was = k.old.querySelector(":scope > summary");
        if (label && was) was.replaceWith(label);
      }
      k.live.className = k.placeholder.className;
      parts.push(k.old);
    });
    // What goes is removed and the new parts are put around what stays: a kept block never moves.
    Array.from(old.childNodes).forEach(function (n) { if (parts.indexOf(n) < 0) n.remove(); });
    let at = old.firstChild;
    parts.forEach(function (n) {
      if (n === at) at = at.nextSibling;
      else old.insertBefore(n, at);
    });
    Array.from(old.attributes).forEach(function (a) { if (!fresh.hasAttribute(a.name)) old.removeAttribute(a.name); });
    Array.from(fresh.attributes).forEach(function (a) { old.setAttribute(a.name, a.value); });
    const thought = liveThought(old);
    if (thought && !keepOpen() && !thought.dataset.userOpened) thought.open = false;
    parts.forEach(function (n) {
      if (n.nodeType === 1 && !kept.some(function (k) { return k.old === n; })) htmx.process(n);
    });
    kept.forEach(function (k) { window.streamMarkdown.finish(k.live); });
    // What a swapped-in turn gets (enhance, the composer, other behaviours listening for it).
    htmx.trigger(old, "htmx:load", { elt: old });
  }

  function childOf(parent, node) {
    while (node.parentElement && node.parentElement !== parent) node = node.parentElement;
    return node;
  }

  function fillFromRaw(box) {
    fetch(box.dataset.raw, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (text) { box.textContent = text; window.streamMarkdown.finish(box); });
  }

  // A kept block finished rendering: code copy buttons as for a swapped-in one.
  document.addEventListener("streammarkdown:done", function (e) { enhance(e.target); });

  // A long thought streams into blocks of its own lines (issue 23.5). Text appended
  // to one block makes the browser lay out all of that block's text again, every
  // frame: with 100k characters that is a 100-300 ms task per frame on a slow
  // device. Once the newest text runs past SEGMENT_CHARS it is moved, up to its
  // last line break, into a segment (a block: later appends do not lay it out
  // again; off screen it is skipped). Cut only after a line break, so the text
  // wraps exactly as it would in one block.
  const SEGMENT_CHARS = 2000;
  function segment(block) {
    const tail = [];
    let chars = 0;
    for (let n = block.lastChild; n && n.nodeType === Node.TEXT_NODE; n = n.previousSibling) {
      tail.unshift(n);
      chars += n.data.length;
    }
    if (chars < SEGMENT_CHARS) return;
    for (let i = tail.length - 1; i >= 0; i--) {
      const cut = tail[i].data.lastIndexOf("\n");
      if (cut < 0) continue;
      if (cut < tail[i].data.length - 1) tail[i].splitText(cut + 1);
      const seg = document.createElement("div");
      seg.className = "segment";
      block.insertBefore(seg, tail[0]);
      for (let j = 0; j <= i; j++) seg.appendChild(tail[j]);
      return;
    }
  }
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    const target = e.detail.target;
    if (target && target.id && target.id.endsWith("-r") && target.classList.contains("streaming")) segment(target);
  });

  document.addEventListener("htmx:load", function (e) {
    const elt = e.detail.elt;
    if (!(elt instanceof Element)) return;
    if (elt.matches("dialog[data-autoshow]")) { elt.showModal(); return; }
    if (elt.matches(".turn")) {
      // A finished turn replaced its streaming one (whose swap events no longer
      // reach the document: the element they fire on is detached).
      enhance(elt);
      composerState();
      const d = liveThought(elt);
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
    if (summary) {
      const d = summary.parentElement;
      d.dataset.userOpened = d.open ? "" : "1";
      d.dataset.userClosed = d.open ? "1" : "";
    }
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
      copied(t, fetch(t.dataset.copy, { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.text(); }));
    } else if (t.hasAttribute("data-copy-code")) {
      const code = t.closest(".code-block").querySelector("code");
      copied(t, Promise.resolve(code.textContent));
    } else if (t.dataset.copyFrom) {
      copied(t, Promise.resolve(document.getElementById(t.dataset.copyFrom).value));
    } else if (t.id === "jump-latest") {
      toBottom();
    } else if (t.id === "send" && t.dataset.mode === "stop") {
      e.preventDefault();
      stopNewest();
    } else if (t.dataset.theme) {
      document.documentElement.dataset.theme = t.dataset.theme;
      document.querySelectorAll("[data-theme][aria-pressed]").forEach(function (b) {
        b.setAttribute("aria-pressed", b === t ? "true" : "false");
      });
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

  // A field whose whole value is meant to be copied (a new API token): select it on focus.
  // Here rather than an inline onfocus, which the Content-Security-Policy refuses.
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("input[data-select-on-focus]")) e.target.select();
  });

  // A conversation's menu in the sidebar is made when it is first opened, from the one
  // #conv-menu template (_sidebar.html says why): its routes, title and pin state
  // come from the item.
  function conversationMenu(menu) {
    const template = document.getElementById("conv-menu");
    const dropdown = menu.querySelector(":scope > .dropdown");
    if (!template || !dropdown || dropdown.childElementCount) return;
    const pk = menu.dataset.menuFor;
    const title = menu.dataset.title || "";
    const pinned = menu.hasAttribute("data-pinned");
    const items = template.content.cloneNode(true);
    items.querySelectorAll("[action], [href]").forEach(function (el) {
      const attr = el.hasAttribute("action") ? "action" : "href";
      el.setAttribute(attr, el.getAttribute(attr).replace("/c/0/", "/c/" + pk + "/"));
    });
    items.querySelector('[name="pinned"]').value = pinned ? "0" : "1";
    items.querySelector("[data-menu-pin]").textContent = pinned ? "Unpin" : "Pin";
    const rename = items.querySelector('input[name="title"]');
    rename.id = "rename-" + pk;
    rename.value = title;
    const label = items.querySelector('label[for="rename-0"]');
    label.htmlFor = rename.id;
    label.textContent = "New title for “" + title + "”";
    items.querySelector('[action$="/delete"]').dataset.confirm = "Delete “" + title + "” and all its turns?";
    dropdown.appendChild(items);
  }
  document.addEventListener("toggle", function (e) {
    const menu = e.target;
    if (menu instanceof HTMLDetailsElement && menu.open && menu.dataset.menuFor) conversationMenu(menu);
  }, true);

  document.addEventListener("submit", function (e) {
    const msg = e.target.dataset && e.target.dataset.confirm;
    if (msg && !window.confirm(msg)) e.preventDefault();
  }, true);

  // `forNow`: closed after use, still opened on the next visit if the user keeps it open.
  function setControlsOpen(open, forNow) {
    const btn = document.getElementById("controls-toggle");
    const panel = document.getElementById("controls-panel");
    if (!btn || !panel) return;
    btn.setAttribute("aria-expanded", open ? "true" : "false");
    panel.hidden = !open;
    if (!forNow) store.set("controlsOpen", open ? "1" : "0");
  }

  // ---- the controls follow the chosen model ----------------------------------------

  document.addEventListener("change", function (e) {
    const sel = e.target;
    if (sel.id === "keep-thoughts-open") {
      document.body.dataset.keepThoughtsOpen = sel.checked ? "1" : "";
      store.set("keepThoughtsOpen", sel.checked ? "1" : "0");
      return;
    }
    if (sel.matches("[data-presets]")) { applyPreset(sel, true); return; }
    if (sel.id !== "model") return;
    let url = sel.dataset.controlsUrl.replace("/0/", "/" + encodeURIComponent(sel.value) + "/");
    if (sel.dataset.conversation) url += "?conversation=" + sel.dataset.conversation;
    const asked = document.getElementById("controls");
    const askedValues = asked ? controlValues(asked) : null;
    htmx.ajax("GET", url, { target: "#controls", swap: "outerHTML" }).then(function () {
      const controls = document.getElementById("controls");
      // A control set while the new model's controls were on their way is the
      // user's latest word: it outlives the swap wherever the new model offers it.
      if (asked && controls && controls !== asked) carryTouched(asked, askedValues, controls);
      // Remember the new model (and what its controls kept) as the conversation's defaults.
      if (controls && controls.hasAttribute("hx-post")) htmx.trigger(controls, "change");
    });
  });

  // name → value of a controls box (a radio group by its checked value, a box by checked).
  function controlValues(box) {
    const out = {};
    box.querySelectorAll("input[name], select[name], textarea[name]").forEach(function (f) {
      if (f.type === "radio") { if (f.checked) out[f.name] = f.value; else if (!(f.name in out)) out[f.name] = null; }
      else if (f.type === "checkbox") out[f.name] = f.checked;
      else out[f.name] = f.value;
    });
    return out;
  }
  function carryTouched(old, asSent, box) {
    const now = controlValues(old);
    Object.keys(now).forEach(function (name) {
      if (now[name] === asSent[name]) return;
      const fields = box.querySelectorAll('[name="' + CSS.escape(name) + '"]');
      fields.forEach(function (f) {
        if (f.disabled) return;
        if (f.type === "radio") f.checked = f.value === now[name];
        else if (f.type === "checkbox") f.checked = !!now[name];
        else if (f.tagName === "SELECT") {
          if (Array.prototype.some.call(f.options, function (o) { return o.value === now[name]; })) f.value = now[name];
        } else f.value = now[name];
      });
    });
  }

  // The Tools picker follows the model's capabilities as the Controls do: for a model
  // that takes no tools (#controls' data-tools-unavailable, the server's own check) it
  // says so and offers nothing new, while what is already picked can still be unpicked
  // (the send is refused until it is).
  function syncToolsPicker() {
    const picker = document.getElementById("tools-picker");
    if (!picker) return;
    const controls = document.getElementById("controls");
    const why = (controls && controls.dataset.toolsUnavailable) || "";
    if (why) picker.dataset.unavailable = why; else delete picker.dataset.unavailable;
    const summary = picker.querySelector(":scope > summary");
    if (summary) summary.classList.toggle("unavailable", !!why);
    if (summary) summary.title = why ? "Tools: " + why : "Tools: MCP servers and functions the model may call in this conversation";
    const note = document.getElementById("tools-unavailable");
    if (note) { note.hidden = !why; note.querySelector(".why").textContent = why; }
    picker.querySelectorAll('#tools-servers input[name="tools"]').forEach(function (box) {
      box.disabled = !!why && !box.checked;
    });
    const single = document.getElementById("tools-single");
    if (single) single.readOnly = !!why && !single.value.trim();
    picker.querySelectorAll("#function-fields button, #tool-sets button:not(.danger)").forEach(function (b) {
      b.disabled = !!why;
    });
  }
  document.addEventListener("htmx:load", function (e) {
    const elt = e.detail.elt;
    if (elt instanceof Element && (elt.id === "controls" || elt.id === "tools-summary" || elt.id === "functions-panel")) {
      syncToolsPicker();
    }
  });
  document.addEventListener("change", function (e) {
    if (e.target instanceof Element && e.target.closest("#tools-picker")) syncToolsPicker();
  });

  // The Providers page: a preset fills the API flavour, the base URL and a name
  // (a name typed by hand is kept).
  function applyPreset(sel, changed) {
    const form = sel.form;
    const o = sel.selectedOptions[0];
    if (!form || !o) return;
    const name = form.elements.name;
    const url = form.elements.base_url;
    if (changed || !url.value) url.value = o.dataset.baseUrl;
    form.elements.kind.value = o.dataset.kind;
    if (changed ? (!name.value || name.dataset.fromPreset) : !name.value) {
      name.value = o.dataset.name;
      name.dataset.fromPreset = "1";
    }
  }
  document.addEventListener("input", function (e) {
    if (e.target.name === "name" && e.target.dataset.fromPreset) delete e.target.dataset.fromPreset;
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

  // While an answer streams, Send is Stop, and a prompt submitted meanwhile
  // (Enter) waits and goes out when the answer ends; the server refuses a
  // second prompt anyway, so the provider never gets two user messages in a row.
  let queued = false;

  function streamingTurn() {
    const all = document.querySelectorAll("#turns .turn.assistant.streaming");
    return all.length ? all[all.length - 1] : null;
  }

  function stopNewest() {
    const stops = document.querySelectorAll("#turns .stop-button");
    if (stops.length) stops[stops.length - 1].click();
  }

  function say(text, kind) {
    const notice = document.getElementById("notice");
    if (!notice) return;
    const p = document.createElement("p");
    p.className = kind || "muted";
    p.setAttribute("role", "status");
    p.textContent = text;
    notice.replaceChildren(p);
  }

  function composerState() {
    const form = document.getElementById("composer");
    const send = document.getElementById("send");
    if (!form || !send || !form.hasAttribute("ws-send")) return;
    const busy = !!streamingTurn();
    if ((send.dataset.mode === "stop") !== busy) {
      send.dataset.mode = busy ? "stop" : "send";
      send.textContent = busy ? "Stop" : "Send";
      send.setAttribute("aria-label", busy ? "Stop generating (Esc)" : "Send");
      send.type = busy ? "button" : "submit";
    }
    if (!busy && queued) {
      queued = false;
      say("");
      form.requestSubmit();
    }
  }

  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (form.id !== "composer" || !form.hasAttribute("ws-send")) return;
    const prompt = form.querySelector("textarea[name=prompt]");
    if (!prompt.value.trim()) { e.preventDefault(); e.stopImmediatePropagation(); return; }
    if (streamingTurn() || socketsDown.size) {
      // Captured before the ws extension sees it: nothing is sent now.
      e.preventDefault();
      e.stopImmediatePropagation();
      queued = true;
      say(socketsDown.size ? "Not connected: your prompt is kept and goes out when the connection is back."
        : "Your prompt goes out when this answer finishes (Esc stops it).");
    }
  }, true);

  // ---- nothing typed is lost ---------------------------------------------------------

  // The box is emptied only once the server has accepted the prompt (its exchange
  // arrives in #turns; a new chat's conversation page loads). A refusal (a notice
  // beside the composer) leaves the box, the model and the controls as they were.
  // Text not yet sent is kept per conversation in localStorage, so a reload or a
  // visit to another conversation does not lose it.
  let awaiting = null;  // the text of a prompt sent and not yet accepted or refused

  function draftKey() {
    const form = document.getElementById("composer");
    return form && form.dataset.draft ? "draft:" + form.dataset.draft : null;
  }

  function saveDraft() {
    const key = draftKey();
    const box = document.getElementById("prompt");
    if (!key || !box) return;
    if (box.value.trim()) store.set(key, box.value);
    else store.remove(key);
  }

  function restoreDraft() {
    const key = draftKey();
    const box = document.getElementById("prompt");
    if (!key || !box) return;
    const kept = store.get(key);
    if (kept && !box.value) box.value = kept;
    else if (box.value) saveDraft();  // a refused first prompt the server sent back
  }

  function promptAccepted() {
    if (awaiting === null) return;  // another tab's prompt: this box is not concerned
    const box = document.getElementById("prompt");
    // Text typed while the server was deciding is a new draft, not the sent prompt.
    if (box && box.value === awaiting) box.value = "";
    awaiting = null;
    saveDraft();
    setControlsOpen(false, true);  // used: the conversation gets the room back
    const notice = document.getElementById("notice");
    if (notice) notice.replaceChildren();
    const hint = document.getElementById("empty-hint");
    if (hint) hint.remove();
    toBottom();
  }

  function promptRefused() {
    awaiting = null;  // the box keeps it; the notice says why
  }

  document.addEventListener("input", function (e) {
    if (e.target.id === "prompt" && e.target.form && e.target.form.id === "composer") saveDraft();
  });

  document.addEventListener("htmx:wsAfterSend", function (e) {
    const form = e.detail.elt;
    if (form && form.id === "composer") {
      awaiting = form.querySelector("textarea[name=prompt]").value;
    }
  });

  // A new chat's first prompt: a redirect to the conversation is the acceptance.
  document.addEventListener("htmx:beforeOnLoad", function (e) {
    const form = e.detail.elt;
    if (form && form.id === "composer" && e.detail.xhr && e.detail.xhr.getResponseHeader("HX-Redirect")) {
      store.remove("draft:new");
    }
  });

  function enterSends() { return document.body.dataset.enterSends === "1"; }

  document.addEventListener("keydown", function (e) {
    const mod = e.ctrlKey || e.metaKey;
    const box = e.target;
    const composing = e.isComposing || e.keyCode === 229;  // an IME is choosing a character
    if (e.key === "Enter" && !composing && box.matches && box.matches("textarea") && box.form &&
        (box.form.id === "composer" || box.form.classList.contains("edit-form") || box.closest(".compare-composer"))) {
      // Enter sends and Shift+Enter is a new line; with "Enter sends" off, Ctrl+Enter sends.
      if (mod || (enterSends() && !e.shiftKey && !e.altKey)) {
        e.preventDefault();
        box.form.requestSubmit();
      }
    } else if (e.key === "Enter" && mod && box.matches && box.matches("textarea") && box.form) {
      e.preventDefault();
      box.form.requestSubmit();
    } else if (e.key === "Escape" && !document.querySelector("dialog[open]")) {
      const stops = document.querySelectorAll(".stop-button");
      if (stops.length) { e.preventDefault(); stops[stops.length - 1].click(); }
      if (queued) { queued = false; say("Your waiting prompt was not sent; it is still in the box."); }
      document.body.classList.remove("sidebar-open");
    } else if (mod && e.shiftKey && (e.key === "O" || e.key === "o")) {
      e.preventDefault();
      window.location.href = "/";
    } else if (mod && (e.key === "k" || e.key === "K")) {
      const search = document.getElementById("search");
      if (search) { e.preventDefault(); document.body.classList.add("sidebar-open"); search.focus(); }
    }
  });

  // ---- connection state --------------------------------------------------------------

  // Reconnect soon at first, then back off up to 10 s (the extension's own
  // default waits up to 64 s), with jitter so a restarted server is not hit at once.
  let retryIn = 0;
  function reconnectDelay(retry) {
    const cap = Math.min(10000, 500 * Math.pow(2, retry));
    retryIn = Math.round(cap / 2 + Math.random() * cap / 2);
    return retryIn;
  }
  const socketsDown = new Set();
  if (window.htmx) htmx.config.wsReconnectDelay = reconnectDelay;
  let leaving = false;
  window.addEventListener("pagehide", function () { leaving = true; });
  window.addEventListener("beforeunload", function () { leaving = true; });

  function connectionBanner() {
    const banner = document.getElementById("connection");
    if (!banner) return;
    const down = socketsDown.size > 0;
    if (down && !document.body.classList.contains("offline")) {
      document.querySelectorAll(".thinking-label.live").forEach(function (el) { el.textContent += " · paused"; });
    }
    document.body.classList.toggle("offline", down);
    if (banner.hidden === !down && !down) return;
    banner.hidden = !down;
    if (down) {
      banner.querySelector(".connection-text").textContent = "Connection lost. Reconnecting" +
        (retryIn ? " in " + Math.max(1, Math.round(retryIn / 1000)) + " s" : "") + "… The answer goes on on the server and catches up when the connection is back.";
    }
  }
  document.addEventListener("htmx:wsClose", function (e) {
    if (leaving) return;
    if (waiting.length) applyStreamed();  // what came before the drop, then "paused" on the label
    socketsDown.add(e.target);
    connectionBanner();
  });
  document.addEventListener("htmx:wsError", function (e) {
    if (leaving) return;
    if (waiting.length) applyStreamed();  // what came before the drop, then "paused" on the label
    socketsDown.add(e.target);
    connectionBanner();
  });
  document.addEventListener("htmx:wsOpen", function (e) {
    const wasDown = socketsDown.delete(e.target);
    connectionBanner();
    if (wasDown) {
      tick();
      if (!socketsDown.size && queued) composerState();
    }
  });

  // ---- finished blocks: code copy buttons and math --------------------------------

  function enhance(root) {
    root.querySelectorAll(".markdown .code-block:not([data-ready])").forEach(function (block) {
      block.dataset.ready = "1";
      const bar = document.createElement("div");
      bar.className = "code-head";
      const lang = document.createElement("span");
      lang.textContent = block.dataset.lang || "";
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "tool";
      btn.setAttribute("data-copy-code", "");
      btn.setAttribute("aria-label", "Copy code");
      btn.textContent = "Copy";
      bar.append(lang, btn);
      block.prepend(bar);
    });
    if (!window.katex) return;
    root.querySelectorAll(".markdown .math-inline, .markdown .math-display").forEach(function (el) {
      const tex = el.textContent;
      try {
        window.katex.render(tex, el, { displayMode: el.classList.contains("math-display"), throwOnError: false });
      } catch (err) {
        el.textContent = tex;  // shown as written
      }
      el.classList.replace("math-inline", "math") || el.classList.replace("math-display", "math-block");
    });
  }

  function copied(button, text) {
    const title = button.title;
    text.then(function (t) { return navigator.clipboard.writeText(t); })
      .then(function () { button.classList.add("done"); button.title = "Copied"; },
            function () { button.classList.add("failed"); button.title = "Copy failed"; })
      .finally(function () {
        setTimeout(function () { button.classList.remove("done", "failed"); button.title = title; }, 1500);
      });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const keep = store.get("keepThoughtsOpen") === "1";
    const box = document.getElementById("keep-thoughts-open");
    if (box) box.checked = keep;
    document.body.dataset.keepThoughtsOpen = keep ? "1" : "";
    if (keep) document.querySelectorAll("details.thought").forEach(function (d) { d.open = true; });
    if (store.get("controlsOpen") === "1") setControlsOpen(true);
    enhance(document);
    document.querySelectorAll("select[data-presets]").forEach(function (sel) { applyPreset(sel, false); });
    restoreDraft();
    composerState();
    syncToolsPicker();
    const prompt = document.getElementById("prompt");
    if (prompt && !document.querySelector(".turn.streaming")) prompt.focus({ preventScroll: true });
    if (document.querySelector(".turn")) toBottom();
  });
})();
