"""Issue 21.5 in Chromium: every page is in the app's layout (the sidebar, one content
column), at 1440 px and at a phone's 390 px, in both themes, with no axe violation
and nothing wider than the screen. The API token page (its secret shown once) is
checked after the form that makes a token; a shared conversation is checked as a
signed-out reader sees it (no sidebar, one column) and as a signed-in one (the sidebar).
Screenshots of each (SCREENSHOTS=1 puts them in docs/screenshots/ for the README)."""

from __future__ import annotations

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_accessibility import assert_clean

pytestmark = pytest.mark.browser

PAGES = {
    "prompts": "/prompts/",
    "datasets": "/datasets/",
    "settings": "/settings/",
    "comparisons": "/compare/",
    "leaderboard": "/compare/leaderboard/",
    "providers": "/providers/",
}


SHARED = (
    "from django.contrib.auth import get_user_model\n"
    "from playground.models import Conversation, Turn\n"
    "owner = get_user_model().objects.get(username='tess')\n"
    "c, _ = Conversation.objects.get_or_create(share_token='layout-test-share-token', defaults={"
    "'owner': owner, 'title': 'A shared question about a very long word: "
    "Donaudampfschifffahrtsgesellschaftskapitaenswitwe', 'share_reasoning': True})\n"
    "if not c.leaf_id:\n"
    "    q = Turn.objects.create(conversation=c, role='user', content='Why is the sky blue? ' * 8)\n"
    "    a = Turn.objects.create(conversation=c, parent=q, role='assistant', status='complete',"
    " reasoning='Rayleigh scattering goes as the inverse fourth power of the wavelength.',"
    " content='Short wavelengths scatter more.\\n\\n```\\n' + 'x' * 300 + '\\n```\\n\\n'"
    " '| a | b |\\n|---|---|\\n| 1 | 2 |')\n"
    "    c.leaf = a; c.save()\n"
)


def check_layout(page, name: str, width: int, theme: str, screenshot, *, sidebar: bool = True) -> None:
    """The page is in the layout: the sidebar (for a signed-in reader), one column beside
    it, nothing past the screen's right edge, no axe violation."""
    assert page.locator("nav.sidebar").count() == (1 if sidebar else 0), name
    column = page.locator("main#main .page-column").bounding_box()
    assert column is not None, name
    if sidebar and width >= 1440:
        assert page.locator("nav.sidebar").is_visible(), name
        # The column sits beside the sidebar, not against the window's left edge.
        assert column["x"] >= page.locator("nav.sidebar").bounding_box()["width"], name
    elif sidebar:
        assert page.get_by_role("button", name="Conversations").is_visible(), name
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 1:  # name what sticks out, to make the failure say where to look
        wide = page.evaluate(
            "() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right"
            " > window.innerWidth + 1).slice(-5).map(e => e.tagName + '.' + e.className + '#' + e.id)"
        )
        raise AssertionError(f"{name} is {overflow} px wider than the screen: {wide}")
    # Nor is a section cut off at the right (a clipped column would not widen the page).
    right = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('.page-column > *')]"
        ".map(e => e.getBoundingClientRect().right))"
    )
    assert right <= width + 1, f"{name}: a section reaches {right} px on a {width} px screen"
    screenshot(page, f"page-{name}-{width}-{theme}")
    assert_clean(page, f"{name} at {width} px, {theme}")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 390])
def test_every_page_is_in_the_apps_layout(page, server, screenshot, width, theme):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, server, server.admin, server.admin_password)
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=theme)
    for name, path in PAGES.items():
        page.goto(server.url(path))
        check_layout(page, name, width, theme, screenshot)
    # The token page answers the form (its secret is never in a URL): reached as a person does.
    page.goto(server.url("/settings/"))
    page.get_by_label("Name of a new token").fill(f"layout {width} {theme}")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_selector("#token-secret")
    check_layout(page, "api-token", width, theme, screenshot)
    assert errors == []


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("width", [1440, 390])
def test_a_shared_conversation_is_in_the_layout_signed_out_and_in(page, server, screenshot, width, theme):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    server.shell(SHARED)
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme=theme)
    page.goto(server.url("/s/layout-test-share-token/"))
    assert "Short wavelengths scatter more." in page.locator("main#main").inner_text()
    check_layout(page, "shared", width, theme, screenshot, sidebar=False)
    log_in(page, server)
    page.goto(server.url("/s/layout-test-share-token/"))
    check_layout(page, "shared-signed-in", width, theme, screenshot)
    assert errors == []
