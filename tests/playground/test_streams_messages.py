"""Messages too big for one websocket frame (daphne refuses over 1 MiB) are cut
into pieces that htmx applies one by one to the same result."""

from __future__ import annotations

import re

from playground.streaming.messages import MESSAGE_BYTES, pack, split_turn, text_swaps
from tests.playground.stream_page import Page


def test_long_text_is_cut_into_swaps_that_rebuild_it_exactly():
    text = ('<"&\'é🙂 ' * 60_000) + "end"
    page = Page()
    page.load(7, "stale text shown before", "")
    messages = pack(text_swaps(7, "r", text, replace=True))
    assert len(messages) > 1 and all(len(m.encode()) <= MESSAGE_BYTES for m in messages)
    for message in messages:
        page.apply(message)
    assert page.text(7, "r") == text


def test_a_huge_rendered_turn_becomes_a_shell_and_its_blocks_in_pieces():
    reasoning = "".join(f"<p>step {i} " + "x" * 400 + "</p>\n" for i in range(6000))
    content = "<pre><code>" + "line<br>" * 50 + "</code></pre>\n<ul><li>a</li><li>b</li></ul>\n"
    html = (
        '<article class="turn assistant complete" id="turn-5" hx-swap-oob="outerHTML"><header>M</header>'
        f'<details><summary>Thought</summary><div class="reasoning markdown" id="t5-r">{reasoning}</div></details>'
        f'<div class="content markdown" id="t5-c">{content}</div><p class="turn-status">done</p></article>'
    )
    messages = split_turn(html, 5)
    assert len(messages) > 2 and all(len(m.encode()) <= MESSAGE_BYTES for m in messages)
    shell = messages[0]
    assert 'id="t5-r"></div>' in shell and 'id="t5-c"></div>' in shell and "turn-status" in shell
    appended: dict[str, str] = {"t5-r": "", "t5-c": ""}
    for message in messages[1:]:
        for block, inner in re.findall(r'<div hx-swap-oob="beforeend:#(t5-[rc])">(.*?)</div>(?=<div hx-swap-oob|$)',
                                       message, re.S):
            appended[block] += inner
    rebuilt = shell.replace('id="t5-r"></div>', f'id="t5-r">{appended["t5-r"]}</div>').replace(
        'id="t5-c"></div>', f'id="t5-c">{appended["t5-c"]}</div>'
    )
    assert re.sub(r"\s+", "", rebuilt) == re.sub(r"\s+", "", html)
    # Each piece is whole elements: as many <p> as </p>.
    for message in messages[1:]:
        assert message.count("<p>") == message.count("</p>")


def test_a_turn_that_fits_goes_as_one_message():
    html = '<article id="turn-1" hx-swap-oob="outerHTML"><div id="t1-r">a</div><div id="t1-c">b</div></article>'
    assert split_turn(html, 1) == [html]
