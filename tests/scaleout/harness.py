"""Real daphne processes for the scale-out tests: start, kill -9, restart; set up
users and models through `manage.py shell`; look at turns straight in the database;
talk to the servers with a raw websocket client (`websockets`) and plain HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.manage_process import ManageProcess

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FERNET_KEY = "7Rmxz3pJmB0XcQ5h4aZzG0Z9jQyZ2bYcJ3m2s3b9aXk="


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Deployment:
    """The environment every process of one playground shares."""

    data_dir: Path
    database_url: str = ""  # "" -> SQLite in data_dir
    redis_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    # One kept Django process runs this deployment's commands (tests/manage_process.py),
    # not a process each: a Django start is ~1.3 s of CPU, and the gateway and scale-out
    # fixtures ran several a deployment. Not an init field, so `dataclasses.replace`
    # (another environment) gets a process of its own.
    _commands: ManageProcess | None = field(default=None, init=False, repr=False, compare=False)
    _commands_env: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def env(self) -> dict[str, str]:
        env = {
            k: v for k, v in os.environ.items()
            if k not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="tests.settings",  # tests/settings.py: a quick password hasher
            PYTHONPATH=str(ROOT),
            DATA_DIR=str(self.data_dir),
            SECRET_KEY="scaleout-test-secret",
            FIELD_ENCRYPTION_KEY=FERNET_KEY,
            FRAME_INTERVAL="0.03",
            CHECKPOINT_INTERVAL="0.25",
            # A turn not checkpointed for STREAM_STALE_AFTER is taken for dead (the
            # default here would be 10 s). On a machine running several suites a
            # starved worker can miss that, and a watcher on the other worker then
            # showed its live turn as "interrupted". Only test_crash tests the
            # per-turn rule, with its own short value; the others are not about it.
            STREAM_STALE_AFTER="60",
            LOG_LEVEL="WARNING",
            # One user drives many streams here: the per-user limits are tested in test_limits.
            MAX_CONCURRENT_RUNS="1000000",
            RUNS_PER_MINUTE="1000000",
            # The backpressure test streams an 8.6 MiB turn, over the default cut-off.
            MAX_TURN_CHARS="100000000",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
            env["REDIS_PREFIX"] = f"scaleout{os.getpid()}"
        env.update(self.extra)
        return env

    def manage(self, *args: str, code: str | None = None) -> str:
        if args in {("migrate", "--noinput"), ("migrate",)} and not self.database_url and code is None:
            from tests.migrated import migrate

            migrate(self.data_dir)  # the same file, made once (tests/migrated.py)
            return ""
        done = self._kept_process().run(*args, *(["-c", code] if code is not None else []))
        if done.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def _kept_process(self) -> ManageProcess:
        env = self.env()
        if self._commands is None or env != self._commands_env:  # `extra` changed: its settings are read at start
            if self._commands is not None:
                self._commands.close()
            self._commands, self._commands_env = ManageProcess(env, ROOT, self.data_dir / "manage.log"), env
            # Ends with the deployment (or the worker): its input closed, the process exits.
            weakref.finalize(self, self._commands.close)
        return self._commands

    def close(self) -> None:
        """Stop the kept command process (a test that drops its database calls this first)."""
        if self._commands is not None:
            self._commands.close()
            self._commands = None

    def setup(self, options: dict[str, Any], conversations: int = 1) -> dict[str, Any]:
        """Migrate; a user with a session, a "paced" model with `options`, a conversation."""
        self.manage("migrate", "--noinput")
        code = f"""
import json
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from playground.models import Conversation, ModelProfile, Provider
user = get_user_model().objects.create_user("olivia", password="correct horse battery")
session = SessionStore()
session["_auth_user_id"] = str(user.pk)
session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
session["_auth_user_hash"] = user.get_session_auth_hash()
session.create()
provider = Provider.objects.create(name="paced", kind="paced")
model = ModelProfile.objects.create(provider=provider, model_id="paced", label="Paced", options={options!r})
convs = [Conversation.objects.create(owner=user).pk for _ in range({conversations})]
ids = {{"session": session.session_key, "model": model.pk, "conversation": convs[0], "conversations": convs}}
print(json.dumps(ids))
"""
        return json.loads(self.manage("shell", code=code).strip().splitlines()[-1])

    def turn(self, turn_id: int) -> dict[str, Any]:
        sql = "SELECT status, reasoning, content, error FROM playground_turn WHERE id = {}"
        if self.database_url:
            import psycopg

            with psycopg.connect(_libpq(self.database_url)) as conn:
                row = conn.execute(sql.format("%s"), (turn_id,)).fetchone()
        else:
            with sqlite3.connect(self.data_dir / "playground.sqlite3") as conn:
                row = conn.execute(sql.format("?"), (turn_id,)).fetchone()
        assert row is not None, f"no turn {turn_id}"
        error = row[3] if not isinstance(row[3], str) else json.loads(row[3])
        return {"status": row[0], "reasoning": row[1], "content": row[2], "error": error}


def _libpq(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


class Server:
    """One daphne process serving `tests.scaleout.app:application`."""

    def __init__(self, deployment: Deployment, port: int | None = None) -> None:
        self.deployment = deployment
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = deployment.data_dir / f"daphne-{self.port}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Server:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "tests.scaleout.app:application"],
                cwd=ROOT,
                env=self.deployment.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120  # left as soon as it answers; a loaded machine took over 30 s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"daphne did not come up: {self.log.read_text()[-3000:]}")

    def kill9(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def rss_kib(self) -> int:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def page(self, conversation: int, session: str) -> str:
        response = httpx.get(f"{self.url}/c/{conversation}/", cookies={"sessionid": session}, timeout=10)
        response.raise_for_status()
        return response.text


async def open_socket(server: Server, conversation: int, session: str, query: str = "") -> Any:
    from websockets.asyncio.client import connect

    return await connect(
        f"{server.ws_url}/ws/conversations/{conversation}/{query}",
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": f"sessionid={session}"},
        max_size=None,
        max_queue=None,  # a socket the test does not read must still close at once
    )


def services_or_skip() -> tuple[str, str]:
    """PostgreSQL and Redis on localhost, or a skip with the reason (a failure under CI=true)."""
    import pytest

    problems = []
    try:
        import psycopg

        for user in ("root", "postgres"):
            try:
                psycopg.connect(f"postgresql://{user}@127.0.0.1:5432/test", connect_timeout=3).close()
                pg_user = user
                break
            except psycopg.OperationalError as e:
                last = e
        else:
            problems.append(f"PostgreSQL at 127.0.0.1:5432 (database test): {last}")
    except ImportError as e:
        problems.append(f"psycopg: {e}")
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=3) as s:
            s.sendall(b"PING\r\n")
            if not s.recv(64).startswith(b"+PONG"):
                problems.append("Redis at 127.0.0.1:6379 did not answer PING")
    except OSError as e:
        problems.append(f"Redis at 127.0.0.1:6379: {e}")
    if problems:
        reason = "needs PostgreSQL and Redis: " + "; ".join(problems)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + " (CI=true: not skipping)")
        pytest.skip(reason)
    return pg_user, "redis://127.0.0.1:6379/0"


def create_database(pg_user: str, name: str) -> str:
    import psycopg

    with psycopg.connect(f"postgresql://{pg_user}@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://{pg_user}@127.0.0.1:5432/{name}"


def drop_database(pg_user: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://{pg_user}@127.0.0.1:5432/test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
