"""reasoning/ is framework-free; playground/ never parses provider JSON."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
    return names


def test_reasoning_imports_nothing_from_django_or_channels():
    frameworks = {"django", "channels", "daphne", "playground"}
    bad = {m for m in imported_modules("reasoning") if m.split(".")[0] in frameworks}
    assert bad == set()


def test_reasoning_imports_and_runs_without_django_installed_in_sys_modules():
    code = (
        "import sys, importlib, pkgutil, reasoning, reasoning.adapters as a\n"
        "for m in pkgutil.walk_packages(reasoning.__path__, 'reasoning.'):\n"
        "    importlib.import_module(m.name)\n"
        "assert not [k for k in sys.modules if k.split('.')[0] in ('django','channels')], 'django imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_playground_never_parses_provider_json():
    # Provider payloads are translated in reasoning/; the app sees only events.
    for path in (ROOT / "playground").rglob("*.py"):
        text = path.read_text()
        for marker in ("content_block_delta", "thoughtSignature", "\"delta\"", "aiter_lines", "json.loads(line"):
            assert marker not in text, f"{path} mentions provider field {marker!r}"


# The screens: each renders pages or answers a route, on top of the turn's domain.
SCREENS = ("conversations", "compare", "api", "accounts", "prompts")


def _screen_imports(package: str) -> set[str]:
    return {m for m in imported_modules(package) if m.split(".")[:2] in [["playground", s] for s in SCREENS]}


def test_the_turns_domain_imports_no_screen_and_not_the_runtime():
    # playground/turns/ is what every screen and the streaming runtime stand on
    # (issue 19.8): it may not reach back up into either.
    assert _screen_imports("playground/turns") == set()
    assert {m for m in imported_modules("playground/turns") if m.startswith("playground.streaming")} == set()


def test_streaming_imports_no_screen():
    # A screen gives the runtime what it needs to render (e.g. launch's `render`).
    assert _screen_imports("playground/streaming") == set()


def test_the_layering_reader_sees_a_screen_import():
    assert _screen_imports("playground/conversations")  # the check above is not vacuous
