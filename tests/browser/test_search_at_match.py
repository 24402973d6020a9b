"""Issue 21.9 in Chromium: a search result opens its conversation at the match. The
page scrolls to the matching turn, opens its thought when the match is in the
reasoning, marks the matched text (text nodes only: a query that looks like HTML is
marked as text), counts the matches ("n of m", next/previous), and keeps the match
in the URL so a reload opens at it again. The arrow keys move through the results."""

from __future__ import annotations

import json
import re
import secrets

import pytest

pytestmark = pytest.mark.browser

FILLER = "\n\n".join(f"Paragraph {i}: nothing to see here, only words that fill the page." for i in range(12))


def make_conversation(server, title: str, exchanges: list[dict[str, str]]) -> dict:
    """A conversation stored as if asked, one exchange per item (prompt, reasoning, answer);
    returns its id and its turns' ids."""
    out = server.shell(
        "import json\n"
        "from django.contrib.auth import get_user_model\n"
        "from playground.models import Conversation, Turn\n"
        f"owner = get_user_model().objects.get(username={server.user!r})\n"
        f"conv = Conversation.objects.create(owner=owner, title={title!r})\n"
        "parent, ids = None, []\n"
        f"for x in {exchanges!r}:\n"
        "    user = Turn.objects.create(conversation=conv, parent=parent, role='user', content=x['prompt'])\n"
        "    parent = Turn.objects.create(conversation=conv, parent=user, role='assistant', content=x['answer'],\n"
        "                                 reasoning=x.get('reasoning', ''), model_label='Scripted')\n"
        "    ids.append([user.pk, parent.pk])\n"
        "conv.leaf = parent\n"
        "conv.save()\n"
        "print(json.dumps({'pk': conv.pk, 'turns': ids}))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def word() -> str:
    return "zq" + secrets.token_hex(3)  # in no other test's conversations


def search(page, query: str, results: int) -> None:
    box = page.get_by_label("Search conversations")
    box.fill(query)
    page.wait_for_function(
        f"() => document.querySelectorAll('#conversation-list > li.result').length === {results}"
    )


def current_mark(page):
    return page.locator("#turns mark.search-hit.current")


def in_view(page, locator) -> bool:
    """Visible: between the sticky header and the sticky composer, and inside the thought's own scroll box."""
    return locator.evaluate(
        """el => {
          const r = el.getBoundingClientRect();
          const top = document.querySelector('.chat-head').getBoundingClientRect().bottom;
          const bottom = document.getElementById('composer').getBoundingClientRect().top;
          const box = el.closest('.reasoning');
          const b = box ? box.getBoundingClientRect() : {top: -Infinity, bottom: Infinity};
          return r.height > 0 && r.top >= Math.max(top, b.top) && r.bottom <= Math.min(bottom, b.bottom);
        }"""
    )


def test_a_result_opens_at_the_match_in_an_answer_and_steps_through_them(logged_in_page, server, errors,
                                                                         screenshot):
    page = logged_in_page
    page.set_viewport_size({"width": 1100, "height": 650})
    needle = word()
    conv = make_conversation(server, "Animals", [
        {"prompt": "Tell me about cats", "answer": FILLER},
        {"prompt": "And dogs?", "answer": FILLER + f"\n\nThe {needle} is not a dog."},
        {"prompt": "Birds?", "answer": FILLER + f"\n\nA **{needle.upper()}** of a bird."},  # in bold: its own text node
        {"prompt": f"What else is a {needle}?", "answer": FILLER},
        {"prompt": "Fish?", "answer": FILLER},
    ])
    _, (_, a2), (_, a3), (u4, _), _ = conv["turns"]
    page.goto(server.url("/"))
    search(page, needle, 1)
    link = page.locator("#conversation-list > li.result > a")
    assert link.get_attribute("href") == f"/c/{conv['pk']}/?q={needle}#t{a2}-content"
    assert page.locator("#conversation-list .snippet .where").inner_text() == "answer:"

    # Down arrow from the box to the result, Enter opens it.
    page.get_by_label("Search conversations").press("ArrowDown")
    assert page.evaluate("document.activeElement.matches('#conversation-list > li.result > a:focus-visible')")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf"/c/{conv['pk']}/\?q={needle}#t{a2}-content$"))
    page.wait_for_selector("#turns mark.search-hit.current")

    hit = current_mark(page)
    assert hit.inner_text() == needle
    assert hit.evaluate("m => m.closest('.content').id") == f"t{a2}-c"
    assert in_view(page, hit), "the match is not in view"
    assert not page.evaluate("document.scrollingElement.scrollHeight - scrollY - innerHeight < 160"), "at the bottom"
    assert page.locator("#match-pos").inner_text() == "Match 1 of 3"
    assert page.locator("#turns mark.search-hit").count() == 3
    assert page.get_by_label("Search conversations").input_value() == needle  # the results stay listed
    screenshot(page, "search-at-match")

    page.get_by_role("button", name="Next match").click()
    assert page.locator("#match-pos").inner_text() == "Match 2 of 3"
    assert current_mark(page).evaluate("m => m.closest('.content').id") == f"t{a3}-c"
    assert current_mark(page).evaluate("m => m.parentElement.tagName") == "STRONG"
    assert in_view(page, current_mark(page))
    assert page.url.endswith(f"#t{a3}-content")  # the URL follows the match in view
    page.keyboard.press("F3")
    assert page.locator("#match-pos").inner_text() == "Match 3 of 3"
    assert current_mark(page).evaluate("m => m.closest('.bubble').id") == f"t{u4}-p"
    page.get_by_role("button", name="Next match").click()
    assert page.locator("#match-pos").inner_text() == "Match 1 of 3"  # round again
    page.get_by_role("button", name="Previous match").click()
    assert page.locator("#match-pos").inner_text() == "Match 3 of 3"

    # A reload opens at the same match.
    page.reload()
    page.wait_for_selector("#turns mark.search-hit.current")
    assert page.locator("#match-pos").inner_text() == "Match 3 of 3"
    assert in_view(page, current_mark(page))

    page.get_by_role("button", name="Clear the search marks").click()
    assert page.locator("#turns mark").count() == 0 and page.locator("#match-nav").count() == 0
    assert page.url == server.url(f"/c/{conv['pk']}/")
    assert needle.upper() in page.locator(f"#t{a3}-c strong").inner_text()  # the text is as it was
    assert errors == []


def test_a_match_in_the_thought_opens_it_and_the_arrow_keys_move_through_results(logged_in_page, server, errors,
                                                                                 screenshot):
    page = logged_in_page
    page.set_viewport_size({"width": 1100, "height": 650})
    needle = word()
    first = make_conversation(server, "Thinking A", [
        {"prompt": "Warm up", "answer": "Done.", "reasoning": "Nothing here."},
        {"prompt": "Sum 17 and 25", "answer": "42",
         "reasoning": FILLER + f"\n\nThen I recall the {needle} rule and carry the one."},
        {"prompt": "Thanks", "answer": FILLER},
    ])
    second = make_conversation(server, "Thinking B", [{"prompt": f"Say {needle}", "answer": "Said."}])
    page.goto(server.url(f"/c/{second['pk']}/"))
    search(page, needle, 2)
    box = page.get_by_label("Search conversations")
    links = page.locator("#conversation-list > li.result > a")
    # Newest first: B, then A.
    assert [a.get_attribute("href") for a in links.all()] == [
        f"/c/{second['pk']}/?q={needle}#t{second['turns'][0][0]}-prompt",
        f"/c/{first['pk']}/?q={needle}#t{first['turns'][1][1]}-reasoning",
    ]
    page.wait_for_function(  # said once in the page's one live region
        "() => [...document.querySelectorAll('#announcer p')].map(p => p.textContent)"
        ".filter(t => t.startsWith('2 conversations match')).length === 1"
    )

    focused = "document.activeElement === document.querySelectorAll('#conversation-list > li.result > a')[{}]"
    box.press("ArrowDown")
    assert page.evaluate(focused.format(0))
    page.keyboard.press("ArrowDown")
    assert page.evaluate(focused.format(1))
    screenshot(page, "search-results-keyboard")
    page.keyboard.press("ArrowDown")  # the last stays
    assert page.evaluate(focused.format(1))
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")  # above the first: the box again
    assert page.evaluate("document.activeElement.id") == "search"
    box.press("ArrowDown")
    page.keyboard.press("End")
    assert "Thinking A" in page.evaluate("document.activeElement.textContent")
    page.keyboard.press("Enter")
    answer = first["turns"][1][1]
    page.wait_for_url(re.compile(rf"/c/{first['pk']}/\?q={needle}#t{answer}-reasoning$"))
    page.wait_for_selector("#turns mark.search-hit.current")

    thought = page.locator(f"#turn-{answer} details.thought")
    assert thought.evaluate("d => d.open"), "the thought with the match stays closed"
    assert page.locator(f"#turn-{first['turns'][0][1]} details.thought").evaluate("d => !d.open")  # no match: closed
    hit = current_mark(page)
    assert hit.evaluate("m => m.closest('.reasoning').id") == f"t{answer}-r"
    assert in_view(page, hit), "the match is not in view (the thought scrolls on its own)"
    assert page.locator("#match-pos").inner_text() == "Match 1 of 1"
    assert page.locator("#announcer p").last.inner_text() == "Match 1 of 1"
    screenshot(page, "search-in-thought")

    page.reload()
    page.wait_for_selector("#turns mark.search-hit.current")
    assert page.locator(f"#turn-{answer} details.thought").evaluate("d => d.open")
    assert in_view(page, current_mark(page))
    assert errors == []


def test_a_query_that_looks_like_html_is_marked_as_text(logged_in_page, server, errors):
    page = logged_in_page
    needle = word()
    payload = f'<img src=x id="{needle}" onerror="window.__xss=1">'
    conv = make_conversation(server, "Markup", [{"prompt": f"Why does {payload} not run?", "answer": "It is text."}])
    user = conv["turns"][0][0]
    page.goto(server.url("/"))
    search(page, payload, 1)
    page.get_by_label("Search conversations").press("ArrowDown")
    page.keyboard.press("Enter")
    page.wait_for_selector("#turns mark.search-hit.current")
    assert current_mark(page).inner_text() == payload
    assert current_mark(page).evaluate("m => m.childNodes.length === 1 && m.firstChild.nodeType === Node.TEXT_NODE")
    assert page.locator(f"#t{user}-p img").count() == 0 and page.locator(f"#{needle}").count() == 0
    assert page.locator(f"#t{user}-p").inner_text() == f"Why does {payload} not run?"
    assert page.locator("#match-nav .match-query").inner_text() == f"“{payload}”"
    assert page.evaluate("window.__xss") is None
    assert errors == []
