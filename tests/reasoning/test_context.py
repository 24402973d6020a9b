from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from reasoning.context import FLAVOURS, assemble, build_context, build_messages
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig

KIND_OF = {
    "openai": "openai",
    "responses": "openai-responses",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "ollama",
}
SIGNED_THINKING = {"type": "thinking", "thinking": "17*23: 17*20+17*3", "signature": "EqQBsig=="}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgB"}
ANTHROPIC_REPLAY = {
    "format": "anthropic",
    "content": [SIGNED_THINKING, REDACTED, {"type": "text", "text": "391"}],
}
GEMINI_REPLAY = {
    "format": "gemini",
    "parts": [
        {"text": "**Multiplying** 17 by 23", "thought": True},
        {"text": "17 × 23 = "},
        {"text": "391.", "thoughtSignature": "CrcBAdHt"},
    ],
}
RESPONSES_REPLAY = [
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Multiplying"}],
        "encrypted_content": "gAAAAB",
    },
    {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "391", "annotations": []}],
    },
]


def conversation(
    flavour: str,
    *,
    replay: Any = None,
    source: str | None = None,
    options: dict[str, Any] | None = None,
    messages: Sequence[Message] | None = None,
    system: str | None = None,
    model_id: str = "m1",
    markup_tags: tuple[str, str] | None = None,
    policy: str | None = None,
) -> ChatRequest:
    kind = KIND_OF[flavour]
    first_turn = [
        Message(role="user", content="17*23?"),
        Message(
            role="assistant",
            content="391",
            reasoning="SECRET-REASONING 17*20=340, 17*3=51",
            replay=replay,
            source=source if source is not None else f"{kind}:m1",
        ),
        Message(role="user", content="And 18*23?"),
    ]
    return ChatRequest(
        provider=ProviderConfig(kind=kind),
        model=ModelSpec(model_id=model_id, options=options or {}, markup_tags=markup_tags),
        messages=first_turn if messages is None else messages,
        system=system,
        replay_policy=policy,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_it_leaves_the_first_turns_reasoning_out_of_the_second_turn(flavour: str) -> None:
    body = json.dumps(build_context(conversation(flavour), flavour))
    assert "SECRET-REASONING" not in body
    assert "reasoning_content" not in body
    assert "thinking" not in body
    assert "391" in body and "And 18*23?" in body


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        (
            "openai",
            {
                "messages": [
                    {"role": "user", "content": "17*23?"},
                    {"role": "assistant", "content": "391"},
                    {"role": "user", "content": "And 18*23?"},
                ]
            },
        ),
        (
            "ollama",
            {
                "messages": [
                    {"role": "user", "content": "17*23?"},
                    {"role": "assistant", "content": "391"},
                    {"role": "user", "content": "And 18*23?"},
                ]
            },
        ),
        (
            "responses",
            {
                "input": [
                    {"role": "user", "content": "17*23?"},
                    {"role": "assistant", "content": "391"},
                    {"role": "user", "content": "And 18*23?"},
                ]
            },
        ),
        (
            "anthropic",
            {
                "messages": [
                    {"role": "user", "content": "17*23?"},
                    {"role": "assistant", "content": "391"},
                    {"role": "user", "content": "And 18*23?"},
                ]
            },
        ),
        (
            "gemini",
            {
                "contents": [
                    {"role": "user", "parts": [{"text": "17*23?"}]},
                    {"role": "model", "parts": [{"text": "391"}]},
                    {"role": "user", "parts": [{"text": "And 18*23?"}]},
                ]
            },
        ),
    ],
)
def test_it_builds_each_flavours_plain_conversation(flavour: str, expected: dict[str, Any]) -> None:
    assert build_context(conversation(flavour), flavour) == expected


@pytest.mark.parametrize(
    ("flavour", "expected"),
    [
        ("openai", {"messages": [{"role": "system", "content": "Be brief.\n\nUse digits."}]}),
        ("ollama", {"messages": [{"role": "system", "content": "Be brief.\n\nUse digits."}]}),
        ("responses", {"input": [{"role": "system", "content": "Be brief.\n\nUse digits."}]}),
        ("anthropic", {"system": "Be brief.\n\nUse digits.", "messages": []}),
        (
            "gemini",
            {
                "systemInstruction": {"parts": [{"text": "Be brief.\n\nUse digits."}]},
                "contents": [],
            },
        ),
    ],
)
def test_it_sends_the_system_text_each_providers_way(
    flavour: str, expected: dict[str, Any]
) -> None:
    request = conversation(
        flavour, system="Be brief.", messages=[Message(role="system", content="Use digits.")]
    )
    assert build_context(request, flavour) == expected


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_it_leaves_out_a_failed_turns_prompt_with_a_note(flavour: str) -> None:
    messages = [
        Message(role="user", content="first try"),
        Message(role="assistant", content="", reasoning="cut off", source="x:y"),
        Message(role="user", content="second try"),
    ]
    built = assemble(conversation(flavour, messages=messages), flavour)
    listed = json.dumps(built.body)
    assert "first try" not in listed and "cut off" not in listed
    assert "second try" in listed
    kinds = [note.kind for note in built.notes]
    assert kinds == ["dropped_empty_turn", "dropped_failed_turn"]
    assert '"first try"' in built.notes[1].detail


def test_it_merged_assistant_turns_lose_their_replay() -> None:
    messages = [
        Message(role="user", content="q"),
        Message(role="assistant", content="a1", replay=ANTHROPIC_REPLAY, source="anthropic:m1"),
        Message(role="assistant", content="a2", replay=ANTHROPIC_REPLAY, source="anthropic:m1"),
    ]
    request = conversation("anthropic", messages=messages, options={"replay_thinking": True})
    assert build_messages(request, "anthropic") == [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a1\n\na2"},
    ]


def test_it_replays_anthropic_blocks_verbatim_for_the_same_model_when_asked() -> None:
    request = conversation("anthropic", replay=ANTHROPIC_REPLAY, options={"replay_thinking": True})
    assistant = build_messages(request, "anthropic")[1]
    assert assistant == {"role": "assistant", "content": ANTHROPIC_REPLAY["content"]}
    assert json.dumps(assistant["content"][0]) == json.dumps(SIGNED_THINKING)


def test_it_leaves_anthropic_thinking_of_finished_turns_out_by_default() -> None:
    request = conversation("anthropic", replay=ANTHROPIC_REPLAY)
    assert build_messages(request, "anthropic")[1] == {"role": "assistant", "content": "391"}


@pytest.mark.parametrize("source", ["anthropic:other-model", "gemini:m1", ""])
def test_it_drops_foreign_anthropic_signatures(source: str) -> None:
    request = conversation(
        "anthropic", replay=ANTHROPIC_REPLAY, source=source, options={"replay_thinking": True}
    )
    assert "signature" not in json.dumps(build_context(request, "anthropic"))


def test_it_ignores_a_replay_payload_of_another_format() -> None:
    request = conversation(
        "anthropic", replay=GEMINI_REPLAY, source="anthropic:m1", options={"replay_thinking": True}
    )
    assert build_messages(request, "anthropic")[1] == {"role": "assistant", "content": "391"}


def test_it_replays_gemini_signed_parts_and_drops_unsigned_thoughts() -> None:
    request = conversation("gemini", replay=GEMINI_REPLAY, policy="preserved")
    assert build_messages(request, "gemini")[1] == {
        "role": "model",
        "parts": [{"text": "17 × 23 = "}, {"text": "391.", "thoughtSignature": "CrcBAdHt"}],
    }


def test_it_keeps_a_gemini_thought_part_that_carries_the_signature() -> None:
    signed_thought = {"text": "plan", "thought": True, "thoughtSignature": "Sig"}
    replay = {"format": "gemini", "parts": [signed_thought, {"text": "391"}]}
    parts = build_messages(conversation("gemini", replay=replay, policy="preserved"), "gemini")[1]["parts"]
    assert parts == [signed_thought, {"text": "391"}]


def test_it_sends_no_gemini_signature_to_another_model() -> None:
    request = conversation("gemini", replay=GEMINI_REPLAY, source="gemini:gemini-other")
    assert build_messages(request, "gemini")[1] == {"role": "model", "parts": [{"text": "391"}]}


def test_it_replays_responses_items_for_the_same_model() -> None:
    items = build_messages(conversation("responses", replay=RESPONSES_REPLAY, policy="preserved"), "responses")
    assert items == [{"role": "user", "content": "17*23?"}, *RESPONSES_REPLAY, items[-1]]
    assert items[-1] == {"role": "user", "content": "And 18*23?"}


def test_it_drops_responses_reasoning_items_without_encrypted_content() -> None:
    bare = {"type": "reasoning", "id": "rs_2", "summary": []}
    items = build_messages(conversation("responses", replay={"items": [bare]}, policy="preserved"), "responses")
    assert items[1] == {"role": "assistant", "content": "391"}
    assert "rs_2" not in json.dumps(items)


def test_it_adds_the_answer_after_reasoning_only_responses_items() -> None:
    replay = [RESPONSES_REPLAY[0]]
    items = build_messages(conversation("responses", replay=replay, policy="preserved"), "responses")
    assert items[1:3] == [RESPONSES_REPLAY[0], {"role": "assistant", "content": "391"}]


def test_it_sends_no_responses_items_to_another_model() -> None:
    request = conversation("responses", replay=RESPONSES_REPLAY, source="openai-responses:o3")
    assert "encrypted_content" not in json.dumps(build_context(request, "responses"))


def test_it_echoes_reasoning_content_on_every_deepseek_assistant_message() -> None:
    # The field on every assistant message (§3's safe choice); the reasoning itself only
    # where the policy keeps it: across turns under "preserved" (what the echo option on
    # a model of no known family means), never another model's.
    messages = [
        Message(role="user", content="q1"),
        Message(role="assistant", content="a1", reasoning="r1", source="openai:m1"),
        Message(role="user", content="q2"),
        Message(role="assistant", content="a2", reasoning="", source="openai:m1"),
        Message(role="user", content="q3"),
        Message(role="assistant", content="a3", reasoning="foreign", source="anthropic:c"),
        Message(role="user", content="q4"),
    ]
    for policy, first in (("interleaved", ""), ("preserved", "r1"), (None, "r1")):
        request = conversation("openai", messages=messages, options={"echo_reasoning_content": True}, policy=policy)
        assistants = [m for m in build_messages(request, "openai") if m["role"] == "assistant"]
        assert assistants == [
            {"role": "assistant", "content": "a1", "reasoning_content": first},
            {"role": "assistant", "content": "a2", "reasoning_content": ""},
            {"role": "assistant", "content": "a3", "reasoning_content": ""},
        ]


def test_it_replays_openrouter_reasoning_details_unmodified() -> None:
    details = [
        {"type": "reasoning.text", "text": "Let me", "signature": "EqQB", "index": 0},
        {"type": "reasoning.encrypted", "data": "eyJ", "index": 1},
    ]
    request = conversation("openai", replay={"reasoning_details": details, "other": 1}, policy="preserved")
    assert build_messages(request, "openai")[1] == {
        "role": "assistant",
        "content": "391",
        "reasoning_details": details,
    }
    foreign = conversation("openai", replay={"reasoning_details": details}, source="openai:m2")
    assert "reasoning_details" not in json.dumps(build_context(foreign, "openai"))


def test_it_rewraps_reasoning_in_tags_for_markup_models_that_keep_it() -> None:
    request = conversation("openai", options={"keep_think_in_history": True})
    assert build_messages(request, "openai")[1] == {
        "role": "assistant",
        "content": "<think>\nSECRET-REASONING 17*20=340, 17*3=51\n</think>\n\n391",
    }
    tagged = conversation(
        "ollama",
        options={"keep_think_in_history": True},
        markup_tags=("<mm:think>", "</mm:think>"),
    )
    assert build_messages(tagged, "ollama")[1]["content"].startswith("<mm:think>\nSECRET")


def test_it_does_not_rewrap_another_models_reasoning() -> None:
    request = conversation("openai", options={"keep_think_in_history": True}, source="openai:other")
    assert build_messages(request, "openai")[1] == {"role": "assistant", "content": "391"}


def test_it_replays_ollama_thinking_only_when_asked() -> None:
    request = conversation("ollama", options={"replay_thinking": True})
    assert build_messages(request, "ollama")[1] == {
        "role": "assistant",
        "content": "391",
        "thinking": "SECRET-REASONING 17*20=340, 17*3=51",
    }


def test_it_rejects_an_unknown_flavour() -> None:
    with pytest.raises(ValueError, match="unknown context flavour"):
        build_context(conversation("openai"), "cohere")


def test_it_echoes_reasoning_in_the_field_the_model_names() -> None:
    # vLLM renamed `reasoning_content` to `reasoning` (§8): the echo follows the model.
    request = conversation("openai", options={"echo_reasoning_field": "reasoning"}, policy="preserved")
    assert build_messages(request, "openai")[1] == {
        "role": "assistant",
        "content": "391",
        "reasoning": "SECRET-REASONING 17*20=340, 17*3=51",
    }
    with pytest.raises(ValueError, match="echo_reasoning_field"):
        build_messages(conversation("openai", options={"echo_reasoning_field": "thoughts"}), "openai")


def test_it_continues_from_the_previous_response_id_when_the_model_keeps_state() -> None:
    replay = {"format": "responses", "items": RESPONSES_REPLAY, "response_id": "resp_1"}
    request = conversation("responses", replay=replay, options={"previous_response_id": True})
    assert build_context(request, "responses") == {
        "previous_response_id": "resp_1",
        "input": [{"role": "user", "content": "And 18*23?"}],
    }
    # Stateless (the default): the items go back, no id.
    stateless = build_context(conversation("responses", replay=replay, policy="preserved"), "responses")
    assert "previous_response_id" not in stateless
    assert stateless["input"][1:3] == RESPONSES_REPLAY
