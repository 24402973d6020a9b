"""The word diff of two answers: exact, word-sized, and reversible."""

from __future__ import annotations

from playground.compare.diff import Piece, similarity, word_diff


def texts(pieces, keep):
    return "".join(p.text for p in pieces if p.kind in ("same", keep))


def test_it_marks_only_the_changed_word():
    pieces = word_diff("17 × 23 = 391, so the answer is 391.", "17 × 23 = 391, so the answer is 392.")
    changed = [p for p in pieces if p.kind != "same"]
    assert changed == [Piece("removed", "391"), Piece("added", "392")]


def test_both_texts_can_be_rebuilt_from_the_pieces():
    first = "Rayleigh scattering:\nshort wavelengths scatter more.\n\n- blue\n- violet"
    second = "Because of Rayleigh scattering, short wavelengths scatter more strongly.\n- blue"
    pieces = word_diff(first, second)
    assert texts(pieces, "removed") == first
    assert texts(pieces, "added") == second


def test_similarity_counts_words_in_common():
    assert similarity(word_diff("a b c d", "a b c d")) == 1.0
    assert similarity(word_diff("a b", "c d")) == 0.0
    assert similarity(word_diff("a b c d", "a b x y")) == 0.5
    assert similarity(word_diff("", "")) == 1.0
