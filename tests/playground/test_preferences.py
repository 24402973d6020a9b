"""The user's own settings page: one row per user, saved from the form."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from playground.models import ModelProfile, Preferences, Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(client):
    user = get_user_model().objects.create_user("owner", password="pw")
    client.force_login(user)
    return user


def test_it_makes_the_row_on_first_visit_with_defaults(client, owner):
    response = client.get("/settings/")
    assert response.status_code == 200
    preferences = Preferences.objects.get(user=owner)
    assert (preferences.theme, preferences.enter_sends, preferences.load_remote_images) == ("system", True, False)
    assert preferences.store_api_requests is True


def test_it_saves_the_form(client, owner):
    provider = Provider.objects.create(name="sim", kind="simulator")
    model = ModelProfile.objects.create(provider=provider, model_id="sim-1", label="Sim one")
    response = client.post(
        "/settings/", {"theme": "dark", "default_model": model.pk, "store_api_requests": "on"}
    )
    assert response.status_code == 302
    preferences = Preferences.of(owner)
    assert preferences.theme == "dark"
    assert preferences.enter_sends is False  # an unticked box
    assert preferences.default_model == model


def test_it_refuses_an_unknown_theme_and_keeps_the_old_value(client, owner):
    response = client.post("/settings/", {"theme": "neon"})
    assert response.status_code == 200
    assert b"neon" in response.content or b"Select a valid choice" in response.content
    assert Preferences.of(owner).theme == "system"
