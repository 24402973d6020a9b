"""The tool loop in the app (playground.streaming.run): model -> tools -> model,
each step stored, streamed and replayed; against the offline simulator, the
scripted adapter and a real MCP server started by the test."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation, McpServer, Turn
from playground.streaming import run as runs
from playground.streaming.launch import Question, launch
from playground.streaming.tap import ToolNote
from reasoning.events import ContentDelta, Finish, ReasoningDelta, ToolCallDelta, ToolCallDone, ToolCallStart, Usage
from reasoning.request import ToolCall, ToolSpec
from reasoning.toolbox import ToolResult

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def conversation_with_tools(owner, model, tools):
    return Conversation.objects.create(owner=owner, model=model, tools=tools)


@database_sync_to_async
def saved(turn_id):
    return Turn.objects.get(pk=turn_id)


async def ask(owner, model, text, *, conversation=None, params=None):
    """Launch a turn and read everything its watchers get, tool messages too."""
    launched = await launch(
        Question(owner=owner, model=model, text=text, conversation=conversation, params=params or {}), follow=True
    )
    seen = []
    async with asyncio.timeout(90):
        async for item in launched.deltas(tools=True):
            seen.append(item)
        turn = await launched.outcome()
    return turn, seen


def calls_step(*calls, reasoning="Let me use a tool. "):
    """A scripted step that calls tools: [(id, name, arguments), ...]."""
    events = [ReasoningDelta(reasoning)]
    for index, (call_id, name, arguments) in enumerate(calls):
        events += [ToolCallStart(index, call_id, name), ToolCallDelta(index, arguments),
                   ToolCallDone(index, call_id, name, arguments)]
    return [*events, Usage(10, 5, 2), Finish("tool_calls")]


@dataclass
class FakeToolbox:
    """An in-process toolbox: each tool sleeps `delay` then answers; records calls."""

    delay: float = 0.0
    later: tuple[str, ...] = ()
    specs: tuple[ToolSpec, ...] = (ToolSpec("add", "a + b"), ToolSpec("now", "the time"), ToolSpec("ask_user"))
    problems: list = field(default_factory=list)
    started: list = field(default_factory=list)
    closed: bool = False

    def answers_later(self, name):
        return name in self.later

    def server_of(self, name):
        return "fake"

    async def call(self, call: ToolCall) -> ToolResult:
        self.started.append((call.name, time.monotonic()))
        await asyncio.sleep(self.delay)
        if call.name == "add":
            args = json.loads(call.arguments)
            return ToolResult(str(args["a"] + args["b"]), server="fake", duration_ms=int(self.delay * 1000))
        if call.name == "now":
            return ToolResult("12:00", server="fake")
        return ToolResult(f"There is no tool named {call.name!r}.", is_error=True)

    async def aclose(self):
        self.closed = True


@pytest.fixture
def toolbox(monkeypatch):
    box = FakeToolbox()

    async def opened(selection):
        return box

    monkeypatch.setattr(runs, "_open_toolbox", opened)
    return box


async def test_a_two_step_loop_with_parallel_calls(owner, scripted_model, scripted, toolbox):
    toolbox.delay = 0.3
    scripted.enqueue(calls_step(("c1", "add", '{"a": 2, "b": 3}'), ("c2", "now", "{}")))
    scripted.enqueue([ReasoningDelta("Got 5 and noon. "), ContentDelta("5, at 12:00."), Usage(20, 6, 3),
                      Finish("stop")])
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    turn, seen = await ask(owner, scripted_model, "2+3, and the time?", conversation=conversation)

    assert turn.status == "complete", turn.error
    assert turn.content == "5, at 12:00." and turn.reasoning == "Got 5 and noon. "
    first, last = turn.steps
    assert first["reasoning"] == "Let me use a tool. " and first["finish_reason"] == "tool_calls"
    assert [(c["id"], c["name"], c["arguments"], c["result"], c["is_error"], c["server"], c["status"])
            for c in first["tool_calls"]] == [
        ("c1", "add", '{"a": 2, "b": 3}', "5", False, "fake", "done"),
        ("c2", "now", "{}", "12:00", False, "fake", "done"),
    ]
    assert last["content"] == turn.content and last["tool_calls"] == []
    assert first["thinking_ms"] is not None and first["duration_ms"] >= first["thinking_ms"]
    assert last["thinking_ms"] is not None
    # The two calls ran at once.
    assert abs(toolbox.started[0][1] - toolbox.started[1][1]) < 0.2
    assert toolbox.closed
    # Token counts are the two calls' together.
    assert (turn.prompt_tokens, turn.completion_tokens, turn.reasoning_tokens) == (30, 11, 5)

    # The second request carries the step and both results, in order, with the tools.
    second = scripted.requests[1]
    assert [t.name for t in second.tools] == ["add", "now", "ask_user"]
    tail = second.messages[-3:]
    assert tail[0].role == "assistant" and tail[0].reasoning == "Let me use a tool. "
    assert tail[0].tool_calls == (ToolCall("c1", "add", '{"a": 2, "b": 3}'), ToolCall("c2", "now", "{}"))
    assert [(m.role, m.tool_call_id, m.name, m.content) for m in tail[1:]] == [
        ("tool", "c1", "add", "5"), ("tool", "c2", "now", "12:00")
    ]

    # Watchers saw the loop in order: step 0's text, its calls and results, then step 1.
    kinds = [item.kind if isinstance(item, ToolNote) else item.block for item in seen]
    assert kinds.index("tool.start") < kinds.index("tool.args") < kinds.index("tool.result") < kinds.index("turn.step")
    assert kinds[0] == "r" and kinds[-1] == "c"
    results = [item.message for item in seen if isinstance(item, ToolNote) and item.kind == "tool.result"]
    assert {(r["id"], r["result"], r["server"]) for r in results} == {("c1", "5", "fake"), ("c2", "12:00", "fake")}
    text = "".join(item.text for item in seen if not isinstance(item, ToolNote) and item.block == "c")
    assert text == "5, at 12:00."
    # Each call of the loop is kept for the inspector.
    assert [call["step"] for call in turn.sent["calls"]] == ["step 1", "step 2"]


async def test_the_next_turn_replays_the_steps(owner, scripted_model, scripted, toolbox):
    scripted.enqueue(calls_step(("c1", "add", '{"a": 1, "b": 1}')))
    scripted.enqueue([ContentDelta("2."), Finish("stop")])
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    await ask(owner, scripted_model, "1+1?", conversation=conversation)
    scripted.enqueue([ContentDelta("You are welcome."), Finish("stop")])
    turn, _ = await ask(owner, scripted_model, "Thanks", conversation=conversation)
    assert turn.status == "complete"
    roles = [(m.role, m.content) for m in scripted.requests[-1].messages]
    assert roles == [("user", "1+1?"), ("assistant", ""), ("tool", "2"), ("assistant", "2."), ("user", "Thanks")]
    assert scripted.requests[-1].messages[1].tool_calls == (ToolCall("c1", "add", '{"a": 1, "b": 1}'),)


async def test_the_step_limit_ends_a_loop_that_never_stops(owner, scripted_model, scripted, toolbox):
    for n in range(5):
        scripted.enqueue(calls_step((f"c{n}", "now", "{}")))
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    turn, _ = await ask(owner, scripted_model, "loop", conversation=conversation, params={"max_steps": 3})
    assert turn.status == "error" and turn.error["kind"] == "step_limit"
    assert "limit of 3 model calls" in turn.error["message"]
    assert len(scripted.requests) == 3 and len(turn.steps) == 3
    assert [c["status"] for step in turn.steps for c in step["tool_calls"]] == ["done", "done", "not_run"]
    assert toolbox.closed


async def test_a_missing_tool_is_an_error_result_and_the_loop_goes_on(owner, scripted_model, scripted, toolbox):
    scripted.enqueue(calls_step(("c1", "teleport", "{}")))
    scripted.enqueue([ContentDelta("I cannot teleport."), Finish("stop")])
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    turn, _ = await ask(owner, scripted_model, "go", conversation=conversation)
    assert turn.status == "complete"
    call = turn.steps[0]["tool_calls"][0]
    assert call["is_error"] and "no tool named 'teleport'" in call["result"]
    tool_message = scripted.requests[1].messages[-1]
    assert tool_message.role == "tool" and tool_message.is_error


async def test_a_call_answered_later_pauses_the_turn(owner, scripted_model, scripted, toolbox):
    toolbox.later = ("ask_user",)
    scripted.enqueue(calls_step(("c1", "ask_user", '{"q": "colour?"}'), ("c2", "now", "{}")))
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    turn, seen = await ask(owner, scripted_model, "pick", conversation=conversation)
    assert turn.status == "awaiting_tool"
    assert [(c["name"], c["status"], c["result"]) for c in turn.steps[0]["tool_calls"]] == [
        ("ask_user", "awaiting", None), ("now", "done", "12:00")
    ]
    assert any(isinstance(i, ToolNote) and i.kind == "tool.awaiting" for i in seen)
    assert len(scripted.requests) == 1


async def test_stop_during_a_tool_call_keeps_the_step(owner, scripted_model, scripted, toolbox):
    toolbox.delay = 30
    scripted.enqueue(calls_step(("c1", "now", "{}")))
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    launched = await launch(Question(owner=owner, model=scripted_model, text="t", conversation=conversation))
    async with asyncio.timeout(20):
        while not toolbox.started:  # noqa: ASYNC110 (the fake toolbox has no event to wait on)
            await asyncio.sleep(0.02)
        await launched.stop()
        turn = await launched.outcome()
    assert turn.status == "stopped"
    assert turn.steps[0]["tool_calls"][0]["status"] == "not_run" and toolbox.closed


async def test_the_simulator_runs_a_loop_with_a_real_mcp_server(owner, simulator_model, clock_server):
    conversation = await conversation_with_tools(owner, simulator_model, ["clock:now"])
    turn, seen = await ask(owner, simulator_model, "What time is it now?", conversation=conversation)
    assert turn.status == "complete", turn.error
    assert len(turn.steps) == 2
    (call,) = turn.steps[0]["tool_calls"]
    assert (call["name"], call["server"], call["is_error"]) == ("now", "clock", False)
    assert call["result"].endswith("+00:00") and call["duration_ms"] is not None
    assert turn.steps[0]["reasoning"] and turn.steps[1]["reasoning"]
    assert call["result"] in turn.content and turn.content == turn.steps[1]["content"]
    assert any(isinstance(i, ToolNote) and i.kind == "turn.step" for i in seen)


async def test_a_server_that_fails_to_start_is_told_and_the_turn_goes_on(owner, simulator_model, settings):
    settings.TOOL_START_TIMEOUT = 20
    await database_sync_to_async(McpServer.objects.create)(name="broken", command="/nonexistent/server")
    conversation = await conversation_with_tools(owner, simulator_model, ["broken", "gone"])
    turn, seen = await ask(owner, simulator_model, "Hello", conversation=conversation)
    assert turn.status == "complete"
    notices = turn.steps[0]["notices"]
    assert any("broken is not available" in n and "/nonexistent/server" in n for n in notices)
    assert any("gone is not available" in n for n in notices)
    assert any(isinstance(i, ToolNote) and i.kind == "tool.notice" for i in seen)


async def test_a_turns_stdio_server_never_sees_our_secrets(owner, scripted_model, scripted, clock_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-leak")
    scripted.enqueue(calls_step(("c1", "environment", "{}")))
    scripted.enqueue([ContentDelta("ok"), Finish("stop")])
    conversation = await conversation_with_tools(owner, scripted_model, ["clock"])
    turn, _ = await ask(owner, scripted_model, "env?", conversation=conversation)
    env = json.loads(turn.steps[0]["tool_calls"][0]["result"])
    assert set(env) - {"LC_CTYPE"} == {"PATH", "TZ", "CLOCK_TOKEN"}
    assert env["CLOCK_TOKEN"] == "tok-123"  # decrypted from the database for the server only
    stored = await database_sync_to_async(lambda: McpServer.objects.get(name="clock").env)()
    assert "tok-123" not in json.dumps(stored)
    assert sys.executable


async def test_a_paused_loop_goes_on_when_the_result_is_posted(owner, stranger, scripted_model, scripted, toolbox):
    from playground.streaming.toolrun import answer_tool_call
    from playground.turns.services import BadInput

    toolbox.later = ("ask_user",)
    scripted.enqueue(calls_step(("c1", "ask_user", '{"q": "colour?"}'), ("c2", "ask_user", '{"q": "size?"}')))
    scripted.enqueue([ReasoningDelta("Blue, large. "), ContentDelta("A large blue one."), Usage(7, 3, 1),
                      Finish("stop")])
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    turn, _ = await ask(owner, scripted_model, "pick", conversation=conversation)
    assert turn.status == "awaiting_tool"
    with pytest.raises(BadInput):
        await answer_tool_call(stranger, turn.pk, "c1", "red")  # not theirs
    with pytest.raises(BadInput):
        await answer_tool_call(owner, turn.pk, "c9", "red")  # no such call
    # A new prompt cannot continue a turn that waits.
    with pytest.raises(BadInput):
        await launch(Question(owner=owner, model=scripted_model, text="hello?", conversation=conversation))

    assert await answer_tool_call(owner, turn.pk, "c1", "blue") is None  # c2 still waits
    assert (await saved(turn.pk)).status == "awaiting_tool"
    run = await answer_tool_call(owner, turn.pk, "c2", "large")
    assert run is not None
    async with asyncio.timeout(30):
        await run.task
    turn = await saved(turn.pk)
    assert turn.status == "complete" and turn.content == "A large blue one."
    assert [c["result"] for c in turn.steps[0]["tool_calls"]] == ["blue", "large"]
    assert len(turn.steps) == 2 and turn.steps[1]["content"] == "A large blue one."
    assert (turn.prompt_tokens, turn.completion_tokens) == (17, 8)
    resumed = scripted.requests[-1].messages
    assert [(m.role, m.content) for m in resumed[-3:]] == [("assistant", ""), ("tool", "blue"), ("tool", "large")]
    with pytest.raises(BadInput):
        await answer_tool_call(owner, turn.pk, "c2", "again")  # no longer waiting


async def test_a_loop_over_a_streamable_http_server(owner, simulator_model, clock_http):
    await database_sync_to_async(McpServer.objects.create)(name="web-clock", url=clock_http)
    conversation = await conversation_with_tools(owner, simulator_model, ["web-clock"])
    turn, _ = await ask(owner, simulator_model, "What is 6 / 3? divide", conversation=conversation)
    assert turn.status == "complete", turn.error
    (call,) = turn.steps[0]["tool_calls"]
    assert (call["name"], call["server"], call["is_error"]) == ("divide", "web-clock", False)
    assert call["result"] in turn.content


async def test_calls_cut_by_the_token_limit_are_not_run(owner, scripted_model, scripted, toolbox):
    scripted.enqueue([ReasoningDelta("Adding. "), ToolCallStart(0, "c1", "add"), ToolCallDelta(0, '{"a": 2, "b"'),
                      ToolCallDone(0, "c1", "add", '{"a": 2, "b"'), Finish("length")])
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    turn, _ = await ask(owner, scripted_model, "2+3?", conversation=conversation)
    assert (turn.status, turn.finish_reason) == ("complete", "length")
    assert turn.steps[0]["tool_calls"][0]["status"] == "not_run" and toolbox.started == []
    assert len(scripted.requests) == 1


async def test_a_reload_mid_loop_finds_the_step_and_its_running_call(owner, scripted_model, scripted, toolbox):
    toolbox.delay = 1.5
    scripted.enqueue(calls_step(("c1", "now", "{}")))
    scripted.enqueue([ContentDelta("Noon."), Finish("stop")])
    conversation = await conversation_with_tools(owner, scripted_model, ["fake"])
    launched = await launch(Question(owner=owner, model=scripted_model, text="t", conversation=conversation))
    async with asyncio.timeout(20):
        while not toolbox.started:  # noqa: ASYNC110 (the fake toolbox has no event to wait on)
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.6)  # a few checkpoints (CHECKPOINT_INTERVAL is 0.2 s in tests)
        during = await saved(launched.turn_id)
        turn = await launched.outcome()
    assert during.status == "streaming"
    assert [(c["name"], c["status"], c["result"]) for c in during.steps[0]["tool_calls"]] == [("now", "running", None)]
    assert during.steps[0]["reasoning"] == "Let me use a tool. "
    assert turn.status == "complete" and turn.steps[0]["tool_calls"][0]["result"] == "12:00"
