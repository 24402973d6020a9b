"""Issue "playground" part 5, in Chromium: the Request button of an answer shows
exactly what was sent for it (keys redacted) and says that the reasoning of
earlier answers was left out; another user cannot open it."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def test_the_request_panel_shows_what_was_sent_and_the_reasoning_left_out(logged_in_page, server, screenshot):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label="Offline simulator")
    page.get_by_label("Prompt").fill("What is 11*11?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    first = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{first}[data-status="complete"]')
    first_reasoning = page.locator(f"#t{first}-r").text_content().strip()
    assert first_reasoning

    page.get_by_label("Prompt").fill("And 12*12?")
    page.keyboard.press("Control+Enter")
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 2")
    second = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{second}[data-status="complete"]')

    page.get_by_role("button", name=f"Request sent for turn {second}").click()
    dialog = page.locator("dialog.inspector[open]")
    dialog.wait_for()
    assert "3 messages sent." in dialog.locator(".summary").inner_text()
    assert "left out" in dialog.locator(".summary").inner_text()
    body = dialog.locator("pre.body").inner_text()
    assert "What is 11*11?" in body and "And 12*12?" in body
    assert first_reasoning[:40] not in body  # the earlier reasoning really is not in the request
    screenshot(page, "context-inspector")
    dialog.get_by_role("button", name="Close").click()
    page.wait_for_function("() => !document.querySelector('dialog.inspector')")

    # Another user gets a 404 for the same panel, the raw view and the export.
    server.create_user("mallory", "mallory correct horse battery")
    page.get_by_role("button", name=re.compile("Log out")).click()
    page.goto(server.url("/login/"))
    page.get_by_label("Username").fill("mallory")
    page.get_by_label("Password").fill("mallory correct horse battery")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)
    conv = page.request.get(server.url(f"/turns/{second}/request"))
    assert conv.status == 404
    assert page.request.get(server.url(f"/turns/{second}/raw?part=reasoning")).status == 404
