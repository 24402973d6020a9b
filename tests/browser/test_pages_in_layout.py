"""Issue 21.5 in Chromium: every page is in the app's layout (the sidebar, one content
column), at 1440 px and at a phone's 390 px, in both themes, with no axe violation
and nothing wider than the screen. Screenshots of each (SCREENSHOTS=1 puts them in
docs/screenshots/ for the README)."""

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
        assert page.locator("nav.sidebar").count() == 1, name
        column = page.locator("main#main .page-column").bounding_box()
        assert column is not None, name
        if width >= 1440:
            assert page.locator("nav.sidebar").is_visible(), name
            # The column sits beside the sidebar, not against the window's left edge.
            assert column["x"] >= page.locator("nav.sidebar").bounding_box()["width"], name
        else:
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
    assert errors == []
