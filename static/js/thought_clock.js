// One thought timer value from streaming to done (issue 21.9).
//
// The finished turn says "Thought for N s" from the run's own measure (Turn.thinking_ms:
// from the run's start, on the server's clock). The live label used to count from the
// turn's creation on the browser's clock and to stop when the answer reached the page,
// so the number jumped when the turn finished. Now the run sends its figures with the
// stream (playground.streaming.messages.thought_clock, into #t<id>-clock, just before
// the text they belong to): while thinking, the thinking time up to the newest
// reasoning, from which the label counts on, on this page's clock; when the answer
// starts, the final figure, which playground.js's foldOnAnswer shows as it is.
(function () {
  "use strict";

  function liveLabel(turn) {
    const details = turn && turn.querySelector("details.thought:not(.step-thought)");
    return details && details.querySelector(".thinking-label");
  }

  document.addEventListener("htmx:oobAfterSwap", function (e) {
    const clock = e.detail.target;
    if (!clock || !clock.classList || !clock.classList.contains("thought-clock")) return;
    const figure = clock.firstElementChild;
    const ms = figure ? parseInt(figure.textContent, 10) : NaN;
    const turn = clock.closest(".turn");
    const label = liveLabel(turn);
    if (!(ms >= 0) || !label) return;
    if (figure.hasAttribute("data-thought-ms")) {
      label.dataset.thoughtMs = String(ms);
      return;
    }
    delete label.dataset.thoughtMs;  // thinking again (a reclassification): a new figure will come
    label.dataset.started = String(Date.now() - ms);
    // Shown now, not at the next tick: the reader sees the run's figure as the reasoning arrives.
    // Written only when the second changes: a frame brings a figure, and a label rewritten
    // on every one has the page around it laid out again every frame.
    const shown = label.dataset.prefix + " " + Math.floor(ms / 1000) + " s";
    if (label.classList.contains("live") && !turn.dataset.folded && label.textContent !== shown) {
      label.textContent = shown;
    }
  });
})();
