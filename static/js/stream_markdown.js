// Markdown while it streams (the answer and the thought alike). Frames keep
// appending plain text nodes to a streaming block (the hot path is unchanged);
// a few times a second the blocks that are complete at the head of that text
// (paragraphs, lists, headings, quotes, tables, closed code fences, closed $$
// math) are rendered once into a `.md-live` element at the block's start, and
// the text nodes they came from are replaced by one node with the open tail,
// which stays plain and readable. When the turn ends the server's render
// (playground/markdown.py) replaces a short block; a long one the page holds whole
// is kept as streamed (playground.js, finishInPlace) and its rest rendered here
// (`finish`), the same way.
//
// No task runs long (issue 23.5): at most SLICE_CHARS of text are rendered per
// task, the rest in the next ones; rendered blocks go into chunks of their own
// (`.md-chunk`, content-visibility: auto) so that appending one lays out only the
// newest chunk, not every block rendered before it.
//
// Safe by construction: the DOM is built with createElement and textContent,
// never from HTML, so model text cannot become markup. The server's rules are
// followed where they decide what a reader sees: raw HTML is text, links only
// to http(s)/mailto, an image is a link naming its host (no remote load), a `*`
// between two word characters is a multiplication sign, line breaks are kept.
// No character is lost: what is not rendered stays as text.
(function () {
  "use strict";

  const INTERVAL_MS = 150;
  const SLICE_CHARS = 3000;  // text rendered per task at most (a block longer than this goes whole)
  const CHUNK_CHARS = 2000;  // text per .md-chunk: appending to one lays out only it
  // Per block, the raw text already rendered into its .md-live: with the plain tail it
  // is exactly the text streamed (source(), which the browser tests compare with what
  // was stored: no character lost).
  const rendered = new WeakMap();
  const chunkChars = new WeakMap();  // per .md-chunk, the text rendered into it
  // Per block, the <p> of a paragraph rendered up to a line that was not its last (openCut).
  const openParagraph = new WeakMap();
  const pending = new Set();
  let timer = 0;

  // ---- block splitting ---------------------------------------------------------------

  const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/;
  const MATH_FENCE = /^ {0,3}\$\$/;

  // The length of the head of `text` made of complete blocks (0 when none is); with
  // `limit`, of no more of them than fit in `limit` characters (at least one).
  function completeLength(text, limit) {
    let end = 0;
    let fence = null;
    let math = false;
    let pos = 0;
    while (true) {
      const nl = text.indexOf("\n", pos);
      if (nl < 0) break;  // the last line is still being written
      const line = text.slice(pos, nl);
      const next = nl + 1;
      if (fence) {
        const m = FENCE.exec(line);
        if (m && m[1][0] === fence[0] && m[1].length >= fence.length && !m[2].trim()) {
          fence = null;
          if (limit && end && next > limit) break;
          end = next;
        }
      } else if (math) {
        if (/\$\$\s*$/.test(line)) {
          math = false;
          if (limit && end && next > limit) break;
          end = next;
        }
      } else {
        const m = FENCE.exec(line);
        if (m) fence = m[1];
        else if (MATH_FENCE.test(line)) math = !/\$\$\s*$/.test(line.replace(/^\s*\$\$/, ""));  // not $$x$$ on one line
        else if (!line.trim()) {
          if (limit && end && next > limit) break;
          end = next;
        }
      }
      pos = next;
    }
    return end;
  }

  function splitBlocks(text) {
    const lines = text.split("\n");
    const blocks = [];
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      const fence = FENCE.exec(line);
      if (fence) {
        const body = [];
        i++;
        while (i < lines.length) {
          const m = FENCE.exec(lines[i]);
          if (m && m[1][0] === fence[1][0] && m[1].length >= fence[1].length && !m[2].trim()) break;
          body.push(lines[i]);
          i++;
        }
        i++;
        blocks.push({ kind: "code", lang: fence[2].trim().split(/\s+/)[0] || "", text: body.join("\n") });
        continue;
      }
      if (MATH_FENCE.test(line)) {
        const body = [line.replace(/^\s*\$\$/, "")];
        let closed = /\$\$\s*$/.test(body[0]);
        if (closed) body[0] = body[0].replace(/\$\$\s*$/, "");
        i++;
        while (!closed && i < lines.length) {
          if (/\$\$\s*$/.test(lines[i])) { body.push(lines[i].replace(/\$\$\s*$/, "")); closed = true; }
          else body.push(lines[i]);
          i++;
        }
        blocks.push({ kind: "math", text: body.join("\n").trim() });
        continue;
      }
      if (!line.trim()) { i++; continue; }
      const group = [];
      while (i < lines.length && lines[i].trim() && !FENCE.test(lines[i]) && !MATH_FENCE.test(lines[i])) {
        group.push(lines[i]);
        i++;
      }
      blocks.push({ kind: "lines", lines: group });
    }
    return blocks;
  }

  // ---- rendering ---------------------------------------------------------------------

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  const WORDISH = /[\w)\]]/;
  const WORDISH_AFTER = /[\w(\[]/;

  function safeHref(url) {
    return /^(https?:|mailto:)/i.test(url) ? url : null;
  }

  // Inline markdown into `parent`: code, math, links, images as links, strong, em, del.
  function inline(parent, text) {
    let buf = "";
    function flush() { if (buf) { parent.appendChild(document.createTextNode(buf)); buf = ""; } }
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      const rest = text.slice(i);
      let m;
      if (c === "\\" && i + 1 < text.length && "([".includes(text[i + 1])) {
        const closer = text[i + 1] === "(" ? "\\)" : "\\]";
        const end = text.indexOf(closer, i + 2);
        if (end > i + 2) {
          flush();
          parent.appendChild(math(text.slice(i + 2, end), closer === "\\]", "span"));
          i = end + 2;
          continue;
        }
      }
      if (c === "\\" && i + 1 < text.length && /[!-\/:-@\[-`{-~]/.test(text[i + 1])) {
        buf += text[i + 1];
        i += 2;
        continue;
      }
      if (c === "`" && (m = /^(`+)([\s\S]*?[^`])\1(?!`)/.exec(rest))) {
        flush();
        parent.appendChild(el("code", "", m[2].replace(/^ (.*) $/, "$1")));
        i += m[0].length;
        continue;
      }
      if (c === "$" && (m = /^\$\$([^$]+?)\$\$/.exec(rest))) {
        flush();
        parent.appendChild(math(m[1], true, "span"));
        i += m[0].length;
        continue;
      }
      if (c === "$" && (m = /^\$([^\s$](?:[^$]*[^\s$])?)\$(?!\d)/.exec(rest))) {
        flush();
        parent.appendChild(math(m[1], false, "span"));
        i += m[0].length;
        continue;
      }
      if ((c === "!" && (m = /^!\[([^\]]*)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/.exec(rest))) ||
          (c === "[" && (m = /^\[([^\]]+)\]\(([^)\s]+)(?:\s+"[^"]*")?\)/.exec(rest)))) {
        const href = safeHref(m[2]);
        if (href) {
          flush();
          const a = el("a");
          a.href = href;
          a.rel = "noopener noreferrer nofollow";
          if (c === "!") {
            let host = "this site";
            try { host = new URL(href).hostname || host; } catch (err) { host = "an unknown host"; }
            a.className = "remote-image";
            a.target = "_blank";
            a.title = "Open the image from " + host;
            a.appendChild(el("span", "remote-image-host", "Image from " + host));
            if (m[1]) a.appendChild(document.createTextNode(": " + m[1]));
          } else {
            inline(a, m[1]);
          }
          parent.appendChild(a);
          i += m[0].length;
          continue;
        }
      }
      if ((c === "*" || c === "_") && (m = (c === "*" ? /^\*\*(?=\S)([\s\S]*?\S)\*\*/ : /^__(?=\S)([\s\S]*?\S)__/).exec(rest))) {
        flush();
        const strong = el("strong");
        inline(strong, m[1]);
        parent.appendChild(strong);
        i += m[0].length;
        continue;
      }
      if (c === "~" && (m = /^~~(?=\S)([\s\S]*?\S)~~/.exec(rest))) {
        flush();
        const del = el("del");
        inline(del, m[1]);
        parent.appendChild(del);
        i += m[0].length;
        continue;
      }
      const arithmetic = c === "*" && i > 0 && WORDISH.test(text[i - 1]) && WORDISH_AFTER.test(text[i + 1] || "");
      if (!arithmetic && (c === "*" || (c === "_" && !/\w/.test(text[i - 1] || ""))) &&
          (m = (c === "*" ? /^\*(?=[^\s*])([^*]*?[^\s*])\*(?!\*)/ : /^_(?=[^\s_])([^_]*?[^\s_])_(?!\w)/).exec(rest))) {
        flush();
        const em = el("em");
        inline(em, m[1]);
        parent.appendChild(em);
        i += m[0].length;
        continue;
      }
      buf += c;
      i++;
    }
    flush();
  }

  // Lines of a paragraph with their breaks kept (the server renders breaks: true).
  function inlineLines(parent, lines) {
    lines.forEach(function (line, n) {
      if (n) parent.appendChild(el("br"));
      inline(parent, line);
    });
  }

  function math(tex, display, tag) {
    const e = el(tag, display ? "math-display" : "math-inline", tex);
    if (window.katex) {
      try {
        window.katex.render(tex, e, { displayMode: display, throwOnError: false });
        e.className = display ? "math-block" : "math";
      } catch (err) { e.textContent = tex; }
    }
    return e;
  }

  const LIST_ITEM = /^( {0,3})([-*+]|\d{1,9}[.)])\s+(.*)$/;
  const TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;

  function cells(line) {
    return line.trim().replace(/^\|/, "").replace(/\|$/, "").split("|").map(function (s) { return s.trim(); });
  }

  // A paragraph's lines until one that starts a list, a heading or a quote.
  function paragraphLength(lines, i) {
    let n = i;
    while (n < lines.length && !LIST_ITEM.test(lines[n]) && !/^ {0,3}(#{1,6}\s|>)/.test(lines[n])) n++;
    return n - i;
  }

  // `cont`: the <p> an earlier render left open (a long paragraph is rendered a slice of
  // lines at a time, see openCut): the first lines go on with it, as a <p> of their own
  // with no margin between the two, so it reads as one paragraph with its line breaks.
  // Returns what the lines ended in: {open: <p>} when the last is a paragraph's line (the
  // next lines may go on with it), {open: null} when the next line starts afresh whatever
  // it is (after a heading or a rule), or null when it may not (a list, table or quote
  // goes on over the next lines).
  function renderLines(lines, out, cont) {
    let i = 0;
    let ended = { open: null };
    if (cont) {
      const n = paragraphLength(lines, 0);
      if (n) {
        const p = el("p", "md-cont");
        inlineLines(p, lines.slice(0, n));
        cont.classList.add("md-cut");
        out.appendChild(p);
        i = n;
        ended = { open: p, from: -1 };
      }
    }
    while (i < lines.length) {
      const line = lines[i];
      let m;
      if ((m = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line))) {
        const h = el("h" + m[1].length);
        inline(h, m[2]);
        out.appendChild(h);
        i++;
        ended = { open: null };
      } else if (/^ {0,3}([-*_])( *\1){2,} *$/.test(line)) {
        out.appendChild(el("hr"));
        i++;
        ended = { open: null };
      } else if (line.includes("|") && i + 1 < lines.length && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes("-")) {
        const table = el("table");
        const head = el("thead");
        const tr = el("tr");
        cells(line).forEach(function (c) { const th = el("th"); inline(th, c); tr.appendChild(th); });
        head.appendChild(tr);
        table.appendChild(head);
        const body = el("tbody");
        i += 2;
        while (i < lines.length && lines[i].includes("|")) {
          const row = el("tr");
          cells(lines[i]).forEach(function (c) { const td = el("td"); inline(td, c); row.appendChild(td); });
          body.appendChild(row);
          i++;
        }
        if (body.childNodes.length) table.appendChild(body);
        out.appendChild(table);
        ended = null;
      } else if (/^ {0,3}>/.test(line)) {
        const quote = el("blockquote");
        const inner = [];
        while (i < lines.length && /^ {0,3}>/.test(lines[i])) { inner.push(lines[i].replace(/^ {0,3}> ?/, "")); i++; }
        renderLines(inner, quote);
        out.appendChild(quote);
        ended = null;
      } else if ((m = LIST_ITEM.exec(line))) {
        const ordered = /\d/.test(m[2]);
        const list = el(ordered ? "ol" : "ul");
        if (ordered && parseInt(m[2], 10) !== 1) list.start = parseInt(m[2], 10);
        let item = null;
        while (i < lines.length) {
          const im = LIST_ITEM.exec(lines[i]);
          if (im && /\d/.test(im[2]) === ordered && im[1].length < 2) {
            item = el("li");
            inline(item, im[3]);
            list.appendChild(item);
          } else if (item && /^\s+\S/.test(lines[i])) {
            item.appendChild(el("br"));
            inline(item, lines[i].trim());
          } else break;
          i++;
        }
        out.appendChild(list);
        ended = null;
      } else {
        const p = el("p");
        const from = i;
        i += paragraphLength(lines, i);
        inlineLines(p, lines.slice(from, i));
        out.appendChild(p);
        ended = { open: p, from: from };
      }
    }
    // A paragraph begun on the last line may be a table's head once the next line comes.
    if (ended && ended.open && ended.from === lines.length - 1 && lines[ended.from].includes("|")) return null;
    return ended;
  }

  function render(text, out, cont) {
    splitBlocks(text).forEach(function (block, n) {
      if (block.kind === "code") {
        const wrap = el("div", "code-block");
        if (block.lang) wrap.dataset.lang = block.lang;
        const pre = el("pre");
        pre.tabIndex = 0;  // as the server renders it: a block that scrolls is reachable by keyboard
        const code = el("code", block.lang ? "language-" + block.lang : "", block.text);
        pre.appendChild(code);
        wrap.appendChild(pre);
        out.appendChild(wrap);
      } else if (block.kind === "math") {
        out.appendChild(math(block.text, true, "div"));
      } else {
        // Only the text's first lines can go on with an open paragraph: a blank line or a fence ended it.
        renderLines(block.lines, out, n === 0 && !/^\s*\n/.test(text) ? cont : null);
      }
    });
  }

  // ---- the streaming blocks ----------------------------------------------------------

  function visible(box) {
    const details = box.closest("details");
    return !details || details.open;
  }

  // A block that streams, or a finished one kept as streamed whose rest is not rendered yet.
  function rendering(box) {
    return box.classList.contains("streaming") || box.classList.contains("md-pending");
  }

  function update(box) {
    if (!box.isConnected || !rendering(box) || !visible(box)) return false;
    const finished = !box.classList.contains("streaming");
    let live = box.firstElementChild;
    if (live && !live.classList.contains("md-live")) live = null;
    let tail = "";
    const nodes = [];
    for (let n = live ? live.nextSibling : box.firstChild; n; n = n.nextSibling) { nodes.push(n); tail += n.textContent; }
    // Once the turn has ended its last block is complete too.
    let done = finished && tail.length <= SLICE_CHARS ? tail.length : completeLength(tail, SLICE_CHARS);
    // A block that goes on and on (a thought with no blank line): its complete lines.
    const cut = done ? 0 : openCut(tail, finished);
    if (finished && !done && !cut) done = tail.length;
    if (!done && !cut) return false;
    if (!live) {
      // Made only once there is a block to show: an empty element would count as an
      // answer begun (playground.js). A block whose text was replaced whole starts over.
      live = el("div", "md-live markdown");
      box.insertBefore(live, box.firstChild);
      rendered.delete(box);
      openParagraph.delete(box);
    }
    const html = document.createDocumentFragment();
    const cont = openParagraph.get(box) || null;
    openParagraph.delete(box);
    if (cut) {
      const ended = renderLines(tail.slice(0, cut - 1).split("\n"), html, cont);
      if (ended && ended.open) openParagraph.set(box, ended.open);
      done = cut;
    } else {
      render(tail.slice(0, done), html, cont);
    }
    let chunk = live.lastElementChild;
    if (!chunk || !chunk.classList.contains("md-chunk") || (chunkChars.get(chunk) || 0) >= CHUNK_CHARS) {
      chunk = live.appendChild(el("div", "md-chunk"));
    }
    chunk.appendChild(html);
    chunkChars.set(chunk, (chunkChars.get(chunk) || 0) + done);
    rendered.set(box, (rendered.get(box) || "") + tail.slice(0, done));
    consume(nodes, done);
    if (finished && !live.nextSibling) {
      box.classList.remove("md-pending");
      box.dispatchEvent(new CustomEvent("streammarkdown:done", { bubbles: true }));
      return false;
    }
    // More is ready (a block opened late, or a finished one): the next slice soon.
    return finished || completeLength(tail.slice(done), 1) > 0;
  }

  // Where to cut the open tail of a block that has not ended (no blank line yet): after
  // its last complete line within SLICE_CHARS, once there are CHUNK_CHARS of them (or the
  // turn has ended), if those lines are plain lines that render the same cut there as
  // whole: a paragraph (its next lines go on with it: openParagraph), or ending in a
  // heading or a rule. 0 when not: a fence or $$ still open, a list, table or quote that
  // the next lines may go on with; such a block waits for its end.
  function openCut(tail, finished) {
    if (!finished && tail.length < CHUNK_CHARS) return 0;
    const nl = tail.lastIndexOf("\n", SLICE_CHARS - 1);
    if (nl < 0 || (!finished && nl + 1 < CHUNK_CHARS / 2)) return 0;
    const lines = tail.slice(0, nl).split("\n");
    const plain = lines.every(function (line) {
      return line.trim() && !FENCE.test(line) && !MATH_FENCE.test(line) && !/^ {0,3}>/.test(line) &&
        !LIST_ITEM.test(line) && !/^\s/.test(line) && !line.includes("|");
    });
    return plain ? nl + 1 : 0;
  }

  // Take the first `count` characters off the plain text after .md-live (text nodes,
  // and segments of them: playground.js); what is left stays where it is, so a long
  // rest is not laid out again as one new text node.
  function consume(nodes, count) {
    for (const n of nodes) {
      if (count <= 0) return;
      const len = n.textContent.length;
      if (len <= count) { n.remove(); count -= len; continue; }
      if (n.nodeType === Node.TEXT_NODE) { n.deleteData(0, count); return; }
      consume(Array.from(n.childNodes), count);
      return;
    }
  }

  function flushPending() {
    timer = 0;
    const boxes = Array.from(pending);
    pending.clear();
    boxes.forEach(function (box) {
      if (update(box)) soon(box);
    });
  }

  function soon(box) {
    pending.add(box);
    if (timer) clearTimeout(timer);
    timer = setTimeout(flushPending, 0);
  }

  function schedule(box) {
    pending.add(box);
    if (!timer) timer = setTimeout(flushPending, INTERVAL_MS);
  }

  document.addEventListener("htmx:oobAfterSwap", function (e) {
    const target = e.detail.target;
    if (target && target.classList && target.classList.contains("streaming") && target.id) schedule(target);
  });

  // A closed thought is not rendered while it streams; opening it catches up.
  document.addEventListener("toggle", function (e) {
    const details = e.target;
    if (details.open && details.matches && details.matches("details.thought")) {
      const box = details.querySelector(".reasoning.streaming, .reasoning.md-pending");
      if (box) soon(box);
    }
  }, true);

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".reasoning.streaming, .content.streaming").forEach(schedule);
  });

  function source(box) {
    const live = box.firstElementChild && box.firstElementChild.classList.contains("md-live") ? box.firstElementChild : null;
    let tail = "";
    for (let n = live ? live.nextSibling : box.firstChild; n; n = n.nextSibling) tail += n.textContent;
    return (live ? rendered.get(box) || "" : "") + tail;
  }

  // A finished block kept as the page streamed it (playground.js, finishInPlace): the
  // rest of its text is rendered now if it is in view, else when its thought opens.
  function finish(box) {
    if (!box.hasChildNodes() || (box.firstElementChild && box.firstElementChild.classList.contains("md-live") &&
        !box.firstElementChild.nextSibling)) {
      box.dispatchEvent(new CustomEvent("streammarkdown:done", { bubbles: true }));
      return;
    }
    box.classList.add("md-pending");
    soon(box);
  }

  window.streamMarkdown = { completeLength: completeLength, render: render, source: source, finish: finish };
})();
