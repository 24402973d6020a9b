"""One stored replay shape: what the run folds is what the context builder reads."""

from __future__ import annotations

import pytest

from reasoning import replay

BLOCKS = [{"type": "thinking", "thinking": "t", "signature": "s"}, {"type": "text", "text": "a"}]
DETAILS = [{"type": "reasoning.text", "text": "x"}]
ITEMS = [{"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "e"}]


def test_a_payload_folds_into_itself() -> None:
    payload = {"format": "anthropic", "content": BLOCKS}
    assert replay.fold(None, payload) == payload
    assert replay.items(replay.fold(None, payload), "anthropic") == BLOCKS


def test_payloads_of_one_format_extend_and_another_format_replaces() -> None:
    first = replay.fold(None, {"format": "gemini", "parts": [{"text": "a"}]})
    both = replay.fold(first, {"format": "gemini", "parts": [{"text": "b", "thoughtSignature": "c2ln"}]})
    assert replay.items(both, "gemini") == [{"text": "a"}, {"text": "b", "thoughtSignature": "c2ln"}]
    other = replay.fold(both, {"format": "anthropic", "content": BLOCKS})
    assert replay.read(other, "gemini") is None


@pytest.mark.parametrize(
    ("stored", "format_", "expected"),
    [
        # What the run stored before: a list of the turn's payloads.
        ([{"format": "anthropic", "content": BLOCKS}], "anthropic", BLOCKS),
        ([{"items": ITEMS}], "responses", ITEMS),
        ({"items": ITEMS}, "responses", ITEMS),
        (ITEMS, "responses", ITEMS),
        ([{"reasoning_details": DETAILS}], "openai", DETAILS),
    ],
)
def test_it_reads_the_shapes_older_rows_hold(stored, format_, expected) -> None:
    assert replay.items(stored, format_) == expected


@pytest.mark.parametrize("junk", [None, "text", 3, {"format": "anthropic", "content": "not a list"}, [1, 2]])
def test_it_reads_nothing_from_junk(junk) -> None:
    assert all(replay.items(junk, f) == [] for f in replay.FORMATS)
