"""Tool loops in every context flavour, and the replay policies with their notes
(spec §13). A loop here: a prompt, an assistant step that calls `clock`, its result,
a second step that calls `add` twice (one of which fails), their results."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from reasoning.context import (
    NOTE_KINDS,
    ReplayRefused,
    assemble,
    build_context,
    context_notes,
    prefix_digest,
)
from reasoning.errors import BadRequest
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking, ToolCall, ToolSpec

KIND_OF = {
    "openai": "openai",
    "responses": "openai-responses",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "ollama",
}
CLOCK = ToolCall("call_1", "clock", '{"tz": "UTC"}')
ADD = ToolCall("call_2", "add", '{"a": 2, "b": 3}')
ADD_BAD = ToolCall("call_3", "add", '{"a": "x"}')
TOOLS = (ToolSpec("clock", "the time"), ToolSpec("add", "a + b"))
DEFAULT_THINKING = Thinking()


def stored(flavour: str, step: int, calls: tuple[ToolCall, ...]) -> Any:
    """A step's replay data as the adapters store it (reasoning.replay)."""
    if flavour == "anthropic":
        return {
            "format": "anthropic",
            "content": [
                {"type": "thinking", "thinking": f"thinking {step}", "signature": f"sig-{step}"},
                *[{"type": "tool_use", "id": c.id, "name": c.name, "input": json.loads(c.arguments)} for c in calls],
            ],
        }
    if flavour == "gemini":
        return {
            "format": "gemini",
            "parts": [
                {"functionCall": {"name": c.name, "args": json.loads(c.arguments)},
                 **({"thoughtSignature": f"gsig-{step}"} if n == 0 else {})}
                for n, c in enumerate(calls)
            ],
            "call_ids": [c.id for c in calls],
        }
    if flavour == "responses":
        return {
            "format": "responses",
            "items": [
                {"type": "reasoning", "id": f"rs_{step}", "summary": [], "encrypted_content": f"enc-{step}"},
                *[{"type": "function_call", "id": f"fc_{c.id}", "call_id": c.id, "name": c.name,
                   "arguments": c.arguments, "status": "completed"} for c in calls],
            ],
        }
    return None


def loop(flavour: str, *, source: str = "", prompt_after: bool = False, hidden: bool = False) -> list[Message]:
    src = source or f"{KIND_OF[flavour]}:m1"
    messages = [
        Message("user", "What is the time, and 2+3?"),
        Message("assistant", "", reasoning="" if hidden else "thinking 1", replay=stored(flavour, 1, (CLOCK,)),
                source=src, tool_calls=(CLOCK,)),
        Message("tool", "12:00", tool_call_id="call_1", name="clock"),
        Message("assistant", "Let me add.", reasoning="" if hidden else "thinking 2",
                replay=stored(flavour, 2, (ADD, ADD_BAD)), source=src, tool_calls=(ADD, ADD_BAD)),
        Message("tool", "5", tool_call_id="call_2", name="add"),
        Message("tool", "a must be a number", tool_call_id="call_3", name="add", is_error=True),
    ]
    if prompt_after:
        messages += [Message("assistant", "It is 12:00; 2+3 = 5.", reasoning="final", source=src),
                     Message("user", "Thanks. And 3+4?")]
    return messages


def request(
    flavour: str,
    messages: list[Message],
    *,
    model_id: str = "m1",
    policy: str | None = None,
    options: dict[str, Any] | None = None,
    thinking: Thinking = DEFAULT_THINKING,
    system: str | None = None,
    base_url: str = "",
) -> ChatRequest:
    # The history's own steps were made by this very model.
    own = f"{KIND_OF[flavour]}:{model_id}"
    messages = [replace(m, source=own) if m.source == f"{KIND_OF[flavour]}:m1" else m for m in messages]
    return ChatRequest(
        provider=ProviderConfig(KIND_OF[flavour], base_url),
        model=ModelSpec(model_id, options=options or {}),
        messages=messages,
        tools=TOOLS,
        replay_policy=policy,  # type: ignore[arg-type]
        thinking=thinking,
        system=system,
    )


def kinds(notes: Any) -> list[str]:
    return [note.kind for note in notes]


# ---- each flavour's own shape, inside the chain (interleaved) --------------------------------


def test_openai_steps_carry_tool_calls_and_results_go_as_tool_messages() -> None:
    built = assemble(request("openai", loop("openai"), model_id="deepseek-v4-pro"), "openai")
    assert built.body["messages"] == [
        {"role": "user", "content": "What is the time, and 2+3?"},
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "thinking 1",
            "tool_calls": [{"id": "call_1", "type": "function",
                            "function": {"name": "clock", "arguments": '{"tz": "UTC"}'}}],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "12:00"},
        {
            "role": "assistant",
            "content": "Let me add.",
            "reasoning_content": "thinking 2",
            "tool_calls": [
                {"id": "call_2", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}},
                {"id": "call_3", "type": "function", "function": {"name": "add", "arguments": '{"a": "x"}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "call_2", "content": "5"},
        {"role": "tool", "tool_call_id": "call_3", "content": "a must be a number"},
    ]
    assert built.policy == "interleaved"
    assert kinds(built.notes) == ["kept_reasoning", "kept_reasoning"]
    assert "reasoning_content" in built.notes[0].detail


def test_vllm_reads_reasoning_and_gpt_oss_gets_it_back_in_reasoning() -> None:
    vllm = request("openai", loop("openai"), model_id="m1", options={"echo_reasoning_field": "reasoning"},
                   policy="interleaved")
    steps = [m for m in build_context(vllm, "openai")["messages"] if m["role"] == "assistant"]
    assert [m["reasoning"] for m in steps] == ["thinking 1", "thinking 2"]
    assert all("reasoning_content" not in m for m in steps)
    oss = request("openai", loop("openai"), model_id="openai/gpt-oss-120b")
    steps = [m for m in build_context(oss, "openai")["messages"] if m["role"] == "assistant"]
    assert [m["reasoning"] for m in steps] == ["thinking 1", "thinking 2"]


def test_anthropic_signed_thinking_goes_first_then_tool_use_and_results_are_tool_result_blocks() -> None:
    built = assemble(request("anthropic", loop("anthropic"), model_id="claude-sonnet-4-5"), "anthropic")
    messages = built.body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"] == stored("anthropic", 1, (CLOCK,))["content"]
    assert messages[1]["content"][0] == {"type": "thinking", "thinking": "thinking 1", "signature": "sig-1"}
    assert [b["type"] for b in messages[3]["content"]] == ["thinking", "tool_use", "tool_use"]
    assert messages[2]["content"] == [{"type": "tool_result", "tool_use_id": "call_1", "content": "12:00"}]
    assert messages[4]["content"] == [
        {"type": "tool_result", "tool_use_id": "call_2", "content": "5"},
        {"type": "tool_result", "tool_use_id": "call_3", "content": "a must be a number", "is_error": True},
    ]


def test_gemini_function_calls_go_back_with_their_signature_and_results_as_function_responses() -> None:
    built = assemble(request("gemini", loop("gemini"), model_id="gemini-3-pro-preview"), "gemini")
    contents = built.body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user", "model", "user"]
    assert contents[1]["parts"] == [
        {"functionCall": {"name": "clock", "args": {"tz": "UTC"}}, "thoughtSignature": "gsig-1"}
    ]
    assert contents[3]["parts"][0]["thoughtSignature"] == "gsig-2"
    assert "thoughtSignature" not in contents[3]["parts"][1]  # parallel calls: only the first is signed
    assert contents[4]["parts"] == [
        {"functionResponse": {"name": "add", "response": {"result": "5"}}},
        {"functionResponse": {"name": "add", "response": {"error": "a must be a number"}}},
    ]


def test_responses_function_calls_go_back_after_their_reasoning_item_and_outputs_follow() -> None:
    items = build_context(request("responses", loop("responses"), model_id="gpt-5-mini"), "responses")["input"]
    assert [i.get("type", i.get("role")) for i in items] == [
        "user", "reasoning", "function_call", "function_call_output",
        "reasoning", "function_call", "function_call", "assistant",
        "function_call_output", "function_call_output",
    ]
    assert items[2] == stored("responses", 1, (CLOCK,))["items"][1]  # verbatim, fc_ id and all
    assert items[3] == {"type": "function_call_output", "call_id": "call_1", "output": "12:00"}


def test_responses_reasoning_item_without_encrypted_content_is_dropped_and_ids_with_it() -> None:
    messages = loop("responses")
    replay = stored("responses", 1, (CLOCK,))
    del replay["items"][0]["encrypted_content"]
    messages[1] = Message("assistant", "", reasoning="thinking 1", replay=replay, source="openai-responses:m1",
                          tool_calls=(CLOCK,))
    built = assemble(request("responses", messages), "responses")
    first = built.body["input"][1]
    assert first == {"type": "function_call", "call_id": "call_1", "name": "clock",
                     "arguments": '{"tz": "UTC"}', "status": "completed"}
    assert "rs_1" not in json.dumps(built.body)
    assert "dropped_unencrypted_item" in kinds(built.notes)


def test_ollama_tool_calls_take_objects_and_results_are_tool_messages() -> None:
    messages = build_context(request("ollama", loop("ollama"), model_id="gpt-oss:20b"), "ollama")["messages"]
    assert messages[1] == {
        "role": "assistant",
        "content": "",
        "thinking": "thinking 1",
        "tool_calls": [{"function": {"name": "clock", "arguments": {"tz": "UTC"}}}],
    }
    assert messages[2] == {"role": "tool", "content": "12:00", "tool_name": "clock"}


# ---- the policies -----------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["openai", "responses", "gemini", "ollama"])
def test_strip_sends_the_calls_without_any_reasoning(flavour: str) -> None:
    model = {"openai": "m1", "responses": "gpt-5", "gemini": "gemini-2.5-flash", "ollama": "qwen3"}[flavour]
    built = assemble(request(flavour, loop(flavour), model_id=model, policy="strip"), flavour)
    sent = json.dumps(built.body)
    for secret in ("thinking 1", "thinking 2", "sig-", "enc-", "rs_", "fc_"):
        assert secret not in sent
    assert sent.count('"add"') >= 2 and "a must be a number" in sent
    assert kinds(built.notes).count("stripped_reasoning") == 2


def test_interleaved_keeps_only_the_current_chain() -> None:
    # After the loop the user asks again: the finished loop's steps are before the last
    # user message, so (for a family without the tool-turn rule) they go back bare.
    messages = loop("anthropic", prompt_after=True)
    built = assemble(request("anthropic", messages, model_id="claude-sonnet-4-5"), "anthropic")
    assert "sig-1" not in json.dumps(built.body)
    assert built.body["messages"][1]["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "clock", "input": {"tz": "UTC"}}
    ]
    assert kinds(built.notes) == ["stripped_reasoning"] * 3


def test_preserved_keeps_every_turn_and_sends_the_family_flag() -> None:
    messages = loop("openai", prompt_after=True)
    for model_id, flag in (
        ("kimi-k2.6", {"thinking": {"keep": "all"}}),
        ("glm-4.6", {"thinking": {"clear_thinking": False}}),
        ("qwen3.6-35b-a3b", {"chat_template_kwargs": {"preserve_thinking": True}}),
    ):
        built = assemble(request("openai", messages, model_id=model_id, policy="preserved"), "openai")
        for key, value in flag.items():
            assert built.body[key] == value, model_id
        steps = [m for m in built.body["messages"] if m["role"] == "assistant"]
        assert [m["reasoning_content"] for m in steps] == ["thinking 1", "thinking 2", "final"]
        assert "preservation_flag" in kinds(built.notes)
        interleaved = assemble(request("openai", messages, model_id=model_id, policy="interleaved"), "openai")
        assert not set(flag) & set(interleaved.body), model_id


def test_the_flag_merges_with_the_thinking_switch_on_the_wire() -> None:
    from reasoning.adapters import get_adapter

    req = request("openai", loop("openai", prompt_after=True), model_id="kimi-k2.6", policy="preserved",
                  thinking=Thinking(mode="on"))
    req = ChatRequest(**{**{f: getattr(req, f) for f in req.__dataclass_fields__},
                         "model": ModelSpec("kimi-k2.6", thinking_control="thinking_type")})
    body = get_adapter("openai").prepare(req).json
    assert body["thinking"] == {"type": "enabled", "keep": "all"}


def test_deepseek_tool_turns_go_back_in_all_later_requests_even_after_a_new_prompt() -> None:
    built = assemble(request("openai", loop("openai", prompt_after=True), model_id="deepseek-v4-pro"), "openai")
    steps = [m for m in built.body["messages"] if m["role"] == "assistant"]
    # Tool-call turns keep their reasoning; the final answer of the finished turn does not
    # (DeepSeek ignores it there), the field still present with "" (§3).
    assert [m["reasoning_content"] for m in steps] == ["thinking 1", "thinking 2", ""]


@pytest.mark.parametrize(
    ("flavour", "model_id", "policy", "messages_kw"),
    [
        ("openai", "deepseek-v4-pro", "strip", {}),
        ("openai", "deepseek-chat", None, {"hidden": True}),
        ("openai", "kimi-k2.5", None, {"source": "anthropic:claude-sonnet-4-5"}),
        ("anthropic", "claude-opus-4-6", "strip", {}),
        ("anthropic", "claude-opus-4-6", None, {"source": "anthropic:claude-sonnet-4-5"}),
        ("gemini", "gemini-3-flash-preview", "strip", {}),
    ],
)
def test_a_request_the_provider_rejects_is_refused_before_sending(flavour, model_id, policy, messages_kw) -> None:
    req = request(flavour, loop(flavour, **messages_kw), model_id=model_id, policy=policy,
                  thinking=Thinking(mode="on"))
    with pytest.raises(ReplayRefused) as refused:
        assemble(req, flavour)
    assert isinstance(refused.value, BadRequest) and isinstance(refused.value, ValueError)
    assert "Not sent" in refused.value.message and "message 2" in refused.value.message
    assert refused.value.notes[-1].kind == "refused"
    assert kinds(context_notes(req))[-1] == "refused"
    # Thinking off: the provider wants no carrier, nothing is refused.
    off = request(flavour, loop(flavour, **messages_kw), model_id=model_id, policy=policy,
                  thinking=Thinking(mode="off"))
    assemble(off, flavour)


def test_a_model_that_answered_without_thinking_is_not_refused() -> None:
    # deepseek-chat's default is its non-thinking mode: no reasoning, none required.
    req = request("openai", loop("openai", hidden=True), model_id="deepseek-chat")
    req = ChatRequest(**{**{f: getattr(req, f) for f in req.__dataclass_fields__},
                         "model": ModelSpec("deepseek-chat", thinking_control="thinking_type")})
    assert kinds(assemble(req, "openai").notes) == []


def test_an_adapter_refuses_the_request_and_sends_nothing() -> None:
    from reasoning.adapters import get_adapter

    req = request("openai", loop("openai", hidden=True), model_id="deepseek-v4-pro")
    with pytest.raises(BadRequest, match="no reasoning was stored"):
        get_adapter("openai").prepare(req)


def test_the_policy_comes_from_the_request_then_the_model_option_then_the_catalogue() -> None:
    messages = loop("openai", prompt_after=True)
    assert assemble(request("openai", messages, model_id="glm-4.6"), "openai").policy == "interleaved"
    assert assemble(request("openai", messages, model_id="qwen3-8b"), "openai").policy == "strip"
    option = request("openai", messages, model_id="glm-4.6", options={"replay": "preserved"})
    assert assemble(option, "openai").policy == "preserved"
    asked = request("openai", messages, model_id="glm-4.6", options={"replay": "preserved"}, policy="strip")
    assert assemble(asked, "openai").policy == "strip"
    with pytest.raises(ValueError, match="replay"):
        assemble(request("openai", messages, options={"replay": "always"}), "openai")


def test_foreign_replay_is_dropped_with_a_note() -> None:
    messages = loop("gemini", prompt_after=True, source="gemini:gemini-2.5-pro")
    built = assemble(request("gemini", messages, model_id="gemini-2.5-flash", policy="preserved"), "gemini")
    assert "gsig" not in json.dumps(built.body)
    assert kinds(built.notes).count("dropped_foreign_signature") == 2


def test_every_note_kind_is_documented() -> None:
    assert {"stripped_reasoning", "kept_reasoning", "dropped_failed_turn", "merged_messages",
            "dropped_foreign_signature", "dropped_unencrypted_item", "dropped_thinking_after_edit",
            "refused"} <= set(NOTE_KINDS)


# ---- Inline answers (issue 20.7) ------------------------------------------------------------


def inline_history(source: str = "openai:m1") -> list[Message]:
    return [
        Message("user", "17*23?"),
        Message("assistant", "<think>17*20=340, +51</think>391", source=source, inline=True),
        Message("user", "And 18*23?"),
    ]


@pytest.mark.parametrize("flavour", list(KIND_OF))
def test_an_inline_answers_tags_never_go_back_as_content(flavour: str) -> None:
    built = assemble(request(flavour, inline_history(f"{KIND_OF[flavour]}:m1")), flavour)
    sent = json.dumps(built.body)
    assert "<think>" not in sent and "17*20" not in sent and "391" in sent
    assert kinds(built.notes) == ["stripped_inline_markup", "stripped_reasoning"]


def test_a_kept_inline_reasoning_goes_in_the_carrier_not_the_content() -> None:
    req = request("openai", inline_history(), options={"echo_reasoning_field": "reasoning"}, policy="preserved")
    assistant = build_context(req, "openai")["messages"][1]
    assert assistant == {"role": "assistant", "content": "391", "reasoning": "17*20=340, +51"}


# ---- Anthropic prefix binding (issue 20.3) ----------------------------------------------------


def bound_loop(system: str) -> list[Message]:
    """The loop, each step's replay carrying the digest of the prefix it followed,
    as the adapter stores it (the request that produced it had this system text)."""
    messages = loop("anthropic")
    done: list[Message] = []
    for message in messages:
        if message.role == "assistant":
            sent = build_context(request("anthropic", done, model_id="claude-fable-5-1", system=system), "anthropic")
            replay = {**message.replay, "prefix": prefix_digest(sent.get("system"), TOOLS, sent["messages"])}
            message = Message("assistant", message.content, reasoning=message.reasoning, replay=replay,
                              source="anthropic:claude-fable-5-1", tool_calls=message.tool_calls)
        done.append(message)
    return done


def test_prefix_bound_thinking_goes_back_while_the_prefix_is_unchanged() -> None:
    messages = bound_loop("Be brief.")
    built = assemble(request("anthropic", messages, model_id="claude-fable-5-1", system="Be brief."), "anthropic")
    assert "sig-1" in json.dumps(built.body) and "sig-2" in json.dumps(built.body)
    assert "dropped_thinking_after_edit" not in kinds(built.notes)


def test_prefix_bound_thinking_after_a_changed_system_prompt_is_dropped_not_sent() -> None:
    messages = [*bound_loop("Be brief."), Message("assistant", "5 and 12:00", source="anthropic:claude-fable-5-1"),
                Message("user", "again")]
    built = assemble(
        request("anthropic", messages, model_id="claude-fable-5-1", system="Be very brief.", policy="preserved"),
        "anthropic",
    )
    assert "sig-1" not in json.dumps(built.body) and "sig-2" not in json.dumps(built.body)
    assert kinds(built.notes).count("dropped_thinking_after_edit") == 2
    # Inside the current loop the dropped thinking is required: refused, never sent.
    with pytest.raises(ReplayRefused, match="prefix"):
        assemble(request("anthropic", bound_loop("Be brief."), model_id="claude-fable-5-1", system="Other."),
                 "anthropic")


def test_an_edited_earlier_message_drops_that_steps_thinking_and_every_later_one() -> None:
    messages = bound_loop("Be brief.")
    messages[2] = Message("tool", "13:00", tool_call_id="call_1", name="clock")  # the result changed
    messages += [Message("assistant", "ok", source="anthropic:claude-fable-5-1"), Message("user", "next")]
    built = assemble(
        request("anthropic", messages, model_id="claude-fable-5-1", system="Be brief.", policy="preserved"),
        "anthropic",
    )
    sent = json.dumps(built.body)
    assert "sig-1" in sent and "sig-2" not in sent
    assert kinds(built.notes).count("dropped_thinking_after_edit") == 1


@pytest.mark.parametrize("flavour", list(KIND_OF))
def test_a_call_left_without_result_gets_an_error_result_and_an_orphan_result_is_dropped(flavour: str) -> None:
    messages = loop(flavour, prompt_after=True)
    del messages[5]  # the failing add's result: the loop stopped before it
    messages.insert(1, Message("tool", "stray", tool_call_id="call_9", name="clock"))
    built = assemble(request(flavour, messages, policy="strip"), flavour)
    sent = json.dumps(built.body)
    assert "stray" not in sent
    assert "No result: the call was not run" in sent
    assert kinds(built.notes)[:2] == ["dropped_orphan_result", "added_missing_result"]
    if flavour == "openai":
        results = [m for m in built.body["messages"] if m["role"] == "tool"]
        assert [m["tool_call_id"] for m in results] == ["call_1", "call_2", "call_3"]


def test_gemini_through_its_openai_endpoint_gets_each_calls_signature_back_in_extra_content() -> None:
    signature = {"google": {"thought_signature": "c2lnLTE="}}
    replay = {"format": "openai", "reasoning_details": [], "tool_calls": [{"id": "call_1", "extra_content": signature}]}
    messages = [
        Message("user", "What is the time?"),
        Message("assistant", "", replay=replay, source="openai:gemini-3-flash-preview", tool_calls=(CLOCK,)),
        Message("tool", "12:00", tool_call_id="call_1", name="clock"),
    ]
    built = assemble(request("openai", messages, model_id="gemini-3-flash-preview"), "openai")
    [call] = built.body["messages"][1]["tool_calls"]
    assert call["extra_content"] == signature
    assert kinds(built.notes) == ["kept_reasoning"]
    with pytest.raises(ReplayRefused, match="Gemini 3"):
        assemble(request("openai", messages, model_id="gemini-3-flash-preview", policy="strip"), "openai")


def test_a_kept_reasoning_with_no_known_carrier_says_so() -> None:
    built = assemble(request("openai", loop("openai", prompt_after=True), model_id="some-model", policy="preserved"),
                     "openai")
    assert "thinking 1" not in json.dumps(built.body)
    assert kinds(built.notes) == ["stripped_reasoning"] * 3
    assert "echo_reasoning_field" in built.notes[0].detail
