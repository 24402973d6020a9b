"""Three user turns, each a tool loop (a call, its result, the answer), through the real
adapters, under each replay policy: every request body (with `tools`, assistant steps
with calls, tool results, and whatever reasoning went back) is checked by the provider's
own SDK types (tests/conformance/oracle.py), and what went back is what the policy says.

Markers: each step writes its own reasoning ("think t2s1") and payload (signature,
encrypted item) so every later body shows which step's reasoning it carries.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from reasoning import replay as stored_replay
from reasoning.adapters import get_adapter
from reasoning.errors import BadRequest
from reasoning.events import ContentDelta, ReasoningDelta, ReplayData, ToolCallDone
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking, ToolCall, ToolSpec
from reasoning.testing import FakeToolCall, FakeUpstream, Script, openai_chat_sse, openai_responses_sse
from reasoning.testing.formats_native import anthropic_sse, gemini_sse, ollama_ndjson
from reasoning.wire import make_client
from tests.conformance import oracle

TOOLS = (ToolSpec("clock", "The time in a time zone",
                  {"type": "object", "properties": {"tz": {"type": "string"}}, "required": ["tz"]}),)
ARGS = '{"tz":"UTC"}'


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@dataclass
class Kind:
    kind: str
    model: ModelSpec
    step: Callable[[int, int], list[bytes]]  # (turn, step) -> the answer; step 1 calls, step 2 answers
    marker: Callable[[int, int], str]  # what in a body shows that step's reasoning went back
    check: Callable[[dict[str, Any]], Any]
    path: str = ""
    content_type: str = "text/event-stream"
    tool_turns_always: bool = False  # DeepSeek: a tool-call turn's reasoning goes back in all later requests


def _call(t: int, **kw: Any) -> list[FakeToolCall]:
    return [FakeToolCall("clock", ARGS, id=f"call_t{t}", **kw)]


def _chat(field: str) -> Callable[[int, int], list[bytes]]:
    def step(t: int, s: int) -> list[bytes]:
        tools = _call(t) if s == 1 else []
        return openai_chat_sse(f"think t{t}s{s}", "" if s == 1 else f"answer {t}", field=field, tool_calls=tools)
    return step


def _anthropic(t: int, s: int) -> list[bytes]:
    if s == 2:
        return anthropic_sse(f"think t{t}s{s}", f"answer {t}", signature=f"sig-t{t}s{s}")
    return anthropic_sse(f"think t{t}s{s}", "", signature=f"sig-t{t}s{s}",
                         tool_calls=[FakeToolCall("clock", ARGS, id=f"toolu_t{t}", reasoning_before=f"more t{t}",
                                                  signature=f"sig-t{t}s{s}b")])


def _gemini(t: int, s: int) -> list[bytes]:
    if s == 2:
        return gemini_sse(f"think t{t}s{s}", f"answer {t}", signature=b64(f"sig-t{t}s{s}"))
    return gemini_sse(f"think t{t}s{s}", "", tool_calls=[FakeToolCall("clock", ARGS, signature=b64(f"sig-t{t}s{s}"))])


def _responses(t: int, s: int) -> list[bytes]:
    if s == 2:
        chunks = openai_responses_sse(f"think t{t}s{s}", f"answer {t}", encrypted_content=f"enc-t{t}s{s}")
    else:
        chunks = openai_responses_sse("", "", encrypted_content=f"enc-t{t}s{s}",
                                      tool_calls=_call(t, reasoning_before=f"think t{t}s{s}"))
    tag = f"t{t}s{s}".encode()
    return [c.replace(b"rs_fake", b"rs_" + tag).replace(b"fc_fake", b"fc_" + tag).replace(b"msg_fake", b"msg_" + tag)
            for c in chunks]


def _ollama(t: int, s: int) -> list[bytes]:
    return ollama_ndjson(f"think t{t}s{s}", "" if s == 1 else f"answer {t}",
                         tool_calls=_call(t) if s == 1 else [])


def _check_gemini(body: dict[str, Any]) -> None:
    # google-genai rewrites a declaration's JSON Schema into its own Schema (types upper
    # case), so `tools` cannot pass the oracle's "dumped back equal" check: it is parsed
    # on its own; the rest of the body is checked whole.
    from google.genai import types as gtypes
    from pydantic import TypeAdapter

    TypeAdapter(list[gtypes.Tool]).validate_json(json.dumps(body["tools"]))
    oracle.check_gemini_body({k: v for k, v in body.items() if k != "tools"})


def _text(t: int, s: int) -> str:
    return f"think t{t}s{s}"


KINDS = {
    "deepseek": Kind("openai", ModelSpec("deepseek-v4-pro", thinking_control="thinking_type", efforts=("high",)),
                     _chat("reasoning_content"), _text, oracle.check_chat_body, path="/v1", tool_turns_always=True),
    "gpt-oss-vllm": Kind("openai", ModelSpec("openai/gpt-oss-120b", thinking_control="reasoning_effort",
                                             efforts=("low", "medium", "high"),
                                             options={"echo_reasoning_field": "reasoning"}),
                         _chat("reasoning"), _text, oracle.check_chat_body, path="/v1"),
    "anthropic": Kind("anthropic", ModelSpec("claude-sonnet-4-5", thinking_control="anthropic_budget",
                                             efforts=("low", "medium", "high")),
                      _anthropic, lambda t, s: f"sig-t{t}s{s}", oracle.check_anthropic_body),
    "gemini": Kind("gemini", ModelSpec("gemini-2.5-flash", thinking_control="gemini_budget", efforts=("low", "high")),
                   _gemini, lambda t, s: b64(f"sig-t{t}s{s}"), lambda body: _check_gemini(body)),
    "responses": Kind("openai-responses", ModelSpec("gpt-5-mini", thinking_control="responses",
                                                    efforts=("low", "high")),
                      _responses, lambda t, s: f"enc-t{t}s{s}", oracle.check_responses_body, path="/v1"),
    "ollama": Kind("ollama", ModelSpec("gpt-oss:20b", thinking_control="ollama_think"), _ollama, _text,
                   oracle.check_ollama_body, content_type="application/x-ndjson"),
}
# Under "strip" these families need the carrier inside a tool chain with thinking on
# (a request without it is refused locally, see test_context_tools): strip runs them
# with thinking off, as a user who wants no reasoning back would.
NEEDS_CARRIER = {"deepseek", "anthropic", "gemini"}


def expected(kind: Kind, policy: str, t: int, s: int) -> set[tuple[int, int]]:
    """The earlier steps whose reasoning request (turn t, step s) carries."""
    earlier = [(tt, ss) for tt in range(1, t + 1) for ss in (1, 2) if (tt, ss) < (t, s)]
    if policy == "preserved":
        return set(earlier)
    if policy == "strip":
        return set()
    kept = {(tt, ss) for tt, ss in earlier if tt == t}  # the current chain
    if kind.tool_turns_always:
        kept |= {(tt, 1) for tt, _ in earlier}
    return kept


@pytest.mark.parametrize("policy", ["strip", "interleaved", "preserved"])
@pytest.mark.parametrize("name", list(KINDS))
async def test_three_tool_turns_are_what_the_sdk_accepts_under_each_policy(name: str, policy: str) -> None:
    kind = KINDS[name]
    thinking = Thinking(mode="off" if policy == "strip" and name in NEEDS_CARRIER else "on")
    source = f"{kind.kind}:{kind.model.model_id}"
    messages: list[Message] = []
    sent: list[tuple[int, int, dict[str, Any]]] = []
    async with FakeUpstream() as up, make_client(read_timeout=5) as client:
        for t in (1, 2, 3):
            messages.append(Message("user", f"question {t}"))
            for s in (1, 2):
                up.enqueue(Script(chunks=kind.step(t, s), headers={"content-type": kind.content_type}))
                request = ChatRequest(ProviderConfig(kind.kind, up.url + kind.path, "sk-test"), kind.model,
                                      list(messages), thinking=thinking, tools=TOOLS, replay_policy=policy)  # type: ignore[arg-type]
                reasoning, content, replay, calls = [], [], None, []
                async for event in get_adapter(kind.kind).stream(request, client):
                    if isinstance(event, ReasoningDelta):
                        reasoning.append(event.text)
                    elif isinstance(event, ContentDelta):
                        content.append(event.text)
                    elif isinstance(event, ReplayData):
                        replay = stored_replay.fold(replay, event.payload)
                    elif isinstance(event, ToolCallDone):
                        calls.append(ToolCall(event.id, event.name, event.arguments))
                sent.append((t, s, up.requests[-1].json))
                assert bool(calls) == (s == 1)
                messages.append(Message("assistant", "".join(content), reasoning="".join(reasoning), replay=replay,
                                        source=source, tool_calls=tuple(calls)))
                messages += [Message("tool", "12:00 UTC", tool_call_id=c.id, name=c.name) for c in calls]
    for t, s, body in sent:
        kind.check(body)
        text = json.dumps(body)
        assert "clock" in text and ((s == 1 and t == 1) or "12:00 UTC" in text)
        carried = {(tt, ss) for tt in (1, 2, 3) for ss in (1, 2) if kind.marker(tt, ss) in text}
        assert carried == expected(kind, policy, t, s), f"turn {t} step {s}: {sorted(carried)}"


async def test_a_policy_the_provider_would_reject_is_refused_not_sent() -> None:
    kind = KINDS["anthropic"]
    async with FakeUpstream() as up, make_client(read_timeout=5) as client:
        up.enqueue(Script(chunks=kind.step(1, 1)))
        first = ChatRequest(ProviderConfig("anthropic", up.url, "k"), kind.model, [Message("user", "q")],
                            thinking=Thinking(mode="on"), tools=TOOLS)
        events = [e async for e in get_adapter("anthropic").stream(first, client)]
        replay = next(e.payload for e in events if isinstance(e, ReplayData))
        [call] = [ToolCall(e.id, e.name, e.arguments) for e in events if isinstance(e, ToolCallDone)]
        loop = [Message("user", "q"), Message("assistant", "", replay=replay, source="anthropic:claude-sonnet-4-5",
                                              tool_calls=(call,)),
                Message("tool", "12:00", tool_call_id=call.id, name="clock")]
        second = ChatRequest(first.provider, kind.model, loop, thinking=Thinking(mode="on"), tools=TOOLS,
                             replay_policy="strip")
        with pytest.raises(BadRequest, match="Not sent: Anthropic"):
            [e async for e in get_adapter("anthropic").stream(second, client)]
        assert len(up.requests) == 1
