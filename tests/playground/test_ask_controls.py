"""`ask` offers only what the model takes (issue 20.4): --effort, --budget and
--temperature are refused with exit 2, nothing sent, where the model cannot take them."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from reasoning.testing.formats_native import anthropic_sse

pytestmark = pytest.mark.django_db(transaction=True)


def import_file(tmp_path: Path, kind: str, model_id: str, base_url: str, extra: str = "") -> None:
    path = tmp_path / "providers.toml"
    path.write_text(
        f'[[providers]]\nname = "p"\nkind = "{kind}"\nbase_url = "{base_url}"\n\n'
        f'  [[providers.models]]\n  id = "{model_id}"\n  label = "M"\n{extra}'
    )
    call_command("providers", "import", str(path), stdout=io.StringIO(), stderr=io.StringIO())


def ask(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("ask", "--json", "--model", "M", *args, "Hi", stdout=out, stderr=io.StringIO())
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--effort", "low"], "does not reason"),
        (["--budget", "2048"], "does not reason"),
        (["--thinking", "on"], "does not reason"),
    ],
)
def test_gpt_4o_imported_by_id_takes_no_thinking_control(tmp_path, admin_user, args, message):
    with FakeUpstream(Script(chunks=openai_chat_sse("", "hi"))) as up:
        import_file(tmp_path, "openai", "gpt-4o", up.url + "/v1")
        with pytest.raises(CommandError) as caught:
            ask(*args)
        assert up.requests == []
    assert caught.value.returncode == 2
    assert message in str(caught.value)


def test_gpt_4o_answers_with_no_reasoning_field_sent(tmp_path, admin_user):
    with FakeUpstream(Script(chunks=openai_chat_sse("", "hi"))) as up:
        import_file(tmp_path, "openai", "gpt-4o", up.url + "/v1")
        assert ask()["status"] == "complete"
        assert "reasoning_effort" not in up.requests[-1].json


def test_budget_reaches_a_model_that_takes_one(tmp_path, admin_user):
    chunks = anthropic_sse("r", "a")
    with FakeUpstream(Script(chunks=chunks)) as up:
        import_file(tmp_path, "anthropic", "claude-sonnet-4-5", up.url)
        assert ask("--budget", "3000")["status"] == "complete"
        assert up.requests[-1].json["thinking"] == {"type": "enabled", "budget_tokens": 3000}


def test_budget_is_refused_where_the_control_takes_none(tmp_path, admin_user):
    with FakeUpstream() as up:
        import_file(tmp_path, "openai", "o4-mini", up.url + "/v1")
        with pytest.raises(CommandError) as caught:
            ask("--budget", "3000")
        assert up.requests == []
    assert caught.value.returncode == 2 and "budget" in str(caught.value)


def test_temperature_reaches_a_model_that_takes_it_and_is_refused_elsewhere(tmp_path, admin_user):
    with FakeUpstream(Script(chunks=openai_chat_sse("", "hi"))) as up:
        import_file(tmp_path, "openai", "gpt-4o", up.url + "/v1")
        assert ask("--temperature", "0.3")["status"] == "complete"
        assert up.requests[-1].json["temperature"] == 0.3
    with FakeUpstream() as up:
        import_file(tmp_path, "openai", "gpt-4o", up.url + "/v1", "  supports_temperature = false\n")
        with pytest.raises(CommandError) as caught:
            ask("--temperature", "0.3")
        assert up.requests == []
    assert caught.value.returncode == 2 and "takes no temperature" in str(caught.value)


def test_opus_5_5_thinking_off_exits_2_with_a_clear_message(tmp_path, admin_user):
    with FakeUpstream() as up:
        import_file(tmp_path, "anthropic", "claude-opus-5-5", up.url)
        with pytest.raises(CommandError) as caught:
            ask("--thinking", "off")
        assert up.requests == []
    assert caught.value.returncode == 2
    # In the person's words (reasoning.accepts.for_person): why, and what would work instead.
    assert "always thinks" in str(caught.value) and "lowest effort (low)" in str(caught.value)


def test_a_model_written_with_reasoning_none_takes_no_effort(tmp_path, admin_user):
    from playground.models import ModelProfile

    with FakeUpstream() as up:
        import_file(tmp_path, "openai", "my-own-model", up.url + "/v1", '  reasoning = "none"\n')
        model = ModelProfile.objects.get()
        assert (model.thinking_control, model.efforts) == ("none", [])
        with pytest.raises(CommandError) as caught:
            ask("--effort", "low")
        assert up.requests == []
    assert caught.value.returncode == 2
    assert "does not reason" in str(caught.value)


def test_the_importer_refuses_efforts_for_a_model_that_does_not_reason(tmp_path):
    extra = '  reasoning = "none"\n  thinking_control = "reasoning_effort"\n  efforts = ["low"]\n'
    with pytest.raises(CommandError) as caught:
        import_file(tmp_path, "openai", "my-own-model", "http://127.0.0.1:1/v1", extra)
    assert caught.value.returncode == 2
    assert "efforts" in str(caught.value) and "does not reason" in str(caught.value)
