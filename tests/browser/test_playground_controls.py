"""Issue "playground" part 1, in Chromium: the controls follow the model chosen
in the picker (only what it supports), travel with each prompt as the turn's
parameters, and stay as the conversation's defaults across a reload."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

QUICK = "Offline simulator"


def stored(server, code: str) -> object:
    out = server.shell("import json\nfrom playground.models import Conversation, Turn\n" + code)
    return json.loads(out.strip().splitlines()[-1])


def control_names(page) -> set[str]:
    return set(page.locator("#controls [data-control]").evaluate_all("els => els.map(e => e.dataset.control)"))


def test_it_shows_only_the_controls_the_chosen_model_supports(logged_in_page, server, screenshot):
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        "p, _ = Provider.objects.get_or_create(name='plain-openai', defaults={'kind': 'openai',"
        " 'base_url': 'http://127.0.0.1:9/v1'})\n"
        "ModelProfile.objects.update_or_create(provider=p, model_id='plain-chat',"
        " defaults={'label': 'Plain chat model',"
        " 'reasoning': 'none', 'supports_temperature': False, 'max_output_tokens': 4096, 'position': 95})\n"
        "a, _ = Provider.objects.get_or_create(name='plain-anthropic', defaults={'kind': 'anthropic',"
        " 'base_url': 'http://127.0.0.1:9'})\n"
        "ModelProfile.objects.update_or_create(provider=a, model_id='budgeted', defaults={'label': 'Budgeted thinker',"
        " 'reasoning': 'native', 'thinking_control': 'anthropic_budget', 'supports_budget': True,"
        " 'position': 96})\n"
    )
    page = logged_in_page
    page.goto(server.url("/"))
    # A new chat starts on the last model the user chose, which another test on the same server may have set:
    # start from the simulator, and read the controls once they are the ones rendered for it.
    page.get_by_label("Model").select_option(label=QUICK)
    page.wait_for_function(
        "() => document.getElementById('controls').dataset.model === document.getElementById('model').value"
    )
    page.get_by_role("button", name="Controls").click()
    expected = {"thinking", "effort", "show-reasoning", "max-tokens", "temperature", "system", "answer-schema"}
    assert control_names(page) == expected
    assert page.locator("#controls [name=effort] option").all_inner_texts() == ["Default", "Low", "Medium", "High"]
    screenshot(page, "controls")

    page.get_by_label("Model").select_option(label="Plain chat model")
    page.wait_for_function("() => !document.querySelector('#controls [data-control=thinking]')")
    assert control_names(page) == {"max-tokens", "system", "answer-schema"}
    assert page.locator("#controls [name=max_tokens]").get_attribute("max") == "4096"

    page.get_by_label("Model").select_option(label="Budgeted thinker")
    page.wait_for_selector("#controls [data-control=budget]")
    expected = {"thinking", "budget", "show-reasoning", "max-tokens", "temperature", "system", "answer-schema"}
    assert control_names(page) == expected

    page.get_by_label("Model").select_option(label=QUICK)
    page.wait_for_selector("#controls [data-control=effort]")
    server.shell(
        "from playground.models import Provider\n"
        "Provider.objects.filter(name__in=['plain-openai', 'plain-anthropic']).delete()\n"
    )


def test_controls_go_with_each_prompt_and_stay_as_the_conversations_defaults(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=QUICK)
    page.get_by_role("button", name="Controls").click()
    page.locator("#controls [name=thinking][value=on] + span").click()
    page.locator("#controls [name=effort]").select_option("low")
    page.locator("#controls [name=max_tokens]").fill("800")
    page.locator("#controls [name=system]").fill("Answer in one line.")
    page.get_by_label("Prompt").fill("What is 5*5?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/(\d+)/$"))
    conv = int(re.search(r"/c/(\d+)/", page.url).group(1))
    first = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{first}[data-status="complete"]')

    expected = {
        "thinking": "on",
        "effort": "low",
        "max_tokens": 800,
        "system": "Answer in one line.",
        "show_reasoning": True,
    }
    assert stored(server, f"print(json.dumps(Turn.objects.get(pk={first}).params))") == expected
    assert stored(server, f"print(json.dumps(Conversation.objects.get(pk={conv}).settings))") == expected
    assert page.locator(f"#turn-{first} .params").inner_text() == "thinking on · effort low · max 800 · system prompt"

    # The page of the conversation shows its defaults; a change is saved at once.
    page.reload()
    assert page.locator("#controls [name=thinking][value=on]").is_checked()
    assert page.locator("#controls [name=effort]").input_value() == "low"
    assert page.locator("#controls [name=system]").input_value() == "Answer in one line."
    with page.expect_response(lambda r: r.url.endswith(f"/c/{conv}/settings") and r.status == 204):
        page.locator("#controls [name=effort]").select_option("high")
    assert stored(server, f"print(json.dumps(Conversation.objects.get(pk={conv}).settings))")["effort"] == "high"
    page.reload()
    assert page.locator("#controls [name=effort]").input_value() == "high"

    # The next prompt goes over the socket with the new defaults.
    page.get_by_label("Prompt").fill("And 6*6?")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 2")
    second = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{second}[data-status="complete"]')
    assert stored(server, f"print(json.dumps(Turn.objects.get(pk={second}).params))")["effort"] == "high"


def test_a_refused_control_value_is_explained(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=QUICK)
    page.get_by_label("Prompt").fill("What is 1+1?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    page.get_by_role("button", name="Controls").click()
    page.locator("#controls [name=temperature]").fill("7")  # the server takes 0 to 2
    page.locator("#controls [name=temperature]").dispatch_event("change")
    assert "temperature must be between 0 and 2" in page.get_by_role("alert").inner_text()
