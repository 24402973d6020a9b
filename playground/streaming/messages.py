"""Websocket messages that fit: daphne (autobahn) refuses to send a message over
its payload limit (1 MiB by default) and errors the socket instead. Streaming
frames are small, but a resync of a long turn and the final render of a very
long one are not, so they are cut here into pieces htmx can apply one by one:
plain text into runs of characters, a rendered turn into a shell with empty
blocks followed by the blocks' HTML cut between top-level elements.
"""

from __future__ import annotations

import logging
import re
from html.parser import HTMLParser
from typing import Any

from django.utils.html import escape, strip_tags

# Escaping grows text at most 6× ('"' -> "&quot;") and a character is at most 4
# bytes, so this many characters stay well under 1 MiB once escaped.
TEXT_CHARS = 128 * 1024
MESSAGE_BYTES = 768 * 1024

log = logging.getLogger(__name__)
_TURN_OOB = re.compile(r'<article [^>]*id="turn-(\d+)"[^>]*hx-swap-oob="outerHTML"')
TOO_LARGE = (
    '<div hx-swap-oob="innerHTML:#notice"><p class="error" role="alert">'
    "A message too large to show live was left out; reload the page to see it.</p></div>"
)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def text_swaps(turn_id: int, block: str, text: str, *, replace: bool = False) -> list[str]:
    """Fragments that append (or, with `replace`, set) a block's plain text."""
    pieces = [text[i : i + TEXT_CHARS] for i in range(0, len(text), TEXT_CHARS)] or [""]
    out = []
    for n, piece in enumerate(pieces):
        swap = "innerHTML" if replace and n == 0 else "beforeend"
        out.append(f'<div hx-swap-oob="{swap}:#t{turn_id}-{block}">{escape(piece)}</div>')
    return out


def thought_clock(turn_id: int, frame: dict[str, Any]) -> str:
    """The run's thinking time (ms) that came with a frame, for the page's thought
    label: `think_ms` (thinking so far) or `thought_ms` (the answer began). "" if none."""
    for key in ("thought_ms", "think_ms"):
        value = frame.get(key)
        if isinstance(value, int):
            return f'<div hx-swap-oob="innerHTML:#t{turn_id}-clock"><i data-{key.replace("_", "-")}>{value}</i></div>'
    return ""


def pack(fragments: list[str]) -> list[str]:
    """Join fragments into as few messages as fit under MESSAGE_BYTES."""
    messages: list[str] = []
    size = 0
    for fragment in fragments:
        n = len(fragment.encode())
        if messages and size + n <= MESSAGE_BYTES:
            messages[-1] += fragment
            size += n
        else:
            messages.append(fragment)
            size = n
    return messages


def fit(message: str) -> list[str]:
    """Any message as messages that each fit the transport: the last guard before
    the socket. A rendered turn is split (`split_turn`); anything else too large is
    replaced by a notice, since a message over the limit would end the socket."""
    if len(message) * 4 <= MESSAGE_BYTES or len(message.encode()) <= MESSAGE_BYTES:
        return [message]
    if match := _TURN_OOB.search(message):
        pieces = split_turn(message, int(match.group(1)))
        if all(len(p.encode()) <= MESSAGE_BYTES for p in pieces):
            return pieces
    log.warning("a socket message of %s bytes was replaced by a notice", len(message.encode()))
    return [TOO_LARGE]


def split_turn(html: str, turn_id: int) -> list[str]:
    """A rendered turn (an outerHTML swap) as messages that each fit: as is if it
    fits, else the turn with its two blocks emptied, then their HTML appended."""
    if len(html.encode()) <= MESSAGE_BYTES:
        return [html]
    shell, inner = _hollow(html, {f"t{turn_id}-r", f"t{turn_id}-c"})
    fragments = []
    for block_id, content in inner.items():
        for piece in top_level_pieces(content):
            if len(piece.encode()) > MESSAGE_BYTES:  # one enormous element: keep its text
                fragments += text_swaps(turn_id, block_id[-1], strip_tags(piece))
            else:
                fragments.append(f'<div hx-swap-oob="beforeend:#{block_id}">{piece}</div>')
    return [shell, *pack(fragments)]


class _Positions(HTMLParser):
    """Offsets where elements start and end, with their depth."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=False)
        self.html = html
        self.line_starts = [0]
        for i, ch in enumerate(html):
            if ch == "\n":
                self.line_starts.append(i + 1)
        self.depth = 0
        self.events: list[tuple[str, int, int, int, str | None]] = []  # kind, start, end, depth, id

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        end = start + len(self.get_starttag_text() or "")
        element_id = dict(attrs).get("id")
        self.events.append(("start", start, end, self.depth, element_id))
        if tag not in VOID:
            self.depth += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        start = self._offset()
        self.events.append(("void", start, start + len(self.get_starttag_text() or ""), self.depth, None))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        self.depth -= 1
        start = self._offset()
        end = self.html.index(">", start) + 1
        self.events.append(("end", start, end, self.depth, None))


def _hollow(html: str, ids: set[str]) -> tuple[str, dict[str, str]]:
    parser = _Positions(html)
    parser.feed(html)
    parser.close()
    cuts: list[tuple[int, int, str]] = []
    open_block: tuple[str, int, int] | None = None  # id, inner start, depth
    for kind, start, end, depth, element_id in parser.events:
        if open_block is None and kind == "start" and element_id in ids:
            open_block = (element_id, end, depth)
        elif open_block is not None and kind == "end" and depth == open_block[2]:
            cuts.append((open_block[1], start, open_block[0]))
            open_block = None
    shell, inner, at = [], {}, 0
    for begin, finish, block_id in cuts:
        shell.append(html[at:begin])
        inner[block_id] = html[begin:finish]
        at = finish
    shell.append(html[at:])
    return "".join(shell), inner


def top_level_pieces(html: str, limit: int = MESSAGE_BYTES // 4) -> list[str]:
    """`html` cut only where no element is open, in pieces of up to `limit` characters
    (by default MESSAGE_BYTES: at most 4 bytes a character, no encoding per boundary)."""
    parser = _Positions(html)
    parser.feed(html)
    parser.close()
    boundaries = [end for kind, _, end, depth, _ in parser.events if depth == 0 and kind in ("end", "void")]
    pieces, start, size_start = [], 0, 0
    for boundary in boundaries:
        if boundary - size_start > limit and start > size_start:
            pieces.append(html[size_start:start])
            size_start = start
        start = boundary
    pieces.append(html[size_start:])
    return [p for p in pieces if p.strip()]
