"""A two-step tool loop through the real adapters against loopback providers that
reject a loop as the real ones do when a carrier is missing (reasoning.testing.rejecting).

Each case runs twice: with our replay (the provider accepts every step), and with the
carrier dropped from the replay (the context's policy forced to "strip" and its local
refusal switched off), where the provider's own 400 text comes back, word for word.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from reasoning import context
from reasoning import replay as stored_replay
from reasoning.adapters import get_adapter
from reasoning.errors import BadRequest
from reasoning.events import ContentDelta, ReasoningDelta, ReplayData, ToolCallDone
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking, ToolCall, ToolSpec
from reasoning.testing import FakeToolCall, FakeUpstream, Script, openai_chat_sse, openai_responses_sse
from reasoning.testing.formats_native import anthropic_sse, gemini_sse
from reasoning.testing.rejecting import StrictProvider
from reasoning.wire import make_client

THINKING_ON = Thinking(mode="on")
TOOLS = (ToolSpec("clock", "the time", {"type": "object", "properties": {"tz": {"type": "string"}}}),)


@dataclass
class Case:
    kind: str
    model: ModelSpec
    rule: str
    step: Callable[[int], list[bytes]]  # step n's answer: a call for n = 1, 2; the answer for n = 3
    error: str  # the start of the provider's text when the carrier is missing
    path: str = ""
    thinking: Thinking = THINKING_ON


def _chat(field: str = "reasoning_content") -> Callable[[int], list[bytes]]:
    def step(n: int) -> list[bytes]:
        if n == 3:
            return openai_chat_sse("done thinking", "It is noon.", field=field)
        return openai_chat_sse(f"thinking {n}", "", field=field,
                               tool_calls=[FakeToolCall("clock", '{"tz":"UTC"}', id=f"call_{n}")])
    return step


def _anthropic(n: int) -> list[bytes]:
    if n == 3:
        return anthropic_sse("done thinking", "It is noon.", signature="sig-3")
    return anthropic_sse(f"thinking {n}", "", signature=f"sig-{n}",
                         tool_calls=[FakeToolCall("clock", '{"tz":"UTC"}', id=f"toolu_{n}", signature=f"sig-{n}b")])


def _gemini(n: int) -> list[bytes]:
    if n == 3:
        return gemini_sse("done thinking", "It is noon.")
    return gemini_sse(f"thinking {n}", "",
                      tool_calls=[FakeToolCall("clock", '{"tz":"UTC"}', signature=f"c2lnLXN0ZXB7{n}")])


def _responses(n: int) -> list[bytes]:
    if n == 3:
        return openai_responses_sse("done thinking", "It is noon.")
    chunks = openai_responses_sse("", "", encrypted_content=f"enc-{n}", tool_calls=[
        FakeToolCall("clock", '{"tz":"UTC"}', id=f"call_{n}", reasoning_before=f"thinking {n}")])
    return [c.replace(b"fc_fake", f"fc_step{n}".encode()).replace(b"rs_fake", f"rs_step{n}".encode())
            for c in chunks]


CASES = {
    "deepseek": Case("openai", ModelSpec("deepseek-v4-pro", thinking_control="thinking_type"), "deepseek",
                     _chat(), "Missing `reasoning_content` field in the assistant message at message index 1",
                     path="/v1"),
    "kimi": Case("openai", ModelSpec("kimi-k2.5", thinking_control="thinking_type"), "kimi", _chat(),
                 "thinking is enabled but reasoning_content is missing in assistant tool call message at index 1",
                 path="/v1"),
    "anthropic": Case("anthropic", ModelSpec("claude-sonnet-4-5", thinking_control="anthropic_budget",
                                             efforts=("low", "medium", "high")),
                      "anthropic", _anthropic,
                      "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`."),
    "gemini": Case("gemini", ModelSpec("gemini-3-flash-preview", thinking_control="gemini_level",
                                       efforts=("low", "high")),
                   "gemini3", _gemini,
                   "Function call is missing a thought_signature in functionCall parts."),
    "responses": Case("openai-responses", ModelSpec("gpt-5-mini", thinking_control="responses",
                                                    efforts=("low", "high")),
                      "responses", _responses,
                      "Item 'fc_step1_0' of type 'function_call' was provided without its required 'reasoning' "
                      "item: 'rs_step1_0'.", path="/v1"),
}


async def run_loop(case: Case, strict: StrictProvider, url: str, steps: int = 3) -> list[Message]:
    """Drive model -> tool -> model until the model answers (or `steps` were made), as
    the app's run does."""
    messages: list[Message] = [Message("user", "What time is it?")]
    source = f"{case.kind}:{case.model.model_id}"
    async with make_client(read_timeout=5) as client:
        for _ in range(steps):
            request = ChatRequest(ProviderConfig(case.kind, url + case.path, "sk-test"), case.model, list(messages),
                                  thinking=case.thinking, tools=TOOLS)
            reasoning, content, replay, calls = [], [], None, []
            async for event in get_adapter(case.kind).stream(request, client):
                if isinstance(event, ReasoningDelta):
                    reasoning.append(event.text)
                elif isinstance(event, ContentDelta):
                    content.append(event.text)
                elif isinstance(event, ReplayData):
                    replay = stored_replay.fold(replay, event.payload)
                elif isinstance(event, ToolCallDone):
                    calls.append(ToolCall(event.id, event.name, event.arguments))
            messages.append(Message("assistant", "".join(content), reasoning="".join(reasoning), replay=replay,
                                    source=source, tool_calls=tuple(calls)))
            if not calls:
                return messages
            messages += [Message("tool", "12:00", tool_call_id=c.id, name=c.name) for c in calls]
    return messages


async def _loop(name: str) -> tuple[StrictProvider, list[Message] | BadRequest]:
    case = CASES[name]
    strict = StrictProvider(case.rule, *[
        Script(chunks=case.step(n), headers={"content-type": "text/event-stream"}) for n in (1, 2, 3)
    ])
    async with FakeUpstream(default=strict) as up:
        try:
            return strict, await run_loop(case, strict, up.url)
        except BadRequest as error:
            return strict, error


@pytest.mark.parametrize("name", list(CASES))
async def test_our_replay_passes_the_providers_check_at_every_step(name: str) -> None:
    strict, outcome = await _loop(name)
    assert not isinstance(outcome, BadRequest), outcome
    assert strict.rejections == []
    assert outcome[-1].content == "It is noon."
    assert [m.role for m in outcome] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]


@pytest.mark.parametrize("name", list(CASES))
async def test_a_replay_without_the_carrier_gets_the_providers_own_400(name: str, monkeypatch) -> None:
    # Break the carrier: every step's reasoning left out, and nothing refused locally.
    # (Responses: our strip sends id-less calls, which need no reasoning item, so the
    # break there keeps the calls' ids and drops only their reasoning items.)
    if name == "responses":
        items = context._response_items
        monkeypatch.setattr(context, "_response_items",
                            lambda build, turn: [i for i in items(build, turn) if i.get("type") != "reasoning"])
    else:
        monkeypatch.setattr(context, "replay_policy", lambda request: ("strip", "broken on purpose"))
        monkeypatch.setattr(context, "_refuse_if_rejected", lambda *args: None)
    strict, outcome = await _loop(name)
    assert isinstance(outcome, BadRequest), f"the provider accepted a loop without its carrier: {outcome}"
    assert outcome.status_code == 400
    assert CASES[name].error in outcome.message
    assert strict.rejections and strict.rejections[0].startswith(CASES[name].error.split(" at ")[0][:40])


async def test_without_the_break_our_context_refuses_that_request_itself() -> None:
    # The same strip policy, honestly asked for: refused before anything is sent.
    case = CASES["deepseek"]
    strict = StrictProvider("deepseek", Script(chunks=case.step(1)))
    async with FakeUpstream(default=strict) as up:
        messages = await run_loop(case, strict, up.url, steps=1)
    assert len(up.requests) == 1 and messages[-1].role == "tool"
    request = ChatRequest(ProviderConfig("openai", "http://127.0.0.1:9/v1"), case.model, messages,
                          thinking=case.thinking, tools=TOOLS, replay_policy="strip")
    with pytest.raises(BadRequest, match="Not sent: DeepSeek"):
        get_adapter("openai").prepare(request)


def _bound_step(n: int) -> list[bytes]:
    return _anthropic(n)


async def test_anthropic_prefix_binding_our_replay_passes_and_an_edit_is_dropped_not_sent() -> None:
    model = ModelSpec("claude-fable-5-1", thinking_control="anthropic_adaptive", efforts=("low", "high"))
    case = Case("anthropic", model, "anthropic_bound", _bound_step, "")
    strict = StrictProvider("anthropic_bound", *[Script(chunks=_bound_step(n)) for n in (1, 2, 3)])
    async with FakeUpstream(default=strict) as up:
        messages = await run_loop(case, strict, up.url)
        assert strict.rejections == []
        # A new prompt after the loop, with the whole loop preserved: accepted as is …
        follow = [*messages, Message("user", "And in Paris?")]
        strict.add(Script(chunks=anthropic_sse("t", "13:00", signature="sig-4")),
                   Script(chunks=anthropic_sse("t", "13:00", signature="sig-5")))
        base = ChatRequest(ProviderConfig("anthropic", up.url, "k"), replace_options(model, {"replay": "preserved"}),
                           follow, thinking=case.thinking, tools=TOOLS)
        async with make_client(read_timeout=5) as client:
            [e async for e in get_adapter("anthropic").stream(base, client)]
            assert strict.rejections == []
            # … and after the system prompt changed, the bound blocks are left out, with notes.
            edited = ChatRequest(base.provider, base.model, follow, system="You are terse.", thinking=case.thinking,
                                 tools=TOOLS)
            built = context.assemble(edited, "anthropic")
            assert [n.kind for n in built.notes].count("dropped_thinking_after_edit") == 3
            [e async for e in get_adapter("anthropic").stream(edited, client)]
        assert strict.rejections == []
        assert "sig-1" not in str(up.requests[-1].json) and "sig-1" in str(up.requests[-2].json)


async def test_the_binding_fake_rejects_a_block_sent_after_another_prefix(monkeypatch) -> None:
    # Break the binding check: the edited request keeps the blocks, the fake says 400.
    import reasoning.adapters.anthropic as adapter

    monkeypatch.setattr(context, "prefix_digest", lambda *args: "same")
    monkeypatch.setattr(adapter, "prefix_digest", lambda *args: "same")
    monkeypatch.setattr(adapter, "bind_thinking", lambda *args: None)  # no drop_block either
    model = ModelSpec("claude-fable-5-1", thinking_control="anthropic_adaptive", efforts=("low", "high"),
                      options={"replay": "preserved"})
    case = Case("anthropic", model, "anthropic_bound", _bound_step, "")
    strict = StrictProvider("anthropic_bound", *[Script(chunks=_bound_step(n)) for n in (1, 2, 3)])
    async with FakeUpstream(default=strict) as up:
        messages = await run_loop(case, strict, up.url)
        edited = ChatRequest(ProviderConfig("anthropic", up.url, "k"), model,
                             [*messages, Message("user", "again")], system="Changed.", thinking=case.thinking,
                             tools=TOOLS)
        async with make_client(read_timeout=5) as client:
            with pytest.raises(BadRequest, match=r"Invalid signature in thinking block\. The block is bound to a"):
                [e async for e in get_adapter("anthropic").stream(edited, client)]


def replace_options(model: ModelSpec, options: dict[str, Any]) -> ModelSpec:
    from dataclasses import replace

    return replace(model, options=options)


def test_a_prefix_bound_model_asks_the_api_to_drop_rather_than_refuse() -> None:
    model = ModelSpec("claude-fable-5-1", thinking_control="anthropic_adaptive", efforts=("low", "high"))
    bound = ChatRequest(ProviderConfig("anthropic", "http://127.0.0.1:9", "k",
                                       options={"headers": {"anthropic-beta": "other-beta"}}),
                        model, [Message("user", "q")], thinking=THINKING_ON)
    prepared = get_adapter("anthropic").prepare(bound)
    assert prepared.json["thinking"]["block_binding"] == {"prefix_mismatch_behavior": "drop_block"}
    assert prepared.headers["anthropic-beta"] == "other-beta,thinking-binding-controls-2026-08-01"
    older = get_adapter("anthropic").prepare(ChatRequest(bound.provider, replace_options(
        ModelSpec("claude-sonnet-4-5", thinking_control="anthropic_budget", efforts=("low", "high")), {}),
        bound.messages, thinking=THINKING_ON))
    assert "block_binding" not in older.json["thinking"]
    assert older.headers["anthropic-beta"] == "other-beta"
    off = get_adapter("anthropic").prepare(ChatRequest(bound.provider, model, bound.messages,
                                                       thinking=Thinking(mode="off")))
    assert "thinking-binding" not in off.headers["anthropic-beta"]


async def test_with_drop_block_the_api_drops_what_the_context_could_not_see(monkeypatch) -> None:
    # Our own check broken: the blocks go out after an edit; drop_block saves the request.
    import reasoning.adapters.anthropic as adapter

    monkeypatch.setattr(context, "prefix_digest", lambda *args: "same")
    monkeypatch.setattr(adapter, "prefix_digest", lambda *args: "same")
    model = ModelSpec("claude-fable-5-1", thinking_control="anthropic_adaptive", efforts=("low", "high"),
                      options={"replay": "preserved"})
    case = Case("anthropic", model, "anthropic_bound", _bound_step, "")
    strict = StrictProvider("anthropic_bound", *[Script(chunks=_bound_step(n)) for n in (1, 2, 3)],
                            Script(chunks=anthropic_sse("t", "ok", signature="sig-4")))
    async with FakeUpstream(default=strict) as up:
        messages = await run_loop(case, strict, up.url)
        edited = ChatRequest(ProviderConfig("anthropic", up.url, "k"), model, [*messages, Message("user", "again")],
                             system="Changed.", thinking=case.thinking, tools=TOOLS)
        async with make_client(read_timeout=5) as client:
            [e async for e in get_adapter("anthropic").stream(edited, client)]
    assert strict.rejections == [] and len(strict.dropped) == 3
