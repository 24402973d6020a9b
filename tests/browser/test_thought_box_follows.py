"""In Chromium: an open thought that outgrows its box follows its newest line while
it streams (the reader sees the thinking as it is written), and stops following once
the reader scrolls it up, until they scroll back to its end."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

LONG = "Offline simulator (long thoughts)"
AT_END = "el => el.scrollHeight - el.scrollTop - el.clientHeight"


def test_a_long_thought_follows_its_newest_line_until_the_reader_scrolls_it_up(logged_in_page, server, errors):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=LONG)
    page.get_by_label("Prompt").fill("Think about 19*19 at length")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    box = page.locator(f"#t{pk}-r")
    page.wait_for_function(
        "id => { const b = document.getElementById(id); return b && b.scrollHeight > 2 * b.clientHeight + 200; }",
        arg=f"t{pk}-r", timeout=30_000,
    )
    seen = []
    for _ in range(6):
        assert page.locator(f"#turn-{pk}").get_attribute("data-status") == "streaming"
        height = box.evaluate("el => el.scrollHeight")
        seen.append((height, box.evaluate(AT_END)))
        page.wait_for_function(  # more text has come meanwhile
            "([id, h]) => document.getElementById(id).scrollHeight > h", arg=[f"t{pk}-r", height], timeout=10_000,
        )
        page.wait_for_timeout(120)
    # At its end, give or take the frame in flight (a line or two).
    assert all(gap < 120 for _, gap in seen), seen

    # Scrolled up by the reader: it stays where they put it while text comes.
    box.evaluate("el => { el.scrollTop = 0; }")
    page.wait_for_timeout(300)
    height = box.evaluate("el => el.scrollHeight")
    page.wait_for_function(
        "([id, h]) => document.getElementById(id).scrollHeight > h + 100", arg=[f"t{pk}-r", height], timeout=10_000,
    )
    assert box.evaluate("el => el.scrollTop") < 50
    # Back at its end: it follows again.
    box.evaluate("el => { el.scrollTop = el.scrollHeight; }")
    page.wait_for_timeout(300)
    height = box.evaluate("el => el.scrollHeight")
    page.wait_for_function(
        "([id, h]) => document.getElementById(id).scrollHeight > h + 100", arg=[f"t{pk}-r", height], timeout=10_000,
    )
    page.wait_for_timeout(120)
    assert box.evaluate(AT_END) < 120
    page.locator("#send").click()  # stop it: the rest is not needed
    assert errors == []
