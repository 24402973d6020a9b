"""The admin's model form: "automatic" fills thinking from the catalogue; a control or
effort the provider's kind cannot take is rejected with the reason, nothing saved."""

from __future__ import annotations

import pytest

from playground.models import ModelProfile, Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def post_model(admin_client, provider: Provider, **fields):
    data = {
        "provider": provider.pk, "model_id": "gemini-2.5-pro", "label": "G", "reasoning": "native",
        "thinking_control": "", "efforts": "[]", "options": "{}", "enabled": "on", "position": "0",
        "supports_temperature": "on",
    }
    data.update(fields)
    return admin_client.post("/admin/playground/modelprofile/add/", data)


@pytest.fixture
def gemini():
    return Provider.objects.create(name="g", kind="gemini")


def test_automatic_fills_thinking_from_the_model_id(admin_client, gemini):
    response = post_model(admin_client, gemini)
    assert response.status_code == 302, response.content.decode()[:3000]
    model = ModelProfile.objects.get(label="G")
    assert (model.thinking_control, model.efforts, model.supports_budget) == (
        "gemini_budget",
        ["low", "medium", "high"],
        True,
    )
    assert model.options == {"thinking_always_on": True}


def test_a_control_chosen_by_hand_wins(admin_client, gemini):
    assert post_model(admin_client, gemini, thinking_control="none").status_code == 302
    assert ModelProfile.objects.get(label="G").thinking_control == "none"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"thinking_control": "ollama_think"}, "applies to ollama providers, not gemini"),
        ({"thinking_control": "gemini_level", "efforts": '["none", "low"]'}, "cannot turn thinking off"),
        ({"thinking_control": "none", "efforts": '["low"]'}, "takes no effort"),
    ],
)
def test_it_rejects_a_control_or_effort_the_kind_cannot_take(admin_client, gemini, fields, message):
    response = post_model(admin_client, gemini, **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ModelProfile.objects.exists()
