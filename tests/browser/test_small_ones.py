"""Issue 21.8/21.9 in Chromium: a new chat starts on the last model used; the picker
groups models by provider; a share link you can see; a failed sign-in keeps the user
name; ratings are SVG icons; the page has a favicon."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_compare_page import LONG

pytestmark = pytest.mark.browser


@pytest.mark.usefixtures("brief_long_thoughts")
def test_a_new_chat_starts_on_the_last_model_used(logged_in_page, server):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=LONG)
    page.get_by_label("Prompt").fill("Hi")
    page.get_by_label("Prompt").press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    page.wait_for_selector("article.turn.assistant[data-status=complete]", timeout=30_000)
    # The share link is wide enough to see and select.
    page.locator("#share > summary").click()
    page.get_by_role("button", name="Create link").click()
    page.wait_for_selector("#share-url", state="attached")
    if not page.locator("#share").evaluate("d => d.open"):
        page.locator("#share > summary").click()
    assert page.locator("#share-url").bounding_box()["width"] > 180
    rating = page.locator("article.turn.assistant .rating").first
    assert rating.get_by_role("button", name="Good answer").locator("svg").count() == 1
    assert "👍" not in rating.inner_text()
    page.get_by_role("link", name="+ New chat").click()
    assert page.locator("#model option:checked").inner_text() == LONG
    # The picker groups the models by provider.
    assert "offline" in page.locator("#model optgroup").evaluate_all("gs => gs.map(g => g.label)")
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert icon.endswith(".svg") and page.request.get(server.url(icon)).ok
    assert errors == []


def test_a_failed_sign_in_keeps_the_user_name(page, server):
    page.goto(server.url("/login/"))
    page.get_by_label("Username").fill(server.user)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_selector(".error")
    assert page.get_by_label("Username").input_value() == server.user
    assert page.evaluate("document.activeElement.name") == "password"
