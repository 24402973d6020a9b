"""Model output to safe HTML: markdown with raw HTML off, then sanitised.

Rendered once, when a block completes; while streaming the page appends
escaped plain text, so nothing from a model ever reaches the DOM unescaped.
"""

from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable(
    ["table", "strikethrough"]
)
_TAGS = {
    "p", "br", "hr", "em", "strong", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"}, "img": {"src", "alt", "title"}, "code": {"class"}, "th": {"style"}, "td": {"style"},
}  # fmt: skip


def render(text: str) -> str:
    if not text:
        return ""
    return nh3.clean(
        _md.render(text),
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
