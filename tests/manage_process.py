"""`manage.py` commands for a test server's database, run by one kept Django process.

A browser test seeds models and reads what was stored through `manage.py shell -c`
against the server's DATA_DIR. Each of those was a new process: Python, Django and
the playground started for a few lines of ORM, ~2.5 s of CPU, and the browser tests
make about a hundred of them. `ManageProcess` starts that process once (on the
first command) and runs each command in it exactly as `manage.py` would
(`ManagementUtility`, so `shell -c` gets its usual namespace), with its stdout
captured, one after another.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

# The kept process: reads one JSON list of arguments a line, answers one JSON line
# on a descriptor of its own (what the commands or logging write to fd 1 goes to
# the log instead, so it cannot garble the answers).
_SERVE = r"""
import contextlib, io, json, os, sys, traceback
answers = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)
sys.stdout = sys.__stdout__ = os.fdopen(1, "w", buffering=1)
import django
django.setup()
from django.core.management import ManagementUtility
from django.db import connections
for line in sys.stdin:
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            ManagementUtility(["manage.py", *json.loads(line)]).execute()
        answer = {"ok": True, "stdout": out.getvalue()}
    except BaseException:  # SystemExit from a command's error too: one command failed, not the process
        answer = {"ok": False, "stdout": out.getvalue(), "error": traceback.format_exc()}
    finally:
        connections.close_all()  # as a process of its own would have left the database
    answers.write(json.dumps(answer) + "\n")
    answers.flush()
"""


class ManageProcess:
    def __init__(self, env: dict[str, str], cwd: Path, log_path: Path) -> None:
        self.env, self.cwd, self.log_path = env, cwd, log_path
        self._process: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`manage.py *args`, as the subprocess would have completed (returncode 0 or 1)."""
        with self._lock:
            process = self._start()
            assert process.stdin is not None and process.stdout is not None
            process.stdin.write(json.dumps(args) + "\n")
            process.stdin.flush()
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"the manage.py process exited ({process.wait()}):\n{self._log_tail()}")
            answer = json.loads(line)
        return subprocess.CompletedProcess(
            ["manage.py", *args], 0 if answer["ok"] else 1, answer["stdout"], answer.get("error", "")
        )

    def close(self) -> None:
        with self._lock:
            process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None
        process.stdin.close()  # the process ends at the end of its input
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _start(self) -> subprocess.Popen[str]:
        if self._process is None or self._process.poll() is not None:
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [sys.executable, "-c", _SERVE], cwd=self.cwd, env=self.env, text=True,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                )
        return self._process

    def _log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
