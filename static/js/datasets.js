// The dataset download with progress: a dry run counts the rows, then the JSONL
// streams in and the bar follows the lines received. Without JavaScript the form
// is a plain GET that downloads the file.
(function () {
  "use strict";
  const form = document.getElementById("dataset-form");
  if (!form) return;
  const summary = document.getElementById("dataset-summary");
  const bar = document.getElementById("dataset-progress");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = new URLSearchParams(new FormData(form)).toString();
    summary.textContent = "Counting rows…";
    bar.hidden = true;
    const preview = await fetch(`${form.dataset.preview}?${query}`, { credentials: "same-origin" });
    const counts = await preview.json();
    if (!preview.ok) {
      summary.textContent = `Not exported: ${counts.error}`;
      return;
    }
    const total = counts.written;
    summary.textContent = counts.summary;
    if (!total) return;
    bar.max = total;
    bar.value = 0;
    bar.hidden = false;
    const response = await fetch(`${form.action}?${query}`, { credentials: "same-origin" });
    if (!response.ok) {
      summary.textContent = `Not exported: ${await response.text()}`;
      bar.hidden = true;
      return;
    }
    const reader = response.body.getReader();
    const parts = [];
    let lines = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      for (const byte of value) if (byte === 10) lines += 1;
      bar.value = lines;
      summary.textContent = `${counts.summary} Downloading: ${lines} of ${total} rows…`;
    }
    const url = URL.createObjectURL(new Blob(parts, { type: "application/jsonl" }));
    const link = document.createElement("a");
    const format = new FormData(form).get("format");
    link.href = url;
    link.download = `dataset-${format}.jsonl`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    summary.textContent = `${counts.summary} Downloaded ${lines} rows.`;
  });
})();
