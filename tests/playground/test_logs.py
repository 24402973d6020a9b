"""Log lines: one JSON object each with LOG_FORMAT=json, readable text by default,
the request, user and turn ids where there is one, and no key or secret in either."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from channels.testing import HttpCommunicator

# Imported before any test: its django.setup() configures logging again, which
# would drop the capturing handler.
from playground.asgi import application
from playground.operations.logs import ContextFilter, JsonFormatter
from reasoning.testing.upstream import FakeUpstream, Script
from tests.migrated import migrate
from tests.playground.test_faults import chat_stream, run_turn

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-test-0123456789"  # the provider key test_faults' model is saved with


@pytest.fixture
def captured():
    """The console handler's filter and JSON formatter, on a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    root.removeHandler(handler)


def logged_by_a_process(log_format: str, tmp_path: Path, debug: str = "false") -> str:
    """stderr of a process that saves a provider with a key, makes a run's scrubber
    for it, and logs the key in a message and in an exception."""
    code = f"""
import django, logging
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from playground.models import Provider
from playground.security.secrets import Scrubber
provider = Provider(name="p", kind="openai")
provider.set_api_key({KEY!r})
provider.save()
Scrubber.for_provider(Provider.objects.get(pk=provider.pk).config())  # as a run makes it
log = logging.getLogger("playground.test")
log.info("plain line")
logging.getLogger("django.request").warning("Not Found: /x/ (%s)", {KEY!r})
log.error("upstream said: Incorrect API key provided: %s", {KEY!r})
try:
    raise RuntimeError("refused key {KEY} by the provider")
except RuntimeError:
    log.exception("the call failed")
"""
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "LOG_FORMAT"}}
    env.update(
        DJANGO_SETTINGS_MODULE="playground.settings", DATA_DIR=str(tmp_path), LOG_FORMAT=log_format, DEBUG=debug,
        FIELD_ENCRYPTION_KEY="7Rmxz3pJmB0XcQ5h4aZzG0Z9jQyZ2bYcJ3m2s3b9aXk=", PYTHONPATH=str(ROOT),
    )
    migrate(tmp_path)  # the migrated database, copied (tests/migrated.py): the process's migrate finds it done
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.mark.parametrize("debug", ["false", "true"])  # with DEBUG, Django's own handler must not add lines
def test_json_logs_are_one_object_per_line_without_the_key(tmp_path, debug):
    err = logged_by_a_process("json", tmp_path, debug)
    assert KEY not in err
    entries = [json.loads(line) for line in err.splitlines()]  # every line is one JSON object
    by_message = {e["message"]: e for e in entries}
    plain = by_message["plain line"]
    assert {"time", "level", "logger", "message"} <= set(plain) and plain["level"] == "INFO"
    assert plain["logger"] == "playground.test" and plain["time"].endswith("+00:00")
    assert "upstream said: Incorrect API key provided: [redacted]" in by_message
    assert by_message["Not Found: /x/ ([redacted])"]["logger"] == "django.request"
    assert [e["logger"] for e in entries].count("django.request") == 1
    failed = by_message["the call failed"]
    assert failed["level"] == "ERROR"
    assert "RuntimeError: refused key [redacted] by the provider" in failed["exception"]


def test_text_logs_stay_readable_and_without_the_key(tmp_path):
    err = logged_by_a_process("text", tmp_path)
    assert KEY not in err
    assert " INFO playground.test plain line" in err
    assert "Incorrect API key provided: [redacted]" in err
    assert "RuntimeError: refused key [redacted] by the provider" in err
    assert "Traceback (most recent call last)" in err


@pytest.mark.django_db(transaction=True)
async def test_a_request_logs_with_its_request_id_and_user(captured, client, owner):
    from django.conf import settings

    await client.aforce_login(owner)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    comm = HttpCommunicator(
        application, "GET", "/c/999999/", headers=[(b"cookie", cookie.encode()), (b"host", b"127.0.0.1")]
    )
    response = await comm.get_response(timeout=10)
    assert response["status"] == 404
    request_id = dict(response["headers"])[b"x-request-id"].decode()
    entries = captured()
    found = [e for e in entries if e["logger"] == "django.request"]  # "Not Found: /c/999999/"
    assert len(found) == 1, entries
    entry = found[0]
    assert entry["request_id"] == request_id
    assert entry["user_id"] == owner.pk


@pytest.mark.django_db(transaction=True)
async def test_a_runs_log_lines_carry_its_turn_id_and_no_key(captured, client, owner, monkeypatch):
    import playground.streaming.run as run_module

    real_adapter_for = run_module.adapter_for

    class Talkative:
        """The turn's real adapter, which logs a line (with the key in it) mid-stream."""

        def __init__(self, request):
            self.inner = real_adapter_for(request)

        def prepare(self, request):
            return self.inner.prepare(request)

        async def stream(self, request, client):
            log = logging.getLogger("reasoning.adapters.test")
            log.warning("talking to upstream with %s", request.provider.api_key)
            async for event in self.inner.stream(request, client):
                yield event

    monkeypatch.setattr(run_module, "adapter_for", Talkative)
    async with FakeUpstream() as up:
        up.enqueue(Script(chunks=chat_stream()))
        turn, _ = await run_turn(client, owner, up.url + "/v1")
    (entry,) = [e for e in captured() if e["logger"] == "reasoning.adapters.test"]
    assert entry["turn_id"] == turn.pk
    assert entry["message"] == "talking to upstream with [redacted]"
    assert KEY not in json.dumps(captured())


def test_a_json_server_writes_only_json_lines_access_log_included(tmp_path):
    """`python -m playground.server` with LOG_FORMAT=json: stdout and stderr hold
    only JSON objects, daphne's access log among them."""
    import socket
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL"}}
    env.update(
        DJANGO_SETTINGS_MODULE="playground.settings", DATA_DIR=str(tmp_path), LOG_FORMAT="json", PYTHONPATH=str(ROOT),
        FIELD_ENCRYPTION_KEY="7Rmxz3pJmB0XcQ5h4aZzG0Z9jQyZ2bYcJ3m2s3b9aXk=",
    )
    migrate(tmp_path)  # what `manage.py migrate` makes, copied (tests/migrated.py)
    out, err = tmp_path / "out", tmp_path / "err"
    with open(out, "wb") as o, open(err, "wb") as e:
        server = subprocess.Popen(
            [sys.executable, "-m", "playground.server", "-b", "127.0.0.1", "-p", str(port),
             "playground.asgi:application"],
            cwd=ROOT, env=env, stdout=o, stderr=e,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, err.read_text()
                time.sleep(0.2)
        assert httpx.get(f"http://127.0.0.1:{port}/c/404404/", timeout=5).status_code == 302
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(10)
    lines = [line for line in (out.read_text() + err.read_text()).splitlines() if line.strip()]
    entries = [json.loads(line) for line in lines]  # each line one JSON object
    access = [e for e in entries if e["logger"] == "daphne.access"]
    assert any("GET /health 200" in e["message"] for e in access), entries
    assert any("GET /c/404404/ 302" in e["message"] for e in access), entries
