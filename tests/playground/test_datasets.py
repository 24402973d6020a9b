from __future__ import annotations

import json

import pytest
from django.core.management import call_command

from playground.conversations.datasets import records
from playground.models import Conversation, Turn

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(owner, scripted_model):
    conv = Conversation.objects.create(owner=owner, title="Maths")
    q1 = Turn.objects.create(conversation=conv, role="user", content="2+2?")
    a1 = Turn.objects.create(conversation=conv, parent=q1, role="assistant", content="4", reasoning="2 and 2 is 4",
                             model_label="Scripted", reasoning_tokens=5, completion_tokens=6)
    q2 = Turn.objects.create(conversation=conv, parent=a1, role="user", content="times 3?")
    Turn.objects.create(conversation=conv, parent=q2, role="assistant", content="12", reasoning="4*3 = 12",
                        model_label="Scripted", params={"system": "Be brief."})
    Turn.objects.create(conversation=conv, parent=q2, role="assistant", content="1", reasoning="oops",
                        status=Turn.Status.STOPPED)
    return conv


def test_it_writes_one_record_per_complete_answer_with_only_the_last_reasoning(conversation):
    out = list(records([conversation], "messages"))
    assert len(out) == 2  # the stopped sibling is left out
    second = out[1]["messages"]
    assert second[0] == {"role": "system", "content": "Be brief."}
    assert second[2] == {"role": "assistant", "content": "4"}  # earlier reasoning is not in the context
    assert second[-1] == {"role": "assistant", "content": "12", "reasoning_content": "4*3 = 12"}


def test_think_format_inlines_the_reasoning_in_tags(conversation):
    last = list(records([conversation], "think"))[1]["messages"][-1]
    assert last["content"] == "<think>\n4*3 = 12\n</think>\n\n12"


def test_sharegpt_format(conversation):
    first = next(iter(records([conversation], "sharegpt")))
    assert first["conversations"] == [{"from": "human", "value": "2+2?"}, {"from": "gpt", "value": "4"}]
    assert first["reasoning"] == "2 and 2 is 4"


def test_the_command_writes_jsonl_for_one_user(conversation, stranger, tmp_path):
    Conversation.objects.create(owner=stranger)
    path = tmp_path / "out.jsonl"
    call_command("dataset", "--user", "olivia", "--format", "think", "-o", str(path))
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 2 and all(line["metadata"]["conversation"] == conversation.pk for line in lines)
