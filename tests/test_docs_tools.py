"""docs/tools.md's "Replay in tool loops" says what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from reasoning.catalogue import REPLAY_FAMILIES, replay_table
from reasoning.context import NOTE_KINDS

DOC = Path(__file__).resolve().parent.parent / "docs" / "tools.md"


def section() -> str:
    text = DOC.read_text()
    start = text.index("## Replay in tool loops")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_the_replay_table_in_the_docs_is_generated_from_the_code():
    text = section()
    start = text.index("<!-- replay-table:start -->\n") + len("<!-- replay-table:start -->\n")
    end = text.index("<!-- replay-table:end -->")
    assert text[start:end] == replay_table(), "regenerate the table (see the command above it)"


def test_every_family_has_its_row():
    table = replay_table()
    for _, _, rule in REPLAY_FAMILIES:
        assert f"| {rule.family} |" in table


def test_the_notes_table_lists_exactly_the_note_kinds():
    documented = re.findall(r"^\| `([a-z_]+)` \|", section().split("### Notes", 1)[1], flags=re.M)
    assert documented == list(NOTE_KINDS)
