"""The thought diff: steps aligned, what one thought that the other did not, word diffs within steps."""

from __future__ import annotations

import pytest

from playground.compare.thought_diff import shared_steps, steps, thought_diff

LOW = """The user asks: what is 17*23?

This is arithmetic: 17*23. Step 1: 17*20 = 340. Step 2: 17*3 = 51.

So I will answer plainly."""

HIGH = """The user asks: what is 17*23?

Consider a simpler case first, then come back to the product.

This is arithmetic: 17*23. Step 1: 17*20 = 340. Step 2: 17*3 = 51. Step 3: 340 + 51 = 391.

Double-check: going through it again gives 391 again, so that holds.

So I will answer plainly."""


def test_steps_are_paragraphs_or_lines():
    assert steps(LOW)[1].startswith("This is arithmetic")
    assert steps("a\nb\nc") == ["a", "b", "c"]
    assert steps("  ") == []


def test_steps_align_and_extra_thoughts_face_an_empty_cell():
    rows = thought_diff(LOW, HIGH)
    assert shared_steps(rows) == (3, 0, 2)
    assert [r.left is not None for r in rows] == [True, False, True, False, True]
    assert rows[1].right.startswith("Consider a simpler case") and rows[3].right.startswith("Double-check")
    # Within the aligned arithmetic step only the extra sentence is new.
    added = "".join(p.text for p in rows[2].right_pieces if p.kind == "added")
    assert added.strip() == "Step 3: 340 + 51 = 391."
    assert "".join(p.text for p in rows[2].left_pieces) == rows[2].left  # the left step, whole
    assert "".join(p.text for p in rows[2].right_pieces) == rows[2].right


def test_unrelated_thoughts_are_not_paired():
    rows = thought_diff("Paris is the capital of France.", "Let me multiply seventeen by twenty-three.")
    assert shared_steps(rows) == (0, 1, 1)


@pytest.mark.django_db
def test_the_compare_diff_of_reasoning_aligns_the_steps(client, owner, simulator_model):
    from playground.models import Comparison, ComparisonColumn, Conversation, Turn

    comparison = Comparison.objects.create(owner=owner, title="17*23")
    for position, reasoning in enumerate((LOW, HIGH)):
        conversation = Conversation.objects.create(owner=owner, model=simulator_model)
        prompt = Turn.objects.create(conversation=conversation, role="user", content="What is 17*23?")
        answer = Turn.objects.create(conversation=conversation, parent=prompt, role="assistant", content="391",
                                     reasoning=reasoning, model=simulator_model)
        conversation.leaf = answer
        conversation.save()
        ComparisonColumn.objects.create(comparison=comparison, conversation=conversation, position=position,
                                        model=simulator_model, entrant="sim")
    client.force_login(owner)
    page = client.get(f"/compare/{comparison.pk}/diff?part=reasoning&a=A&b=B").content.decode()
    assert 'class="thought-diff"' in page
    assert "3 steps in both · 0 only in A" in page and "2 only in B" in page
    assert page.count('class="step left empty"') == 2
    answers = client.get(f"/compare/{comparison.pk}/diff?part=content").content.decode()
    assert 'class="thought-diff"' not in answers and 'class="diff-text"' in answers
