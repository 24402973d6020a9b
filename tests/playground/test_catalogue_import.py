"""A model given by kind and id alone (the way most people write their file) still
switches thinking and takes efforts, from the catalogue of model families; what it
cannot honour is refused before anything is sent (`ask` exits 2), never dropped."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from playground.models import Conversation, ModelProfile
from reasoning.testing import FakeUpstream, Script, openai_chat_sse, openai_responses_sse
from reasoning.testing.formats_native import anthropic_sse, gemini_sse, ollama_ndjson

pytestmark = pytest.mark.django_db(transaction=True)

# kind, model id, base path, the answer it streams, content type
KINDS: dict[str, tuple[str, str, list[bytes], str]] = {
    "openai": ("deepseek-v4-pro", "/v1", openai_chat_sse("r", "a"), "text/event-stream"),
    "openai-responses": ("gpt-5.1", "/v1", openai_responses_sse("r", "a"), "text/event-stream"),
    "anthropic": ("claude-sonnet-4-5", "", anthropic_sse("r", "a"), "text/event-stream"),
    "gemini": ("gemini-2.5-flash", "", gemini_sse("r", "a"), "text/event-stream"),
    "ollama": ("gpt-oss:20b", "", ollama_ndjson("r", "a"), "application/x-ndjson"),
}

# What reaches the wire for --thinking on, --thinking off and --effort high.
EXPECTED: dict[str, dict[str, Any]] = {
    "openai": {
        "on": {"thinking": {"type": "enabled"}},
        "off": {"thinking": {"type": "disabled"}},
        "high": {"thinking": {"type": "enabled"}, "reasoning_effort": "high"},
    },
    "openai-responses": {
        "on": {"reasoning": {"summary": "auto"}},
        "off": {"reasoning": {"effort": "none"}},
        "high": {"reasoning": {"effort": "high", "summary": "auto"}},
    },
    "anthropic": {
        "on": {"thinking": {"type": "enabled", "budget_tokens": 2048}},
        "off": {"thinking": {"type": "disabled"}},
        "high": {"thinking": {"type": "enabled", "budget_tokens": 4096}},
    },
    "gemini": {
        "on": {"generationConfig": {"thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True}}},
        "off": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 0, "includeThoughts": False}}},
        "high": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 24576, "includeThoughts": True}}},
    },
    "ollama": {"on": {"think": True}, "off": {"think": False}, "high": {"think": "high"}},
}


def import_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    call_command("providers", "import", str(path), stdout=io.StringIO(), stderr=io.StringIO())


def bare_file(kind: str, model_id: str, base_url: str, extra: str = "") -> str:
    return (
        f'[[providers]]\nname = "p"\nkind = "{kind}"\nbase_url = "{base_url}"\n\n'
        f'  [[providers.models]]\n  id = "{model_id}"\n  label = "M"\n  reasoning = "native"\n{extra}'
    )


def ask(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("ask", "--json", "--model", "M", *args, "Hi", stdout=out, stderr=io.StringIO())
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


def contains(body: dict[str, Any], expected: dict[str, Any]) -> bool:
    return all(
        contains(body.get(k) or {}, v) if isinstance(v, dict) else body.get(k) == v for k, v in expected.items()
    )


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_model_imported_with_only_kind_and_reasoning_honours_thinking_and_effort(tmp_path, kind, admin_user):
    model_id, path, answer, content_type = KINDS[kind]
    with FakeUpstream(Script(chunks=answer, headers={"content-type": content_type})) as up:
        import_file(tmp_path, bare_file(kind, model_id, up.url + path))
        settings = (("on", ["--thinking", "on"]), ("off", ["--thinking", "off"]), ("high", ["--effort", "high"]))
        for setting, args in settings:
            assert ask(*args)["status"] == "complete"
            body = up.requests[-1].json
            assert contains(body, EXPECTED[kind][setting]), f"{setting}: {body}"


def test_an_explicit_value_in_the_file_wins_over_the_catalogue(tmp_path):
    explicit = bare_file("openai", "deepseek-v4-pro", "http://models.example", '  thinking_control = "none"\n')
    import_file(tmp_path, explicit)
    model = ModelProfile.objects.get(label="M")
    assert (model.thinking_control, model.efforts) == ("none", [])
    import_file(tmp_path, bare_file("openai", "deepseek-v4-pro", "http://models.example"))
    model.refresh_from_db()
    assert (model.thinking_control, model.efforts, model.options) == (
        "thinking_type",
        ["high", "max"],
        {"echo_reasoning_content": True},
    )


@pytest.mark.parametrize(
    ("kind", "extra", "message"),
    [
        ("gemini", '  thinking_control = "gemini_level"\n  efforts = ["none", "low"]\n', "cannot turn thinking off"),
        ("openai", '  thinking_control = "none"\n  efforts = ["low"]\n', "takes no effort"),
        ("ollama", '  thinking_control = "responses"\n', "applies to openai-responses providers"),
    ],
)
def test_the_importer_rejects_a_control_or_effort_the_kind_cannot_take(tmp_path, kind, extra, message):
    with pytest.raises(CommandError) as caught:
        import_file(tmp_path, bare_file(kind, "some-model", "http://models.example", extra))
    assert caught.value.returncode == 2
    assert message in str(caught.value)
    assert not ModelProfile.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--thinking", "on"], "thinking cannot be switched"),
        (["--thinking", "off"], "thinking cannot be switched"),
        (["--effort", "high"], "has no effort levels"),
    ],
)
def test_ask_exits_2_on_a_control_the_model_cannot_honour_and_sends_nothing(tmp_path, admin_user, args, message):
    with FakeUpstream() as up:
        import_file(tmp_path, bare_file("openai", "my-own-model", up.url, '  thinking_control = "none"\n'))
        with pytest.raises(CommandError) as caught:
            ask(*args)
        assert up.requests == []
    assert caught.value.returncode == 2
    assert message in str(caught.value)
    assert not Conversation.objects.exists()


@pytest.mark.parametrize(
    ("mode", "reasoning", "content"),
    [("separate", "r", "a"), ("inline", "", "<think>r</think>a"), ("hidden", "", "a")],
)
def test_ask_stores_each_reasoning_mode_and_keeps_the_token_count(tmp_path, admin_user, mode, reasoning, content):
    from reasoning.events import Usage

    chunks = openai_chat_sse("r", "a", usage=Usage(3, 20, 15))
    with FakeUpstream(Script(chunks=chunks)) as up:
        import_file(tmp_path, bare_file("openai", "deepseek-reasoner", up.url + "/v1"))
        result = ask("--reasoning", mode)
    assert (result["reasoning"], result["content"]) == (reasoning, content)
    assert result["usage"]["reasoning_tokens"] == 15
