"""`manage.py backup` while a turn streams, `manage.py restore` elsewhere: the copy is
consistent, the conversation continues, and the provider key still works (a loopback
fake provider checks the Authorization header). SQLite here; PostgreSQL against the
real server in a scratch database. Every step is the real command in its own process."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from tests.migrated import migrate

ROOT = Path(__file__).resolve().parents[2]
SITE_KEY = "sk-site-backup-0123456789abcdef"
LONG_THOUGHT = " ".join(f"step{i}" for i in range(400))
SCRUBBED = ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "SECRET_KEY", "SECRET_KEY_FILE",
            "FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_KEY_FILE", "DEBUG")

SETUP = f"""
from django.contrib.auth.models import User
from playground.models import Conversation, ModelProfile, Provider
user = User.objects.create_user("olivia", password="correct horse battery")
provider = Provider.objects.create(name="fake", kind="openai", base_url=BASE_URL)
provider.set_api_key({SITE_KEY!r})
provider.save()
model = ModelProfile.objects.create(provider=provider, model_id="fake-r1", label="Fake R1")
conv = Conversation.objects.create(owner=user)
print(conv.pk)
"""

ASK = """
import asyncio, json
from playground.turns.services import start_exchange
from playground.models import Conversation, ModelProfile, Turn
from playground.streaming.launch import launch_stored
conv = Conversation.objects.get(pk=CONV)
exchange = start_exchange(conv, PROMPT, ModelProfile.objects.get(model_id="fake-r1"), {})
async def run():
    (launched,) = await launch_stored([exchange])
    assert launched.run is not None and launched.run.task is not None, launched.error
    await launched.run.task
asyncio.run(run())
turn = Turn.objects.get(pk=exchange.assistant_turn.pk)
print(json.dumps({"pk": turn.pk, "status": turn.status, "content": turn.content,
                  "notes": (turn.sent or {}).get("context_notes") or []}))
"""


def environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED}
    env.update(DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="playground.settings", CHECKPOINT_INTERVAL="0.2",
               MAX_CONCURRENT_RUNS="100", RUNS_PER_MINUTE="1000", **extra)
    return env


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=180)
    if check and result.returncode != 0:
        raise AssertionError(f"manage.py {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result


def shell(env: dict[str, str], code: str, **names: object) -> str:
    prelude = "".join(f"{k} = {v!r}\n" for k, v in names.items())
    return manage(env, "shell", "-c", prelude + code).stdout.strip().splitlines()[-1]


def ask_process(env: dict[str, str], conv: int, prompt: str) -> subprocess.Popen[str]:
    code = f"CONV = {conv}\nPROMPT = {prompt!r}\n" + ASK
    return subprocess.Popen([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def streaming_turn(database: Path) -> tuple[str, int] | None:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        row = db.execute("SELECT status, length(reasoning) FROM playground_turn WHERE role='assistant'").fetchone()
    return row


def test_backup_while_a_turn_streams_then_restore_elsewhere_and_continue(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    archive = tmp_path / "backup.tar.gz"
    env_here, env_there = environment(here), environment(there)
    with FakeUpstream() as up:
        # The first answer streams 40 chunks, pauses mid-thought until the backup is
        # done (at most 120 s: a manage.py backup takes 2 s alone, and more than the 10 s
        # a fixed pause once was under a full pytest -n 4 run on 2 cores), then
        # finishes; the second comes at once.
        backed_up = threading.Event()
        up.enqueue(Script(chunks=openai_chat_sse(LONG_THOUGHT, "Finished.", chunk_chars=20), rate=100,
                          stall_after=40, stall_for=120, stall_until=backed_up))
        up.enqueue(Script(chunks=openai_chat_sse("Short.", "Continued.")))
        migrate(here)  # what `manage.py migrate` makes, copied (tests/migrated.py)
        conv = int(shell(env_here, SETUP, BASE_URL=up.url))
        run = ask_process(env_here, conv, "Think long")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            row = streaming_turn(here / "playground.sqlite3")
            if row and row[0] == "streaming" and row[1] > 0:
                break  # checkpointed mid-stream
            time.sleep(0.05)
        else:
            raise AssertionError(f"the turn never streamed: {run.communicate()}")
        manage(env_here, "backup", str(archive))
        assert streaming_turn(here / "playground.sqlite3")[0] == "streaming", "backup after the stream ended"
        backed_up.set()
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["status"] == "complete"

        assert oct(archive.stat().st_mode & 0o777) == "0o600"
        with tarfile.open(archive) as tar:
            names = set(tar.getnames())
        assert {"manifest.json", "database.sqlite3", "keys/field_encryption_key", "keys/secret_key"} <= names

        # Restore into a data directory that does not exist yet.
        restored = manage(env_there, "restore", str(archive))
        assert "1 turn(s) that were streaming marked interrupted" in restored.stdout
        assert (there / "field_encryption_key").read_text() == (here / "field_encryption_key").read_text()
        assert oct((there / "field_encryption_key").stat().st_mode & 0o777) == "0o600"
        # What was checkpointed is there, marked interrupted; then the conversation goes on.
        status, kept = streaming_turn(there / "playground.sqlite3")
        assert status == "interrupted" and 0 < kept < len(LONG_THOUGHT)
        second = json.loads(shell(env_there, f"CONV = {conv}\nPROMPT = 'And then?'\n" + ASK))
        assert second["status"] == "complete" and second["content"] == "Continued."
        requests = list(up.requests)
    assert [r.headers["authorization"] for r in requests] == [f"Bearer {SITE_KEY}"] * 2
    # The restored history went along: the interrupted answer had no text yet, so its
    # prompt is left out, as any unanswered prompt is, and the context says so (issue 20).
    sent = " ".join(m["content"] for m in requests[1].json["messages"] if m["role"] == "user")
    assert "Think long" not in sent and "And then?" in sent
    notes = json.dumps(second["notes"])
    assert "dropped_failed_turn" in notes and "Think long" in notes, notes


def test_restore_refuses_a_data_directory_in_use_without_force(tmp_path):
    here, there = tmp_path / "here", tmp_path / "there"
    archive = tmp_path / "backup.tar.gz"
    migrate(here)
    shell(environment(here), SETUP, BASE_URL="http://127.0.0.1:9")
    manage(environment(here), "backup", str(archive))
    migrate(there)  # an installation already in use (what `manage.py migrate` makes, copied)
    refused = manage(environment(there), "restore", str(archive), check=False)
    assert refused.returncode != 0 and "not empty" in refused.stderr
    manage(environment(there), "restore", str(archive), "--force")
    assert shell(environment(there), "from playground.models import Provider\n"
                 "print(Provider.objects.get(name='fake').config().api_key)") == SITE_KEY


def test_a_backup_without_keys_leaves_them_out_and_a_wrong_configured_key_is_refused(tmp_path):
    here = tmp_path / "here"
    migrate(here)
    shell(environment(here), SETUP, BASE_URL="http://127.0.0.1:9")
    bare = tmp_path / "bare.tar.gz"
    manage(environment(here), "backup", "--without-keys", str(bare))
    with tarfile.open(bare) as tar:
        assert not [n for n in tar.getnames() if n.startswith("keys/")]
    full = tmp_path / "full.tar.gz"
    manage(environment(here), "backup", str(full))
    other_key = "tTnYl6bEyuSgpnrUQrXqT0Vb4o3b2JfOeYt5gYy6xjQ="
    refused = manage(environment(tmp_path / "there", FIELD_ENCRYPTION_KEY=other_key), "restore", str(full),
                     check=False)
    assert refused.returncode != 0 and "FIELD_ENCRYPTION_KEY is set and is not the key of this backup" in refused.stderr


def psql(*args: str, database: str = "test") -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-d", database, "-v", "ON_ERROR_STOP=1", "-qAt", *args],
                   check=True, capture_output=True, text=True, timeout=60)


@pytest.mark.services
def test_postgresql_backup_and_restore_with_pg_dump(tmp_path):
    names = [f"opsb_backup_{uuid.uuid4().hex[:10]}_{side}" for side in ("a", "b")]
    try:
        for name in names:
            psql("-c", f"CREATE DATABASE {name}")
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not usable here: {error}")
    try:
        env_a = environment(tmp_path / "a", DATABASE_URL=f"postgres://127.0.0.1:5432/{names[0]}")
        env_b = environment(tmp_path / "b", DATABASE_URL=f"postgres://127.0.0.1:5432/{names[1]}")
        archive = tmp_path / "pg.tar.gz"
        manage(env_a, "migrate", "--noinput")
        shell(env_a, SETUP, BASE_URL="http://127.0.0.1:9")
        manage(env_a, "backup", str(archive))
        with tarfile.open(archive) as tar:
            assert "database.sql" in tar.getnames()
        manage(env_b, "restore", str(archive))
        check = "from playground.models import Provider\nprint(Provider.objects.get(name='fake').config().api_key)"
        assert shell(env_b, check) == SITE_KEY
        assert "No migrations to apply" in manage(env_b, "migrate", "--noinput").stdout
        refused = manage(env_b, "restore", str(archive), check=False)
        assert refused.returncode != 0 and "not empty" in refused.stderr
        manage(env_b, "restore", str(archive), "--force")
        assert shell(env_b, check) == SITE_KEY
    finally:
        for name in names:
            psql("-c", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
