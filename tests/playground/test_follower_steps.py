"""The follower's step protocol (playground.streaming.follower) for tool loops: the
blocks are the current step's, frames of an earlier step are ignored, a missed
step start makes the watcher sync again, and the current step's calls are kept
whole from tool.start / tool.args / tool.result / tool.awaiting."""

from __future__ import annotations

from playground.streaming.follower import Piece, TurnFollower


def frame(step: int, r_off: int, r: str, c_off: int = 0, c: str = "") -> dict:
    out = {"type": "turn.frame", "turn": 1, "r_off": r_off, "r": r, "c_off": c_off, "c": c}
    if step:
        out["step"] = step  # step 0's frames say nothing (tool_frames' contract)
    return out


def tool(kind: str, step: int, index: int = 0, **fields) -> dict:
    return {"type": f"tool.{kind}", "turn": 1, "step": step, "index": index, "id": f"call_{index}",
            "name": "now", **fields}


def test_it_starts_each_step_with_empty_blocks_and_the_finished_steps_again():
    f = TurnFollower()
    assert f.on_frame(frame(0, 0, "I need the time.")).pieces == [Piece("r", "I need the time.")]
    assert f.on_tool(tool("start", 0, server="clock")).calls == [
        {"id": "call_0", "name": "now", "server": "clock", "status": "running"}
    ]
    f.on_tool(tool("args", 0, arguments='{"tz": "UTC"}'))
    done = f.on_tool(tool("result", 0, server="clock", result="12:00", is_error=False, duration_ms=12))
    assert done.calls == [{"id": "call_0", "name": "now", "server": "clock", "status": "done",
                           "arguments": '{"tz": "UTC"}', "result": "12:00", "is_error": False,
                           "duration_ms": 12}]

    step = f.on_step({"type": "turn.step", "turn": 1, "step": 1})
    assert step.reload_steps and step.calls == []
    assert step.pieces == [Piece("r", "", replace=True), Piece("c", "", replace=True)]
    # The new step's text counts from 0.
    assert f.on_frame(frame(1, 0, "It is noon.")).pieces == [Piece("r", "It is noon.")]
    assert f.on_frame(frame(1, 11, "", 0, "Noon.")).pieces == [Piece("c", "Noon.")]


def test_it_ignores_what_belongs_to_an_earlier_step():
    f = TurnFollower()
    f.on_frame(frame(0, 0, "first"))
    f.on_step({"type": "turn.step", "turn": 1, "step": 1})
    assert f.on_frame(frame(0, 5, " late")).pieces == []
    assert f.on_tool(tool("result", 0, result="late")).calls is None
    assert f.on_step({"type": "turn.step", "turn": 1, "step": 1}).pieces == []  # twice
    assert f.on_resumed({"r_off": 0, "r": "stale", "c_off": 0, "c": "", "step": 0}).pieces == []


def test_a_missed_step_start_makes_it_sync_again_and_the_reply_replaces_everything():
    f = TurnFollower()
    f.on_frame(frame(0, 0, "first step"))
    missed = f.on_frame(frame(1, 0, "second"))
    assert missed.pieces == [] and missed.ask == (0, 0)
    assert not f.synced
    reply = f.on_resumed({"r_off": 0, "r": "second step", "c_off": 0, "c": "", "step": 1})
    # The answer block is emptied too: the page may hold the first step's text.
    assert reply.pieces == [Piece("r", "second step", replace=True), Piece("c", "", replace=True)]
    assert reply.reload_steps and reply.calls == []
    assert f.on_frame(frame(1, 11, "!")).pieces == [Piece("r", "!")]


def test_a_joining_watcher_shows_the_steps_and_calls_the_resume_reply_brings():
    f = TurnFollower.joining()
    assert f.on_tool(tool("start", 2)).calls is None  # not synced: the reply says all
    f.start()
    calls = [{"id": "call_0", "name": "now", "arguments": "{}", "status": "running", "result": None}]
    out = f.on_resumed({"r_off": 0, "r": "thinking", "c_off": 0, "c": "", "step": 2, "calls": calls})
    assert out.reload_steps and out.calls == calls
    assert f.on_tool(tool("result", 2, result="12:00")).calls[0]["result"] == "12:00"


def test_a_turn_with_no_tools_behaves_as_before():
    f = TurnFollower.joining()
    f.start()
    out = f.on_resumed({"r_off": 0, "r": "abc", "c_off": 0, "c": ""})
    assert out.pieces == [Piece("r", "abc", replace=True)]
    assert not out.reload_steps and out.calls is None


def test_a_reader_that_dropped_a_cards_change_gets_the_calls_with_the_resume_reply():
    f = TurnFollower()
    f.on_tool(tool("start", 0))
    f.on_dropped()  # the socket could not take the result's swap
    ask = f.retry()
    assert ask == (0, 0)
    calls = [{"id": "call_0", "name": "now", "status": "done", "result": "12:00"}]
    out = f.on_resumed({"r_off": 0, "r": "", "c_off": 0, "c": "", "calls": calls})
    assert out.calls == calls
