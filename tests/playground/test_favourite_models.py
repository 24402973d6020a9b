"""The model picker's stars (issue 21.8): kept on the user's preferences, so they
follow the user to another browser; one POST toggles one model."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from playground.models import ModelProfile, Preferences, Provider

pytestmark = pytest.mark.django_db


@pytest.fixture
def models():
    provider = Provider.objects.create(name="sim", kind="simulator")
    return [ModelProfile.objects.create(provider=provider, model_id=f"sim-{i}", label=f"Sim {i}") for i in range(3)]


def star(client, model, on: bool):
    return client.post("/settings/favourites", {"model": model.pk, "on": "1" if on else "0"})


def test_stars_are_kept_in_the_order_starred_and_unstarred(client, owner, models):
    client.force_login(owner)
    assert star(client, models[2], True).json() == {"favourites": [models[2].pk]}
    assert star(client, models[0], True).json() == {"favourites": [models[2].pk, models[0].pk]}
    assert star(client, models[2], True).json() == {"favourites": [models[0].pk, models[2].pk]}  # no duplicate
    assert star(client, models[0], False).json() == {"favourites": [models[2].pk]}
    assert Preferences.of(owner).favourite_models == [models[2].pk]


def test_the_chat_and_compare_pages_carry_the_users_stars_only(client, owner, models):
    other = get_user_model().objects.create_user("other", password="pw")
    client.force_login(other)
    star(client, models[1], True)
    client.force_login(owner)
    star(client, models[0], True)
    for url in ("/", "/compare/new/"):
        page = client.get(url).content.decode()
        assert f'data-favourites="{models[0].pk}"' in page, url
        assert f'data-favourites="{models[1].pk}"' not in page


def test_a_disabled_or_unknown_model_is_refused(client, owner, models):
    client.force_login(owner)
    ModelProfile.objects.filter(pk=models[1].pk).update(enabled=False)
    assert star(client, models[1], True).status_code == 400
    assert client.post("/settings/favourites", {"model": "nope", "on": "1"}).status_code == 400
    assert client.post("/settings/favourites", {"model": 999999, "on": "1"}).status_code == 400
    assert Preferences.of(owner).favourite_models == []


def test_it_needs_a_signed_in_user_and_a_post(client, models):
    assert star(client, models[0], True).status_code in (302, 401, 403)
    assert client.get("/settings/favourites").status_code in (302, 405)
