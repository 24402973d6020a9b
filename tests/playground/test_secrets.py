"""Known secrets never leave: the scrubber, secret headers at rest and in the
inspector, and rotating FIELD_ENCRYPTION_KEY."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from playground import crypto
from playground.models import Provider
from playground.security.secrets import REDACTED, Scrubber
from reasoning.request import PreparedRequest, ProviderConfig

KEY = "sk-live-DO-NOT-LEAK-0123456789abcdef"
GATEWAY = "Bearer cfut_GATEWAY-SECRET-987654321"


def config(**options):
    return ProviderConfig(kind="openai", api_key=KEY, options=options)


def test_it_scrubs_the_key_and_secret_headers_but_not_public_ones():
    scrubber = Scrubber.for_provider(
        config(headers={"cf-aig-authorization": GATEWAY, "HTTP-Referer": "https://playground.example"})
    )
    text = f"Incorrect API key provided: {KEY}. Header was {GATEWAY}; token cfut_GATEWAY-SECRET-987654321."
    scrubbed = scrubber.scrub(text)
    assert KEY not in scrubbed and "cfut_GATEWAY" not in scrubbed
    assert scrubbed.count(REDACTED) == 3
    assert "playground.example" not in scrubber.secrets


def test_extra_secrets_such_as_api_tokens_are_scrubbed_too():
    scrubber = Scrubber.for_provider(config(), extra=["pg-token-abcdefghijkl"])
    assert scrubber.scrub("echo pg-token-abcdefghijkl and " + KEY) == f"echo {REDACTED} and {REDACTED}"


def test_short_values_are_not_treated_as_secrets():
    assert Scrubber(["abc", ""]).scrub("abc") == "abc"


@pytest.mark.parametrize("cut", [1, 5, 12, len(KEY) - 1])
def test_a_key_split_across_deltas_is_scrubbed(cut):
    stream = Scrubber.for_provider(config()).stream()
    text = f"Your key {KEY} is wrong"
    pieces = [text[: 9 + cut], text[9 + cut : 9 + cut + 3], text[9 + cut + 3 :]]
    out = "".join(stream.feed(p) for p in pieces) + stream.flush()
    assert out == f"Your key {REDACTED} is wrong"


def test_text_that_only_starts_like_a_key_is_released_in_full():
    stream = Scrubber.for_provider(config()).stream()
    first = stream.feed("the prefix sk-li")
    assert first == "the prefix "  # held: it may be a key
    assert first + stream.feed("ke a sketch") + stream.flush() == "the prefix sk-like a sketch"


def test_text_passes_at_once_when_no_tail_starts_a_secret():
    stream = Scrubber.for_provider(config()).stream()
    assert stream.feed("hello world.") == "hello world."


def test_the_inspector_redacts_every_header_not_known_to_be_public():
    prepared = PreparedRequest(
        "POST", "https://gw.example/v1/chat?key=" + KEY,
        {"authorization": "Bearer " + KEY, "cf-aig-authorization": GATEWAY, "x-title": "Playground",
         "content-type": "application/json"},
        {"model": "m", "messages": [{"role": "user", "content": "my key is " + KEY}]},
    )
    shown = Scrubber.for_provider(config(headers={"cf-aig-authorization": GATEWAY})).redact_request(prepared)
    assert shown.headers == {
        "authorization": REDACTED, "cf-aig-authorization": REDACTED, "x-title": "Playground",
        "content-type": "application/json",
    }
    assert KEY not in repr(shown)


@pytest.mark.django_db
def test_secret_headers_are_encrypted_at_rest_and_sent_in_clear():
    headers = {"cf-aig-authorization": GATEWAY, "x-title": "P"}
    provider = Provider(name="gw", kind="openai", options={"headers": headers})
    provider.save()
    with connection.cursor() as cursor:
        cursor.execute("SELECT options FROM playground_provider")
        stored = str(cursor.fetchone()[0])
    assert "cfut_GATEWAY" not in stored and '"P"' in stored
    provider.refresh_from_db()
    provider.save()  # sealing is idempotent: a second save does not encrypt twice
    assert Provider.objects.get().config().options["headers"] == {"cf-aig-authorization": GATEWAY, "x-title": "P"}


@pytest.mark.django_db
def test_rotating_the_encryption_key_re_encrypts_every_secret(settings):
    old = settings.FIELD_ENCRYPTION_KEY
    provider = Provider(name="gw", kind="openai", options={"headers": {"cf-aig-authorization": GATEWAY}})
    provider.set_api_key(KEY)
    provider.save()
    new = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f"{new},{old}"
    call_command("rotate_encryption_key")
    settings.FIELD_ENCRYPTION_KEY = new  # the old key is gone
    crypto._fernet.cache_clear()
    config = Provider.objects.get().config()
    assert config.api_key == KEY
    assert config.options["headers"]["cf-aig-authorization"] == GATEWAY


@pytest.mark.django_db
def test_rotation_without_the_old_key_changes_nothing(settings):
    provider = Provider(name="gw", kind="openai")
    provider.set_api_key(KEY)
    provider.save()
    before = Provider.objects.get().api_key_encrypted
    settings.FIELD_ENCRYPTION_KEY = Fernet.generate_key().decode()
    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("rotate_encryption_key")
    assert Provider.objects.get().api_key_encrypted == before


@pytest.mark.django_db
def test_the_inspector_never_shows_a_secret_header_recorded_before_redaction(client, owner):
    from playground.models import Conversation, Turn

    conv = Conversation.objects.create(owner=owner)
    turn = Turn.objects.create(
        conversation=conv, role="assistant",
        sent={"method": "POST", "url": "https://gw.example/v1", "body": {},
              "headers": {"cf-aig-authorization": GATEWAY, "x-title": "Playground"}},
    )
    client.force_login(owner)
    page = client.get(f"/turns/{turn.pk}/request").content.decode()
    assert "cfut_GATEWAY" not in page and "[redacted]" in page and "Playground" in page


@pytest.mark.django_db
def test_the_migration_seals_headers_stored_in_clear():
    import importlib

    from django.apps import apps

    Provider.objects.create(name="old", kind="openai")
    Provider.objects.filter(name="old").update(options={"headers": {"cf-aig-authorization": GATEWAY}})
    importlib.import_module("playground.migrations.0007_seal_secret_headers").seal(apps, None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT options FROM playground_provider")
        assert "cfut_GATEWAY" not in str(cursor.fetchone()[0])
    assert Provider.objects.get().config().options["headers"]["cf-aig-authorization"] == GATEWAY
