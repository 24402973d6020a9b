"""In Chromium: a control set while the chosen model's controls are still on their way
is kept when they arrive (CI caught "Inline" lost this way: the swap put the defaults
back over the user's choice)."""

from __future__ import annotations

import re
import threading

import pytest

pytestmark = pytest.mark.browser


def test_a_choice_made_while_the_controls_load_outlives_their_swap(logged_in_page, server):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_role("button", name="Controls").click()
    held: list = []
    arrived = threading.Event()

    def hold(route):
        held.append(route)
        arrived.set()

    page.route(re.compile(r"/models/\d+/controls"), hold)
    page.get_by_label("Model").select_option(label="Offline simulator")
    for _ in range(100):
        if arrived.is_set():
            break
        page.wait_for_timeout(50)
    assert held, "choosing a model asks for its controls"
    page.locator("#controls [name=reasoning_mode]").select_option("inline")
    page.evaluate("document.getElementById('controls').dataset.seen = '1'")
    held[0].continue_()
    page.unroute(re.compile(r"/models/\d+/controls"))
    # The swap has happened when the box is a new element; the choice is still there.
    page.wait_for_function(
        "() => document.getElementById('controls') && !document.getElementById('controls').dataset.seen",
    )
    assert page.locator("#controls [name=reasoning_mode]").input_value() == "inline"
