"""The Providers page's capabilities form: plain answers read from and written to the
stored profile, checked by the server's own rules, overrides of the catalogue family
seen and reset; the composer's offer follows what is saved."""

from __future__ import annotations

import pytest

from playground import model_capabilities as caps
from playground.models import ModelProfile, Provider
from playground.provider_setup import add_profiles
from playground.turns.offer import offer_for
from reasoning.controls import UnsupportedControl, check_controls
from reasoning.request import Thinking

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def profile(kind: str, model_id: str, base_url: str = "") -> ModelProfile:
    provider = Provider.objects.create(name=f"{kind} {model_id}", kind=kind, base_url=base_url)
    (added,) = add_profiles(provider, [model_id])
    return added


def answers(model: ModelProfile, **changes) -> dict:
    return {**caps.plain(model), **changes}


def test_it_reads_a_catalogue_profile_as_plain_answers():
    qwen = profile("openai", "Qwen/Qwen3-32B")
    assert caps.plain(qwen) == {
        "thinking": "switch", "control": "chat_template_kwargs", "efforts": [], "budget": False,
        "budget_min": None, "budget_max": None, "returns": "native", "temperature": True, "tools": True,
        "structured": "native", "context_window": None, "max_output": None, "replay": "",
    }
    assert caps.plain(profile("gemini", "gemini-2.5-pro"))["thinking"] == "always"
    assert caps.plain(profile("openai", "gpt-4o"))["thinking"] == "none"
    # GPT-5 lists no "none" effort: the server refuses off, so it is "always on".
    assert caps.plain(profile("openai", "gpt-5"))["thinking"] == "always"


def test_unchanged_answers_write_back_the_same_profile():
    for model in (profile("openai", "Qwen/Qwen3-32B"), profile("gemini", "gemini-2.5-pro"),
                  profile("anthropic", "claude-opus-4-7"), profile("openai", "gpt-4o"),
                  profile("openai", "deepseek-reasoner")):
        fields = caps.profile_fields(model, caps.plain(model))
        for name, value in fields.items():
            assert getattr(model, name) == value, (model.model_id, name)


def test_always_on_is_stored_where_the_control_could_turn_thinking_off():
    qwen = profile("openai", "Qwen/Qwen3-32B")
    fields = caps.profile_fields(qwen, answers(qwen, thinking="always"))
    assert fields["options"]["thinking_always_on"] is True
    caps.save(qwen, fields)
    with pytest.raises(UnsupportedControl, match="cannot turn thinking off"):
        check_controls("openai", qwen.spec(), Thinking(mode="off"))
    assert offer_for(qwen).thinking["off"] is not None
    assert caps.plain(qwen)["thinking"] == "always"
    # Back to on and off: the mark goes.
    caps.save(qwen, caps.profile_fields(qwen, answers(qwen, thinking="switch")))
    assert "thinking_always_on" not in qwen.options and offer_for(qwen).thinking["off"] is None


def test_not_a_reasoning_model_clears_thinking():
    qwen = profile("openai", "Qwen/Qwen3-32B")
    fields = caps.profile_fields(qwen, answers(qwen, thinking="none", efforts=["low"], budget=True))
    assert (fields["reasoning"], fields["thinking_control"], fields["efforts"], fields["supports_budget"]) == (
        "none", "none", [], False
    )


def test_efforts_and_budget_range_map_to_the_profile_and_the_composer():
    gemini = profile("gemini", "gemini-2.5-flash")
    fields = caps.profile_fields(gemini, answers(gemini, efforts=["high", "low"], budget_min=2048, budget_max=8192))
    assert fields["efforts"] == ["low", "high"]  # in the levels' order
    assert fields["options"]["budget_min_tokens"] == 2048 and fields["options"]["budget_max_tokens"] == 8192
    caps.save(gemini, fields)
    assert offer_for(gemini).efforts == ("low", "high")
    with pytest.raises(UnsupportedControl, match="2048 tokens or more"):
        check_controls("gemini", gemini.spec(), Thinking(budget_tokens=1024))
    with pytest.raises(UnsupportedControl, match="at most 8192"):
        check_controls("gemini", gemini.spec(), Thinking(budget_tokens=9000))
    check_controls("gemini", gemini.spec(), Thinking(budget_tokens=4096))
    assert ("Thinking budget", "2048 to 8192 tokens") in caps.offered(gemini)
    # The composer's budget field takes the same range.
    from django.template.loader import render_to_string

    from playground.conversations.fragments import controls_context

    html = render_to_string("chat/_controls.html", {"controls": controls_context(gemini, {})})
    assert 'name="budget_tokens" min="2048" max="8192"' in html


def test_tools_structured_output_temperature_and_sizes():
    qwen = profile("openai", "Qwen/Qwen3-32B")
    fields = caps.profile_fields(qwen, answers(
        qwen, tools=False, structured="instructions", temperature=False, context_window=32768, max_output=8192,
        replay="interleaved", returns="markup",
    ))
    assert fields["options"]["supports_tools"] is False
    assert fields["options"]["structured_output"] == "instructions"
    assert (fields["supports_temperature"], fields["context_window"], fields["max_output_tokens"]) == (
        False, 32768, 8192
    )
    assert (fields["replay"], fields["reasoning"]) == ("interleaved", "markup")
    back = caps.profile_fields(qwen, answers(qwen))
    assert "supports_tools" not in back["options"] and "structured_output" not in back["options"]


@pytest.mark.parametrize(
    ("model", "change", "parameter", "words"),
    [
        (("gemini", "gemini-3-pro"), {"thinking": "switch"}, "thinking", "cannot turn thinking off"),
        (("gemini", "gemini-2.5-flash"), {"control": "ollama_think"}, "thinking_control", "applies to ollama"),
        (("openai", "Qwen/Qwen3-32B"), {"control": "none", "efforts": ["low"]}, "efforts", "takes no effort"),
        (("openai", "gpt-5"), {"thinking": "always", "efforts": ["none", "low"]}, "efforts", "cannot turn"),
        (("openai", "gpt-5"), {"budget": True}, "budget_tokens", "takes no token budget"),
    ],
)
def test_the_servers_own_check_refuses_a_bad_combination(model, change, parameter, words):
    target = profile(*model)
    with pytest.raises(UnsupportedControl, match=words) as refused:
        caps.profile_fields(target, answers(target, **change))
    assert refused.value.parameter == parameter


def test_the_family_and_its_overrides():
    flash = profile("gemini", "gemini-2.5-flash")
    family = caps.family_of(flash)
    assert family is not None and family.name == "Gemini 2.5"
    assert family.answers["control"] == "gemini_budget" and family.answers["efforts"] == ["low", "medium", "high"]
    assert caps.overrides(caps.plain(flash), family) == {}
    assert {"thinking", "control", "efforts", "budget", "replay"} <= family.decided
    assert "tools" not in family.decided and family.answers["tools"] is True  # a new profile's default
    caps.save(flash, caps.profile_fields(flash, answers(flash, efforts=["low"], thinking="always", tools=False)))
    assert caps.overrides(caps.plain(flash), family) == {
        "thinking": "switch", "efforts": ["low", "medium", "high"], "tools": True
    }
    # An option the form does not own is kept through a save and a reset.
    flash.options = {**flash.options, "headers": {"x": "y"}}
    flash.save()
    assert caps.family_of(flash).answers == family.answers


def test_the_page_saves_refuses_with_the_answers_kept_and_resets(admin_client):
    flash = profile("gemini", "gemini-2.5-flash")
    url = f"/providers/models/{flash.pk}/capabilities"
    page = admin_client.get(url)
    assert page.status_code == 200 and "Gemini 2.5" in page.content.decode()
    data = {"thinking": "switch", "control": "gemini_budget", "efforts": ["low", "high"], "budget": "on",
            "budget_min": "", "budget_max": "", "returns": "native", "temperature": "on", "tools": "on",
            "structured": "native", "context_window": "1048576", "max_output": "", "replay": ""}
    assert admin_client.post(url, data).status_code == 302
    flash.refresh_from_db()
    assert flash.efforts == ["low", "high"] and flash.context_window == 1048576
    refused = admin_client.post(url, {**data, "control": "gemini_level", "context_window": "65536"})
    assert refused.status_code == 400
    body = refused.content.decode()
    assert 'id="error-thinking"' in body and "cannot turn thinking off" in body
    assert 'value="65536"' in body  # the answer typed is kept
    flash.refresh_from_db()
    assert flash.thinking_control == "gemini_budget" and flash.context_window == 1048576
    assert admin_client.post(url, {"reset": "efforts"}).status_code == 302
    flash.refresh_from_db()
    assert flash.efforts == ["low", "medium", "high"] and flash.context_window == 1048576


def test_the_page_is_for_admins_only(client, owner):
    flash = profile("gemini", "gemini-2.5-flash")
    client.force_login(owner)
    response = client.post(f"/providers/models/{flash.pk}/capabilities", {"reset": "efforts"})
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_model_that_takes_no_tools_is_refused_with_tools_on(owner):
    from playground.models import Conversation, Turn
    from playground.streaming.launch import Question, store
    from playground.turns.services import BadInput

    qwen = profile("openai", "Qwen/Qwen3-32B")
    caps.save(qwen, caps.profile_fields(qwen, answers(qwen, tools=False)))
    with pytest.raises(BadInput, match="takes no tools"):
        store(Question(owner=owner, model=qwen, text="What time is it?", tools=["clock"]))
    with_functions = Conversation.objects.create(owner=owner, model=qwen, functions=[{"name": "f"}])
    with pytest.raises(BadInput, match="takes no tools"):
        store(Question(owner=owner, model=qwen, text="Hi", conversation=with_functions))
    assert Turn.objects.count() == 0
    store(Question(owner=owner, model=qwen, text="Hi"))  # no tools: taken
    assert Turn.objects.filter(role="user").count() == 1
