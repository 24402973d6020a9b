"""Issue 21.2 in Chromium: the composer and a compare column offer only what the
chosen model takes, with a short reason for the rest, and the server's refusal of
a value forced through anyway is written for a person."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

ALWAYS_THINKS = "Always-thinking o-model"

MODELS = (
    "from playground.models import ModelProfile, Provider\n"
    "p, _ = Provider.objects.get_or_create(name='effort-openai', defaults={'kind': 'openai',"
    " 'base_url': 'http://127.0.0.1:9/v1'})\n"
    "ModelProfile.objects.update_or_create(provider=p, model_id='o-fake', defaults={'label': '"
    + ALWAYS_THINKS
    + "', 'reasoning': 'native', 'thinking_control': 'reasoning_effort', 'efforts': ['low', 'medium', 'high'],"
    " 'supports_budget': True, 'supports_temperature': False, 'position': 97})\n"
)


@pytest.fixture
def always_thinks(server):
    server.shell(MODELS)
    yield
    server.shell("from playground.models import Provider\nProvider.objects.filter(name='effort-openai').delete()\n")


def test_the_composer_offers_only_what_the_model_takes_and_says_why(logged_in_page, server, always_thinks):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=ALWAYS_THINKS)
    page.get_by_role("button", name="Controls").click()
    page.wait_for_selector("#controls [data-unavailable]")
    assert page.locator("#controls [name=thinking][value=off]").is_disabled()
    assert page.locator("#controls [name=thinking][value=on]").is_enabled()
    assert page.locator("#controls [name=effort] option").all_inner_texts() == ["Default", "Low", "Medium", "High"]
    assert page.locator("#controls [data-control=budget]").count() == 0
    assert page.locator("#controls [data-control=temperature]").count() == 0
    notes = page.locator("#controls .unavailable-list").inner_text()
    assert "Thinking off: this model always thinks" in notes
    assert "Thinking budget: this model takes an effort, not a token budget" in notes
    assert "Temperature: this model sets its own temperature" in notes

    # Forced past the page (as an old tab or a script could): the server's refusal is for a person.
    page.evaluate("""() => { const off = document.querySelector('#controls [name=thinking][value=off]');
                             off.disabled = false; off.checked = true; }""")
    page.get_by_label("Prompt").fill("Think less")
    page.get_by_label("Prompt").press("Enter")
    page.wait_for_selector("#notice .error")
    assert page.locator("#notice").inner_text() == (
        f"Thinking Off is not available for {ALWAYS_THINKS}: this model always thinks. "
        "Choose Default or On, or the lowest effort (low)."
    )
    assert page.get_by_label("Prompt").input_value() == "Think less"
    assert errors == []


def test_a_compare_column_offers_only_what_its_model_takes(logged_in_page, server, always_thinks):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url("/compare/new/"))
    page.locator('select[name="col1-thinking"]').select_option("off")
    page.locator('select[name="col1-model"]').select_option(label=ALWAYS_THINKS)
    assert page.locator('select[name="col1-thinking"]').input_value() == "default"
    assert page.locator('select[name="col1-thinking"] option[value=off]').is_disabled()
    assert page.locator('select[name="col1-effort"] option[value=max]').is_disabled()
    assert page.locator('select[name="col1-effort"] option[value=low]').is_enabled()
    assert page.locator('input[name="col1-temperature"]').is_disabled()
    notes = page.locator('[data-unavailable-for="1"]')
    assert notes.is_visible()
    assert "Thinking off: this model always thinks" in notes.inner_text()
    # On the simulator every thinking value is offered (its profile lists no budget).
    page.locator('select[name="col1-model"]').select_option(label="Offline simulator")
    assert page.locator('select[name="col1-thinking"] option[value=off]').is_enabled()
    assert page.locator('input[name="col1-temperature"]').is_enabled()
    assert notes.inner_text() == "Budget: this model takes no thinking budget"
    assert re.search(r"/compare/new/$", page.url)
    assert errors == []
