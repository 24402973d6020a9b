"""Streaming parsers for reasoning written as markup inside the answer text.

    p = make_parser("think", starts_in_reasoning=False, tags=None)
    events = p.feed(delta)       # ReasoningDelta / ContentDelta, never with empty text
    events += p.close()          # flushes what was held back
    p.in_reasoning               # still inside a thinking block (ran out while thinking?)
    reasoning, content = split(text, "think")

Families (see `FAMILIES`): `think` (`<think>…</think>`, any pair via `tags`), `mistral`
(`[THINK]…[/THINK]`), `kimi` (`◁think▷…◁/think▷`), `seed` (`<seed:think>…</seed:think>`),
`minimax` (`<mm:think>…</mm:think>`), `cohere` (`<|START_THINKING|>…<|END_THINKING|>`),
`granite` ("Here is my thought process:" … "Here is my response:", also "Here's"),
`harmony` (gpt-oss channels, with special tokens or with them stripped) and `none`.

How it stays cheap: a delta is appended to a held-back tail no longer than the longest
marker, markers are found with one compiled alternation (C speed, no per-character
Python loop), and only a suffix that could still grow into a marker is held back. A feed
therefore costs O(len(delta)) whatever came before. `split()` runs the very same state
machine over the whole text, so streamed and whole-text results cannot differ; the
property tests check that for arbitrary cuts.

Principle: lose nothing. No character of the output is dropped except the markers
themselves and the whitespace right beside them. Policy for the ambiguous cases:

    case                                        policy
    ------------------------------------------  ----------------------------------------------
    text before the first open tag              content; then the block is reasoning, the text
      (`Hi <think>x</think>y`)                  after it content again
    starts_in_reasoning=True (the template      everything before the first close tag is
      already opened the block)                 reasoning
    close tag with no open tag before it and    with `reclassify` (the adapters set it unless
      starts_in_reasoning=False                 thinking is off): the answer so far was
                                                reasoning, a `Reclassified` event says so and
                                                what follows is answer. Without it: the tag is
                                                dropped and the text stays content. Only the
                                                first close tag does this, and only before any
                                                open tag or reasoning
    close tag only (`close_only`: a NATIVE      the same reclassification; an open tag, and a
      model whose server left the template's    close tag after it, are plain text (the model
      `</think>` in the text)                   talking about tags)
    open tag while in reasoning (echoed         the tag is dropped, reasoning goes on
      `<think><think>`, nested)
    close tag while in content (stray, the      the tag is dropped, content goes on
      MiniMax-M3 leading `</mm:think>`)
    empty block, Qwen3 with thinking off        nothing is emitted for it
      (`<think>\\n\\n</think>\\n\\n`)
    stream ends inside reasoning (ran out of    all of it is reasoning, content is empty,
      tokens while thinking)                    `in_reasoning` stays True
    whitespace touching a marker, either side   dropped; whitespace anywhere else is kept, also
                                                at the very start and end of the output
    two blocks of one kind with markers         joined with a blank line ("\\n\\n") so they
      between (`A</think>mid<think>B`, several  do not run together
      harmony analysis messages)
    marker-like prefix that is not one          held back until decided, then plain text
      (`<th` + `is`)                            (`<this`)
    partial marker at the end of the stream     plain text, emitted by close()
    harmony `analysis`, or a tool call          reasoning (tool arguments are the model's
      (`commentary to=…`)                       working, not its answer)
    harmony `final`, `commentary` without a     content
      recipient (preamble), unknown channel
    harmony text outside a message; a header    kept in the current block (an unclosed header
      never closed by `<|message|>`             is flushed as text by close())
    harmony stripped form (output starts with   reasoning until `assistantfinal` (content);
      the bare word `analysis`)                 `assistantanalysis` goes back to reasoning.
                                                Only recognised after a leading `analysis`
    granite phrases                             plain strings, matched exactly ("Here is" and
                                                "Here's"); same rules as the tags
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from reasoning.events import ContentDelta, ParsedText, ReasoningDelta, Reclassified, fold_text

_REASONING = 0
_CONTENT = 1

# Marker actions.
_TO_REASONING = 0
_TO_CONTENT = 1
_DROP = 2  # stray marker: dropped, the block goes on
_HEADER_START = 3  # harmony <|start|>
_HEADER_CHANNEL = 4  # harmony <|channel|>
_HEADER_END = 5  # harmony <|message|>
_RECLASSIFY = 6  # close tag in content: the answer so far was reasoning, if nothing says otherwise
_OPEN_AS_TEXT = 7  # close_only: an open tag is the model's words, but no close tag reclassifies after it

_SEPARATOR = "\n\n"
_CHANNEL_MARK = "\x00"  # where <|channel|> stood inside a captured harmony header

TAG_PAIRS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "think": (("<think>",), ("</think>",)),
    "mistral": (("[THINK]",), ("[/THINK]",)),
    "kimi": (("◁think▷",), ("◁/think▷",)),
    "seed": (("<seed:think>",), ("</seed:think>",)),
    "minimax": (("<mm:think>",), ("</mm:think>",)),
    "cohere": (("<|START_THINKING|>",), ("<|END_THINKING|>",)),
    "granite": (
        ("Here is my thought process:", "Here's my thought process:"),
        ("Here is my response:", "Here's my response:"),
    ),
}

FAMILIES: Mapping[str, str] = {
    "think": "<think>…</think> (DeepSeek-R1, Qwen3, GLM, MiniMax-M2; any pair via tags)",
    "mistral": "[THINK]…[/THINK] (Magistral)",
    "harmony": "gpt-oss channels: analysis / final / commentary, or the stripped form",
    "granite": "Here is my thought process: … Here is my response: (IBM Granite)",
    "kimi": "◁think▷…◁/think▷ (Kimi k1.5 / VL)",
    "seed": "<seed:think>…</seed:think> (ByteDance Seed)",
    "minimax": "<mm:think>…</mm:think> (MiniMax-M3)",
    "cohere": "<|START_THINKING|>…<|END_THINKING|> (Cohere Command)",
    "none": "no markup: everything is answer",
}

_HARMONY_ENDS = ("<|end|>", "<|return|>", "<|call|>")


class _Table:
    """The markers active in one parser state, with their actions."""

    __slots__ = ("actions", "firsts", "longest", "pattern", "prefixes")

    def __init__(self, actions: Mapping[str, int]) -> None:
        markers = sorted(actions, key=len, reverse=True)
        for a in markers:
            if not a:
                raise ValueError("empty marker")
            for b in markers:
                # A marker inside another would make the leftmost match depend on where
                # the stream was cut.
                if a != b and a in b:
                    raise ValueError(f"marker {a!r} occurs inside marker {b!r}")
        self.actions = dict(actions)
        self.pattern = re.compile("|".join(re.escape(m) for m in markers))
        self.prefixes = frozenset(m[:i] for m in markers for i in range(1, len(m)))
        self.firsts = tuple(sorted({m[0] for m in markers}))
        self.longest = len(markers[0])

    def hold_from(self, text: str, pos: int) -> int:
        """Where the shortest-to-decide tail starts: the earliest index whose suffix is
        a proper prefix of a marker (len(text) when nothing needs holding)."""
        n = len(text)
        lo = max(pos, n - self.longest + 1)
        best = n
        prefixes = self.prefixes
        for c in self.firsts:
            i = text.find(c, lo, best)
            while i != -1:
                if text[i:] in prefixes:
                    best = i
                    break
                i = text.find(c, i + 1, best)
        return best


class MarkupParser:
    """Incremental splitter of one reply into reasoning and content deltas.

    Build it with `make_parser`. Not thread-safe; one per stream.
    """

    def __init__(
        self,
        reasoning_table: _Table,
        content_table: _Table,
        *,
        starts_in_reasoning: bool,
        start_markers: Mapping[str, int] | None = None,
        keep_stray: bool = False,
    ) -> None:
        self._tables = (reasoning_table, content_table)
        self._opened = False  # an open marker (or a first reclassification) was seen
        self._keep_stray = keep_stray  # a marker that does nothing stays as text
        self._kind = _REASONING if starts_in_reasoning else _CONTENT
        self._tail = ""
        self._pending_ws = ""  # trailing whitespace that may turn out to touch a marker
        self._block_start = starts_in_reasoning  # drop whitespace right after a marker
        self._sep_pending = False
        self._has = [False, False]
        self._start_markers = dict(start_markers or {})
        self._at_start = bool(self._start_markers)
        self._out: list[ParsedText] = []

    @property
    def in_reasoning(self) -> bool:
        """True while inside a thinking block (at the end: ran out while thinking)."""
        return self._kind == _REASONING

    def _table(self) -> _Table:
        return self._tables[self._kind]

    def feed(self, delta: str) -> list[ParsedText]:
        """Parse one more piece of raw text; returns the events it completes."""
        if not delta:
            return []
        out: list[ParsedText] = []
        self._out = out
        text = self._tail + delta if self._tail else delta
        self._tail = ""
        pos = 0
        if self._at_start:
            pos = self._check_start(text)
            if pos < 0:
                return out
        table = self._table()
        search = table.pattern.search
        while True:
            m = search(text, pos)
            if m is None:
                break
            start = m.start()
            if start > pos:
                self._text(text[pos:start])
            action = table.actions[m.group()]
            if action == _OPEN_AS_TEXT:
                self._opened = True
                self._text(m.group())
                pos = m.end()
                continue
            if action == _RECLASSIFY and not self._reclassify():
                action = _DROP
                if self._keep_stray:
                    self._text(m.group())
                    pos = m.end()
                    continue
            self._act(action)
            pos = m.end()
            table = self._table()
            search = table.pattern.search
        hold = table.hold_from(text, pos)
        if hold > pos:
            self._text(text[pos:hold])
        if hold < len(text):
            self._tail = text[hold:]
        return out

    def close(self) -> list[ParsedText]:
        """End of stream: emit whatever was held back (a partial marker is plain text)."""
        out: list[ParsedText] = []
        self._out = out
        self._at_start = False
        self._flush_unfinished()
        if self._tail:
            tail, self._tail = self._tail, ""
            self._emit(tail)
        if self._pending_ws:
            # Trailing whitespace at the very end touches no marker: keep it.
            self._put(self._pending_ws)
            self._pending_ws = ""
        return out

    # -- internals --------------------------------------------------------------------

    def _check_start(self, text: str) -> int:
        """Start-only markers (harmony's stripped `analysis`): returns where normal
        parsing resumes, or -1 when the whole text is held until decided."""
        body = text.lstrip()
        j = len(text) - len(body)
        if j:
            self._emit(text[:j])
        if not body:
            return -1
        for marker, action in self._start_markers.items():
            if body.startswith(marker):
                self._at_start = False
                self._act(action)
                return j + len(marker)
            if marker.startswith(body):
                self._tail = body
                return -1
        self._at_start = False
        return j

    def _text(self, s: str) -> None:
        self._emit(s)

    def _flush_unfinished(self) -> None:
        pass

    def _reclassify(self) -> bool:
        """A close tag in content: reclassify the answer so far, once, if no open tag or
        reasoning came before it. Emits `Reclassified` only when there is text to move."""
        if self._opened or self._has[_REASONING]:
            return False
        self._opened = True
        if self._has[_CONTENT]:
            self._out.append(Reclassified())
            self._has[_CONTENT], self._has[_REASONING] = False, True
        return True

    def _act(self, action: int) -> None:
        if action == _TO_REASONING:
            self._kind = _REASONING
            self._opened = True
        elif action == _TO_CONTENT:
            self._kind = _CONTENT
        self._boundary()

    def _boundary(self) -> None:
        self._pending_ws = ""
        self._block_start = True
        self._sep_pending = True

    def _emit(self, s: str) -> None:
        if self._block_start:
            s = s.lstrip()
            if not s:
                return
            self._block_start = False
        body = s.rstrip()
        if not body:
            self._pending_ws += s
            return
        trailing = s[len(body) :]
        if self._pending_ws:
            body = self._pending_ws + body
        self._pending_ws = trailing
        self._put(body)

    def _put(self, s: str) -> None:
        kind = self._kind
        if self._sep_pending:
            self._sep_pending = False
            if self._has[kind]:
                s = _SEPARATOR + s
        self._has[kind] = True
        out = self._out
        if out and type(out[-1]) is (ReasoningDelta if kind == _REASONING else ContentDelta):
            last = out[-1]
            out[-1] = type(last)(last.text + s)
        else:
            out.append(ReasoningDelta(s) if kind == _REASONING else ContentDelta(s))


class HarmonyParser(MarkupParser):
    """gpt-oss harmony: messages `<|start|>role<|channel|>name[ to=recipient]…<|message|>
    body<|end|>`, the first header usually already in the prompt (output starts at
    `<|channel|>`). The header text is captured, never shown."""

    def __init__(self, *, starts_in_reasoning: bool) -> None:
        body_actions: dict[str, int] = {
            "<|start|>": _HEADER_START,
            "<|channel|>": _HEADER_CHANNEL,
            **dict.fromkeys(_HARMONY_ENDS, _DROP),
        }
        self._body = _Table(body_actions)
        self._stripped = _Table(
            {**body_actions, "assistantfinal": _TO_CONTENT, "assistantanalysis": _TO_REASONING}
        )
        self._header_table = _Table({"<|message|>": _HEADER_END, "<|channel|>": _HEADER_CHANNEL})
        super().__init__(
            self._body,
            self._body,
            starts_in_reasoning=starts_in_reasoning,
            start_markers={"analysis": _TO_REASONING},
        )
        self._header: list[str] | None = None
        self._is_stripped = False

    def _table(self) -> _Table:
        if self._header is not None:
            return self._header_table
        return self._stripped if self._is_stripped else self._body

    def _text(self, s: str) -> None:
        if self._header is not None:
            self._header.append(s)
        else:
            self._emit(s)

    def _act(self, action: int) -> None:
        if action == _HEADER_START:
            self._header = []
            self._boundary()
        elif action == _HEADER_CHANNEL:
            if self._header is None:
                self._header = []
                self._boundary()
            self._header.append(_CHANNEL_MARK)
        elif action == _HEADER_END:
            header = "".join(self._header or ())
            self._header = None
            self._kind = _channel_kind(header)
            self._boundary()
        else:
            if action == _TO_REASONING:
                # Only the stripped form has bare-word markers (a leading `analysis`);
                # from then on `assistantfinal` and `assistantanalysis` count too.
                self._is_stripped = True
            super()._act(action)

    def _flush_unfinished(self) -> None:
        if self._header is not None:
            header = "".join(self._header).replace(_CHANNEL_MARK, "")
            self._header = None
            if header:
                self._emit(header)


def _channel_kind(header: str) -> int:
    if _CHANNEL_MARK not in header:
        return _CONTENT
    words = header.rsplit(_CHANNEL_MARK, 1)[1].split()
    channel = words[0] if words else ""
    if channel == "analysis":
        return _REASONING
    if channel == "commentary" and "to=" in header:
        return _REASONING
    return _CONTENT


class _PlainParser(MarkupParser):
    """Family `none`: every character is answer."""

    def __init__(self) -> None:
        self._kind = _CONTENT

    def feed(self, delta: str) -> list[ParsedText]:
        return [ContentDelta(delta)] if delta else []

    def close(self) -> list[ParsedText]:
        return []


def make_parser(
    family: str,
    starts_in_reasoning: bool = False,
    tags: tuple[str, str] | None = None,
    *,
    reclassify: bool = False,
    close_only: bool = False,
) -> MarkupParser:
    """A fresh streaming parser for one reply. `tags` overrides the (open, close) pair of
    a tag family; `starts_in_reasoning` says the prompt already opened the block;
    `reclassify` turns the answer before a close tag with no open tag into reasoning
    (a `Reclassified` event); `close_only` recognises the close tag alone, for text
    that is answer unless such a tag shows otherwise (implies `reclassify`)."""
    if family == "none":
        return _PlainParser()
    if family == "harmony":
        if tags is not None:
            raise ValueError("the harmony family has no tag pair to override")
        return HarmonyParser(starts_in_reasoning=starts_in_reasoning)
    try:
        opens, closes = TAG_PAIRS[family]
    except KeyError:
        raise ValueError(
            f"unknown markup family {family!r}; known: {', '.join(FAMILIES)}"
        ) from None
    if tags is not None:
        if len(tags) != 2 or not tags[0] or not tags[1]:
            raise ValueError(f"tags must be a non-empty (open, close) pair, got {tags!r}")
        opens, closes = (tags[0],), (tags[1],)
    stray_close = _RECLASSIFY if reclassify or close_only else _DROP
    in_reasoning = {**dict.fromkeys(opens, _DROP), **dict.fromkeys(closes, _TO_CONTENT)}
    in_content = {**dict.fromkeys(opens, _TO_REASONING), **dict.fromkeys(closes, stray_close)}
    if close_only:
        in_content = {**dict.fromkeys(opens, _OPEN_AS_TEXT), **dict.fromkeys(closes, _RECLASSIFY)}
    return MarkupParser(
        _Table(in_reasoning),
        _Table(in_content),
        starts_in_reasoning=starts_in_reasoning,
        keep_stray=close_only,
    )


def split(
    text: str,
    family: str,
    starts_in_reasoning: bool = False,
    tags: tuple[str, str] | None = None,
    *,
    reclassify: bool = False,
    close_only: bool = False,
) -> tuple[str, str]:
    """(reasoning, content) of a whole reply, by the same state machine as streaming."""
    parser = make_parser(
        family, starts_in_reasoning=starts_in_reasoning, tags=tags, reclassify=reclassify, close_only=close_only
    )
    events: list[object] = list(parser.feed(text))
    events += parser.close()
    return fold_text(events)
