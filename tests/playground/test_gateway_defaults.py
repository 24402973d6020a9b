"""A provider's gateway (issue 20.4) in the providers file and the admin: `providers
import` and the admin's Fetch models give Baseten's and Friendli's models the same
defaults, and `ask` then gets reasoning from a fake that refuses what Baseten refuses."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from playground.models import ModelProfile, Provider
from reasoning.testing import FakeUpstream, Script
from reasoning.testing.gateways import ANSWER, THOUGHT, baseten, friendli

pytestmark = pytest.mark.django_db(transaction=True)


def import_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    call_command("providers", "import", str(path), stdout=io.StringIO(), stderr=io.StringIO())


def gateway_file(base_url: str, gateway: str, model_id: str) -> str:
    return (
        f'[[providers]]\nname = "p"\nkind = "openai"\nbase_url = "{base_url}"\ngateway = "{gateway}"\n\n'
        f'  [[providers.models]]\n  id = "{model_id}"\n  label = "M"\n'
    )


def ask(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("ask", "--json", "--model", "M", *args, "17*23?", stdout=out, stderr=io.StringIO())
    result: dict[str, Any] = json.loads(out.getvalue())
    return result


@pytest.mark.parametrize("model_id", ["moonshotai/Kimi-K2.5", "zai-org/GLM-5"])
def test_a_baseten_opt_in_model_imported_by_id_reasons_with_thinking_on(tmp_path, admin_user, model_id):
    with FakeUpstream(baseten) as up:
        import_file(tmp_path, gateway_file(up.url + "/v1", "baseten", model_id))
        result = ask("--thinking", "on")
        assert up.requests[-1].json["chat_template_args"] == {"enable_thinking": True}
    assert (result["status"], result["reasoning"], result["content"]) == ("complete", THOUGHT, ANSWER)
    assert Provider.objects.get().gateway == "baseten"


@pytest.mark.parametrize("effort", ["low", "medium", "high", "xhigh"])
def test_baseten_deepseek_v4_pro_takes_its_efforts(tmp_path, admin_user, effort):
    with FakeUpstream(baseten) as up:
        import_file(tmp_path, gateway_file(up.url + "/v1", "baseten", "deepseek-ai/DeepSeek-V4-Pro"))
        result = ask("--effort", effort)
        body = up.requests[-1].json
    assert result["status"] == "complete" and result["reasoning"] == THOUGHT
    assert body["reasoning_effort"] == effort and "thinking" not in body


def test_baseten_deepseek_v4_pro_refuses_max_and_sends_nothing(tmp_path, admin_user):
    with FakeUpstream(baseten) as up:
        import_file(tmp_path, gateway_file(up.url + "/v1", "baseten", "deepseek-ai/DeepSeek-V4-Pro"))
        with pytest.raises(CommandError) as caught:
            ask("--effort", "max")
        assert up.requests == []
    assert caught.value.returncode == 2


def test_a_public_baseten_url_needs_no_gateway_key(tmp_path):
    text = gateway_file("https://inference.baseten.co/v1", "baseten", "moonshotai/Kimi-K2.6").replace(
        'gateway = "baseten"\n', ""
    )
    import_file(tmp_path, text)
    model = ModelProfile.objects.get()
    assert model.thinking_control == "chat_template_args"
    assert model.provider.effective_gateway == "baseten"


def test_an_unknown_gateway_is_refused(tmp_path):
    with pytest.raises(CommandError) as caught:
        import_file(tmp_path, gateway_file("http://127.0.0.1:1/v1", "bastion", "m"))
    assert caught.value.returncode == 2 and "gateway" in str(caught.value)


def test_friendli_hidden_sends_include_reasoning_false(tmp_path, admin_user):
    with FakeUpstream(friendli) as up:
        import_file(tmp_path, gateway_file(up.url + "/v1", "friendli", "deepseek-ai/DeepSeek-R1"))
        result = ask("--reasoning", "hidden")
        body = up.requests[-1].json
    assert (body["parse_reasoning"], body["include_reasoning"]) == (True, False)
    assert (result["reasoning"], result["content"]) == ("", ANSWER)


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_fetch_models_uses_the_gateways_defaults(admin_client):
    listed = {"object": "list", "data": [{"id": "moonshotai/Kimi-K2.5"}, {"id": "deepseek-ai/DeepSeek-V4-Pro"}]}
    with FakeUpstream(Script.json(listed)) as up:
        provider = Provider.objects.create(name="baseten", kind="openai", base_url=up.url + "/v1", gateway="baseten")
        response = admin_client.post(
            "/admin/playground/provider/",
            {"action": "fetch_models", "_selected_action": [provider.pk], "index": "0", "select_across": "0"},
            follow=True,
        )
    assert response.status_code == 200
    kimi = ModelProfile.objects.get(model_id="moonshotai/Kimi-K2.5")
    assert kimi.thinking_control == "chat_template_args"
    v4 = ModelProfile.objects.get(model_id="deepseek-ai/DeepSeek-V4-Pro")
    assert (v4.thinking_control, v4.efforts) == ("reasoning_effort", ["low", "medium", "high", "xhigh"])


def test_the_admin_form_sets_the_gateway(admin_client):
    data = {
        "name": "fr", "kind": "openai", "base_url": "http://127.0.0.1:1/v1", "gateway": "friendli",
        "enabled": "on", "options": "{}", "models-TOTAL_FORMS": "0", "models-INITIAL_FORMS": "0",
    }
    assert admin_client.post("/admin/playground/provider/add/", data).status_code == 302
    assert Provider.objects.get(name="fr").effective_gateway == "friendli"
