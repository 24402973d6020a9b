"""Issue 21.9, the server side of "search opens the conversation at the match": which
turn and which of its texts (prompt, reasoning, answer) matched first, on the branch
on show and in the order the page shows them; the result's link carries it
(?q=…#t<turn>-<field>); the conversation page opened from it lists the results and
offers the match navigation."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from playground.conversations import sidebar
from playground.conversations.sidebar import Match
from playground.models import Conversation
from tests.playground.test_views import exchange

pytestmark = pytest.mark.django_db


def found(owner, query: str) -> dict[str, Conversation]:
    return {c.title: c for c in sidebar.search(owner, query) if isinstance(c, Conversation)}


def test_the_match_names_the_turn_and_the_field(owner, scripted_model):
    answer = Conversation.objects.create(owner=owner, title="In an answer")
    _, a = exchange(answer, "What is 17*23?", "It is 391, the needle.", reasoning="17*20 = 340", model=scripted_model)
    thought = Conversation.objects.create(owner=owner, title="In a thought")
    _, t = exchange(thought, "What is 6*7?", "42", reasoning="Six sevens, a Needle here", model=scripted_model)
    prompt = Conversation.objects.create(owner=owner, title="In a prompt")
    p, _ = exchange(prompt, "Find the NEEDLE", "Found.", model=scripted_model)

    hits = found(owner, "needle")
    assert hits["In an answer"].match == Match(a.pk, "content")
    assert hits["In a thought"].match == Match(t.pk, "reasoning")
    assert hits["In a prompt"].match == Match(p.pk, "prompt")
    assert [hits[k].match.anchor for k in ("In an answer", "In a thought", "In a prompt")] == [
        f"t{a.pk}-content", f"t{t.pk}-reasoning", f"t{p.pk}-prompt",
    ]
    assert "<mark>Needle</mark>" in hits["In a thought"].snippet
    assert hits["In a thought"].match.label == "reasoning" and hits["In an answer"].match.label == "answer"


def test_the_first_match_is_the_first_the_page_shows(owner, scripted_model):
    conv = Conversation.objects.create(owner=owner, title="Order")
    # In one answer the thought is shown above the answer: it is the first match.
    _, a1 = exchange(conv, "Start", "The answer says needle", reasoning="The thought says needle",
                      model=scripted_model)
    assert found(owner, "needle")["Order"].match == Match(a1.pk, "reasoning")
    # A later turn's match does not come before an earlier one's.
    exchange(conv, "needle again, in a prompt", "ok", parent=a1, model=scripted_model)
    assert found(owner, "needle")["Order"].match == Match(a1.pk, "reasoning")
    assert found(owner, "in a prompt")["Order"].match.field == "prompt"


def test_a_match_on_the_branch_on_show_comes_before_an_older_one_on_another(owner, scripted_model):
    conv = Conversation.objects.create(owner=owner, title="Branches")
    _, old_answer = exchange(conv, "Question", "an old needle", model=scripted_model)
    _, shown = exchange(conv, "Question, edited", "a new needle", model=scripted_model)  # a sibling prompt
    conv.refresh_from_db()
    assert conv.leaf_id == shown.pk
    assert found(owner, "needle")["Branches"].match == Match(shown.pk, "content")

    # Only the branch not on show matches: the snippet says so, and the link cannot open at it.
    hit = found(owner, "old needle")["Branches"]
    assert hit.match == Match(old_answer.pk, "content", on_show=False)
    assert hit.match.label == "answer (another branch)" and "<mark>old needle</mark>" in hit.snippet


def test_a_title_match_has_no_turn(owner, scripted_model):
    conv = Conversation.objects.create(owner=owner, title="Haystack")
    exchange(conv, "Nothing here", "Nor here", model=scripted_model)
    hit = found(owner, "haystack")["Haystack"]
    assert hit.match is None and hit.snippet is None


def test_the_result_links_to_the_match_and_the_page_opens_there(client, owner, stranger, scripted_model):
    conv = Conversation.objects.create(owner=owner, title="Sums")
    _, answer = exchange(conv, "What is 17*23?", "391", reasoning='Carry the "1" & <b>', model=scripted_model)
    client.force_login(owner)

    html = client.get("/c/search", {"q": '"1" & <b>'}).content.decode()
    # The query is URL-encoded in the link (an attribute): no quote or bracket of it is markup.
    assert f'href="/c/{conv.pk}/?q=%221%22%20%26%20%3Cb%3E#t{answer.pk}-reasoning"' in html
    assert 'reasoning:</span> Carry the <mark>&quot;1&quot; &amp; &lt;b&gt;</mark>' in html

    page = client.get(f"/c/{conv.pk}/", {"q": '"1" & <b>'}).content.decode()
    assert 'id="match-nav"' in page and 'aria-label="Next match"' in page
    assert 'value="&quot;1&quot; &amp; &lt;b&gt;"' in page  # the search box keeps the query
    assert f'href="/c/{conv.pk}/?q=%221%22%20%26%20%3Cb%3E#t{answer.pk}-reasoning"' in page  # and the results
    assert 'id="match-nav"' not in client.get(f"/c/{conv.pk}/").content.decode()
    assert f'id="t{answer.pk}-r"' in page and f'id="t{answer.pk - 1}-p"' in page  # the anchors exist

    client.force_login(stranger)
    assert client.get(f"/c/{conv.pk}/", {"q": "391"}).status_code == 404


def test_the_matches_cost_two_queries_for_the_whole_list(owner, scripted_model):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            hits = sidebar.search(owner, "needle")
        assert all(c.match is not None for c in hits if isinstance(c, Conversation))
        return len(ctx.captured_queries)

    def add(n: int) -> None:
        for i in range(n):
            conv = Conversation.objects.create(owner=owner, title=f"c{i}")
            _, a = exchange(conv, "q", f"needle {i}", model=scripted_model)
            exchange(conv, "q2", "needle again", parent=a, model=scripted_model)

    add(1)
    one = queries()
    add(9)
    assert queries() == one  # ten conversations: as many queries as one
