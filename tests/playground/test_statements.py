"""The statements of a turn's start and end written once (playground/statements.py,
issue 23.3) give what the ORM's queries gave: every field of every row, converted the
same way (dates, JSON, decimals, booleans), the related objects cached as
`select_related` caches them (no query when read), deferred fields deferred; the
compiled UPDATE and INSERT write what `QuerySet.update` and `Model.save` write, and
are compiled once. Run on SQLite, and on PostgreSQL with DATABASE_URL set."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now
from django.utils import timezone

from playground import statements
from playground.api.tokens import create_token, digest_of, revoke
from playground.models import ApiToken, Conversation, ModelProfile, Preferences, Turn
from playground.turns import services
from playground.turns.services import START_SKIPS, conversation_turns, model_by_id, runs_allowed, start_exchange

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields
            if f.attname not in instance.get_deferred_fields()}


def rich_turns(conversation: Conversation, model: ModelProfile) -> list[Turn]:
    prompt = Turn.objects.create(conversation=conversation, role="user", content="Why?")
    answer = Turn.objects.create(
        conversation=conversation, parent=prompt, role="assistant", content="Because.", reasoning="Hm.",
        replay={"signature": "s", "items": [1, 2.5, None, "é"]}, steps=[{"reasoning": "x"}], model=model,
        model_label=model.label, source="openai:m", params={"effort": "high", "max_tokens": 5},
        sent={"body": {"k": "v"}}, error={"kind": "x"}, status="complete", prompt_tokens=3, completion_tokens=4,
        reasoning_tokens=2, reasoning_tokens_estimated=True, cost=Decimal("0.001234"), first_reasoning_ms=5,
        heartbeat_at=timezone.now() - timedelta(seconds=3), worker="w1",
    )
    conversation.leaf = answer
    conversation.title = "Rich"
    conversation.settings = {"effort": "high"}
    conversation.tools = ["clock"]
    conversation.save()
    return [prompt, answer]


def test_a_model_and_its_provider_read_as_the_orm_reads_them(owner, scripted_model, django_assert_num_queries):
    scripted_model.price_input = Decimal("1.2500")
    scripted_model.efforts = ["low", "high"]
    scripted_model.options = {"supports_tools": False}
    scripted_model.save()
    orm = ModelProfile.objects.select_related("provider").get(pk=scripted_model.pk)
    with django_assert_num_queries(1):
        model = model_by_id(str(scripted_model.pk), runs_allowed=runs_allowed(owner.pk))
        provider = model.provider  # cached, as select_related caches it
    assert fields_of(model) == fields_of(orm) and fields_of(provider) == fields_of(orm.provider)
    assert model.runs_allowed is True and model._state.adding is False and model._state.db == "default"


def test_a_disabled_or_unknown_model_is_refused(scripted_model):
    for raw in (None, "", "x", 0, -1, 2**70, scripted_model.pk + 1000):
        with pytest.raises(services.BadInput, match="Choose a model"):
            model_by_id(raw)
    ModelProfile.objects.filter(pk=scripted_model.pk).update(enabled=False)
    with pytest.raises(services.BadInput):
        model_by_id(scripted_model.pk)


def test_a_model_by_its_label_needs_its_provider_enabled(scripted_model):
    model = statements.enabled_model_labelled(scripted_model.label)
    assert model is not None and fields_of(model) == fields_of(ModelProfile.objects.get(pk=scripted_model.pk))
    provider = scripted_model.provider
    provider.enabled = False
    provider.save()
    assert statements.enabled_model_labelled(scripted_model.label) is None
    assert statements.enabled_model_labelled("no such label") is None


def test_a_conversation_and_its_turns_read_as_the_orm_reads_them(owner, scripted_model, django_assert_num_queries):
    conversation = Conversation.objects.create(owner=owner, model=scripted_model)
    rich_turns(conversation, scripted_model)
    stale = Conversation.objects.get(pk=conversation.pk)
    Conversation.objects.filter(pk=conversation.pk).update(title="Renamed in another tab")
    with django_assert_num_queries(1):
        turns = conversation_turns(stale)
    orm = list(Turn.objects.filter(conversation=conversation).defer(*START_SKIPS))
    assert [t.pk for t in turns.values()] == [t.pk for t in orm]
    for turn in orm:
        assert fields_of(turns[turn.pk]) == fields_of(turn)
        assert turns[turn.pk].get_deferred_fields() == set(START_SKIPS)
        assert turns[turn.pk].conversation is stale
    assert fields_of(stale) == fields_of(Conversation.objects.get(pk=conversation.pk))
    assert stale.title == "Renamed in another tab"


def test_a_conversation_with_no_turn_is_read_in_one_statement(owner, django_assert_num_queries):
    conversation = Conversation.objects.create(owner=owner, title="Empty")
    stale = Conversation.objects.get(pk=conversation.pk)
    Conversation.objects.filter(pk=conversation.pk).update(title="Now named")
    with django_assert_num_queries(1):
        assert conversation_turns(stale) == {}
    assert stale.title == "Now named"
    Conversation.objects.filter(pk=conversation.pk).delete()
    with pytest.raises(Conversation.DoesNotExist):
        conversation_turns(stale)


def test_a_token_with_its_user_and_preferences_as_the_orm_reads_them(owner, django_assert_num_queries):
    Preferences.objects.create(user=owner, store_api_requests=False, favourite_models=[3, 4])
    token, secret = create_token(owner, "laptop")
    orm = ApiToken.objects.select_related("user", "user__preferences").get(pk=token.pk)
    with django_assert_num_queries(1):
        found = statements.active_token(digest_of(secret))
        user, preferences = found.user, found.user.preferences
        assert Preferences.of(user) is preferences
    assert fields_of(found) == fields_of(orm) and fields_of(user) == fields_of(orm.user)
    assert fields_of(preferences) == fields_of(orm.user.preferences) and preferences.user is user


def test_a_token_whose_user_has_no_preferences_says_so_without_a_query(owner, django_assert_num_queries):
    _, secret = create_token(owner)
    found = statements.active_token(digest_of(secret))
    with django_assert_num_queries(0), pytest.raises(Preferences.DoesNotExist):
        found.user.preferences  # noqa: B018


def test_a_revoked_token_or_an_inactive_user_finds_nothing(owner):
    token, secret = create_token(owner)
    owner.is_active = False
    owner.save()
    assert statements.active_token(digest_of(secret)) is None
    owner.is_active = True
    owner.save()
    assert statements.active_token(digest_of(secret)) is not None
    revoke(token)
    assert statements.active_token(digest_of(secret)) is None
    assert statements.active_token(digest_of("rp-unknown")) is None


def test_the_compiled_update_writes_what_queryset_update_writes(owner, scripted_model):
    conversation = Conversation.objects.create(owner=owner)
    one, other = rich_turns(conversation, scripted_model)
    update = statements.Update(Turn)
    values = [
        {"status": "error", "error": {"kind": "timeout", "é": [1]}, "cost": Decimal("0.5"), "replay": None,
         "reasoning_tokens_estimated": False, "heartbeat_at": Now(), "finish_reason": "length"},
        {"status": "complete", "error": None, "cost": Decimal("0.000001"), "replay": {"a": 1},
         "reasoning_tokens_estimated": True, "heartbeat_at": Now(), "finish_reason": "stop"},
    ]
    for fields in values:
        assert update(one.pk, fields) == 1
        Turn.objects.filter(pk=other.pk).update(**fields)
        mine, theirs = Turn.objects.get(pk=one.pk), Turn.objects.get(pk=other.pk)
        for name in fields:
            if name != "heartbeat_at":
                assert getattr(mine, name) == getattr(theirs, name), name
        assert abs(mine.heartbeat_at - theirs.heartbeat_at) < timedelta(seconds=5)
    update(other.pk, values[0])
    # Once per set of fields and which of them are SQL (None, Now()): two here.
    assert len(update._compiled) == 2 and all(update._compiled.values())
    assert update(10**9, values[0]) == 0


def test_the_exchange_insert_is_compiled_once_and_writes_what_save_writes(owner, scripted, scripted_model):
    services._exchange_inserts.clear()
    made = []
    for n in range(3):
        conversation = Conversation.objects.create(owner=owner)
        exchange = start_exchange(conversation, f"Why {n}?", scripted_model, {"effort": "default", "max_tokens": 7})
        made.append(exchange)
        assert list(services._exchange_inserts.values()) != [None]
    assert len(services._exchange_inserts) == 1
    for exchange in made:
        for turn in (exchange.user_turn, exchange.assistant_turn):
            stored = Turn.objects.get(pk=turn.pk)
            assert fields_of(stored) == fields_of(turn), turn.role
        conversation = Conversation.objects.get(pk=exchange.user_turn.conversation_id)
        assert conversation.leaf_id == exchange.assistant_turn.pk and conversation.model_id == scripted_model.pk
        assert conversation.title == exchange.user_turn.content
        assert fields_of(conversation) == fields_of(exchange.user_turn.conversation)


def test_extra_columns_are_bound_not_written_into_the_statement(owner, scripted_model):
    # A value that would break the SQL if it were pasted in: bound, it is only a value.
    odd = "x'); DROP TABLE playground_turn; --"
    model = statements.enabled_model(scripted_model.pk, echo=RawSQL("%s", (odd,)))
    assert model is not None and model.echo == odd
    assert Turn.objects.count() == 0


def test_the_compiled_insert_writes_what_create_writes(owner, scripted_model):
    insert = statements.Insert(Conversation)
    made = [insert(owner=owner, model=scripted_model, settings={"effort": "high", "é": [1, None]}, origin="api",
                   title=f"Asked {n}") for n in range(3)]
    assert len(insert._compiled) == 1 and all(insert._compiled.values())
    theirs = Conversation.objects.create(owner=owner, model=scripted_model, settings={"effort": "high"}, origin="api")
    for conversation in made:
        assert conversation.pk is not None and conversation._state.adding is False
        assert fields_of(Conversation.objects.get(pk=conversation.pk)) == fields_of(conversation)
        assert conversation.pk < theirs.pk
    assert len({c.pk for c in made}) == 3
