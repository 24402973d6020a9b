"""Two reasoning texts side by side: steps aligned, and a word diff within aligned steps.

A step is a paragraph (text between blank lines), or a line when the text has no blank
lines. Steps are aligned by a global alignment (Needleman–Wunsch) whose match score is
the share of words two steps have in common (`diff.similarity`): steps below
`MATCH_AT` are not paired, so "what one thought that the other did not" shows as a
step facing an empty cell. Within a pair, the word diff of `diff.word_diff`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from playground.compare.diff import Piece, similarity, word_diff

MATCH_AT = 0.35  # below this share of common words two steps are different thoughts
MAX_STEPS = 400  # the alignment is quadratic; longer thoughts are cut into fewer steps


@dataclass(frozen=True)
class Row:
    left: str | None
    right: str | None
    left_pieces: list[Piece]  # "same" and "removed": the left step with what only it has marked
    right_pieces: list[Piece]  # "same" and "added"
    similarity: float  # 0 when one side is empty


def steps(text: str) -> list[str]:
    text = text.strip()
    if not text:
        return []
    parts = re.split(r"\n\s*\n", text) if re.search(r"\n\s*\n", text) else text.splitlines()
    parts = [p.strip() for p in parts if p.strip()]
    while len(parts) > MAX_STEPS:  # join neighbours until the alignment stays cheap
        parts = ["\n".join(parts[i : i + 2]) for i in range(0, len(parts), 2)]
    return parts


def align(left: list[str], right: list[str]) -> list[tuple[int | None, int | None, float]]:
    """Index pairs of the best alignment (None = a gap), with each pair's similarity."""
    n, m = len(left), len(right)
    sim = [[similarity(word_diff(a, b)) for b in right] for a in left]
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            pair = score[i + 1][j + 1] + sim[i][j] if sim[i][j] >= MATCH_AT else -1.0
            score[i][j] = max(pair, score[i + 1][j], score[i][j + 1])
    out: list[tuple[int | None, int | None, float]] = []
    i = j = 0
    while i < n and j < m:
        if sim[i][j] >= MATCH_AT and score[i][j] == score[i + 1][j + 1] + sim[i][j]:
            out.append((i, j, sim[i][j]))
            i, j = i + 1, j + 1
        elif score[i][j] == score[i + 1][j]:
            out.append((i, None, 0.0))
            i += 1
        else:
            out.append((None, j, 0.0))
            j += 1
    out += [(k, None, 0.0) for k in range(i, n)]
    out += [(None, k, 0.0) for k in range(j, m)]
    return out


def thought_diff(first: str, second: str) -> list[Row]:
    a, b = steps(first), steps(second)
    rows = []
    for i, j, sim in align(a, b):
        left = a[i] if i is not None else None
        right = b[j] if j is not None else None
        if left is not None and right is not None:
            pieces = word_diff(left, right)
            rows.append(Row(left, right, [p for p in pieces if p.kind != "added"],
                            [p for p in pieces if p.kind != "removed"], sim))
        else:
            rows.append(Row(left, right, [Piece("removed", left)] if left else [],
                            [Piece("added", right)] if right else [], 0.0))
    return rows


def shared_steps(rows: list[Row]) -> tuple[int, int, int]:
    """(aligned pairs, steps only on the left, steps only on the right)."""
    pairs = sum(r.left is not None and r.right is not None for r in rows)
    return pairs, sum(r.right is None for r in rows), sum(r.left is None for r in rows)
