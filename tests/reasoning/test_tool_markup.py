"""Tool calls written as text, for servers that did not parse them: `<tool_call>{json}
</tool_call>` (Qwen / Hermes) and harmony's `commentary to=functions.NAME`. Streamed under
any cut, the result equals the whole-text split; nothing but a valid call's tags and the
whitespace touching them is lost."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reasoning.events import (
    ContentDelta,
    ReasoningDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStart,
    fold_text,
)
from reasoning.parsers import make_parser, split, split_calls


def counter() -> Callable[[], str]:
    numbers = itertools.count()
    return lambda: f"call_{next(numbers)}"


def streamed(text: str, family: str, cuts: list[int], **flags: object) -> tuple[str, str, list[tuple[str, str]]]:
    parser = make_parser(family, tool_calls=True, call_id=counter(), **flags)  # type: ignore[arg-type]
    events: list[object] = []
    bounds = sorted({min(max(c, 0), len(text)) for c in cuts} | {0, len(text)})
    for a, b in itertools.pairwise(bounds):
        events += parser.feed(text[a:b])
    events += parser.close()
    starts = [e for e in events if isinstance(e, ToolCallStart)]
    dones = [e for e in events if isinstance(e, ToolCallDone)]
    assert [(s.index, s.id, s.name) for s in starts] == [(d.index, d.id, d.name) for d in dones]
    for done in dones:
        pieces = "".join(e.arguments for e in events if isinstance(e, ToolCallDelta) and e.index == done.index)
        assert pieces == done.arguments or (not pieces and done.arguments == "{}")
    assert all(e.text for e in events if isinstance(e, (ReasoningDelta, ContentDelta)))
    reasoning, content = fold_text(events)
    return reasoning, content, [(d.name, d.arguments) for d in dones]


CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@pytest.mark.parametrize(
    ("text", "flags", "expected"),
    [
        (
            "<think>Need weather.</think>\n\n" + CALL,
            {"reclassify": True},
            ("Need weather.", "", [("get_weather", '{"city": "Paris"}')]),
        ),
        (  # Qwen3.5: the template opened the block; the call ends the thinking
            "Need weather.\n" + CALL + "\n" + CALL.replace("Paris", "Rome"),
            {"starts_in_reasoning": True, "reclassify": True},
            ("Need weather.", "", [("get_weather", '{"city": "Paris"}'), ("get_weather", '{"city": "Rome"}')]),
        ),
        (
            "Let me check.\n\n" + CALL + "\n\nDone?",
            {},
            ("", "Let me check.Done?", [("get_weather", '{"city": "Paris"}')]),
        ),
        (  # arguments as a JSON string, and "parameters"
            '<tool_call>{"name": "f", "arguments": "{\\"a\\": 1}"}</tool_call>'
            '<tool_call>{"name": "g", "parameters": {}}</tool_call>',
            {},
            ("", "", [("f", '{"a": 1}'), ("g", "{}")]),
        ),
        (  # a stop sequence ate the close tag
            '<tool_call>\n{"name": "now", "arguments": {}}\n',
            {},
            ("", "", [("now", "{}")]),
        ),
    ],
)
def test_it_reads_tool_call_markup(text: str, flags: dict[str, bool], expected: object) -> None:
    assert split_calls(text, "think", call_id=counter(), **flags) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    [
        'Answer <tool_call>{"name": "f", "arguments": {</tool_call> end',  # malformed JSON
        "<tool_call>{\"arguments\": {}}</tool_call>",  # no name
        "<tool_call>\n<function=f>\n<parameter=a>1</parameter>\n</function>\n</tool_call>",  # XML style
        '<tool_call>{"name": "f", "arguments": [1]}</tool_call>',  # arguments not an object
        '<tool_call>{"name": "f", "arguments": {"a"',  # cut while writing
        "<tool_cal",
    ],
)
def test_what_is_not_a_call_stays_answer_text_exactly(text: str) -> None:
    assert split_calls(text, "think", call_id=counter()) == ("", text, [])


def test_without_tool_calls_the_markup_is_plain_text_as_before() -> None:
    assert split(CALL, "think") == ("", CALL)


HARMONY_CALL = (
    "<|channel|>analysis<|message|>Need the weather.<|end|>"
    "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
    '<|message|>{"city":"Paris"}<|call|>'
)


def test_it_reads_a_harmony_function_call_with_its_thinking_before() -> None:
    assert split_calls(HARMONY_CALL, "harmony", call_id=counter()) == (
        "Need the weather.",
        "",
        [("get_weather", '{"city":"Paris"}')],
    )
    # Without tool calls (no tools offered), the call stays reasoning as before.
    assert split(HARMONY_CALL, "harmony") == ("Need the weather.\n\n{\"city\":\"Paris\"}", "")


def test_harmony_calls_end_at_the_stream_end_or_the_next_header() -> None:
    cut = HARMONY_CALL.removesuffix("<|call|>")  # servers stop at <|call|>
    assert split_calls(cut, "harmony", call_id=counter())[2] == [("get_weather", '{"city":"Paris"}')]
    two = (
        "<|channel|>commentary to=functions.a<|message|>{}"
        "<|start|>assistant to=functions.b<|channel|>commentary json<|message|>{\"x\":1}<|call|>"
        "<|start|>assistant<|channel|>final<|message|>Done."
    )
    assert split_calls(two, "harmony", call_id=counter()) == ("", "Done.", [("a", "{}"), ("b", '{"x":1}')])


def test_harmony_built_in_tools_stay_reasoning() -> None:
    text = "<|channel|>analysis to=python<|message|>print(1)<|call|>"
    assert split_calls(text, "harmony", call_id=counter()) == ("print(1)", "", [])


CASES = [
    ("think", "<think>Need weather.</think>\n\n" + CALL + "\n" + CALL, {"reclassify": True}),
    ("think", "Hm " + CALL + " x <tool_call>{bad}</tool_call>\n<tool_cal", {}),
    ("think", "A.</think>" + CALL, {"reclassify": True}),
    ("none", "text " + CALL + "\n\nmore", {}),
    ("harmony", HARMONY_CALL + "<|start|>assistant<|channel|>final<|message|>Sunny.<|return|>", {}),
]


@pytest.mark.parametrize(("family", "text", "flags"), CASES)
def test_every_single_and_double_cut_gives_the_whole_text_result(family: str, text: str, flags: dict) -> None:
    whole = streamed(text, family, [], **flags)
    for i in range(len(text)):
        assert streamed(text, family, [i], **flags) == whole, i
    for i in range(0, len(text), 3):
        for j in range(i, len(text), 5):
            assert streamed(text, family, [i, j], **flags) == whole, (i, j)


FRAGMENTS = st.sampled_from(
    [
        "<tool_call>",
        "</tool_call>",
        "<tool_",
        '{"name": "f", "arguments": {"a": 1}}',
        '{"name": "g"}',
        "{bad",
        "<think>",
        "</think>",
        "\n",
        "  ",
        "ab",
        "x y",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    fragments=st.lists(FRAGMENTS, max_size=12),
    flags=st.sampled_from([{}, {"reclassify": True}, {"starts_in_reasoning": True}, {"close_only": True}]),
    cuts=st.lists(st.integers(0, 200), max_size=10),
)
def test_streamed_equals_whole_for_any_cut(fragments: list[str], flags: dict, cuts: list[int]) -> None:
    text = "".join(fragments)
    assert streamed(text, "think", cuts, **flags) == streamed(text, "think", [], **flags)


@settings(max_examples=200, deadline=None)
@given(fragments=st.lists(FRAGMENTS, max_size=12))
def test_it_loses_only_valid_calls_tags_and_whitespace(fragments: list[str]) -> None:
    text = "".join(fragments)
    reasoning, content, calls = split_calls(text, "none", call_id=counter())
    assert reasoning == ""
    # Every non-space character is in the answer, or in the tags and body of a call
    # that was read (the last one may have lost its close tag to the end of the text).
    bodies = {"f": '{"name": "f", "arguments": {"a": 1}}', "g": '{"name": "g"}'}
    lost = sum(len("".join(("<tool_call>" + bodies[n] + "</tool_call>").split())) for n, _ in calls)
    missing = len("".join(text.split())) - len("".join(content.split()))
    assert missing in ({lost, lost - len("</tool_call>")} if calls else {0})
