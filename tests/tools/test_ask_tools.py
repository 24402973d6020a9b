"""`manage.py ask --tools … [--max-steps N]` runs the tool loop from the terminal;
`--json` gives the turn's steps."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from playground.models import Conversation, Turn
from reasoning.events import ContentDelta, Finish, ReasoningDelta, ToolCallDone, ToolCallStart

pytestmark = pytest.mark.django_db(transaction=True)


def ask(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("ask", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_json_has_the_steps_of_a_loop_with_a_real_server(simulator_model, clock_server, owner):
    out, _ = ask("--json", "--model", simulator_model.label, "--user", "olivia", "--tools", "clock",
                 "What time is it now?")
    result = json.loads(out)
    assert result["status"] == "complete"
    first, last = result["steps"]
    assert set(first) == {"reasoning", "content", "tool_calls"}
    (call,) = first["tool_calls"]
    assert set(call) == {"id", "name", "arguments", "result", "is_error"}
    assert call["name"] == "now" and call["result"].endswith("+00:00") and call["is_error"] is False
    assert last["tool_calls"] == [] and last["content"] == result["content"]
    assert call["result"] in result["content"]
    # The conversation keeps its tools for the next turn.
    assert Conversation.objects.get(pk=result["conversation"]).tools == ["clock"]


def test_json_of_a_turn_without_tools_has_one_step(simulator_model, owner):
    out, _ = ask("--json", "--model", simulator_model.label, "--user", "olivia", "What is 2+2?")
    result = json.loads(out)
    assert result["steps"] == [{"reasoning": result["reasoning"], "content": result["content"], "tool_calls": []}]


def test_the_terminal_shows_calls_and_results(simulator_model, clock_server, owner):
    out, err = ask("--model", simulator_model.label, "--user", "olivia", "--tools", "clock:add", "What is 2 + 3?")
    assert "\n→ add(" in out
    assert "← add [clock]" in out
    assert "2 steps, 1 tool call" in err


def test_max_steps_ends_a_loop_that_never_stops(scripted, scripted_model, clock_server, owner):
    for n in range(4):
        scripted.enqueue([ReasoningDelta("again "), ToolCallStart(0, f"c{n}", "now"),
                          ToolCallDone(0, f"c{n}", "now", "{}"), Finish("tool_calls")])
    scripted.enqueue([ContentDelta("never"), Finish("stop")])
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("ask", "--json", "--model", "Scripted", "--user", "olivia", "--tools", "clock",
                     "--max-steps", "2", "loop", stdout=out, stderr=io.StringIO())
    assert caught.value.returncode == 1
    result = json.loads(out.getvalue())
    assert result["error"]["kind"] == "step_limit" and "limit of 2 model calls" in result["error"]["message"]
    assert len(result["steps"]) == 2 and result["steps"][0]["tool_calls"][0]["result"].endswith("+00:00")
    assert result["steps"][1]["tool_calls"][0]["result"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tools", "nosuch"], "no enabled MCP server named nosuch"),
        (["--tools", "bad name!"], "is not a server name"),
        (["--max-steps", "0"], "max_steps must be between 1 and 50"),
    ],
)
def test_bad_tool_arguments_exit_2(simulator_model, owner, args, message):
    with pytest.raises(CommandError) as caught:
        ask("--model", simulator_model.label, "--user", "olivia", *args, "Hi")
    assert caught.value.returncode == 2 and message in str(caught.value)
    assert not Turn.objects.exists()
