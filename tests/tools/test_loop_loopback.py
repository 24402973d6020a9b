"""A tool loop against a loopback fake of an OpenAI-compatible provider (real
HTTP, the real adapter parsing its tool-call stream) and a real MCP server: what
goes back on the wire in the second request."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async

from playground.models import Conversation, ModelProfile, Provider
from playground.streaming.launch import Question, launch
from reasoning.testing.upstream import FakeToolCall, FakeUpstream, Script, openai_chat_sse

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def deepseek_like(url, owner):
    provider = Provider.objects.create(name="loopback", kind="openai", base_url=url + "/v1")
    model = ModelProfile.objects.create(
        provider=provider, model_id="fake-reasoner", label="Loopback", reasoning="native",
        options={"replay": "interleaved", "echo_reasoning_content": True},
    )
    conversation = Conversation.objects.create(owner=owner, model=model, tools=["clock:add"])
    return model, conversation


async def test_two_steps_over_http_with_a_real_mcp_server(owner, clock_server):
    async with FakeUpstream() as up:
        call = FakeToolCall("add", '{"a": 2, "b": 3}', id="call_7")
        up.enqueue(
            Script(chunks=openai_chat_sse("I should add them.", "", tool_calls=[call])),
            Script(chunks=openai_chat_sse("The tool said 5.", "2 + 3 = 5.")),
        )
        model, conversation = await deepseek_like(up.url, owner)
        launched = await launch(Question(owner=owner, model=model, text="What is 2 + 3?", conversation=conversation))
        async with asyncio.timeout(60):
            turn = await launched.outcome()
        first, second = up.requests[0].json, up.requests[1].json

    assert turn.status == "complete", turn.error
    assert turn.content == "2 + 3 = 5."
    assert [t["function"]["name"] for t in first["tools"]] == ["add"]
    assert turn.steps[0]["tool_calls"][0]["result"] == "5.0"
    assistant, tool = second["messages"][-2:]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"] == [
        {"id": "call_7", "type": "function", "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'}}
    ]
    # Inside the tool chain the reasoning goes back in its carrier (DeepSeek's rule).
    assert assistant["reasoning_content"] == "I should add them."
    assert tool == {"role": "tool", "tool_call_id": "call_7", "content": "5.0"}
