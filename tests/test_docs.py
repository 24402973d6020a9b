"""The README and the example provider file stay in step with the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from playground.management.commands.providers import MODEL_KEYS, PROVIDER_KEYS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
EXAMPLE = (ROOT / "examples" / "providers.toml").read_text()


def section(text: str, heading: str) -> str:
    """The body of the `## heading` section (up to the next `## `)."""
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def table_keys(text: str, after: str) -> list[str]:
    """The first column of the markdown table that follows the line containing `after`."""
    rows = text[text.index(after) :].split("\n\n", 2)[1]
    return re.findall(r"^\| `([a-z_]+)` \|", rows, flags=re.M)


def settings_variables() -> set[str]:
    source = (ROOT / "playground" / "settings.py").read_text()
    return set(re.findall(r"\benv(?:bool|int|float)?\(\s*\"([A-Z][A-Z0-9_]*)\"", source))


def library_variables() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "reasoning").rglob("*.py"):
        found |= set(re.findall(r"os\.environ\.get\(\s*\"([A-Z][A-Z0-9_]*)\"", path.read_text()))
    return found


def server_variables() -> set[str]:
    # playground/server.py reads its switches before Django is set up, with `_on("NAME")`.
    return set(re.findall(r"\b_on\(\s*\"([A-Z][A-Z0-9_]*)\"", (ROOT / "playground" / "server.py").read_text()))


def test_it_finds_the_server_switches():
    assert {"SERVER_UVLOOP", "SERVER_WS_DEFLATE", "SERVER_GC_TUNED"} <= server_variables()


def test_it_finds_the_settings_variables():
    # Guards the regex: an empty set would make the next test pass vacuously.
    assert {"DATA_DIR", "DATABASE_URL", "REDIS_URL", "FIELD_ENCRYPTION_KEY", "FRAME_INTERVAL"} <= settings_variables()


@pytest.mark.parametrize("name", sorted(settings_variables() | library_variables() | server_variables()))
def test_it_documents_every_environment_variable(name):
    configuration = section(README, "Configuration")
    assert f"| `{name}` |" in configuration, f"add {name} to the README's configuration table"


def test_it_documents_no_variable_the_code_does_not_read():
    documented = re.findall(r"^\| `([A-Z][A-Z0-9_]*)` \|", section(README, "Configuration"), flags=re.M)
    known = settings_variables() | library_variables() | server_variables() | {"PORT"}  # PORT: the Makefile's
    assert sorted(set(documented) - known) == []


def test_it_documents_exactly_the_provider_keys_the_importer_accepts():
    guide = section(README, "Adding a real provider")
    assert table_keys(guide, "Provider keys") == list(PROVIDER_KEYS)
    assert table_keys(guide, "Model keys") == list(MODEL_KEYS)


def test_it_explains_every_key_in_the_example_file():
    header = EXAMPLE.split("\n[[providers]]", 1)[0]
    provider_part = header.split("# Provider keys", 1)[1].split("# Model keys", 1)[0]
    model_part = header.split("# Model keys", 1)[1]
    assert re.findall(r"^#   ([a-z_]+)\s", provider_part, flags=re.M) == list(PROVIDER_KEYS)
    assert re.findall(r"^#   ([a-z_]+)\s", model_part, flags=re.M) == list(MODEL_KEYS)


def test_the_example_file_uses_only_keys_the_importer_accepts():
    document = tomllib.loads(EXAMPLE)
    used_provider_keys = {k for p in document["providers"] for k in p}
    used_model_keys = {k for p in document["providers"] for m in p.get("models", []) for k in m}
    assert used_provider_keys <= set(PROVIDER_KEYS)
    assert used_model_keys <= set(MODEL_KEYS)
    # Every key is shown in use somewhere, not only described.
    assert used_provider_keys == set(PROVIDER_KEYS)
    assert used_model_keys >= set(MODEL_KEYS) - {"markup_open", "markup_close"}
