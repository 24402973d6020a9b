"""One turn-error type (playground.turns.errors) instead of the dict built by hand."""

from __future__ import annotations

import re
from pathlib import Path

from playground.turns.errors import TurnError
from playground.turns.liveness import INTERRUPTED

ROOT = Path(__file__).resolve().parent.parent.parent


def test_a_turn_error_is_stored_with_the_three_keys_every_reader_uses():
    assert TurnError("too_long", "cut").as_dict() == {"kind": "too_long", "message": "cut", "status_code": None}
    assert INTERRUPTED == {
        "kind": "interrupted", "message": "The server stopped while this turn was streaming.", "status_code": None,
    }


def test_a_refusal_without_text_is_named_by_its_type():
    assert TurnError.bad_request(ValueError()).as_dict()["message"] == "ValueError"
    assert TurnError.bad_request(ValueError("no key")).as_dict()["message"] == "no key"


def test_no_turn_error_dict_is_built_by_hand_in_the_app():
    # The shape lives in one place: a new site builds a TurnError.
    hand_built = re.compile(r"""["']kind["']\s*:\s*["'](bad_request|internal|interrupted|step_limit|too_long)["']""")
    found = [
        f"{path.relative_to(ROOT)}: {m.group(0)}"
        for path in (ROOT / "playground").rglob("*.py")
        for m in hand_built.finditer(path.read_text())
    ]
    assert found == []
