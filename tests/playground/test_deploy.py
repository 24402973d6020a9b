"""`manage.py check --deploy` passes with the production environment documented in
docs/security.md (read from the doc, so the doc and the settings cannot drift), and
fails without it."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def documented_environment() -> dict[str, str]:
    doc = (ROOT / "docs" / "security.md").read_text()
    block = re.search(r"```sh production\n(.*?)```", doc, re.S)
    assert block, "docs/security.md lost its production environment block"
    env = dict(line.split("=", 1) for line in block.group(1).splitlines() if line.strip())
    for name, value in env.items():  # placeholders such as <50 or more random characters>
        if value.startswith("<"):
            env[name] = Fernet.generate_key().decode() if "ENCRYPTION" in name else secrets.token_urlsafe(60)
    return env


def check_deploy(extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DEBUG", "SECRET_KEY", "ALLOWED"))}
    env.update(extra, DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="playground.settings")
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path):
    env = documented_environment()
    assert {"SECURE_PROXY_SSL_HEADER", "SECURE_HSTS_SECONDS", "SECURE_SSL_REDIRECT", "SECURE_COOKIES"} <= set(env)
    result = check_deploy(env, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr


def test_check_deploy_fails_with_the_local_defaults(tmp_path):
    result = check_deploy({}, tmp_path)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):  # HSTS, SSL, cookies
        assert warning in result.stderr, warning


def test_every_production_variable_is_in_the_readme_table():
    readme = (ROOT / "README.md").read_text()
    for name in documented_environment():
        assert f"| `{name}` |" in readme, name
