"""Issue 21.8 in Chromium: the model picker searches as you type (name, provider or
family, any case), is driven by the keyboard alone (arrows, Enter, Escape), says when
nothing matches, and keeps starred models first, on the server, so a reload or another
browser shows them first too. The select under it still carries what the form sends:
the chosen model is the one the turn reaches, and the controls follow it."""

from __future__ import annotations

import json
import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from tests.browser.conftest import log_in
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser

PROVIDER = "Picker Labs"
ORCHID = "Orchid thinker"  # model id deepseek-r1: the catalogue's family "DeepSeek R1"
QUARTZ = "Quartz mini"  # model id o3-mini: family "o-series"


def add_models(server, base_url: str) -> dict[str, int]:
    out = server.shell(
        "import json\n"
        "from playground.models import ModelProfile, Provider\n"
        f"p, _ = Provider.objects.update_or_create(name={PROVIDER!r},"
        f" defaults={{'kind': 'openai', 'base_url': {base_url!r}}})\n"
        "ids = {}\n"
        f"for label, mid, pos in (({ORCHID!r}, 'deepseek-r1', 97), ({QUARTZ!r}, 'o3-mini', 98)):\n"
        "    m, _ = ModelProfile.objects.update_or_create(provider=p, model_id=mid,"
        " defaults={'label': label, 'position': pos, 'enabled': True})\n"
        "    ids[label] = m.pk\n"
        "print(json.dumps(ids))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def favourites_of(server) -> list[int]:
    out = server.shell(
        "from playground.models import Preferences\n"
        f"print(Preferences.objects.get(user__username={server.user!r}).favourite_models)\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def clear_favourites(server) -> None:
    server.shell(
        "from playground.models import Preferences\n"
        f"Preferences.objects.filter(user__username={server.user!r}).update(favourite_models=[])\n"
    )


def focused(locator) -> bool:
    return locator.evaluate("e => e === document.activeElement")


def picker(page, select: str):
    """The picker shown over `select` (a CSS selector of the form's select)."""
    return page.locator(f"{select} + .model-picker")


def option_labels(box) -> list[str]:
    return box.locator("[role=option] .picker-label").all_text_contents()


def group_labels(box) -> list[str]:
    return box.locator(".picker-group-label").all_text_contents()


@pytest.fixture
def upstream():
    answer = openai_chat_sse("Thinking about it.", "Done.", chunk_chars=8)
    with FakeUpstream(Script(chunks=answer)) as fake:
        yield fake


def test_typing_filters_and_the_keyboard_chooses_in_the_chat(logged_in_page, server, upstream, screenshot):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    clear_favourites(server)
    ids = add_models(server, upstream.url + "/v1")
    page.goto(server.url("/"))
    box = picker(page, "#model")
    trigger = page.get_by_role("button", name=re.compile(r"^Model: "))
    assert trigger.count() == 1 and box.locator(".picker-pop").is_hidden()
    # The picker shows what the select holds.
    assert trigger.locator(".picker-current").inner_text() == page.locator("#model option:checked").inner_text()

    trigger.focus()
    page.keyboard.press("ArrowDown")  # opens, focus in the search box
    search = page.get_by_role("combobox", name="Search by name, provider or family")
    assert focused(search) and trigger.get_attribute("aria-expanded") == "true"
    assert PROVIDER in group_labels(box)  # grouped by provider

    page.keyboard.type("picker LABS")  # the provider, any case
    assert option_labels(box) == [ORCHID, QUARTZ]
    search.fill("DeepSeek")  # the family (and the model id)
    assert option_labels(box) == [ORCHID]
    search.fill("o-series")
    assert option_labels(box) == [QUARTZ]
    search.fill("ORCHID")  # the name
    assert option_labels(box) == [ORCHID]
    search.fill("no such model at all")
    assert option_labels(box) == []
    assert box.locator(".picker-status").inner_text() == "No model matches “no such model at all”."
    assert box.get_by_role("listbox").is_hidden()

    search.fill("picker labs")
    listbox = box.get_by_role("listbox")
    first = listbox.get_by_role("option").nth(0)
    assert search.get_attribute("aria-activedescendant") == first.get_attribute("id")
    page.keyboard.press("ArrowDown")
    second = listbox.get_by_role("option").nth(1)
    assert search.get_attribute("aria-activedescendant") == second.get_attribute("id")
    assert "active" in (second.get_attribute("class") or "")
    assert violations(page) == []  # open, searching: axe still finds nothing
    screenshot(page, "picker-chat-search")
    page.keyboard.press("Enter")

    assert box.locator(".picker-pop").is_hidden() and focused(trigger)
    assert page.locator("#model").input_value() == str(ids[QUARTZ])  # what the form sends
    assert trigger.locator(".picker-current").inner_text() == QUARTZ
    # The controls follow the model (reasoning.accepts through /models/<id>/controls).
    page.wait_for_selector(f"#controls[data-model='{ids[QUARTZ]}']", state="attached")
    assert page.get_by_label("Prompt").input_value() == ""  # Enter chose; it did not send

    # Escape closes and changes nothing; the page's Esc (stop) is not reached.
    page.keyboard.press("ArrowDown")
    page.keyboard.type("orch")
    page.keyboard.press("Escape")
    assert box.locator(".picker-pop").is_hidden() and focused(trigger)
    assert page.locator("#model").input_value() == str(ids[QUARTZ])

    # Typing on the closed picker starts a search with that letter.
    page.keyboard.type("q")
    assert focused(search) and search.input_value() == "q"
    page.keyboard.press("Escape")

    # A select changed by other code moves the picker's text with it.
    page.locator("#model").select_option(str(ids[ORCHID]))
    assert trigger.locator(".picker-current").inner_text() == ORCHID
    assert violations(page) == []
    assert errors == []


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_picker_fits_a_phone_in_both_themes(logged_in_page, server, upstream, screenshot, theme):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    add_models(server, upstream.url + "/v1")
    page.set_viewport_size({"width": 390, "height": 780})
    page.goto(server.url("/"))
    page.evaluate("t => document.documentElement.dataset.theme = t", theme)
    page.get_by_role("button", name=re.compile(r"^Model: ")).click()
    page.keyboard.type("picker")
    pop = picker(page, "#model").locator(".picker-pop").bounding_box()
    assert pop["x"] >= 0 and pop["x"] + pop["width"] <= 390, pop
    assert pop["y"] >= 0 and pop["y"] + pop["height"] <= 780, pop
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert violations(page) == []  # colour contrast included, in this theme
    screenshot(page, f"picker-phone-{theme}")
    assert errors == []


def test_a_compare_column_searches_and_its_controls_follow(logged_in_page, server, upstream, screenshot):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    clear_favourites(server)
    ids = add_models(server, upstream.url + "/v1")
    page.goto(server.url("/compare/new/"))
    column = picker(page, 'select[name="col1-model"]')
    trigger = column.get_by_role("button", name=re.compile(r"^Model: "))
    trigger.click()
    assert PROVIDER in group_labels(column)  # grouped by provider here too
    page.keyboard.type("QUARTZ")
    assert option_labels(column) == [QUARTZ]
    screenshot(page, "picker-compare-column")
    page.keyboard.press("Enter")
    select = page.locator('select[name="col1-model"]')
    assert select.input_value() == str(ids[QUARTZ])
    assert trigger.locator(".picker-current").inner_text() == QUARTZ
    # compare.js's limits ran for the chosen model: effort offers exactly its efforts.
    efforts = [e for e in select.locator("option:checked").get_attribute("data-efforts").split(",") if e]
    allowed = page.locator('select[name="col1-effort"] option:not([disabled])').evaluate_all(
        "os => os.map(o => o.value)"
    )
    assert allowed == ["default", *efforts]
    # Column A is untouched.
    assert page.locator('select[name="col0-model"]').input_value() != str(ids[QUARTZ])
    assert violations(page) == []
    assert errors == []


def test_a_starred_model_comes_first_after_a_reload_and_elsewhere(
    logged_in_page, server, upstream, screenshot, chromium
):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    clear_favourites(server)
    ids = add_models(server, upstream.url + "/v1")
    page.goto(server.url("/"))
    box = picker(page, "#model")
    page.get_by_role("button", name=re.compile(r"^Model: ")).click()
    page.keyboard.type("orchid")
    with page.expect_response(lambda r: r.url.endswith("/settings/favourites")) as saved:
        box.get_by_role("option", name=re.compile(ORCHID)).locator(".picker-star").click()
    assert saved.value.ok
    assert favourites_of(server) == [ids[ORCHID]]
    page.keyboard.press("Control+a")
    page.keyboard.press("Backspace")
    assert group_labels(box)[0] == "Favourites"
    assert option_labels(box)[0] == ORCHID
    assert box.get_by_role("option", name=re.compile(ORCHID)).count() == 1  # listed once
    page.keyboard.press("Escape")

    page.reload()
    box = picker(page, "#model")
    page.get_by_role("button", name=re.compile(r"^Model: ")).click()
    assert group_labels(box)[0] == "Favourites"
    assert option_labels(box)[0] == ORCHID
    first = box.get_by_role("option").first
    assert ", starred" in first.inner_text() or first.locator(".visually-hidden").inner_text() == ", starred"
    screenshot(page, "picker-favourites")

    # Another browser (a fresh context: no shared storage) sees the star: it is the user's.
    other = chromium.new_context(viewport={"width": 1280, "height": 900})
    try:
        elsewhere = other.new_page()
        log_in(elsewhere, server)
        elsewhere.goto(server.url("/compare/new/"))
        col = picker(elsewhere, 'select[name="col0-model"]')
        col.get_by_role("button", name=re.compile(r"^Model: ")).click()
        assert group_labels(col)[0] == "Favourites" and option_labels(col)[1] == ORCHID  # after "Choose a model"
    finally:
        other.close()

    # Chosen from the favourites by the keyboard, it is the model the turn reaches.
    search = page.get_by_role("combobox", name="Search by name, provider or family")
    search.press("Home")
    page.keyboard.press("PageUp")  # the first row: the favourite
    page.keyboard.press("Enter")
    assert page.locator("#model").input_value() == str(ids[ORCHID])
    page.get_by_label("Prompt").fill("Who is answering?")
    page.get_by_label("Prompt").press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    page.wait_for_selector("article.turn.assistant[data-status=complete]", timeout=30_000)
    (request,) = upstream.wait_requests(1)
    assert json.loads(request.body)["model"] == "deepseek-r1"

    # Unstarred with the keyboard (Ctrl+D on the active row), it leaves the group.
    page.get_by_role("button", name=re.compile(r"^Model: ")).click()
    page.keyboard.type("orchid")
    with page.expect_response(lambda r: r.url.endswith("/settings/favourites")):
        page.keyboard.press("Control+d")
    assert favourites_of(server) == []
    page.keyboard.press("Control+a")
    page.keyboard.press("Backspace")
    assert "Favourites" not in group_labels(box)
    assert errors == []
