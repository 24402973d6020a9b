"""The chat page's side of tool loops: steps rendered in order with escaped tool
results, the Tools picker, function tools a person answers (defined, saved as sets,
answered with a checked result, after which the loop goes on)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from playground.conversations.fragments import render_turn
from playground.models import Conversation, McpServer, ToolSet, Turn
from playground.streaming.launch import Question, launch

PAYLOAD = "<script>alert(1)</script>"


def tool_turn(owner, model, **fields) -> Turn:
    conversation = Conversation.objects.create(owner=owner, model=model)
    user = Turn.objects.create(conversation=conversation, role="user", content="Echo it")
    steps = [
        {"reasoning": "I will **echo** it.", "content": "", "tool_calls": [
            {"id": "c1", "name": "echo", "arguments": '{"text":"' + PAYLOAD.replace('"', '\\"') + '"}',
             "server": "clock", "status": "done", "result": PAYLOAD, "is_error": False, "duration_ms": 12},
            {"id": "c2", "name": "divide", "arguments": '{"a": 1, "b": 0}', "server": "clock", "status": "done",
             "result": "division by zero", "is_error": True, "duration_ms": 3}]},
        {"reasoning": "It came back.", "content": "Done.", "tool_calls": []},
    ]
    defaults = {"conversation": conversation, "parent": user, "role": "assistant", "model": model,
                "model_label": model.label, "reasoning": "It came back.", "content": "Done.", "steps": steps,
                "status": "complete"}
    return Turn.objects.create(**{**defaults, **fields})


def test_a_finished_tool_turn_renders_its_steps_in_order_with_results_escaped(owner, simulator_model):
    html = render_turn(tool_turn(owner, simulator_model))
    order = re.findall(r'class="(thought step-thought|tool-call \w+|thought|content markdown)"', html)
    assert order == ["thought step-thought", "tool-call done", "tool-call error", "thought", "content markdown"]
    assert PAYLOAD not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<strong>echo</strong>" in html  # the step's reasoning is markdown, like any thought
    assert '{\n  &quot;text&quot;: &quot;&lt;script&gt;' in html  # arguments pretty-printed, escaped
    assert "on clock" in html and "failed" in html and "division by zero" in html


def test_a_stopped_turns_unanswered_call_says_so(owner, simulator_model):
    turn = tool_turn(owner, simulator_model, status="stopped", reasoning="I will **echo** it.", content="")
    turn.steps = [{**turn.steps[0], "tool_calls": [{**turn.steps[0]["tool_calls"][0], "result": None,
                                                    "status": "running"}]}]
    html = render_turn(turn)
    assert 'data-state="unanswered"' in html and "no result" in html
    assert 'class="thought step-thought"' not in html  # the one step is the turn's own


def test_a_streaming_turn_tells_its_current_step_from_the_finished_ones(owner, simulator_model):
    turn = tool_turn(owner, simulator_model, status="streaming", reasoning="Second thoughts", content="")
    turn.steps = turn.steps[:1]  # step 1 finished; step 2 streams into the turn's blocks
    html = render_turn(turn)
    assert html.count("step-thought") == 1 and f'id="t{turn.pk}-r"' in html
    # While the first step's calls run, that step is the current one, shown once.
    turn.reasoning, turn.content = turn.steps[0]["reasoning"], ""
    turn.steps[0]["tool_calls"][0].update(result=None, status="running")
    html = render_turn(turn)
    assert "step-thought" not in html and 'data-state="running"' in html and "calling…" in html


@pytest.fixture
def logged_in(client, owner):
    client.force_login(owner)
    return client


def test_the_tools_picker_stores_servers_and_single_tools(logged_in, owner, simulator_model):
    McpServer.objects.create(name="clock", command="python3")
    conversation = Conversation.objects.create(owner=owner, model=simulator_model)
    url = f"/c/{conversation.pk}/tools"
    response = logged_in.post(url, {"tools": ["clock"], "tools_single": "clock:now, clock:add"})
    assert response.status_code == 200 and 'class="count">3<' in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.tools == ["clock", "clock:now", "clock:add"]
    refused = logged_in.post(url, {"tools": ["nowhere"]})
    assert refused.status_code == 400 and "nowhere" in refused.content.decode()
    page = logged_in.get(f"/c/{conversation.pk}/").content.decode()
    assert 'name="tools" value="clock" checked' in page


def test_the_picker_is_the_owners_alone(client, stranger, owner, simulator_model):
    conversation = Conversation.objects.create(owner=owner, model=simulator_model)
    client.force_login(stranger)
    assert client.post(f"/c/{conversation.pk}/tools", {"tools": []}).status_code == 404
    assert client.post(f"/c/{conversation.pk}/functions/add", {"fn_name": "x"}).status_code == 404


def test_functions_are_defined_checked_saved_as_a_set_and_loaded(logged_in, owner, simulator_model):
    conversation = Conversation.objects.create(owner=owner, model=simulator_model)
    base = f"/c/{conversation.pk}/functions"
    bad = logged_in.post(f"{base}/add", {"fn_name": "get colour", "fn_parameters": "{}"})
    assert "letters, digits" in bad.content.decode()
    bad = logged_in.post(f"{base}/add", {"fn_name": "get_colour", "fn_parameters": '{"type": "nope"}'})
    assert "not a valid JSON Schema" in bad.content.decode()
    schema = {"type": "object", "properties": {"thing": {"type": "string"}}, "required": ["thing"]}
    ok = logged_in.post(f"{base}/add", {"fn_name": "get_colour", "fn_description": "The colour of a thing",
                                        "fn_parameters": json.dumps(schema), "fn_returns": '{"type": "string"}'})
    assert "<code>get_colour</code>" in ok.content.decode()
    conversation.refresh_from_db()
    assert conversation.functions == [{"name": "get_colour", "description": "The colour of a thing",
                                       "parameters": schema, "returns": {"type": "string"}}]
    logged_in.post(f"{base}/save", {"set_name": "Colours"})
    assert ToolSet.objects.get(owner=owner, name="Colours").functions == conversation.functions
    logged_in.post(f"{base}/remove", {"name": "get_colour"})
    conversation.refresh_from_db()
    assert conversation.functions == []
    other = Conversation.objects.create(owner=owner, model=simulator_model)
    logged_in.post(f"/c/{other.pk}/functions/load", {"tool_set": ToolSet.objects.get(name="Colours").pk})
    other.refresh_from_db()
    assert [f["name"] for f in other.functions] == ["get_colour"]
    colours = ToolSet.objects.get(name="Colours")
    assert "Delete set" in logged_in.get(f"/c/{other.pk}/").content.decode()
    logged_in.post(f"/c/{other.pk}/functions/delete-set", {"tool_set": colours.pk})
    assert not ToolSet.objects.filter(pk=colours.pk).exists()
    other.refresh_from_db()
    assert [f["name"] for f in other.functions] == ["get_colour"]  # what it loaded stays


@database_sync_to_async
def with_function(owner, model):
    schema = {"type": "object", "properties": {"thing": {"type": "string"}}, "required": ["thing"]}
    return Conversation.objects.create(owner=owner, model=model, functions=[
        {"name": "get_colour", "description": "The colour of a thing", "parameters": schema,
         "returns": {"type": "string"}}])


async def wait_status(turn_id: int, *statuses: str) -> Turn:
    async with asyncio.timeout(30):
        while True:
            turn = await Turn.objects.select_related("conversation", "model").aget(pk=turn_id)
            if turn.status in statuses:
                return turn
            await asyncio.sleep(0.05)


@pytest.mark.django_db(transaction=True)
async def test_a_function_call_waits_for_a_checked_answer_then_the_loop_goes_on(owner, simulator_model):
    conversation = await with_function(owner, simulator_model)
    launched = await launch(Question(owner=owner, model=simulator_model, text="What is the get_colour of the sky?",
                                     conversation=conversation))
    turn = await wait_status(launched.turn_id, "awaiting_tool", "complete", "error")
    assert turn.status == "awaiting_tool", turn.error
    call = turn.steps[-1]["tool_calls"][0]
    assert call["name"] == "get_colour" and call["server"] == "you" and call["status"] == "awaiting"
    html = await database_sync_to_async(render_turn)(turn)
    assert "waiting for your answer" in html and 'name="result"' in html
    assert "The arguments match the parameters schema." in html

    client = AsyncClient()
    await database_sync_to_async(client.force_login)(owner)
    url = f"/turns/{turn.pk}/answer"
    refused = await client.post(url, {"call_id": call["id"], "result": "blue"})  # not JSON: the schema wants a string
    assert refused.status_code == 400 and "result schema" in refused.content.decode()
    answered = await client.post(url, {"call_id": call["id"], "result": '"blue"'})
    assert answered.status_code == 204
    done = await wait_status(turn.pk, "complete", "error")
    assert done.status == "complete", done.error
    assert '"blue"' in done.content or "blue" in done.content
    assert [c["result"] for c in done.steps[0]["tool_calls"]] == ['"blue"']


def test_the_inspector_shows_every_call_of_the_loop_with_what_reasoning_went_back(logged_in, owner, simulator_model):
    turn = tool_turn(owner, simulator_model, source="openai:deepseek-reasoner")
    first = {"messages": [{"role": "user", "content": "Echo it"}]}
    second = {"messages": [*first["messages"],
                           {"role": "assistant", "content": "", "reasoning_content": "I will echo it.",
                            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "echo",
                                                                                         "arguments": "{}"}}]},
                           {"role": "tool", "tool_call_id": "c1", "content": PAYLOAD}]}
    usage = {"prompt_tokens": 10, "completion_tokens": 5, "reasoning_tokens": 2}
    turn.sent = {
        "method": "POST", "url": "https://api.deepseek.com/v1/chat/completions", "headers": {}, "body": first,
        "context_notes": [{"kind": "dropped_failed_turn", "detail": "message 1 (user) got no answer"}],
        "calls": [{"step": "step 1", "method": "POST", "url": "u", "headers": {}, "body": first, "usage": usage},
                  {"step": "step 2", "method": "POST", "url": "u", "headers": {}, "body": second, "usage": usage,
                   "context_notes": [{"kind": "kept_reasoning", "detail": "message 2 in reasoning_content"}]}],
    }
    turn.save()
    html = logged_in.get(f"/turns/{turn.pk}/request").content.decode()
    assert "Call 1: step 1" in html and "Call 2: step 2" in html
    assert "No reasoning went back in this call." in html
    assert "Message 2 (a step that called 1 tool): reasoning went back in <code>reasoning_content</code>" in html
    assert "A prompt that got no answer (its turn failed) was left out" in html  # the first call's notes, in words
    assert "An earlier step&#x27;s reasoning went back, in the family&#x27;s carrier" in html
    assert "Chain-of-thought calls" not in html and PAYLOAD not in html

    raw = logged_in.get(f"/turns/{turn.pk}/raw").content.decode()
    assert "Step 1" in raw and "Step 2: the answer" in raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in raw and PAYLOAD not in raw


def test_compare_columns_each_get_their_own_tools(logged_in, owner, simulator_model):
    from playground.compare.services import create_comparison
    from playground.turns.services import BadInput

    McpServer.objects.create(name="clock", command="python3")
    assert 'name="col1-tools"' in logged_in.get("/compare/new/").content.decode()
    data = {"col0-model": str(simulator_model.pk), "col1-model": str(simulator_model.pk),
            "col0-tools": "clock", "col1-tools": "clock:now", "prompt": "What time is it?"}
    comparison, _ = create_comparison(owner, data)
    tools = [c.conversation.tools for c in comparison.columns.select_related("conversation")]
    assert tools == [["clock"], ["clock:now"]]
    with pytest.raises(BadInput, match="Column 2: No enabled MCP server is called nowhere"):
        create_comparison(owner, {**data, "col1-tools": "nowhere"})


def test_a_shared_link_shows_the_steps_without_their_reasoning_unless_shared(client, owner, simulator_model):
    turn = tool_turn(owner, simulator_model)
    conversation = turn.conversation
    conversation.leaf, conversation.share_token = turn, "tok-tools"
    conversation.save()
    html = client.get("/s/tok-tools/").content.decode()
    assert "<code>echo</code>" in html and "&lt;script&gt;" in html
    assert "step-thought" not in html and "I will" not in html  # reasoning left out of the link
    assert 'name="result"' not in html
    conversation.share_reasoning = True
    conversation.save()
    assert "step-thought" in client.get("/s/tok-tools/").content.decode()
