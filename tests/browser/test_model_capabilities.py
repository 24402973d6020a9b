"""Issue 21 in Chromium: a model's capabilities edited on the Providers page in plain
words. The catalogue family's name and values show; a value changed is marked as an
override and the composer follows it at once; reset puts the family's value back; a
combination the server refuses is refused beside its field with every answer kept."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_accessibility import assert_clean

pytestmark = pytest.mark.browser

LABEL = "Flash on loopback"
SEED = (
    "from playground.models import ModelProfile, Provider\n"
    "from playground.provider_setup import add_profiles\n"
    "p, _ = Provider.objects.get_or_create(name='Gemini loopback', defaults={'kind': 'gemini',"
    " 'base_url': 'http://127.0.0.1:9'})\n"
    "ModelProfile.objects.filter(provider=p).delete()\n"
    "(m,) = add_profiles(p, ['gemini-2.5-flash'])\n"
    f"m.label = {LABEL!r}; m.position = 96; m.save()\n"
    "print(m.pk)\n"
)


@pytest.fixture
def flash(server):
    pk = int(server.shell(SEED).strip().splitlines()[-1])
    yield pk
    server.shell("from playground.models import Provider\nProvider.objects.filter(name='Gemini loopback').delete()\n")


def stored(server, pk: int) -> dict:
    import json

    out = server.shell(
        "import json\nfrom playground.models import ModelProfile\n"
        f"m = ModelProfile.objects.get(pk={pk})\n"
        "print(json.dumps({'control': m.thinking_control, 'efforts': m.efforts, 'options': m.options,"
        " 'context_window': m.context_window}))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def composer(page, server, pk: int) -> tuple[list[str], bool]:
    """The effort levels the composer offers for the model, and whether Off is enabled."""
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=LABEL)
    page.wait_for_selector(f'#controls[data-model="{pk}"] [name=effort]', state="attached")
    if not page.locator("#controls [name=effort]").is_visible():  # the panel remembers being open
        page.get_by_role("button", name="Controls").click()
    page.wait_for_selector("#controls [name=effort]")
    efforts = page.locator("#controls [name=effort] option").all_inner_texts()
    return efforts, page.locator("#controls [name=thinking][value=off]").is_enabled()


def test_edit_a_models_capabilities_with_plain_labels(page, server, flash, screenshot):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, server, server.admin, server.admin_password)
    assert composer(page, server, flash) == (["Default", "Low", "Medium", "High"], True)

    page.goto(server.url("/providers/"))
    assert page.locator('section[data-provider="Gemini loopback"]').get_by_role("checkbox", name=LABEL).is_checked()
    page.get_by_role("link", name=f"Edit {LABEL}").click()
    page.wait_for_url(re.compile(rf"/providers/models/{flash}/capabilities$"))
    assert page.locator("nav.sidebar").count() == 1
    assert "Gemini 2.5" in page.locator("#family-name").inner_text()
    assert "Nothing overridden" in page.locator("#family-overrides").inner_text()
    # Plain labels; the stored names only in the muted hint.
    thinking = page.get_by_role("radiogroup", name="Thinking")
    assert thinking.get_by_label("Can be turned on and off").is_checked()
    assert page.get_by_label("How thinking is asked for").input_value() == "gemini_budget"
    assert page.get_by_label("How thinking is asked for").locator("option:checked").inner_text() == (
        "Token budget (Gemini 2.5)"
    )
    efforts = page.get_by_role("group", name="Effort levels it accepts")
    assert [efforts.get_by_label(e, exact=True).is_checked() for e in ("low", "medium", "high", "max")] == [
        True, True, True, False
    ]
    assert page.get_by_label("Takes a thinking budget").is_checked()
    assert page.get_by_role("radiogroup", name="Where reasoning comes back").get_by_label(
        "In a field of its own").is_checked()
    assert page.get_by_label("Takes a temperature").is_checked()
    assert page.get_by_label("Takes tools (function calls)").is_checked()
    assert "thinking_control" not in page.locator("#capabilities-form label").all_inner_texts()

    # Override the family: no "high", thinking always on, a context window.
    efforts.get_by_label("high", exact=True).uncheck()
    thinking.get_by_label("Always on").check()
    page.get_by_label("Context window (tokens)").fill("1048576")
    page.get_by_role("button", name="Save capabilities").click()
    page.wait_for_selector("#capabilities-saved")
    assert page.locator("#family-overrides").inner_text() == (
        "Overridden here: Thinking, Effort levels it accepts, Context window (tokens)."
    )
    note = page.locator('[data-answer="efforts"] .cap-note').inner_text()
    assert "Overridden" in note and "the family says: low, medium, high" in note
    assert page.locator('[data-offered="Effort"]').inner_text() == "low, medium"
    page.set_viewport_size({"width": 1440, "height": 1300})
    screenshot(page, "capabilities-overridden")
    page.set_viewport_size({"width": 1280, "height": 860})
    assert_clean(page, "capabilities after an override")
    assert stored(server, flash)["options"]["thinking_always_on"] is True

    # The composer follows at once: no High, Off not offered.
    assert composer(page, server, flash) == (["Default", "Low", "Medium"], False)

    # Reset the efforts to the family's value: High is back; thinking stays overridden.
    page.goto(server.url(f"/providers/models/{flash}/capabilities"))
    page.get_by_role("button", name="Reset Effort levels it accepts to the family's value").click()
    page.wait_for_selector("#capabilities-saved")
    assert page.locator("#family-overrides").inner_text() == "Overridden here: Thinking, Context window (tokens)."
    assert page.get_by_role("group", name="Effort levels it accepts").get_by_label("high", exact=True).is_checked()
    assert page.get_by_label("Context window (tokens)").input_value() == "1048576"
    assert composer(page, server, flash) == (["Default", "Low", "Medium", "High"], False)

    # A bad value: Gemini 3's level control cannot turn thinking off, and the form says
    # so beside Thinking; nothing is saved and every answer typed is kept.
    page.goto(server.url(f"/providers/models/{flash}/capabilities"))
    page.get_by_role("radiogroup", name="Thinking").get_by_label("Can be turned on and off").check()
    page.get_by_label("How thinking is asked for").select_option(label="Thinking level (Gemini 3)")
    page.get_by_role("group", name="Effort levels it accepts").get_by_label("medium").uncheck()
    page.get_by_label("Takes a thinking budget").uncheck()
    page.get_by_label("Context window (tokens)").fill("65536")
    page.get_by_role("button", name="Save capabilities").click()
    page.wait_for_selector("#capabilities-refused")
    assert "cannot turn thinking off" in page.locator('[data-answer="thinking"] .error').inner_text()
    assert page.get_by_label("How thinking is asked for").input_value() == "gemini_level"
    assert page.get_by_label("Context window (tokens)").input_value() == "65536"
    assert not page.get_by_role("group", name="Effort levels it accepts").get_by_label("medium").is_checked()
    assert page.get_by_role("radiogroup", name="Thinking").get_by_label("Can be turned on and off").is_checked()
    assert_clean(page, "capabilities refused")
    assert stored(server, flash)["control"] == "gemini_budget" and stored(server, flash)["context_window"] == 1048576

    # A budget range upside down is refused beside the largest budget.
    page.get_by_label("How thinking is asked for").select_option(label="Token budget (Gemini 2.5)")
    page.get_by_label("Takes a thinking budget").check()
    page.get_by_label("Smallest budget (tokens)").fill("8192")
    page.get_by_label("Largest budget (tokens)").fill("1024")
    page.get_by_role("button", name="Save capabilities").click()
    page.wait_for_selector("#capabilities-refused")
    assert "below the smallest" in page.locator('[data-answer="budget_max"] .error').inner_text()
    assert page.get_by_label("Smallest budget (tokens)").input_value() == "8192"
    assert errors == []


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 390])
def test_the_capabilities_page_fits_and_passes_axe(page, server, flash, screenshot, width, theme):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, server, server.admin, server.admin_password)
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=theme)
    page.goto(server.url(f"/providers/models/{flash}/capabilities"))
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"{overflow} px wider than the screen"
    # Each answer's control sits in one column, whatever its kind (select, boxes, radios).
    lefts = page.evaluate(
        "() => [...document.querySelectorAll('.cap-field > .cap-input, .cap-field > .cap-options')]"
        ".map(e => Math.round(e.getBoundingClientRect().left))"
    )
    assert len(set(lefts)) == 1, lefts
    screenshot(page, f"capabilities-{width}-{theme}")
    assert_clean(page, f"capabilities at {width} px, {theme}")
    assert errors == []
