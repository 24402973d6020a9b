"""Issue "playground" part 7, in Chromium: the page fits a phone, has a dark
theme, names every control for assistive technology, and answers the keyboard
shortcuts (Ctrl+Enter send, Esc stop, Ctrl+Shift+O new chat)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

UNNAMED_CONTROLS = """() => [...document.querySelectorAll(
    'button, input:not([type=hidden]), select, textarea, a[href]')]
  .filter(el => el.getClientRects().length)
  .filter(el => {
    const named = (el.getAttribute('aria-label') || '').trim()
      || (el.labels && [...el.labels].some(l => l.textContent.trim()))
      || (['BUTTON', 'A'].includes(el.tagName) && el.textContent.trim()) || el.closest('label');
    return !named;
  }).map(el => el.outerHTML.slice(0, 120))"""


def start(page, server, model: str, prompt: str) -> int:
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=model)
    page.get_by_label("Prompt").fill(prompt)
    page.keyboard.press("Control+Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    return int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))


def test_escape_stops_and_ctrl_shift_o_starts_a_new_chat(logged_in_page, server):
    page = logged_in_page
    pk = start(page, server, "Offline simulator (long thoughts)", "Think about 31*41 for a while")
    page.wait_for_function("id => document.getElementById(`t${id}-r`).textContent.length > 100", arg=pk)
    page.locator("body").press("Escape")
    page.wait_for_selector(f'#turn-{pk}[data-status="stopped"]')
    assert "Stopped" in page.locator(f"#turn-{pk} .turn-status").inner_text()
    page.keyboard.press("Control+Shift+O")
    page.wait_for_url(server.url("/"))
    assert page.locator("h1").inner_text() == "New chat"


def test_every_visible_control_has_a_name(logged_in_page, server):
    page = logged_in_page
    pk = start(page, server, "Offline simulator", "What is 4*4?")
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]')
    page.get_by_role("button", name="Controls").click()
    assert page.evaluate(UNNAMED_CONTROLS) == []


def test_it_fits_a_phone_and_has_a_dark_theme(phone_page, server, screenshot):
    page = phone_page
    pk = start(page, server, "Offline simulator", "What is 17*23? Show your working.")
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]')
    page.locator(f"#turn-{pk} details.thought summary").click()
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    red, green, blue = (int(x) for x in re.findall(r"\d+", background)[:3])
    assert max(red, green, blue) < 60, background  # the dark theme, not white
    screenshot(page, "phone-dark")

    sidebar = page.locator("#sidebar")
    assert sidebar.evaluate("el => el.getBoundingClientRect().right") <= 0  # a closed drawer
    page.get_by_role("button", name="Conversations").click()
    page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().left >= 0")
    page.keyboard.press("Escape")
    page.wait_for_function("() => document.getElementById('sidebar').getBoundingClientRect().right <= 0")
