"""Provider keys: encrypted at rest, masked in the admin, never rendered, never logged."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from playground.models import Provider

SECRET = "sk-live-DO-NOT-LEAK-0123456789abcdef"

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def add_provider(admin_client):
    return admin_client.post(
        "/admin/playground/provider/add/",
        {
            "name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1",
            "enabled": "on", "options": "{}", "api_key": SECRET,
            "models-TOTAL_FORMS": "0", "models-INITIAL_FORMS": "0",
        },
    )


def test_it_stores_the_key_encrypted_and_decrypts_it_for_requests(admin_client):
    response = add_provider(admin_client)
    assert response.status_code == 302, response.content[:2000]
    provider = Provider.objects.get(name="openai")
    assert SECRET not in provider.api_key_encrypted
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_key_encrypted FROM playground_provider")
        assert SECRET not in cursor.fetchone()[0]
    assert provider.config().api_key == SECRET


def test_it_never_shows_the_key_in_any_admin_page_or_log(admin_client, caplog):
    caplog.set_level(logging.DEBUG)
    add_provider(admin_client)
    provider = Provider.objects.get(name="openai")
    pages = [
        "/admin/", "/admin/playground/provider/", f"/admin/playground/provider/{provider.pk}/change/",
        f"/admin/playground/provider/{provider.pk}/history/", "/admin/playground/modelprofile/", "/",
    ]
    for url in pages:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert SECRET.encode() not in response.content, url
        assert SECRET[-4:].encode() in response.content or "change" not in url  # masked form is shown
    assert SECRET not in caplog.text
    change_page = admin_client.get(f"/admin/playground/provider/{provider.pk}/change/").content.decode()
    assert "••••" + SECRET[-4:] in change_page


def test_an_empty_key_field_keeps_the_stored_key(admin_client):
    add_provider(admin_client)
    provider = Provider.objects.get(name="openai")
    admin_client.post(
        f"/admin/playground/provider/{provider.pk}/change/",
        {
            "name": "openai", "kind": "openai", "base_url": "https://api.openai.com/v1",
            "enabled": "on", "options": "{}", "api_key": "",
            "models-TOTAL_FORMS": "0", "models-INITIAL_FORMS": "0",
        },
    )
    provider.refresh_from_db()
    assert provider.config().api_key == SECRET


def test_the_prepared_request_shown_to_users_is_redacted(db):
    from reasoning.request import PreparedRequest

    prepared = PreparedRequest("POST", "https://x/v1?key=" + SECRET, {"Authorization": f"Bearer {SECRET}"}, {})
    assert SECRET not in repr(prepared.redacted())
