"""Model output to safe HTML: markdown with raw HTML off, then sanitised.

Rendered once, when a block completes; while streaming the page appends
escaped plain text, so nothing from a model ever reaches the DOM unescaped.

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

from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit

import nh3
from django.utils.html import escape
from markdown_it import MarkdownIt

REMOTE_IMAGES: ContextVar[bool] = ContextVar("remote_images", default=False)

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "img", "span",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title", "class", "target"}, "img": {"src", "alt", "title"}, "code": {"class"},
    "th": {"style"}, "td": {"style"}, "span": {"class"},
}  # fmt: skip


def _image_as_link(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    src = str(token.attrGet("src") or "")
    alt = "".join(child.content for child in (token.children or []))
    if not src:
        return str(escape(alt))
    if src.startswith("data:image/"):  # embedded: it loads nothing
        return renderer.image(tokens, idx, options, env)
    try:
        host = urlsplit(src).hostname or "this site"
    except ValueError:
        host = "an unknown host"
    return (
        f'<a class="remote-image" href="{escape(src)}" target="_blank" title="Open the image from {escape(host)}">'
        f'<span class="remote-image-host">Image from {escape(host)}</span>'
        + (f": {escape(alt)}" if alt else "")
        + "</a>"
    )


_md_images_off = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
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
