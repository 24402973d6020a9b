// Editing a prompt, regenerating an answer and switching branches happen in place
// (issue 21.9): the request goes by htmx (‹ › over the socket itself), and the
// conversation's socket renders the new branch into #turns
// (playground.conversations.fragments.render_branch: #turns emptied, then every
// turn of the branch appended) and streams its answer, as for a send.
(function () {
  "use strict";

  // Emptying #turns for a moment would make the page as short as its header: the
  // browser clamps the scroll position to the top, and the reader loses their
  // place. The list keeps its height until the branch is in (one socket message
  // holds it, unless it is larger than 768 KB), then takes its own again.
  let held = null;
  function holdHeight(turns) {
    if (held === null) {
      held = turns;
      turns.style.minHeight = turns.offsetHeight + "px";
      requestAnimationFrame(releaseHeight);
    }
  }
  function releaseHeight() {
    if (held) held.style.minHeight = "";
    held = null;
  }
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    const target = e.detail.target;
    if (target && target.id === "turns") holdHeight(target);
  });

  // The edit form or the button that was used went with the old branch: focus would
  // fall to the page's start. It goes to the composer, as on a page load, the
  // window staying where it is.
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    const target = e.detail.target;
    if (!target || target.id !== "turns") return;
    const lost = !document.activeElement || document.activeElement === document.body;
    const prompt = document.getElementById("prompt");
    if (lost && prompt) prompt.focus({ preventScroll: true });
  });

  // ‹ › go over the socket (the consumer's "show"): the branch comes back as the same
  // swaps of #turns. The switcher that was used went with the old turns; focus goes to
  // the same switcher of the turn now shown (its other arrow at the end of the row),
  // so a keyboard user can go on stepping through the branches.
  let switching = null;
  document.addEventListener("submit", function (e) {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.showBranch) return;
    if (document.body.classList.contains("offline")) {
      // The socket would only queue the switch until it is back: the form's own route
      // does it now, and the page loads the branch it stored (HX-Redirect).
      e.preventDefault();
      e.stopPropagation();
      // (getAttribute: the form has an input named "action", which form.action would be.)
      htmx.ajax("POST", form.getAttribute("action"), { source: form, swap: "none" });
      return;
    }
    const button = form.querySelector("button");
    switching = { turn: form.dataset.showBranch, label: button ? button.getAttribute("aria-label") : "" };
  }, true);
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    if (!switching || !e.detail.target || e.detail.target.id !== "turns") return;
    const nav = document.querySelector("#turn-" + switching.turn + " .siblings");
    if (!nav) return;  // not in yet: the branch comes in several swaps
    const same = nav.querySelector('button[aria-label="' + switching.label + '"]:not([disabled])');
    const target = same || nav.querySelector("button:not([disabled])");
    if (target) target.focus({ preventScroll: true });
    switching = null;
  });

  // With the socket down, the page would never hear of the new branch: once the
  // server has accepted the edit or regeneration, load the conversation again
  // (the composer's draft is kept in the browser).
  // (The views say so with the HX-Trigger header `branchStarted`.)
  document.addEventListener("branchStarted", function () {
    if (document.body.classList.contains("offline")) window.location.reload();
  });
})();
