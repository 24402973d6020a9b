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
    `<tool_call>` (family `think`) while in      the answer starts at the tool call, which is
      reasoning, or before any tag with         kept as its text (Qwen3 and GLM templates
      `reclassify`                              write tool calls after the thinking block;
                                                a model that skips `</think>` still ends its
                                                thinking there). Before any tag this
                                                reclassifies like a close tag; without
                                                `reclassify`, and after an answer, plain text
    harmony `analysis`, or a tool call          reasoning (tool arguments are the model's
      (`commentary to=…`)                       working, not its answer)
    harmony `final`, `commentary` without a     content
      recipient (preamble), unknown channel
    harmony text after a message's end and      content (it belongs to no channel); a header
      before the next header; a header never    never closed is flushed as text by close()
      closed by `<|message|>`
    harmony tool reply (`functions.f            content: only a tool as recipient makes a
      to=assistant<|channel|>commentary`)       tool call
    harmony stripped form (output starts with   `analysis` opens reasoning, `commentary` (a
      the bare word `analysis`, `commentary`    preamble) and `assistantfinal` open content;
      or `assistantfinal`)                      after that `assistantanalysis`,
                                                `assistantfinal` and `assistantcommentary`
                                                switch. Only recognised after such a start,
                                                and only in lower case (as gpt-oss writes it)
    granite phrases                             plain strings, matched exactly ("Here is" and
                                                "Here's"); same rules as the tags

Tool calls written as text (`make_parser(..., tool_calls=True)`, used when the request
offers tools and the server did not parse calls itself):

    case                                        policy
    ------------------------------------------  ----------------------------------------------
    `<tool_call>{"name": N, "arguments": {…}}   a tool call (ToolCallStart, one ToolCallDelta,
      </tool_call>` in the answer (Qwen /        ToolCallDone), decided at the close tag;
      Hermes templates)                         "parameters" is accepted for "arguments", and
                                                arguments given as a JSON string are kept as
                                                that text; whitespace touching the tags dropped
    malformed JSON, no name, other shapes       the whole `<tool_call>…</tool_call>` stays
      (XML-style bodies)                        answer text, whitespace before it too
    `<tool_call>` never closed                  a call if the body is a valid call (a stop
                                                sequence ate the close tag), else answer text
    harmony `commentary to=functions.NAME`      a tool call named NAME, the message body its
      (`<|constrain|>json` allowed)             arguments, ended by `<|call|>` / `<|end|>`, the
                                                next header, or the end of the stream (servers
                                                stop at `<|call|>`); other recipients (built-in
                                                `browser.*`, `python`) stay reasoning
    tool_calls=False                            all of the above is text as before (calls in
                                                harmony are reasoning)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping

from reasoning.events import (
    ContentDelta,
    ParsedText,
    ReasoningDelta,
    Reclassified,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStart,
    fold_text,
)
from reasoning.tool_calls import new_call_id

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
_END_MESSAGE = 8  # harmony <|end|> / <|return|> / <|call|>: outside a message is answer
_STRIPPED_REASONING = 9  # harmony stripped form: a bare channel word opening reasoning
_STRIPPED_CONTENT = 10  # … or opening answer (`assistantfinal`, a leading `commentary`)
_TOOL_CALL = 11  # a tool call ends thinking: the answer starts here, the marker is its text

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

# Templates that write tool calls in the answer part, after the thinking block (Qwen3,
# Qwen3.5, GLM): a tool call with no close tag before it means the model skipped the tag.
TOOL_CALL_OPENERS: dict[str, tuple[str, ...]] = {"think": ("<tool_call>",)}

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
# The stripped form (special tokens dropped by a server): channel words glued to the
# role word. Recognised anywhere once the output started with one of them.
_STRIPPED_WORDS = {
    word: action
    for lower, action in (
        ("assistantanalysis", _STRIPPED_REASONING),
        ("assistantfinal", _STRIPPED_CONTENT),
        ("assistantcommentary", _STRIPPED_CONTENT),
    )
    for word in (lower, lower.upper())
}
# What may open the stripped form at the very start (the prompt ended in `assistant`).
_STRIPPED_STARTS = {
    word: action
    for lower, action in (("analysis", _STRIPPED_REASONING), ("commentary", _STRIPPED_CONTENT))
    for word in (lower, lower.upper())
}
_NOT_TOOLS = frozenset({"assistant", "user", "all"})


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
            if action == _TOOL_CALL:
                if self._kind == _REASONING:
                    self._act(_TO_CONTENT)
                elif self._reclassify():
                    # The text before the call was reasoning: its trailing whitespace
                    # touches the boundary.
                    self._boundary()
                self._text(m.group())
                pos = m.end()
                table = self._table()
                search = table.pattern.search
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

    def __init__(
        self,
        *,
        starts_in_reasoning: bool,
        tool_calls: bool = False,
        call_id: Callable[[], str] = new_call_id,
    ) -> None:
        self._calls = tool_calls
        self._call_id = call_id
        self._call: tuple[int, str, str, list[str]] | None = None  # index, id, name, arguments
        self._call_count = 0
        body_actions: dict[str, int] = {
            "<|start|>": _HEADER_START,
            "<|channel|>": _HEADER_CHANNEL,
            **dict.fromkeys(_HARMONY_ENDS, _END_MESSAGE),
        }
        self._body = _Table(body_actions)
        self._stripped = _Table({**body_actions, **_STRIPPED_WORDS})
        self._header_table = _Table({"<|message|>": _HEADER_END, "<|channel|>": _HEADER_CHANNEL})
        super().__init__(
            self._body,
            self._body,
            starts_in_reasoning=starts_in_reasoning,
            start_markers={**_STRIPPED_STARTS, **_STRIPPED_WORDS},
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
        elif self._call is not None:
            self._call[3].append(s)
            self._out.append(ToolCallDelta(self._call[0], s))
        else:
            self._emit(s)

    def _end_call(self) -> None:
        if self._call is not None:
            index, call_id, name, pieces = self._call
            self._call = None
            self._out.append(ToolCallDone(index, call_id, name, "".join(pieces) or "{}"))

    def _act(self, action: int) -> None:
        if action in (_HEADER_START, _HEADER_CHANNEL, _END_MESSAGE):
            self._end_call()
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
            name = _function_called(header) if self._calls else None
            if name is not None:
                self._call = (self._call_count, self._call_id(), name, [])
                self._call_count += 1
                self._out.append(ToolCallStart(self._call[0], self._call[1], name))
        elif action == _END_MESSAGE:
            # Text after a message's end and before the next header belongs to no
            # channel: it is answer (SGLang's harmony parser agrees).
            self._kind = _CONTENT
            self._boundary()
        elif action in (_STRIPPED_REASONING, _STRIPPED_CONTENT):
            # Only the stripped form has bare-word markers, recognised at the very
            # start; from then on the `assistant…` words count too.
            self._is_stripped = True
            super()._act(_TO_REASONING if action == _STRIPPED_REASONING else _TO_CONTENT)
        else:
            super()._act(action)

    def _flush_unfinished(self) -> None:
        self._end_call()  # servers stop at <|call|> and often leave it out
        if self._header is not None:
            header = "".join(self._header).replace(_CHANNEL_MARK, "")
            self._header = None
            if header:
                self._emit(header)


_RECIPIENT = re.compile(r"to=([^\s\x00]+)")


def _function_called(header: str) -> str | None:
    """NAME when the header addresses `functions.NAME` on the commentary channel."""
    if _CHANNEL_MARK not in header:
        return None
    words = header.rsplit(_CHANNEL_MARK, 1)[1].split()
    if not words or words[0] != "commentary":
        return None
    for found in _RECIPIENT.findall(header):
        recipient = str(found).split("<|", 1)[0]
        if recipient.startswith("functions.") and len(recipient) > len("functions."):
            return recipient[len("functions.") :]
    return None


def _channel_kind(header: str) -> int:
    if _CHANNEL_MARK not in header:
        return _CONTENT
    words = header.rsplit(_CHANNEL_MARK, 1)[1].split()
    channel = words[0] if words else ""
    if channel == "analysis":
        return _REASONING
    # A tool call names a tool as recipient, in the role part or after the channel
    # (`assistant to=functions.f` / `commentary to=functions.f`); a tool's own reply
    # (`functions.f to=assistant`) is not one.
    if channel == "commentary" and any(r not in _NOT_TOOLS for r in _RECIPIENT.findall(header)):
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


TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"


def _hold_start(text: str, marker: str) -> int:
    """Where a suffix of `text` that is a proper prefix of `marker` starts (len(text): none)."""
    for i in range(max(0, len(text) - len(marker) + 1), len(text)):
        if marker.startswith(text[i:]):
            return i
    return len(text)


def parse_markup_call(body: str) -> tuple[str, str] | None:
    """(name, arguments JSON text) of a `<tool_call>` body, or None when it is not one."""
    try:
        value = json.loads(body)
    except ValueError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str) or not value["name"]:
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        try:
            json.loads(arguments)
        except ValueError:
            return None
        return value["name"], arguments
    if not isinstance(arguments, dict):
        return None
    return value["name"], json.dumps(arguments, ensure_ascii=False)


class ToolCallMarkup:
    """Takes the events of a markup parser and turns `<tool_call>{json}</tool_call>` in
    the answer text into tool-call events (see the module docstring). Streaming: text
    that may still become a call is held back, nothing else."""

    def __init__(self, call_id: Callable[[], str] = new_call_id) -> None:
        self._call_id = call_id
        self._held = ""  # a suffix that may be the start of a tag
        self._ws = ""  # answer whitespace that may touch a call
        self._body: list[str] | None = None  # inside <tool_call>
        self._call_ws = ""
        self._after_call = False
        self._count = 0
        self._out: list[ParsedText] = []

    def feed(self, events: list[ParsedText]) -> list[ParsedText]:
        out: list[ParsedText] = []
        self._out = out
        for event in events:
            if type(event) is ContentDelta:
                self._content(event.text)
            else:
                if type(event) is Reclassified:
                    # The answer so far (held text included) becomes reasoning: give it
                    # out first, as it came.
                    self._flush_as_text()
                    if self._ws:
                        self._put(self._ws)
                        self._ws = ""
                out.append(event)
        return out

    def close(self, events: list[ParsedText]) -> list[ParsedText]:
        out = self.feed(events)
        self._out = out
        if self._body is not None:
            body = "".join(self._body) + self._held
            self._held = ""
            call = parse_markup_call(body.strip())
            if call is not None:
                self._body = None
                self._emit_call(*call)
            else:
                self._body.append(body[len("".join(self._body)) :])
        self._flush_as_text()
        if self._ws and not self._after_call:
            self._put(self._ws)
        self._ws = ""
        return out

    def _flush_as_text(self) -> None:
        if self._body is not None:
            raw = self._call_ws + TOOL_CALL_OPEN + "".join(self._body) + self._held
            self._body, self._held, self._call_ws = None, "", ""
            self._text(raw)
        elif self._held:
            held, self._held = self._held, ""
            self._text(held)

    def _content(self, text: str) -> None:
        text = self._held + text
        self._held = ""
        while text:
            if self._body is not None:
                at = text.find(TOOL_CALL_CLOSE)
                if at < 0:
                    hold = _hold_start(text, TOOL_CALL_CLOSE)
                    self._body.append(text[:hold])
                    self._held = text[hold:]
                    return
                body = "".join(self._body) + text[:at]
                text = text[at + len(TOOL_CALL_CLOSE) :]
                call = parse_markup_call(body.strip())
                if call is None:
                    raw = self._call_ws + TOOL_CALL_OPEN + body + TOOL_CALL_CLOSE
                    self._body, self._call_ws = None, ""
                    self._text(raw)
                else:
                    self._body, self._call_ws = None, ""
                    self._emit_call(*call)
                continue
            if self._after_call:
                text = text.lstrip()
                if not text:
                    return
                self._after_call = False
            at = text.find(TOOL_CALL_OPEN)
            if at < 0:
                hold = _hold_start(text, TOOL_CALL_OPEN)
                self._text(text[:hold])
                self._held = text[hold:]
                return
            self._text(text[:at])
            self._call_ws, self._ws = self._ws, ""
            self._body = []
            text = text[at + len(TOOL_CALL_OPEN) :]

    def _emit_call(self, name: str, arguments: str) -> None:
        index = self._count
        self._count += 1
        call_id = self._call_id()
        self._out += [
            ToolCallStart(index, call_id, name),
            ToolCallDelta(index, arguments),
            ToolCallDone(index, call_id, name, arguments),
        ]
        self._after_call = True
        self._ws = ""

    def _text(self, s: str) -> None:
        """Answer text; its trailing whitespace is held until it is known whether a
        call touches it."""
        if not s:
            return
        if self._after_call:
            s = s.lstrip()
            if not s:
                return
            self._after_call = False
        body = s.rstrip()
        if not body:
            self._ws += s
            return
        self._put(self._ws + body)
        self._ws = s[len(body) :]

    def _put(self, s: str) -> None:
        out = self._out
        if out and type(out[-1]) is ContentDelta:
            out[-1] = ContentDelta(out[-1].text + s)
        else:
            out.append(ContentDelta(s))


class ToolCallParser:
    """A markup parser whose answer text is also searched for `<tool_call>` calls."""

    def __init__(self, inner: MarkupParser, call_id: Callable[[], str]) -> None:
        self._inner = inner
        self._markup = ToolCallMarkup(call_id)

    @property
    def in_reasoning(self) -> bool:
        return self._inner.in_reasoning

    def feed(self, delta: str) -> list[ParsedText]:
        return self._markup.feed(self._inner.feed(delta))

    def close(self) -> list[ParsedText]:
        return self._markup.close(self._inner.close())


def make_parser(
    family: str,
    starts_in_reasoning: bool = False,
    tags: tuple[str, str] | None = None,
    *,
    reclassify: bool = False,
    close_only: bool = False,
    tool_calls: bool = False,
    call_id: Callable[[], str] = new_call_id,
) -> MarkupParser | ToolCallParser:
    """A fresh streaming parser for one reply. `tags` overrides the (open, close) pair of
    a tag family; `starts_in_reasoning` says the prompt already opened the block;
    `reclassify` turns the answer before a close tag with no open tag into reasoning
    (a `Reclassified` event); `close_only` recognises the close tag alone, for text
    that is answer unless such a tag shows otherwise (implies `reclassify`);
    `tool_calls` turns calls written as text into tool-call events (harmony's
    `to=functions.NAME`, `<tool_call>` in the answer), ids made by `call_id`."""
    if family == "harmony":
        if tags is not None:
            raise ValueError("the harmony family has no tag pair to override")
        return HarmonyParser(starts_in_reasoning=starts_in_reasoning, tool_calls=tool_calls, call_id=call_id)
    if tool_calls:
        inner = make_parser(
            family, starts_in_reasoning, tags, reclassify=reclassify, close_only=close_only
        )
        assert isinstance(inner, MarkupParser)
        return ToolCallParser(inner, call_id)
    if family == "none":
        return _PlainParser()
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
    openers = TOOL_CALL_OPENERS.get(family, ()) if tags is None else ()
    in_reasoning = {
        **dict.fromkeys(opens, _DROP),
        **dict.fromkeys(closes, _TO_CONTENT),
        **dict.fromkeys(openers, _TOOL_CALL),
    }
    in_content = {**dict.fromkeys(opens, _TO_REASONING), **dict.fromkeys(closes, stray_close)}
    if reclassify and not close_only:
        in_content.update(dict.fromkeys(openers, _TOOL_CALL))
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
    """(reasoning, content) of a whole reply, by the same state machine as streaming
    (tool calls written as text stay text here; see `split_calls`)."""
    parser = make_parser(
        family, starts_in_reasoning=starts_in_reasoning, tags=tags, reclassify=reclassify, close_only=close_only
    )
    events: list[object] = list(parser.feed(text))
    events += parser.close()
    return fold_text(events)


def split_calls(
    text: str,
    family: str,
    starts_in_reasoning: bool = False,
    tags: tuple[str, str] | None = None,
    *,
    reclassify: bool = False,
    close_only: bool = False,
    call_id: Callable[[], str] = new_call_id,
) -> tuple[str, str, list[tuple[str, str]]]:
    """(reasoning, content, [(name, arguments)…]) of a whole reply with `tool_calls` on."""
    parser = make_parser(
        family,
        starts_in_reasoning=starts_in_reasoning,
        tags=tags,
        reclassify=reclassify,
        close_only=close_only,
        tool_calls=True,
        call_id=call_id,
    )
    events: list[object] = list(parser.feed(text))
    events += parser.close()
    reasoning, content = fold_text(events)
    calls = [(e.name, e.arguments) for e in events if isinstance(e, ToolCallDone)]
    return reasoning, content, calls
