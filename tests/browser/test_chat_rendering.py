"""Issue 14, points 2, 4, 5, 6 and 8 in Chromium: math drawn by the vendored
KaTeX, highlighted code with a copy button, line-per-step thinking, the theme
switch, the compact turn on a phone, the sidebar menu and a share link."""

from __future__ import annotations

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, log_in

pytestmark = pytest.mark.browser

ANSWER = (
    "So (17*23) + 4*12 = 439.\n\n"
    "```python\ndef f(x):\n    return x*2\n```\n\n"
    "Euler: $e^{i\\pi}+1=0$, inline \\(a_1 * b_2\\), and\n\n$$\n\\int_0^1 x\\,dx = \\frac{1}{2}\n$$\n"
)
REASONING = "Step 1: 17*20 = 340\nStep 2: 17*3 = 51\nStep 3: 340 + 51 = 391"


def make_conversation(server, title: str, answer: str, reasoning: str = "") -> int:
    code = (
        "from django.contrib.auth import get_user_model\n"
        "from playground.models import Conversation, Turn, ModelProfile\n"
        f"u = get_user_model().objects.get(username={server.user!r})\n"
        "m = ModelProfile.objects.filter(provider__kind='simulator').first()\n"
        f"c = Conversation.objects.create(owner=u, title={title!r}, model=m)\n"
        "q = Turn.objects.create(conversation=c, role='user', content='Show me')\n"
        f"a = Turn.objects.create(conversation=c, parent=q, role='assistant', content={answer!r},"
        f" reasoning={reasoning!r}, model=m, model_label=m.label, status='complete', prompt_tokens=10,"
        " completion_tokens=40, reasoning_tokens=20, thinking_ms=1200, first_reasoning_ms=100,"
        " first_content_ms=1300, duration_ms=1900)\n"
        "c.leaf = a\nc.save()\nprint(c.pk)\n"
    )
    return int(server.shell(code).strip().splitlines()[-1])


def test_math_code_and_steps_render_and_code_copies(logged_in_page, server, browser_context):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    browser_context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url(""))
    pk = make_conversation(server, "Rendering", ANSWER, REASONING)
    page.goto(server.url(f"/c/{pk}/"))
    answer = page.locator("article.turn.assistant .content")
    assert "(17*23) + 4*12 = 439" in answer.inner_text()
    page.wait_for_selector("article.turn.assistant .content .katex")
    assert answer.locator(".katex").count() == 3  # two inline, one display
    assert answer.locator(".katex-display").count() == 1
    assert answer.locator(".code-block .k").first.inner_text() == "def"  # Pygments' classes, coloured
    colour = answer.locator(".code-block .k").first.evaluate("e => getComputedStyle(e).color")
    assert colour != answer.evaluate("e => getComputedStyle(e).color")
    answer.get_by_role("button", name="Copy code").click()
    page.wait_for_function("() => navigator.clipboard.readText().then(t => t.startsWith('def f(x):'))")
    assert page.evaluate("navigator.clipboard.readText()") == "def f(x):\n    return x*2\n"
    page.locator("details.thought summary").click()
    assert page.locator("details.thought .reasoning br").count() == 2
    assert page.locator("details.thought .reasoning").inner_text().splitlines() == REASONING.splitlines()
    assert errors == []


def test_the_theme_switch_applies_at_once_and_on_the_next_page_load(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_role("button", name="Dark").click()
    assert page.evaluate("document.documentElement.dataset.theme") == "dark"
    dark_bg = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.wait_for_timeout(300)  # the POST that keeps it
    # The next load paints dark from its first frame: the attribute is in the HTML itself.
    response = page.reload()
    assert '<html lang="en" data-theme="dark">' in response.text()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == dark_bg
    page.get_by_role("button", name="Light").click()
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != dark_bg
    page.wait_for_timeout(300)
    page.get_by_role("button", name="System").click()
    page.wait_for_timeout(300)


def test_a_short_answer_takes_a_short_space_on_a_phone(playwright_driver, server, tmp_path):
    pk = make_conversation(server, "Short", "4.", "2 and 2 make 4.")
    context = playwright_driver.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "phone"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        log_in(page, server)
        page.goto(server.url(f"/c/{pk}/"))
        turn = page.locator("article.turn.assistant")
        height = turn.bounding_box()["height"]
        # 261 px before the compact chrome; about 180 with it, plus the rating buttons.
        assert height < 205, f"a two-character answer takes {height}px"
        # The actions are one row of icons, each with a name; edit is there without hover.
        tools = turn.locator(".turn-tools button")
        names = tools.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
        assert "Copy answer" in names and "Copy reasoning" in names and all(names)
        assert len({round(b["y"]) for b in (t.bounding_box() for t in tools.all())}) == 1
        assert page.locator("article.turn.user [data-edit]").is_visible()
        assert page.locator(".metrics-line").inner_text().count("·") >= 1
    finally:
        context.close()


def test_the_sidebar_menu_pins_and_a_share_link_opens_without_login(
    logged_in_page, server, playwright_driver, tmp_path
):
    page = logged_in_page
    pk = make_conversation(server, "To be shared", "The answer is 42.", "SECRET-REASONING")
    page.goto(server.url(f"/c/{pk}/"))
    item = page.locator(".conv-item", has=page.locator(f'a[href="/c/{pk}/"]'))
    item.locator("summary").click()
    with page.expect_navigation():
        item.get_by_role("button", name="Pin").click()
    assert page.locator(".conv-group").first.locator(".group-title").text_content() == "Pinned"
    assert "To be shared" in page.locator(".conv-group").first.inner_text()

    page.locator("#share > summary").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Create link").click()
    url = page.locator("#share-url").input_value()
    assert "/s/" in url

    stranger = playwright_driver.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "anon"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )
    try:
        anon = stranger.pages[0] if stranger.pages else stranger.new_page()
        anon.goto(url)
        assert "The answer is 42." in anon.locator("main").inner_text()
        assert "SECRET-REASONING" not in anon.content()
        assert anon.locator("a[href^='/c/'], [hx-post], [ws-connect]").count() == 0
    finally:
        stranger.close()

    page.locator("#share > summary").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Stop sharing").click()
    gone = page.request.get(url)
    assert gone.status == 404


def test_chat_screens_light_dark_and_phone(logged_in_page, server, playwright_driver, tmp_path):
    """The README's chat screenshots (SCREENSHOTS=1 writes them into docs/screenshots/)."""
    from tests.browser.conftest import screenshot

    make_conversation(server, "Old notes on primes", "2, 3, 5, 7.")
    server.shell(
        "from datetime import timedelta\nfrom django.utils import timezone\n"
        "from playground.models import Conversation\n"
        "Conversation.objects.filter(title='Old notes on primes').update("
        "updated_at=timezone.now() - timedelta(days=3))\n"
    )
    pk = make_conversation(server, "17 × 23, with code and math", ANSWER, REASONING)
    page = logged_in_page
    page.set_viewport_size({"width": 1280, "height": 860})
    page.goto(server.url(f"/c/{pk}/"))
    page.wait_for_selector(".katex")
    page.locator("details.thought summary").click()
    page.locator(".metrics-line").click()
    screenshot(page, "chat-light")
    page.emulate_media(color_scheme="dark")  # theme "system" on a dark system
    page.wait_for_timeout(100)
    screenshot(page, "chat-dark")

    context = playwright_driver.chromium.launch_persistent_context(
        user_data_dir=str(tmp_path / "phone"), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True,
    )
    try:
        phone = context.pages[0] if context.pages else context.new_page()
        log_in(phone, server)
        phone.goto(server.url(f"/c/{pk}/"))
        phone.wait_for_selector(".katex")
        screenshot(phone, "chat-phone")
    finally:
        context.close()
