"""The chat socket during a tool loop, through the routed application: the cards
stream live (tool.start/args/result rendered by the page's partials), a step's start
shows the finished steps from the saved turn, and a socket that joins while a tool
runs (a reload, another worker) is shown the step and its running call at once."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation, Turn
from playground.streaming import run as runs
from reasoning.events import ContentDelta, Finish, ReasoningDelta, ToolCallDelta, ToolCallDone, ToolCallStart, Usage
from reasoning.request import ToolCall, ToolSpec
from reasoning.toolbox import ToolResult
from tests.playground.test_consumer import login_communicator

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class SlowClock:
    """A toolbox whose one tool takes `delay` seconds and answers with markup."""

    delay: float = 1.5
    specs: tuple[ToolSpec, ...] = (ToolSpec("now", "the time"),)
    problems: list = field(default_factory=list)

    def answers_later(self, name):
        return False

    def server_of(self, name):
        return "clock"

    async def call(self, call: ToolCall) -> ToolResult:
        await asyncio.sleep(self.delay)
        return ToolResult("<i>noon</i>", server="clock", duration_ms=int(self.delay * 1000))

    async def aclose(self):
        return None


@pytest.fixture
def slow_clock(monkeypatch):
    box = SlowClock()

    async def opened(selection):
        return box

    monkeypatch.setattr(runs, "_open_toolbox", opened)
    return box


async def receive_until(comm, needle: str, timeout: float = 10.0) -> str:  # noqa: ASYNC109
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = await comm.receive_from(timeout=max(0.1, deadline - time.monotonic()))
        seen.append(text)
        if needle in text:
            return "".join(seen)
    raise AssertionError(f"{needle!r} never came")


async def test_cards_stream_and_a_joining_socket_sees_the_running_call(client, owner, scripted, scripted_model,
                                                                        slow_clock):
    scripted.enqueue([ReasoningDelta("Ask the clock. "), ToolCallStart(0, "c1", "now"), ToolCallDelta(0, "{}"),
                      ToolCallDone(0, "c1", "now", "{}"), Usage(5, 3, 1), Finish("tool_calls")], delay=0.05)
    scripted.enqueue([ReasoningDelta("It said noon. "), ContentDelta("Noon."), Usage(9, 2, 1), Finish("stop")],
                     delay=0.05)
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner, tools=["clock"])
    comm = await login_communicator(client, owner, conv)
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "Time?", "model": scripted_model.pk}))
    first = await receive_until(comm, 'data-state="running"')
    turn_id = int(first.split('data-turn="', 2)[2].split('"', 1)[0])
    assert f'hx-swap-oob="innerHTML:#t{turn_id}-calls"' in first and "<code>now</code>" in first

    # A second socket joins while the tool runs: it is given the step's call at once.
    late = await login_communicator(client, owner, conv)
    assert (await late.connect())[0]
    joined = await receive_until(late, f"#t{turn_id}-calls")
    assert 'data-state="running"' in joined and "calling…" in joined

    # The result, escaped, then the next step: the finished step from the saved turn, empty blocks.
    result = await receive_until(comm, 'data-state="done"')
    assert "&lt;i&gt;noon&lt;/i&gt;" in result and "<i>noon</i>" not in result
    step = await receive_until(comm, f"innerHTML:#t{turn_id}-steps")
    assert "step-thought" in step and "Ask the clock." in step
    done = await receive_until(comm, f'id="turn-{turn_id}"', timeout=15)
    assert "Noon." in done
    await receive_until(late, "Noon.", timeout=15)
    await comm.disconnect()
    await late.disconnect()
    turn = await database_sync_to_async(Turn.objects.get)(pk=turn_id)
    assert turn.status == "complete" and len(turn.steps) == 2
