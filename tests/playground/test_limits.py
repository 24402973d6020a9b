"""Limits with clear messages, and nothing stored on refusal: concurrent runs and
answers a minute per user, prompt size, login throttling (django-axes), and
imports validated like typed input (numbers bounded, settings within ranges,
nesting depth)."""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from playground.conversations import exports
from playground.models import Conversation, Turn
from playground.turns.services import BadInput, start_exchange
from tests.playground.test_views import conversation  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def streaming_turns(owner, model, n):
    conv = Conversation.objects.create(owner=owner)
    for _ in range(n):
        Turn.objects.create(conversation=conv, role="assistant", status="streaming", model=model)
    return conv


def test_a_user_cannot_run_more_answers_at_once_than_the_limit(settings, owner, stranger, scripted_model):
    settings.MAX_CONCURRENT_RUNS = 2
    conv = streaming_turns(owner, scripted_model, 2)
    before = Turn.objects.count()
    with pytest.raises(BadInput, match="at most 2 run at once"):
        start_exchange(conv, "one more", scripted_model, {})
    assert Turn.objects.count() == before
    other = Conversation.objects.create(owner=stranger)  # someone else is not held up
    start_exchange(other, "mine", scripted_model, {})


def test_a_user_cannot_start_more_answers_a_minute_than_the_limit(settings, owner, scripted_model):
    settings.RUNS_PER_MINUTE = 3
    conv = Conversation.objects.create(owner=owner)
    for _ in range(3):
        exchange = start_exchange(conv, "again", scripted_model, {})
        Turn.objects.filter(pk=exchange.assistant_turn.pk).update(status="complete")
    with pytest.raises(BadInput, match="At most 3 answers a minute"):
        start_exchange(conv, "again", scripted_model, {})
    assert Turn.objects.count() == 6


def test_a_prompt_over_the_limit_is_refused_and_not_stored(settings, client, owner, scripted_model):
    settings.MAX_PROMPT_CHARS = 1000
    client.force_login(owner)
    response = client.post("/c/new", {"prompt": "x" * 1001, "model": scripted_model.pk})
    assert "longer than 1,000 characters" in html.unescape(response.content.decode())
    assert not Turn.objects.exists()
    response = client.post("/c/new", {"prompt": "x", "system": "s" * 1001, "model": scripted_model.pk})
    assert "system prompt is longer" in html.unescape(response.content.decode())
    assert not Turn.objects.exists()


def test_a_comparison_over_the_run_limit_stores_nothing(settings, client, owner, scripted_model):
    from playground.models import Comparison, ModelProfile

    settings.MAX_CONCURRENT_RUNS = 3
    second = ModelProfile.objects.create(provider=scripted_model.provider, model_id="s-2", label="Scripted 2")
    form = {f"col{i}-model": (scripted_model if i % 2 else second).pk for i in range(4)}
    client.force_login(owner)
    response = client.post("/compare/new/", {**form, "prompt": "Hi"})
    assert "at most 3 run at once" in html.unescape(response.content.decode())
    assert not Comparison.objects.exists() and not Turn.objects.exists() and not Conversation.objects.exists()


def test_wrong_passwords_lock_the_username_out_even_with_the_right_one(settings, client, owner):
    settings.AXES_FAILURE_LIMIT = 3
    statuses = [client.post("/login/", {"username": "olivia", "password": "wrong"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]  # the third failure locks
    locked = client.post("/login/", {"username": "olivia", "password": "correct horse battery"})
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_right_password_resets_the_count(settings, client, owner):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        client.post("/login/", {"username": "olivia", "password": "wrong"})
    assert client.post("/login/", {"username": "olivia", "password": "correct horse battery"}).status_code == 302


def post_import(client, doc):
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return client.post("/c/import", {"file": SimpleUploadedFile("c.json", data, "application/json")})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d["turns"][1].update(cost="1e999999"), "turn 2 cost is too large"),
        (lambda d: d["turns"][1].update(cost="NaN"), "turn 2 cost must be ≥ 0"),
        (lambda d: d["turns"][1].update(params={"max_tokens": 2_000_000_000}), "max_tokens must be between"),
        (lambda d: d["turns"][1].update(params={"temperature": 99.5}), "temperature must be between 0 and 2"),
        (lambda d: d["turns"][1].update(params={"effort": "ludicrous"}), "is not available for"),
        (lambda d: d.update(settings={"max_tokens": -1}), '"settings" are out of range'),
        (lambda d: d.update(settings={"system": "s" * 200_000}), "system prompt is longer"),
        (lambda d: d["turns"][1].update(error={"message": ["x"]}), "turn 2 error message must be a string"),
        (lambda d: d["turns"][1].update(error={"status_code": 1e300}), "status_code must be a number"),
        (lambda d: d["turns"][1].update(error={"nested": json.loads("[" * 25 + "]" * 25)}),
         "nested more than 20 levels"),
    ],
)
def test_an_import_is_validated_like_typed_input_and_stores_nothing(client, owner, conversation, mutate, message):  # noqa: F811
    client.force_login(owner)
    doc = exports.to_json(conversation)
    mutate(doc)
    response = post_import(client, doc)
    assert response.status_code == 400
    assert message in html.unescape(response.content.decode())
    assert Conversation.objects.count() == 1 and Turn.objects.count() == 2


def test_deeply_nested_json_is_refused_not_a_500(client, owner):
    client.force_login(owner)
    response = post_import(client, b"[" * 200_000 + b"]" * 200_000)
    assert response.status_code == 400 and "nested more than" in response.content.decode()
    assert not Conversation.objects.exists()


def test_nul_characters_in_an_import_are_removed(client, owner, conversation):  # noqa: F811
    client.force_login(owner)
    doc = exports.to_json(conversation)
    doc["turns"][1]["content"] = "forty\x00two"
    doc["title"] = "ti\x00tle"
    assert post_import(client, doc).status_code == 302
    imported = Conversation.objects.exclude(pk=conversation.pk).get()
    assert imported.title == "title" and imported.turns.get(role="assistant").content == "fortytwo"


def test_deeply_nested_toml_is_a_clear_error_not_a_traceback(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 50_000 + "]" * 50_000 + "\n")
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "manage.py", "providers", "import", str(path)],
        cwd=root, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2, result.stderr[-2000:]
    assert "invalid TOML" in result.stderr and "Traceback" not in result.stderr
