"""API tokens: hashed at rest, shown once, revoked at once, from the settings page
and from `manage.py tokens`."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from playground.api.tokens import create_token, digest_of, user_for
from playground.models import ApiToken

pytestmark = pytest.mark.django_db


def test_only_a_hash_of_the_secret_is_stored(owner):
    token, secret = create_token(owner, "laptop")
    stored = ApiToken.objects.filter(pk=token.pk).values().get()
    assert secret not in {str(v) for v in stored.values()}
    assert stored["digest"] == digest_of(secret)
    assert secret.startswith(stored["prefix"])


def test_a_token_authenticates_its_owner_and_records_its_use(owner):
    token, secret = create_token(owner)
    assert user_for(f"Bearer {secret}") == owner
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer rp-nope", "Basic abc", "rp-abc"])
def test_anything_else_is_nobody(owner, header):
    create_token(owner)
    assert user_for(header) is None


def test_an_inactive_users_token_is_refused(owner):
    _, secret = create_token(owner)
    owner.is_active = False
    owner.save()
    assert user_for(f"Bearer {secret}") is None


def test_the_command_prints_the_token_once_and_nothing_else(owner):
    out = StringIO()
    call_command("tokens", "create", "--user", owner.username, "--name", "ci", stdout=out)
    secret = out.getvalue().strip()
    assert "\n" not in secret and user_for(f"Bearer {secret}") == owner
    listing = StringIO()
    call_command("tokens", "list", stdout=listing)
    [line] = listing.getvalue().splitlines()
    token = ApiToken.objects.get()
    assert line.split("\t")[:3] == [str(token.pk), "ci", owner.username]
    assert "last used" in line and secret not in line and token.digest not in line


def test_the_command_revokes_at_once(owner):
    token, secret = create_token(owner, "old")
    call_command("tokens", "revoke", str(token.pk), stdout=StringIO(), stderr=StringIO())
    assert user_for(f"Bearer {secret}") is None
    listing = StringIO()
    call_command("tokens", "list", stdout=listing)
    assert "\trevoked " in listing.getvalue()


def test_the_command_refuses_an_unknown_user_or_token(owner):
    with pytest.raises(CommandError):
        call_command("tokens", "create", "--user", "nobody", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command("tokens", "revoke", "999", stderr=StringIO())


def test_the_settings_page_makes_a_token_and_shows_it_once(client, owner):
    client.force_login(owner)
    response = client.post("/settings/tokens/new", {"name": "notebook"})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=owner)
    secret = response.context["secret"]
    assert secret in response.content.decode()
    assert response["cache-control"] == "no-store"
    page = client.get("/settings/").content.decode()
    assert "notebook" in page and token.prefix in page and secret not in page


def test_the_settings_page_revokes_only_the_owners_tokens(client, owner, stranger):
    theirs, their_secret = create_token(stranger, "theirs")
    mine, my_secret = create_token(owner, "mine")
    client.force_login(owner)
    assert client.post(f"/settings/tokens/{theirs.pk}/revoke").status_code == 404
    assert user_for(f"Bearer {their_secret}") == stranger
    assert client.post(f"/settings/tokens/{mine.pk}/revoke").status_code == 302
    assert user_for(f"Bearer {my_secret}") is None
    assert "revoked" in client.get("/settings/").content.decode()
