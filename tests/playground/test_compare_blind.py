"""A blind comparison names no model anywhere until the vote, and a comparison is
one item of the chat list, never one chat per column."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin, urlparse

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator

from playground.asgi import application
from playground.models import Comparison, Conversation, Turn
from tests.playground import test_compare
from tests.playground.test_compare import column_socket, columns_of, create, finish_runs, setup_form

pytestmark = pytest.mark.django_db(transaction=True)
three_models = test_compare.three_models  # the fixture: models with telling names

NAMES = ["Alpha Sage", "Bravo Reasoner", "Charlie Thinker", "scripted-1", "scripted-2", "scripted-3"]
# Every attribute of a page that leads to another URL the browser may load.
LINK = re.compile(r'(?:href|hx-get|data-copy|action|ws-connect|src)="([^"]+)"')
NOT_FOLLOWED = ("/static/", "/logout", "/admin/", "/ws/")


def links_of(html: str, base: str) -> set[str]:
    out = set()
    for raw in LINK.findall(html):
        url = urljoin(base, unescape(raw))
        parts = urlparse(url)
        if parts.netloc in ("", "testserver") and not parts.path.startswith(NOT_FOLLOWED):
            out.add(parts.path + (f"?{parts.query}" if parts.query else ""))
    return out


async def crawl(async_client, start: list[str], depth: int = 3) -> dict[str, str]:
    """Every page reachable by GET from `start`, `depth` links deep: url -> body."""
    seen: dict[str, str] = {}
    frontier = list(start)
    for _ in range(depth):
        following = []
        for url in frontier:
            if url in seen:
                continue
            response = await async_client.get(url, follow=True)
            body = (await _body(response)).decode(errors="replace")
            seen[url] = body
            if response.get("Content-Type", "").startswith("text/html"):
                following += [u for u in links_of(body, url) if u not in seen]
        frontier = following
    return seen


# A model picker lists every enabled model on any page, comparison or not: it tells nothing.
PICKER = re.compile(r"<select\b.*?</select>", re.S)


async def _body(response) -> bytes:
    """The whole body, streamed ones (a dataset download) included."""
    if not response.streaming:
        return response.content
    chunks = response.streaming_content
    if hasattr(chunks, "__aiter__"):
        return b"".join([chunk async for chunk in chunks])
    return await sync_to_async(lambda: b"".join(chunks))()  # a generator that queries the database


def leaks(pages: dict[str, str]) -> list[tuple[str, str]]:
    return [(url, name) for url, body in pages.items() for name in NAMES if name in PICKER.sub("", body)]


async def test_no_link_of_a_blind_comparison_names_a_model_before_the_vote(
    async_client, owner, scripted, three_models
):
    pk = await create(async_client, owner, setup_form(three_models[:2], blind="on"))
    await finish_runs()
    columns = await columns_of(pk)
    # The chat routes of each column too, as someone who guessed them would ask for them.
    guessed = []
    for column, turns in columns:
        c = column.conversation_id
        guessed += [f"/c/{c}/", f"/c/{c}/export.md", f"/c/{c}/export.json"]
        guessed += [f"/turns/{t.pk}/raw" for t in turns] + [f"/turns/{t.pk}/request" for t in turns]
    pages = await crawl(async_client, [f"/compare/{pk}/", "/", "/c/search?q=sky", "/c/search?q=The", *guessed])

    assert any(u.startswith("/turns/") and u.endswith("/raw") for u in pages)  # the Raw buttons were followed
    assert any(u.endswith("/request") for u in pages)
    assert len(pages) > 15
    assert leaks(pages) == []

    # After the vote the same walk finds the models: the check above could see them.
    await async_client.post(f"/compare/{pk}/vote", {"choice": "A"})
    revealed = await crawl(async_client, [f"/compare/{pk}/", *guessed], depth=1)
    assert {name for _, name in leaks(revealed)} >= {"Alpha Sage", "Bravo Reasoner"}


async def test_the_chat_socket_refuses_a_hidden_column(client, async_client, owner, scripted, three_models):
    pk = await create(async_client, owner, setup_form(three_models[:2], blind="on"))
    await finish_runs()
    column, _ = (await columns_of(pk))[0]
    comm = await column_socket(client, owner, column.conversation_id)  # the column socket disguises
    await comm.disconnect()
    headers = [
        (b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"),
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
    ]
    comm = WebsocketCommunicator(application, f"/ws/conversations/{column.conversation_id}/", headers=headers)
    connected, code = await comm.connect()
    assert not connected and code == 4403


async def test_a_comparison_is_one_item_of_the_chat_list_and_its_search(async_client, owner, scripted, three_models):
    chat = await Conversation.objects.acreate(owner=owner, title="An ordinary chat about clouds")
    await Turn.objects.acreate(conversation=chat, role="user", content="clouds?")
    pk = await create(async_client, owner, setup_form(three_models, prompt="Why is the sky blue?"))
    await finish_runs()
    comparison = await Comparison.objects.aget(pk=pk)

    page = (await async_client.get("/")).content.decode()
    sidebar = page.split('id="conversation-list"')[1].split('class="sidebar-foot"')[0]
    assert sidebar.count('class="comparison-item"') == 1 and sidebar.count('class="conv-item"') == 1
    assert sidebar.count(f'href="{comparison.get_absolute_url()}"') == 1
    assert "compare A" not in sidebar and "/c/" in sidebar  # the chat, not the columns
    assert sidebar.index("Why is the sky blue?") < sidebar.index("An ordinary chat")  # newest first

    found = (await async_client.get("/c/search", {"q": "The answer."})).content.decode()  # the columns' answers
    assert found.count("<li") == 1 and comparison.get_absolute_url() in found
    found = (await async_client.get("/c/search", {"q": "clouds"})).content.decode()
    assert found.count("<li") == 1 and chat.get_absolute_url() in found
