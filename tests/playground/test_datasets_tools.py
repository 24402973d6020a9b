"""Datasets with tool-using answers: the steps whole in OpenAI's messages format
(`tool_calls`, `role: tool` results, the chosen reasoning field), checked by the
official `openai` SDK's request types; `tools` from the request as sent; earlier tool
loops in the context without reasoning; DPO answers whole on both sides."""

from __future__ import annotations

import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam
from pydantic import ConfigDict, TypeAdapter

from playground.conversations.datasets import DatasetFilter, ExportOptions, Report, rows
from playground.models import Conversation, Rating, Turn

pytestmark = pytest.mark.django_db

MESSAGES = TypeAdapter(list[ChatCompletionMessageParam], config=ConfigDict(extra="forbid"))
TOOLS = TypeAdapter(list[ChatCompletionToolParam], config=ConfigDict(extra="forbid"))
TOOL = {"type": "function", "function": {"name": "now", "description": "the time", "parameters": {"type": "object"}}}


def loop_answer(conv, parent, answer="It is noon.", thought="Noon, then.", rating=None) -> Turn:
    steps = [
        {"reasoning": "I should ask the clock.", "content": "", "tool_calls": [
            {"id": "call_1", "name": "now", "arguments": '{"zone": "UTC"}', "server": "clock", "status": "done",
             "result": "12:00", "is_error": False, "duration_ms": 4}]},
        {"reasoning": thought, "content": answer, "tool_calls": []},
    ]
    turn = Turn.objects.create(
        conversation=conv, parent=parent, role="assistant", content=answer, reasoning=thought, steps=steps,
        model_label="Tool model", sent={"body": {"messages": [], "tools": [TOOL]}},
    )
    if rating:
        Rating.objects.create(turn=turn, value=rating)
    return turn


def export(owner, **options) -> list[dict]:
    report = Report()
    out = list(rows(DatasetFilter(owner=owner), ExportOptions(**options), report))
    return out


def sdk_checked(messages: list[dict]) -> list[dict]:
    # The vendor reasoning fields are no part of OpenAI's types: checked apart.
    MESSAGES.validate_python([{k: v for k, v in m.items() if k not in ("reasoning_content", "reasoning")}
                              for m in messages])
    return messages


def test_a_tool_loop_is_exported_whole_in_openai_format(owner):
    conv = Conversation.objects.create(owner=owner)
    q = Turn.objects.create(conversation=conv, role="user", content="What time is it?")
    loop_answer(conv, q)
    (row,) = export(owner, format="reasoning_field", reasoning_field="reasoning_content")
    messages = sdk_checked(row["messages"])
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant"]
    call = messages[1]
    assert call["content"] is None and call["reasoning_content"] == "I should ask the clock."
    assert call["tool_calls"] == [{"id": "call_1", "type": "function",
                                   "function": {"name": "now", "arguments": '{"zone": "UTC"}'}}]
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "12:00"}
    assert messages[3] == {"role": "assistant", "content": "It is noon.", "reasoning_content": "Noon, then."}
    TOOLS.validate_python(row["tools"])

    (final,) = export(owner, format="final")
    assert all("reasoning_content" not in m for m in sdk_checked(final["messages"]))
    (inline,) = export(owner, format="think_inline")
    assert inline["messages"][1]["content"].startswith("<think>\nI should ask the clock.\n</think>")


def test_an_earlier_tool_loop_is_context_without_reasoning(owner):
    conv = Conversation.objects.create(owner=owner)
    q1 = Turn.objects.create(conversation=conv, role="user", content="What time is it?")
    a1 = loop_answer(conv, q1)
    q2 = Turn.objects.create(conversation=conv, parent=a1, role="user", content="Thanks!")
    Turn.objects.create(conversation=conv, parent=q2, role="assistant", content="You're welcome.",
                        reasoning="Polite.", model_label="Tool model")
    rows_ = export(owner, format="reasoning_field")
    second = next(r for r in rows_ if r["messages"][-1]["content"] == "You're welcome.")
    messages = sdk_checked(second["messages"])
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "assistant", "user", "assistant"]
    assert all("reasoning_content" not in m for m in messages[:-1])
    assert "tools" not in second  # the answer itself called nothing


def test_dpo_keeps_both_answers_whole(owner):
    conv = Conversation.objects.create(owner=owner)
    q = Turn.objects.create(conversation=conv, role="user", content="What time is it?")
    loop_answer(conv, q, rating=1)
    loop_answer(conv, q, answer="Midnight.", thought="Hmm.", rating=-1)
    (row,) = export(owner, format="dpo", dpo_reasoning="reasoning_field")
    for side in ("chosen", "rejected"):
        assert [m["role"] for m in sdk_checked(row[side])] == ["assistant", "tool", "assistant"]
    assert row["chosen"][-1]["content"] == "It is noon." and row["rejected"][-1]["content"] == "Midnight."


def test_a_loop_whose_reasoning_is_only_in_its_steps_counts_as_reasoned(owner):
    conv = Conversation.objects.create(owner=owner)
    q = Turn.objects.create(conversation=conv, role="user", content="What time is it?")
    loop_answer(conv, q, thought="")
    assert len(export(owner, format="reasoning_field")) == 1


def test_a_conversation_export_keeps_the_steps_and_imports_them_back(owner):
    import json

    from playground.conversations import exports
    from playground.turns.services import BadInput

    conv = Conversation.objects.create(owner=owner, title="Clock")
    q = Turn.objects.create(conversation=conv, role="user", content="What time is it?")
    a = loop_answer(conv, q)
    conv.leaf = a
    conv.save()
    doc = exports.to_json(conv)
    assert doc["turns"][1]["steps"][0]["tool_calls"][0]["result"] == "12:00"
    assert "replay" not in doc["turns"][1]["steps"][0]
    copy = exports.import_conversation(owner, json.dumps(doc).encode())
    imported = copy.turns.get(role="assistant")
    assert [c["result"] for c in imported.steps[0]["tool_calls"]] == ["12:00"]
    assert imported.steps[1]["content"] == "It is noon."
    markdown = exports.to_markdown(conv)
    assert "**Step 1**" in markdown and "Tool call `now`:" in markdown and "12:00" in markdown

    doc["turns"][1]["steps"][0]["tool_calls"][0]["evil"] = 1
    with pytest.raises(BadInput, match="unknown keys: evil"):
        exports.parse(json.dumps(doc).encode())
