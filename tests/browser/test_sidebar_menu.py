"""In Chromium: a conversation's menu in the sidebar is made when it is opened (no form
per conversation in the page until then, which Chromium's autofill would scan), and
each of its actions works on its own conversation: pin and unpin, rename, export,
delete with a confirmation naming it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.test_chat_rendering import make_conversation

pytestmark = pytest.mark.browser


def item(page, pk: int):
    return page.locator(".conv-item", has=page.locator(f'a.conv-link[href="/c/{pk}/"]'))


def test_a_conversations_menu_is_made_when_opened_and_acts_on_it(logged_in_page, server, errors):
    page = logged_in_page
    first = make_conversation(server, "Menu one", "One.")
    second = make_conversation(server, 'Menu "two" <b>', "Two.")
    page.goto(server.url(f"/c/{first}/"))
    assert page.locator("#conversation-list form").count() == 0

    menu = item(page, second)
    menu.locator("summary").click()
    # The menu is made on the details' toggle event, which Chromium dispatches a task after the click.
    expect(menu.locator("form")).to_have_count(3)
    assert page.locator("#conversation-list form").count() == 3  # only the opened one's
    assert menu.get_by_role("link", name="Export .json").get_attribute("href") == f"/c/{second}/export.json"
    assert menu.get_by_role("link", name="Export .md").get_attribute("href") == f"/c/{second}/export.md"
    title_box = menu.get_by_label('New title for “Menu "two" <b>”')
    assert title_box.input_value() == 'Menu "two" <b>'
    # Closed and opened again: the same menu, not a second one.
    menu.locator("summary").click()
    menu.locator("summary").click()
    assert menu.locator("form").count() == 3

    with page.expect_navigation():
        menu.get_by_role("button", name="Pin").click()
    assert page.locator(".conv-group").first.locator(".group-title").text_content() == "Pinned"
    menu = item(page, second)
    menu.locator("summary").click()
    expect(menu.get_by_role("button", name="Unpin")).to_have_count(1)

    title_box = menu.get_by_label('New title for “Menu "two" <b>”')
    title_box.fill("Renamed from its menu")
    with page.expect_navigation():
        menu.get_by_role("button", name="Rename").click()
    assert item(page, second).locator(".conv-title").inner_text() == "Renamed from its menu"
    assert item(page, first).locator(".conv-title").inner_text() == "Menu one"

    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    menu = item(page, first)
    menu.locator("summary").click()
    expect(menu.get_by_role("button", name="Delete")).to_have_count(1)
    with page.expect_navigation():
        menu.get_by_role("button", name="Delete").click()
    assert asked == ["Delete “Menu one” and all its turns?"]
    assert item(page, first).count() == 0 and item(page, second).count() == 1
    assert page.request.get(server.url(f"/c/{first}/")).status == 404
    assert errors == []
