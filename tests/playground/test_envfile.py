"""Configuration in one place: the `.env` file, its precedence, and `.env.example`
checked against the settings in both directions."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from playground import envfile
from tests.playground.test_deploy import documented_environment

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"
# prometheus_client's own variable: settings derives it from METRICS_DIR.
NOT_SETTINGS = {"PROMETHEUS_MULTIPROC_DIR"}
READERS = {"env", "envbool", "envint", "envfloat", "_on"}


def names_read_from_the_environment() -> dict[str, str]:
    """Every literal name playground/ reads with settings' env helpers, server's
    `_on` or os.environ.get, with the file that reads it; plus ENV_FILE."""
    found = {"ENV_FILE": "playground/envfile.py"}
    for path in sorted((ROOT / "playground").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
                continue
            name, func = node.args[0].value, node.func
            if not isinstance(name, str):
                continue
            reader = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            from_os = isinstance(func, ast.Attribute) and ast.unparse(func.value) == "os.environ" and reader == "get"
            if reader in READERS or from_os:
                found.setdefault(name, str(path.relative_to(ROOT)))
    return {k: v for k, v in found.items() if k not in NOT_SETTINGS}


def example_entries() -> dict[str, tuple[str, bool]]:
    """NAME -> (value, commented out) for each setting line of .env.example; each
    must follow a comment line that says what it means."""
    entries: dict[str, tuple[str, bool]] = {}
    lines = EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"^(# )?([A-Z][A-Z0-9_]*)=(.*)$", line)
        if not m:
            continue
        assert m.group(2) not in entries, f"{m.group(2)} twice in .env.example"
        meaning = lines[i - 1]
        assert meaning.startswith("# ") and not re.match(r"^# [A-Z][A-Z0-9_]*=", meaning), (
            f".env.example: {m.group(2)} has no line of meaning above it"
        )
        entries[m.group(2)] = (m.group(3), bool(m.group(1)))
    return entries


def test_every_setting_read_from_the_environment_is_in_env_example():
    missing = sorted(set(names_read_from_the_environment()) - set(example_entries()))
    assert missing == [], f"add to .env.example (with its default and meaning): {missing}"


def test_env_example_lists_only_settings_that_are_read():
    unknown = sorted(set(example_entries()) - set(names_read_from_the_environment()))
    assert unknown == [], f"not read by anything: {unknown}"


def settings_dump(tmp_path: Path, **extra: str) -> dict[str, str]:
    names = set(example_entries()) | {f"{n}_FILE" for n in example_entries()}
    env = {k: v for k, v in os.environ.items() if k not in names and k != "DJANGO_SETTINGS_MODULE"}
    env.update(DJANGO_SETTINGS_MODULE="playground.settings", DATA_DIR=str(tmp_path), **extra)
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps({k: repr(getattr(settings, k)) for k in dir(settings) "
        "if k.isupper() and k != 'ENV_FILE_NAMES'}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_defaults_in_env_example_are_the_true_defaults(tmp_path):
    # Copied unchanged to .env, the example gives exactly the settings of no .env at all.
    without = settings_dump(tmp_path)
    with_example = settings_dump(tmp_path, ENV_FILE=str(EXAMPLE))
    assert with_example == without


def test_a_dot_env_in_the_working_directory_is_read_and_the_real_environment_wins(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-a-file-0123456789\n")
    (tmp_path / ".env").write_text(
        "# comment\nexport MAX_PROMPT_CHARS=1234\nRUNS_PER_MINUTE=7  # seven\n"
        f"METRICS_TOKEN_FILE={secret}\nLOG_LEVEL='WARNING'\nALLOWED_HOSTS=\"a.example,b.example\"\n"
    )
    dump = settings_dump(tmp_path, RUNS_PER_MINUTE="99")
    assert dump["MAX_PROMPT_CHARS"] == "1234"
    assert dump["RUNS_PER_MINUTE"] == "99"  # the real environment wins
    assert dump["METRICS_TOKEN"] == repr("from-a-file-0123456789")  # NAME_FILE in .env
    assert dump["ALLOWED_HOSTS"] == repr(["a.example", "b.example"])
    # A real NAME beats the file's NAME_FILE as well as its NAME.
    assert settings_dump(tmp_path, METRICS_TOKEN="from-the-env-0123")["METRICS_TOKEN"] == repr("from-the-env-0123")


def test_env_file_names_another_file_and_a_missing_one_is_an_error(tmp_path):
    other = tmp_path / "prod.env"
    other.write_text("MAX_TURN_CHARS=5000\n")
    assert settings_dump(tmp_path, ENV_FILE=str(other))["MAX_TURN_CHARS"] == "5000"
    with pytest.raises(AssertionError, match="ENV_FILE names"):
        settings_dump(tmp_path, ENV_FILE=str(tmp_path / "absent.env"))


def test_the_parser():
    text = (
        "A=plain value  # comment\nB='single # kept $HOME'\nC=\"two\\nlines \\\"q\\\"\"\n"
        "export D=x#y\n\n   # indented comment\nE=\n"
    )
    assert envfile.parse(text) == {"A": "plain value", "B": "single # kept $HOME", "C": 'two\nlines "q"',
                                   "D": "x#y", "E": ""}
    with pytest.raises(envfile.EnvFileError, match="line 1"):
        envfile.parse("not a setting")
    with pytest.raises(envfile.EnvFileError, match="unclosed"):
        envfile.parse("A='open")


def test_check_deploy_is_clean_with_the_documented_production_values_in_an_env_file(tmp_path):
    # The production block of docs/security.md, as an operator would put it in .env
    # under the example's defaults; nothing of it in the real environment.
    production = "\n".join(f"{k}={v}" for k, v in documented_environment().items())
    env_file = tmp_path / ".env"
    env_file.write_text(EXAMPLE.read_text() + "\n" + production + "\n")
    env = {k: v for k, v in os.environ.items() if k not in set(example_entries()) and k != "DJANGO_SETTINGS_MODULE"}
    env.update(ENV_FILE=str(env_file), DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="playground.settings")
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout + done.stderr
