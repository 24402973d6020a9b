"""Redraw the README's screenshots in Chromium, from the browser tests that draw them.

    python docs/screenshots/make.py                  # every screenshot the README shows
    python docs/screenshots/make.py providers model-capabilities   # only these
    python docs/screenshots/make.py model-picker search-match       # the picker, a search at its match
    python docs/screenshots/make.py --list           # which test draws which picture

Each picture is written by a browser test (`screenshot(page, "name")`) over its own
seeded playground (tests/browser/conftest.py starts the server on a fresh data dir);
with SCREENSHOTS=1 the test writes it here. This script finds the tests that draw the
pictures asked for and runs just those, with SCREENSHOTS=1, so the README can be
refreshed after a change to the pages. A picture the README shows that no test draws
is named at the end (it was made by hand and must be redrawn by hand).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "browser"


def readme_pictures() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return list(dict.fromkeys(re.findall(r"docs/screenshots/([\w.-]+)\.png", text)))


def drawn_by() -> dict[str, list[str]]:
    """Picture name -> the test node ids that draw it (a literal name in `screenshot(page, "…")`)."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.glob("test_*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for test in (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")):
            for call in (n for n in ast.walk(test) if isinstance(n, ast.Call)):
                named = isinstance(call.func, ast.Name) and call.func.id == "screenshot"
                if named and len(call.args) >= 2 and isinstance(call.args[1], ast.Constant):
                    node = f"{path.relative_to(ROOT)}::{test.name}"
                    found.setdefault(str(call.args[1].value), [])
                    if node not in found[str(call.args[1].value)]:
                        found[str(call.args[1].value)].append(node)
    return found


def main(argv: list[str]) -> int:
    drawn = drawn_by()
    if argv[:1] == ["--list"]:
        for name in readme_pictures():
            print(f"{name}: {', '.join(drawn.get(name, ['drawn by hand']))}")
        return 0
    wanted = argv or readme_pictures()
    unknown = [name for name in argv if name not in drawn]
    if unknown:
        print(f"no test draws {', '.join(unknown)} (see --list)", file=sys.stderr)
        return 2
    nodes = list(dict.fromkeys(node for name in wanted for node in drawn.get(name, [])))
    command = [sys.executable, "-m", "pytest", *nodes, "-p", "no:cacheprovider", "-n", "0", "-q"]
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, "SCREENSHOTS": "1"}, check=False)
    by_hand = [name for name in wanted if name not in drawn]
    if by_hand:
        print(f"not drawn by any test (redraw by hand): {', '.join(by_hand)}")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
