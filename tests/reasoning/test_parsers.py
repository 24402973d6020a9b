"""The streaming markup parsers: what each family yields, and that a stream cut
anywhere gives exactly what `split()` gives on the whole text."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasoning.events import ContentDelta, ReasoningDelta, Reclassified, TextDelta, fold_text
from reasoning.parsers import FAMILIES, TAG_PAIRS, make_parser, split

HARMONY_MARKERS = (
    "<|start|>",
    "<|channel|>",
    "<|message|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|constrain|>",
    "analysis",
    "final",
    "commentary",
    " to=functions.f ",
    "assistant",
    "assistantfinal",
    "assistantanalysis",
)


def markers_of(family: str) -> tuple[str, ...]:
    if family == "harmony":
        return HARMONY_MARKERS
    if family == "none":
        return ("<think>", "</think>")
    opens, closes = TAG_PAIRS[family]
    return opens + closes


def stream(
    family: str,
    pieces: list[str],
    starts_in_reasoning: bool = False,
    tags: tuple[str, str] | None = None,
) -> tuple[str, str, list[TextDelta]]:
    parser = make_parser(family, starts_in_reasoning=starts_in_reasoning, tags=tags)
    events: list[TextDelta] = []
    for piece in pieces:
        events += parser.feed(piece)
    events += parser.close()
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    return reasoning, content, events


def cut(text: str, positions: list[int]) -> list[str]:
    bounds = sorted({p % (len(text) + 1) for p in positions} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


# -- what each family yields -----------------------------------------------------------


@pytest.mark.parametrize(
    ("family", "text", "expected"),
    [
        ("think", "<think>\nLet me add.\n</think>\n\nIt is 4.", ("Let me add.", "It is 4.")),
        ("think", "<think>\n\n</think>\n\nHello!", ("", "Hello!")),
        ("think", "<think>\nstill going", ("still going", "")),
        ("think", "Sure. <think>hmm</think> Done.", ("hmm", "Sure.\n\nDone.")),
        ("think", "<think><think>echoed</think>ok", ("echoed", "ok")),
        ("think", "<think>a\n\nb</think>c", ("a\n\nb", "c")),
        ("think", "<think>A</think>mid<think>B</think>end", ("A\n\nB", "mid\n\nend")),
        ("think", "  indented answer\n", ("", "  indented answer\n")),
        ("think", "a < b and </thinking> is not a tag", ("", "a < b and </thinking> is not a tag")),
        ("mistral", "[THINK]plan[/THINK]answer", ("plan", "answer")),
        ("kimi", "◁think▷plan◁/think▷answer", ("plan", "answer")),
        ("seed", "<seed:think>plan</seed:think>answer", ("plan", "answer")),
        ("minimax", "</mm:think>plain reply", ("", "plain reply")),
        ("cohere", "<|START_THINKING|>plan<|END_THINKING|>answer", ("plan", "answer")),
        (
            "granite",
            "Here is my thought process:\nstep 1\nHere is my response:\nthe answer",
            ("step 1", "the answer"),
        ),
        (
            "granite",
            "Here's my thought process:\nstep 1\nHere's my response:\nthe answer",
            ("step 1", "the answer"),
        ),
        ("none", "<think>x</think>y", ("", "<think>x</think>y")),
    ],
)
def test_it_splits_each_family(family: str, text: str, expected: tuple[str, str]) -> None:
    assert split(text, family) == expected


def test_it_treats_everything_before_the_close_tag_as_reasoning_when_started_inside() -> None:
    text = "Okay, the user asks 2+2.\n</think>\n\n4"
    assert split(text, "think", starts_in_reasoning=True) == ("Okay, the user asks 2+2.", "4")


def test_it_keeps_text_before_a_stray_close_tag_as_content() -> None:
    # Lose nothing: it was already streamed as answer; only the tag goes.
    assert split("thinking?</think>\n\nanswer", "think") == ("", "thinking?\n\nanswer")


def test_it_drops_an_echoed_open_tag_when_started_inside() -> None:
    assert split("<think>\nplan</think>ans", "think", starts_in_reasoning=True) == ("plan", "ans")


def test_it_uses_an_overriding_tag_pair() -> None:
    text = "<thinking>plan</thinking>answer <think>kept</think>"
    tags = ("<thinking>", "</thinking>")
    assert split(text, "think", tags=tags) == ("plan", "answer <think>kept</think>")


def test_it_reports_running_out_of_tokens_while_thinking() -> None:
    parser = make_parser("think")
    parser.feed("<think>I need to consider")
    parser.close()
    assert parser.in_reasoning
    finished = make_parser("think")
    finished.feed("<think>x</think>y")
    assert not finished.in_reasoning


def test_it_never_emits_empty_text() -> None:
    _, _, events = stream("think", list("<think>\n\n</think>\n\n<think></think>  x  "))
    assert events and all(e.text for e in events)


def test_it_holds_back_a_prefix_that_turns_out_to_be_plain_text() -> None:
    parser = make_parser("think")
    assert parser.feed("<th") == []
    assert parser.feed("is") == [ContentDelta("<this")]
    assert parser.close() == []


def test_it_flushes_a_partial_marker_at_the_end() -> None:
    parser = make_parser("think")
    assert parser.feed("answer </thi") == [ContentDelta("answer")]
    assert parser.close() == [ContentDelta(" </thi")]


def test_it_rejects_an_unknown_family() -> None:
    with pytest.raises(ValueError, match="unknown markup family"):
        make_parser("nope")


def test_it_lists_every_family_it_builds() -> None:
    for family in FAMILIES:
        assert split("plain", family) == ("", "plain")


# -- harmony --------------------------------------------------------------------------

HARMONY = (
    "<|channel|>analysis<|message|>User wants a greeting.<|end|>"
    "<|start|>assistant<|channel|>analysis<|message|>Keep it short.<|end|>"
    "<|start|>assistant<|channel|>commentary<|message|>Let me answer.<|end|>"
    "<|start|>assistant<|channel|>final<|message|>Hello!<|return|>"
)


def test_it_reads_harmony_channels() -> None:
    assert split(HARMONY, "harmony") == (
        "User wants a greeting.\n\nKeep it short.",
        "Let me answer.\n\nHello!",
    )


def test_it_puts_harmony_tool_calls_in_reasoning() -> None:
    text = (
        "<|channel|>analysis<|message|>Need weather.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"city":"Oslo"}<|call|>'
    )
    assert split(text, "harmony") == ('Need weather.\n\n{"city":"Oslo"}', "")


def test_it_reads_harmony_with_special_tokens_stripped() -> None:
    text = 'analysisUser says "Hello". Respond.assistantfinalHello! 👋'
    assert split(text, "harmony") == ('User says "Hello". Respond.', "Hello! 👋")


def test_it_does_not_mistake_a_plain_reply_for_stripped_harmony() -> None:
    assert split("analytics show assistantfinal", "harmony") == (
        "",
        "analytics show assistantfinal",
    )


def test_it_flushes_an_unclosed_harmony_header() -> None:
    assert split("<|channel|>analysis", "harmony") == ("", "analysis")


def test_it_starts_harmony_in_analysis_when_told() -> None:
    text = "thinking<|end|><|start|>assistant<|channel|>final<|message|>hi"
    assert split(text, "harmony", starts_in_reasoning=True) == ("thinking", "hi")


# -- every cut of every marker --------------------------------------------------------

# Every marker of every family (both Granite spellings), with whitespace on both sides,
# stray and repeated tags.
TEMPLATES = {
    family: f"  lead {opens[0]} reason  {opens[-1]} more\n{closes[0]}\n\nanswer {closes[-1]}"
    f" tail {opens[-1]}x{closes[0]}end"
    for family, (opens, closes) in TAG_PAIRS.items()
}


@pytest.mark.parametrize("family", sorted(TEMPLATES))
@pytest.mark.parametrize("starts_in_reasoning", [False, True])
def test_it_gives_the_same_result_for_every_single_and_double_cut(
    family: str, starts_in_reasoning: bool
) -> None:
    text = TEMPLATES[family]
    whole = split(text, family, starts_in_reasoning=starts_in_reasoning)
    assert whole[0]  # the template does produce reasoning …
    for i in range(len(text) + 1):
        for j in range(i, len(text) + 1, 3):
            pieces = [text[:i], text[i:j], text[j:]]
            got = stream(family, pieces, starts_in_reasoning)[:2]
            assert got == whole, (family, i, j)


def test_it_gives_the_same_harmony_result_for_every_cut() -> None:
    for text in (HARMONY, "  analysisplan.assistantfinalok"):
        whole = split(text, "harmony")
        for i in range(len(text) + 1):
            assert stream("harmony", [text[:i], text[i:]])[:2] == whole, i
        assert stream("harmony", list(text))[:2] == whole


def test_it_gives_the_same_result_one_character_at_a_time() -> None:
    for family, text in TEMPLATES.items():
        assert stream(family, list(text))[:2] == split(text, family)


def test_it_holds_back_no_more_than_the_longest_marker() -> None:
    for family, text in TEMPLATES.items():
        longest = max(len(m) for m in markers_of(family))
        parser = make_parser(family)
        for ch in text * 3:
            parser.feed(ch)
            assert len(parser._tail) < longest


# -- properties ------------------------------------------------------------------------

PLAIN = st.text(alphabet="ab <>/|[]◁▷:'\n Here", max_size=6)


@st.composite
def marked_text(draw: st.DrawFn, family: str) -> str:
    markers = markers_of(family)
    fragment = st.one_of(
        st.sampled_from(markers),
        # A marker cut short, or with one character changed: near misses.
        st.sampled_from(markers).flatmap(lambda m: st.integers(1, len(m) - 1).map(lambda i: m[:i])),
        st.sampled_from(markers).flatmap(
            lambda m: st.integers(0, len(m) - 1).map(lambda i: m[:i] + "x" + m[i + 1 :])
        ),
        st.sampled_from(["\n", "\n\n", " ", "  \n "]),
        PLAIN,
    )
    return "".join(draw(st.lists(fragment, max_size=14)))


FAMILY_NAMES = sorted(FAMILIES)


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    family=st.sampled_from(FAMILY_NAMES),
    starts_in_reasoning=st.booleans(),
    positions=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_it_streams_exactly_what_split_gives_for_any_cut(
    data: st.DataObject, family: str, starts_in_reasoning: bool, positions: list[int]
) -> None:
    text = data.draw(marked_text(family))
    whole = split(text, family, starts_in_reasoning=starts_in_reasoning)
    reasoning, content, events = stream(family, cut(text, positions), starts_in_reasoning)
    assert (reasoning, content) == whole
    assert all(e.text for e in events)
    # The held-back tail never grows past the longest marker, however it was cut.
    parser = make_parser(family, starts_in_reasoning=starts_in_reasoning)
    longest = max(len(m) for m in markers_of(family))
    for piece in cut(text, positions):
        parser.feed(piece)
        assert len(getattr(parser, "_tail", "")) < longest


@settings(max_examples=300, deadline=None)
@given(
    family=st.sampled_from(sorted(TAG_PAIRS)),
    blocks=st.lists(
        st.tuples(st.booleans(), st.text(alphabet="abc xyz\n.!", min_size=1, max_size=10)),
        max_size=8,
    ),
    positions=st.lists(st.integers(0, 10_000), max_size=8),
)
def test_it_loses_no_character_but_markers_and_whitespace(
    family: str, blocks: list[tuple[bool, str]], positions: list[int]
) -> None:
    opens, closes = TAG_PAIRS[family]
    text = "".join(
        (f"{opens[0]}{body}{closes[0]}" if thinking else body) for thinking, body in blocks
    )
    reasoning, content, _ = stream(family, cut(text, positions))
    expected_reasoning = "".join(body for thinking, body in blocks if thinking)
    expected_content = "".join(body for thinking, body in blocks if not thinking)

    def visible(s: str) -> str:
        return "".join(s.split())

    assert visible(reasoning) == visible(expected_reasoning)
    assert visible(content) == visible(expected_content)


# -- a close tag with no open tag: the answer so far was reasoning ---------------------


@pytest.mark.parametrize(
    ("text", "flags", "expected"),
    [
        # DeepSeek-R1 / Qwen3: the template opened <think>, the output only closes it.
        ("Okay, 2+2.\n</think>\n\n4", {"reclassify": True}, ("Okay, 2+2.", "4")),
        ("Okay, 2+2.</think>4", {"close_only": True}, ("Okay, 2+2.", "4")),
        # Only the first close tag, and only before any open tag or reasoning.
        ("<think>a</think>b</think>c", {"reclassify": True}, ("a", "b\n\nc")),
        ("plan</think>ans</think>x", {"reclassify": True}, ("plan", "ans\n\nx")),
        # Nothing streamed yet (MiniMax-M3's leading tag): nothing to move.
        ("</mm:think>hello", {"reclassify": True}, ("", "hello")),
        # close_only: an open tag, and a close tag after the first, are the model's words.
        ("plan</think>Use <think>x</think> tags", {"close_only": True}, ("plan", "Use <think>x</think> tags")),
        ("no tags at all", {"close_only": True}, ("", "no tags at all")),
    ],
)
def test_a_close_tag_with_no_open_tag_reclassifies_the_answer_so_far(text, flags, expected):
    family = "minimax" if "mm:" in text else "think"
    assert split(text, family, **flags) == expected


def test_the_reclassification_is_an_event_after_the_text_it_moves():
    parser = make_parser("think", reclassify=True)
    first = parser.feed("Let me think")
    second = parser.feed(".</think>Answer")
    assert first == [ContentDelta("Let me think")]
    assert second == [ContentDelta("."), Reclassified(), ContentDelta("Answer")]


def test_without_reclassify_a_stray_close_tag_still_leaves_the_text_as_answer():
    assert split("thinking?</think>answer", "think") == ("", "thinking?\n\nanswer")


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    family=st.sampled_from(sorted(TAG_PAIRS)),
    flag=st.sampled_from(["reclassify", "close_only"]),
    positions=st.lists(st.integers(0, 10_000), max_size=12),
)
def test_streamed_reclassification_equals_the_whole_text_split_for_any_cut(data, family, flag, positions):
    text = data.draw(marked_text(family))
    whole = split(text, family, **{flag: True})
    parser = make_parser(family, **{flag: True})
    events: list[object] = []
    for piece in cut(text, positions):
        events += parser.feed(piece)
    events += parser.close()
    assert fold_text(events) == whole
    assert sum(isinstance(e, Reclassified) for e in events) <= 1
