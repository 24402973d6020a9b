"""docs/providers.md's controls table is what the code sends."""

from __future__ import annotations

from pathlib import Path

from reasoning.catalogue import GATEWAY_NAMES, controls_table, gateways_table

DOC = Path(__file__).resolve().parent.parent / "docs" / "providers.md"


def test_the_controls_table_in_the_docs_is_generated_from_the_code():
    text = DOC.read_text()
    start = text.index("<!-- controls-table:start -->\n") + len("<!-- controls-table:start -->\n")
    end = text.index("<!-- controls-table:end -->")
    assert text[start:end] == controls_table(), "run `python -m reasoning.catalogue` and paste the table"


def test_the_table_covers_every_kind_and_control():
    from reasoning.controls import THINKING_CONTROLS

    table = controls_table()
    for control in THINKING_CONTROLS:
        assert f"| {control} |" in table or f"**{control}** (default)" in table


def test_the_gateways_table_in_the_docs_is_generated_from_the_code():
    text = DOC.read_text()
    start = text.index("<!-- gateways-table:start -->\n") + len("<!-- gateways-table:start -->\n")
    end = text.index("<!-- gateways-table:end -->")
    assert text[start:end] == gateways_table(), "run `python -m reasoning.catalogue gateways` and paste the table"
    for name in GATEWAY_NAMES:
        assert f"\n| {name} |" in gateways_table()
