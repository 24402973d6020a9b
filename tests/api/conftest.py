"""The gateway under test: a real daphne process (the playground's ASGI app) over its
own SQLite DATA_DIR, with models whose providers are one loopback fake upstream in
this process, and the official `openai` client pointed at it.

    gateway.client(token=None)      an `openai.OpenAI` (no retries) for olivia's token
    gateway.upstream                the FakeUpstream: enqueue Scripts, read requests
    gateway.turn(conversation_id)   the stored answer turn of a conversation (sqlite)
    gateway.manage(...)             manage.py against the server's database

Test modules share one server (it takes seconds to start); each test enqueues the
upstream's answers it needs and reads only the requests it caused.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reasoning.testing.upstream import FakeUpstream
from tests.scaleout.harness import Deployment, Server

MODELS = """
import json
from django.contrib.auth import get_user_model
from playground.models import ModelProfile, Provider
User = get_user_model()
User.objects.create_user("olivia", password="correct horse battery")
User.objects.create_user("sam", password="another horse battery")
up = {url!r}
native = Provider.objects.create(name="deepseekish", kind="openai", base_url=up + "/v1", api_key_encrypted="")
native.set_api_key("sk-upstream-secret-0000"); native.save()
ModelProfile.objects.create(provider=native, model_id="native-1", label="Native", reasoning="native",
    thinking_control="chat_template_kwargs", efforts=["low", "medium", "high"])
# Reasoning kept across turns (replay "preserved"), sent back as reasoning_content.
ModelProfile.objects.create(provider=native, model_id="echo-1", label="Echo", reasoning="native",
    options={{"echo_reasoning_content": True}}, replay="preserved")
inline = Provider.objects.create(name="vllmish", kind="openai", base_url=up + "/v1")
ModelProfile.objects.create(provider=inline, model_id="inline-1", label="Inline", reasoning="markup", markup="think")
# No reasoning at all (gpt-4o-like): the gateway omits reasoning_content for it.
ModelProfile.objects.create(provider=native, model_id="plain-1", label="Plain", reasoning="none")
# Its capabilities say it takes no tools (the Providers page's "Takes tools" unticked).
ModelProfile.objects.create(provider=native, model_id="toolless-1", label="No tools", reasoning="none",
    options={{"supports_tools": False}})
claude = Provider.objects.create(name="anthropic", kind="anthropic", base_url=up)
ModelProfile.objects.create(provider=claude, model_id="claude-fake", label="Claude", reasoning="native",
    thinking_control="anthropic_budget", efforts=["low", "medium", "high"], supports_budget=True)
gemini = Provider.objects.create(name="google", kind="gemini", base_url=up)
ModelProfile.objects.create(provider=gemini, model_id="gemini-fake", label="Gemini", reasoning="native",
    thinking_control="gemini_budget", efforts=["low", "high"], supports_budget=True)
# Tool loops (tests/api/test_tools.py): one model per provider kind whose family needs
# its reasoning back inside a tool chain.
ModelProfile.objects.create(provider=native, model_id="deepseek-v4-pro", label="DeepSeek", reasoning="native",
    thinking_control="chat_template_kwargs")
ModelProfile.objects.create(provider=native, model_id="kimi-k2.5", label="Kimi", reasoning="native",
    thinking_control="chat_template_kwargs")
responses = Provider.objects.create(name="responses", kind="openai-responses", base_url=up + "/v1")
ModelProfile.objects.create(provider=responses, model_id="gpt-5-fake", label="Responses", reasoning="native",
    efforts=["low", "medium", "high"], thinking_control="responses")
ModelProfile.objects.create(provider=gemini, model_id="gemini-3-pro-fake", label="Gemini 3", reasoning="native",
    thinking_control="gemini_level", efforts=["low", "high"])
ollama = Provider.objects.create(name="ollama", kind="ollama", base_url=up)
ModelProfile.objects.create(provider=ollama, model_id="qwen3-fake", label="Ollama", reasoning="native",
    thinking_control="ollama_think")
from playground.management.commands.bootstrap import seed_simulator
seed_simulator()  # the offline simulator ("Offline simulator"), a provider kind of its own
off = Provider.objects.create(name="off", kind="openai", base_url=up + "/v1", enabled=False)
ModelProfile.objects.create(provider=off, model_id="off-1", label="Switched off")
ModelProfile.objects.create(provider=native, model_id="paused-1", label="Paused", enabled=False)
# A key that cannot be decrypted (FIELD_ENCRYPTION_KEY rotated): the request cannot be built.
broken = Provider.objects.create(name="broken", kind="openai", base_url=up + "/v1", api_key_encrypted="not-a-token")
ModelProfile.objects.create(provider=broken, model_id="broken-1", label="Broken")
"""

TOKENS = """
import io
from django.core.management import call_command
tokens = {}
for name in ("olivia", "sam"):
    out = io.StringIO()
    call_command("tokens", "create", "--user", name, stdout=out)
    tokens[name] = out.getvalue().strip()
print(json.dumps(tokens))
"""


@dataclass
class Gateway:
    server: Server
    deployment: Deployment
    upstream: FakeUpstream
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, token: str | None = None, **kwargs: Any) -> Any:
        import openai

        return openai.OpenAI(
            base_url=self.url + "/v1", api_key=token or self.tokens["olivia"], max_retries=0, timeout=20, **kwargs
        )

    def manage(self, *args: str, code: str | None = None) -> str:
        return self.deployment.manage(*args, code=code)

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.deployment.data_dir / "playground.sqlite3") as conn:
            return conn.execute(sql, params).fetchall()

    def answer(self, conversation_id: int | str) -> dict[str, Any]:
        """The newest assistant turn of a conversation, as stored."""
        rows = self.query(
            "SELECT id, status, reasoning, content, error, prompt_tokens, completion_tokens, reasoning_tokens"
            " FROM playground_turn WHERE conversation_id = ? AND role = 'assistant' ORDER BY id DESC LIMIT 1",
            int(conversation_id),
        )
        assert rows, f"no answer in conversation {conversation_id}"
        row = rows[0]
        keys = ("id", "status", "reasoning", "content", "error")
        keys += ("prompt_tokens", "completion_tokens", "reasoning_tokens")
        turn = dict(zip(keys, row, strict=True))
        turn["error"] = json.loads(turn["error"]) if turn["error"] else None
        return turn

    def requests_after(self, seen: int, n: int = 1, timeout: float = 10) -> list[Any]:
        return self.upstream.wait_requests(seen + n, timeout)[seen:]


@contextlib.contextmanager
def running_gateway(data_dir: Path, **extra: str) -> Iterator[Gateway]:
    """A gateway server over `data_dir`, its settings overridden by `extra`."""
    with FakeUpstream() as upstream:
        deployment = Deployment(
            data_dir=data_dir,
            extra={
                "API_HEARTBEAT_INTERVAL": "0.3",
                "UPSTREAM_READ_TIMEOUT": "2",
                "FRAME_INTERVAL": "0.02",
                **extra,
            },
        )
        deployment.manage("migrate", "--noinput")
        # The models and the users' tokens in one Django start (`manage.py tokens create` each).
        out = deployment.manage("shell", code=MODELS.format(url=upstream.url) + TOKENS)
        tokens = json.loads(out.strip().splitlines()[-1])
        server = Server(deployment).start()
        try:
            yield Gateway(server=server, deployment=deployment, upstream=upstream, tokens=tokens)
        finally:
            server.stop()


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    with running_gateway(Path(tmp_path_factory.mktemp("gateway"))) as running:
        yield running
