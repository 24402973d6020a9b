"""A word-level diff of two columns' answers to one round.

Words, runs of whitespace and punctuation marks are the tokens, so a changed
number or a moved comma shows as one small change rather than a rewritten line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


@dataclass(frozen=True)
class Piece:
    kind: str  # "same", "removed" (only in the first text), "added" (only in the second)
    text: str


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text)


def word_diff(first: str, second: str) -> list[Piece]:
    """The two texts as one sequence of kept, removed and added pieces.

    Joining the "same" and "removed" pieces gives `first` back; "same" and "added", `second`."""
    a, b = tokens(first), tokens(second)
    pieces: list[Piece] = []
    # autojunk off: long answers repeat "the" and spaces, which must still match.
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(Piece("same", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(Piece("removed", "".join(a[i1:i2])))
        if j2 > j1:
            pieces.append(Piece("added", "".join(b[j1:j2])))
    return pieces


def similarity(pieces: list[Piece]) -> float:
    """Share of the words (not spaces) the two texts have in common, 0–1."""
    def words(kind: str) -> int:
        return sum(len([t for t in tokens(p.text) if not t.isspace()]) for p in pieces if p.kind == kind)

    same, removed, added = words("same"), words("removed"), words("added")
    total = 2 * same + removed + added
    return 2 * same / total if total else 1.0
