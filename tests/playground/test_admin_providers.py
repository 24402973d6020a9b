"""Providers a newcomer sets up right, in the admin: Test connection and Fetch models
use the stored key against the stored URL and show the provider's own message (never
the key); a key typed into a form with another error is kept; an undecryptable key
is explained, not a 500."""

from __future__ import annotations

import re

import pytest

from playground.models import ModelProfile, Provider
from reasoning.testing import FakeUpstream, Script

pytestmark = pytest.mark.django_db(transaction=True)

SECRET = "sk-live-DO-NOT-LEAK-0123456789abcdef"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def provider_at(url: str, kind: str = "openai-responses") -> Provider:
    provider = Provider.objects.create(name="openai", kind=kind, base_url=url)
    provider.set_api_key(SECRET)
    provider.save()
    return provider


def act(admin_client, action: str, provider: Provider) -> str:
    response = admin_client.post(
        "/admin/playground/provider/",
        {"action": action, "_selected_action": [provider.pk], "index": "0", "select_across": "0"},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


MODELS = {"object": "list", "data": [{"id": "gpt-5.1", "object": "model"}, {"id": "o4-mini", "object": "model"}]}


def test_test_connection_uses_the_stored_key_and_url(admin_client):
    with FakeUpstream(Script.json(MODELS)) as up:
        provider = provider_at(up.url + "/v1")
        html = act(admin_client, "test_connection", provider)
        [request] = up.requests
    assert "Openai: connected; it lists 2 models." in html  # the admin capitalises messages
    assert (request.method, request.path) == ("GET", "/v1/models")
    assert request.headers["authorization"] == f"Bearer {SECRET}"
    assert SECRET not in html


def test_test_connection_shows_the_providers_own_message_never_the_key(admin_client):
    refusal = {"error": {"message": f"Incorrect API key provided: {SECRET}.", "type": "invalid_request_error"}}
    with FakeUpstream(Script.error(401, refusal)) as up:
        html = act(admin_client, "test_connection", provider_at(up.url + "/v1"))
    assert "Openai: auth, HTTP 401: Incorrect API key provided: [key]." in html
    assert SECRET not in html


def test_fetch_models_adds_profiles_with_catalogue_defaults(admin_client):
    with FakeUpstream(Script.json(MODELS)) as up:
        provider = provider_at(up.url + "/v1")
        assert "2 models listed, 2 added" in act(admin_client, "fetch_models", provider)
        assert "2 models listed, 0 added" in act(admin_client, "fetch_models", provider)
    gpt = ModelProfile.objects.get(model_id="gpt-5.1")
    assert (gpt.thinking_control, gpt.efforts) == ("responses", ["none", "low", "medium", "high", "xhigh"])
    assert ModelProfile.objects.get(model_id="o4-mini").thinking_control == "responses"


def test_a_key_typed_into_a_form_with_another_error_is_kept(admin_client):
    data = {
        "name": "openai", "kind": "openai", "base_url": "not a url", "enabled": "on", "options": "{}",
        "api_key": SECRET, "models-TOTAL_FORMS": "0", "models-INITIAL_FORMS": "0",
    }
    first = admin_client.post("/admin/playground/provider/add/", data)
    html = first.content.decode()
    assert first.status_code == 200 and "Enter a valid URL" in html
    assert SECRET not in html
    kept = re.search(r'name="api_key_kept" value="([^"]+)"', html)
    assert kept, "the typed key is carried (encrypted) to the next submit"
    again = admin_client.post(
        "/admin/playground/provider/add/",
        {**data, "base_url": "https://api.openai.com/v1", "api_key": "", "api_key_kept": kept.group(1)},
    )
    assert again.status_code == 302
    assert Provider.objects.get(name="openai").config().api_key == SECRET


def test_an_undecryptable_key_is_explained_not_a_500(admin_client):
    provider = Provider.objects.create(name="rotated", kind="openai", api_key_encrypted="gAAAAABnot-a-valid-token")
    for url in ("/admin/playground/provider/", f"/admin/playground/provider/{provider.pk}/change/"):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert "cannot be decrypted: FIELD_ENCRYPTION_KEY changed" in response.content.decode()
    assert "cannot be decrypted" in act(admin_client, "test_connection", provider)

