// Search (issue 21.9). In the sidebar, the arrow keys move through the results
// and Enter opens one. A result opens its conversation at the match: its link is
// /c/<id>/?q=<query>#t<turn>-<prompt|reasoning|content>, the turn and the text
// that matched (playground.conversations.sidebar.Match). Here the page marks every
// match of the query in the turns, scrolls to the one in that block, opens its
// thought block, and steps through them ("n of m", ‹ ›, F3 / Shift+F3). The marks
// are made from the page's own text nodes (split, wrapped in <mark>): no HTML is
// built from the query or from model text. The hash follows the match in view, so
// a reload or a shared link opens at it again.
(function () {
  "use strict";

  // ---- the sidebar's results: arrow keys -------------------------------------------

  function searchBox() { return document.getElementById("search"); }

  function resultLinks() {
    // Only a search's results are direct children of the list (date groups nest theirs).
    return Array.prototype.slice.call(document.querySelectorAll(
      "#conversation-list > li.result > a[href], #conversation-list > li.comparison-item > a[href]"));
  }

  function moveInResults(e) {
    const box = searchBox();
    if (!box || !box.value.trim()) return false;
    const fromBox = e.target === box;
    const link = !fromBox && e.target.closest ? e.target.closest("#conversation-list a[href]") : null;
    if (!fromBox && !link) return false;
    const links = resultLinks();
    let i = link ? links.indexOf(link) : -1;
    if (!links.length || (link && i < 0)) return false;
    if (e.key === "ArrowDown") i = Math.min(i + 1, links.length - 1);
    else if (e.key === "ArrowUp" && !fromBox) i -= 1;  // above the first: back to the box
    else if (e.key === "Home" && !fromBox) i = 0;
    else if (e.key === "End" && !fromBox) i = links.length - 1;
    else return false;  // in the box, Up/Home/End move its caret
    (i < 0 ? box : links[i]).focus();
    return true;
  }

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.shiftKey || e.isComposing) return;
    if (moveInResults(e)) e.preventDefault();
  });

  // A screen reader hears it through the page's one polite region (base.html), where
  // finished turns are announced too.
  function announce(text) {
    const region = document.getElementById("announcer");
    if (!region) return;
    const p = document.createElement("p");
    p.textContent = text;
    region.appendChild(p);
  }

  // How many results came, not the whole list again.
  document.addEventListener("htmx:afterSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "conversation-list") return;
    const box = searchBox();
    if (!box || !box.value.trim()) return;
    const n = resultLinks().length;
    announce(n === 0 ? "Nothing matches." : n + (n === 1 ? " conversation matches" : " conversations match") +
      ": down arrow to move through them.");
  });

  // ---- the conversation: open at the match -----------------------------------------

  const HIT = "search-hit";
  // Text that is not the conversation's words: a copy button, rendered math, a form.
  const SKIP = "mark, button, textarea, script, style, .katex, .math-inline, .math-display, .edit-form";
  let hits = [];
  let at = -1;

  function query() {
    return (new URLSearchParams(window.location.search).get("q") || "").trim();
  }

  function pattern(q) {
    return new RegExp(q.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "giu");
  }

  // The blocks that hold a prompt, a thought or an answer. A streaming block is left
  // alone: its text is still being appended (and cut into segments) as it arrives.
  function textBlocks() {
    return document.querySelectorAll("#turns .bubble, #turns .reasoning:not(.streaming), #turns .content:not(.streaming)");
  }

  function markIn(block, re) {
    const walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        return node.parentElement.closest(SKIP) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      },
    });
    const nodes = [];
    for (let node = walker.nextNode(); node; node = walker.nextNode()) nodes.push(node);
    nodes.forEach(function (node) {
      const found = [];
      re.lastIndex = 0;
      for (let m = re.exec(node.data); m && m[0].length; m = re.exec(node.data)) found.push([m.index, m[0].length]);
      // From the last match back, so the offsets of the earlier ones still hold.
      for (let k = found.length - 1; k >= 0; k--) {
        const hit = node.splitText(found[k][0]);
        hit.splitText(found[k][1]);
        const mark = document.createElement("mark");
        mark.className = HIT;
        hit.parentNode.replaceChild(mark, hit);
        mark.appendChild(hit);
      }
    });
  }

  function unmark() {
    document.querySelectorAll("mark." + HIT).forEach(function (mark) {
      const parent = mark.parentNode;
      while (mark.firstChild) parent.insertBefore(mark.firstChild, mark);
      parent.removeChild(mark);
      parent.normalize();
    });
    hits = [];
    at = -1;
  }

  function markAll(q) {
    const re = pattern(q);
    textBlocks().forEach(function (block) { markIn(block, re); });
    hits = Array.prototype.slice.call(document.querySelectorAll("#turns mark." + HIT));
  }

  // A match in a closed thought (or tool step) is shown by opening it, as a person would.
  function reveal(el) {
    for (let d = el.closest("details"); d; d = d.parentElement && d.parentElement.closest("details")) {
      if (!d.open) {
        d.open = true;
        if (d.classList.contains("thought")) d.dataset.userOpened = "1";  // kept open when the turn re-renders
      }
    }
  }

  function blockOf(el) {
    return el.closest(".bubble, .reasoning, .content");
  }

  function say(text) {
    const pos = document.getElementById("match-pos");
    if (pos && pos.textContent !== text) {
      pos.textContent = text;
      announce(text);
    }
    document.querySelectorAll("#match-nav [data-match-step]").forEach(function (b) { b.disabled = !hits.length; });
  }

  function counted() {
    return hits.length ? hits.length + (hits.length === 1 ? " match" : " matches") : "No match on the branch on show";
  }

  // The fragment names a block without being its id (t12-reasoning for the block
  // t12-r): the browser's own jump to an id, which comes after this script, would
  // put the block's top at the top of the window, the match maybe out of view.
  const FIELDS = { p: "prompt", r: "reasoning", c: "content" };
  function blockFromHash() {
    const m = /^#t(\d+)-(prompt|reasoning|content)$/.exec(window.location.hash);
    return m && document.getElementById("t" + m[1] + "-" + m[2][0]);
  }

  function keepInUrl(block) {
    const m = block && /^t(\d+)-([prc])$/.exec(block.id);
    const hash = m ? "#t" + m[1] + "-" + FIELDS[m[2]] : "";
    if (!hash || window.location.hash === hash) return;
    history.replaceState(history.state, "", window.location.pathname + window.location.search + hash);
  }

  function showMatch(i) {
    if (!hits.length) return;
    if (at >= 0 && hits[at]) hits[at].classList.remove("current");
    at = (i + hits.length) % hits.length;
    const hit = hits[at];
    hit.classList.add("current");
    reveal(hit);
    hit.scrollIntoView({ block: "center" });
    keepInUrl(blockOf(hit));
    say("Match " + (at + 1) + " of " + hits.length);
  }

  function openAtMatch() {
    const nav = document.getElementById("match-nav");
    const q = query();
    if (!nav || !q) return;
    markAll(q);
    const block = blockFromHash();
    const first = block ? hits.findIndex(function (h) { return block.contains(h); }) : (hits.length ? 0 : -1);
    if (first >= 0) {
      showMatch(first);
    } else if (block) {
      // The match runs across formatting (bold, a link) that splits its text: the block, at least.
      reveal(block);
      block.scrollIntoView({ block: "center" });
      at = hits.findIndex(function (h) { return block.compareDocumentPosition(h) & Node.DOCUMENT_POSITION_FOLLOWING; }) - 1;
      if (at < -1) at = hits.length - 1;
      say(hits.length ? counted() : "Here, across formatting");
    } else {
      say(counted());
    }
  }

  function step(by) {
    if (!hits.length) return;
    showMatch(at < 0 && by < 0 ? hits.length - 1 : at + by);
  }

  function clearMatches() {
    unmark();
    const nav = document.getElementById("match-nav");
    if (nav) nav.remove();
    history.replaceState(history.state, "", window.location.pathname);
  }

  document.addEventListener("click", function (e) {
    const t = e.target.closest && e.target.closest("#match-nav button");
    if (!t) return;
    if (t.dataset.matchStep) step(parseInt(t.dataset.matchStep, 10));
    else if (t.hasAttribute("data-match-clear")) clearMatches();
  });

  document.addEventListener("keydown", function (e) {
    if (e.key === "F3" && document.getElementById("match-nav")) {
      e.preventDefault();
      step(e.shiftKey ? -1 : 1);
    }
  });

  // A turn swapped in (a streamed turn finished, a branch rendered) has no marks yet.
  let refreshQueued = false;
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    const target = e.detail.target;
    if (refreshQueued || !document.getElementById("match-nav") || !target) return;
    if (target.id !== "turns" && !(target.classList && target.classList.contains("turn"))) return;
    refreshQueued = true;
    requestAnimationFrame(function () {
      refreshQueued = false;
      const q = query();
      if (!q) return;
      // The match in view keeps its place if its block is still there.
      let place = null;
      if (at >= 0 && hits[at] && hits[at].isConnected && blockOf(hits[at])) {
        const block = blockOf(hits[at]);
        place = { id: block.id, n: Array.prototype.indexOf.call(block.querySelectorAll("mark." + HIT), hits[at]) };
      }
      unmark();
      markAll(q);
      const block = place && document.getElementById(place.id);
      const hit = block && block.querySelectorAll("mark." + HIT)[place.n];
      if (hit) {
        at = hits.indexOf(hit);
        hit.classList.add("current");
        say("Match " + (at + 1) + " of " + hits.length);
      } else {
        say(counted());
      }
    });
  });

  // After playground.js, which takes a conversation to its newest turn on load.
  document.addEventListener("DOMContentLoaded", openAtMatch);
})();
