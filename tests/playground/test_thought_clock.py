"""Issue 21.9: the run sends its own thinking time with the stream, so the page's
thought label ends on the figure the finished turn shows; both round the same
milliseconds the same way (the browser side: tests/browser/test_thought_timer.py)."""

from __future__ import annotations

import json
import re

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation
from playground.streaming.messages import thought_clock
from playground.templatetags.playground import seconds
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage
from tests.playground.test_consumer import login_communicator, receive_until_done, started_turn

CLOCK = re.compile(r'<div hx-swap-oob="innerHTML:#t\d+-clock"><i data-(think|thought)-ms>(\d+)</i></div>')


@pytest.mark.parametrize(
    ("ms", "label"),
    [(0, "0.0 s"), (49, "0.0 s"), (50, "0.1 s"), (1250, "1.3 s"), (2249, "2.2 s"), (2250, "2.3 s"),
     (12345, "12.3 s"), (99950, "100.0 s"), (None, "0.0 s")],
)
def test_seconds_round_halves_up_from_whole_milliseconds(ms, label):
    # 1.25 is exact in binary: Python's format said "1.2", the page's toFixed "1.3".
    assert seconds(ms) == label


def test_a_frame_without_figures_carries_no_clock():
    assert thought_clock(7, {"r": "x", "c": ""}) == ""
    expected = '<div hx-swap-oob="innerHTML:#t7-clock"><i data-think-ms>1200</i></div>'
    assert thought_clock(7, {"think_ms": 1200}) == expected
    assert "data-thought-ms>3400<" in thought_clock(7, {"think_ms": 1200, "thought_ms": 3400})


@pytest.mark.django_db(transaction=True)
async def test_the_stream_carries_the_runs_thinking_time_before_its_text(client, owner, scripted, scripted_model):
    scripted.enqueue(
        [ReasoningDelta("Seventeen times twenty "), ReasoningDelta("is 340, "), ReasoningDelta("plus 51."),
         ContentDelta("391"), ContentDelta(" it is."), Usage(5, 9, None), Finish("stop")],
        delay=0.15,
    )
    conv = await database_sync_to_async(Conversation.objects.create)(owner=owner)
    comm = await login_communicator(client, owner, conv)
    assert (await comm.connect())[0]
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": "17*23?", "model": scripted_model.pk}))
    turn = await started_turn(comm)
    frames = await receive_until_done(comm, turn.pk)
    await comm.disconnect()
    await database_sync_to_async(turn.refresh_from_db)()

    thinking, thought = [], []
    for frame in frames:
        for kind, ms in CLOCK.findall(frame):
            # In the same message as the text it belongs to, and before it: the page
            # sets the figure first, then shows the text.
            text = f'#t{turn.pk}-r"' if kind == "think" else f'#t{turn.pk}-c"'
            assert text in frame and frame.index("-clock") < frame.index(text), frame
            (thinking if kind == "think" else thought).append(int(ms))
    assert thinking and thinking == sorted(thinking)
    assert thinking[-1] <= turn.thinking_ms
    # Once, and the very figure the finished turn keeps and its label shows.
    assert thought == [turn.thinking_ms] == [turn.first_content_ms]
