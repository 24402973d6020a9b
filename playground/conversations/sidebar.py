"""The conversation list: date groups, pins, and search with a snippet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from playground.models import Conversation, Turn
from playground.turns.blind import SidebarItem, chats_only, sidebar_comparisons

LIST_LIMIT = 100
SNIPPET_CHARS = 60  # either side of the match
_WHITESPACE = re.compile(r"\s+")


@dataclass
class Group:
    title: str
    conversations: list[SidebarItem] = field(default_factory=list)


def grouped(owner: Any, now: Any = None) -> list[Group]:
    """Pinned first, then Today, Yesterday, Previous 7 days, Previous 30 days, Older
    (by last activity, in the server's time zone); empty groups are left out."""
    now = timezone.localtime(now or timezone.now())
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    bounds = [
        ("Today", today),
        ("Yesterday", today - timedelta(days=1)),
        ("Previous 7 days", today - timedelta(days=7)),
        ("Previous 30 days", today - timedelta(days=30)),
    ]
    groups = [Group("Pinned"), *(Group(title) for title, _ in bounds), Group("Older")]
    # API requests have a folder of their own (the page's api_conversations), and a
    # comparison is one item, its columns never listed as chats.
    mine = chats_only(Conversation.objects.filter(owner=owner).exclude(origin="api"))
    items: list[SidebarItem] = [
        *mine.order_by("-pinned", "-updated_at")[:LIST_LIMIT],
        *sidebar_comparisons(owner)[:LIST_LIMIT],
    ]
    items.sort(key=lambda item: (getattr(item, "pinned", False), _recency(item)), reverse=True)
    for item in items[:LIST_LIMIT]:
        if getattr(item, "pinned", False):
            groups[0].conversations.append(item)
            continue
        for i, (_, start) in enumerate(bounds, start=1):
            if _recency(item) >= start:
                groups[i].conversations.append(item)
                break
        else:
            groups[-1].conversations.append(item)
    return [g for g in groups if g.conversations]


def _recency(item: SidebarItem) -> Any:
    # A comparison's `updated_at` is annotated (its newest column's); one with no column has none.
    return getattr(item, "updated_at", None) or item.created_at


@dataclass(frozen=True)
class Match:
    """Where a search first matches a conversation: a turn on the branch on show and
    which of its texts, in the order the page shows them (a prompt; an answer's
    reasoning, then its content)."""

    turn: int
    field: str  # "prompt", "reasoning" or "content"
    on_show: bool = True  # False: only a branch not on show matches (the page cannot open at it)

    @property
    def anchor(self) -> str:
        """The result link's fragment, `t<turn>-<field>`: the page opens at the match
        (static/js/search_match.js). Not an element's id (the turn's blocks are
        `t<turn>-p`, `-r`, `-c`), so the browser's own jump to it never undoes that."""
        return f"t{self.turn}-{self.field}"

    @property
    def label(self) -> str:
        where = "answer" if self.field == "content" else self.field
        return where if self.on_show else f"{where} (another branch)"


def search(owner: Any, query: str) -> list[SidebarItem]:
    """Chats whose title, prompts, answers or reasoning contain `query` (case-insensitive),
    each with `match`, the first on the branch on show in page order (else the first in
    any branch; None when only the title matches) and `snippet`: that match in context,
    marked; then the comparisons that match."""
    text_match = Q(content__icontains=query) | Q(reasoning__icontains=query)
    found = list(
        chats_only(Conversation.objects.filter(owner=owner))
        .filter(Q(title__icontains=query) | Q(turns__content__icontains=query) | Q(turns__reasoning__icontains=query))
        .distinct()
        .order_by("-pinned", "-updated_at")[:LIST_LIMIT]
    )
    ids = [conv.pk for conv in found]
    # Two queries for the whole list: every turn's place in its tree, and the turns that match.
    parents: dict[int, dict[int, int | None]] = {pk: {} for pk in ids}
    for pk, parent_id, conv_id in Turn.objects.filter(conversation_id__in=ids).values_list(
        "pk", "parent_id", "conversation_id"
    ):
        parents[conv_id][pk] = parent_id
    matching: dict[int, dict[int, Turn]] = {pk: {} for pk in ids}
    for turn in Turn.objects.filter(conversation_id__in=ids).filter(text_match).only(
        "pk", "conversation_id", "role", "content", "reasoning"
    ):
        matching[turn.conversation_id][turn.pk] = turn
    for conv in found:
        conv.match = conv.snippet = None  # type: ignore[attr-defined]
        shown = branch_ids(parents[conv.pk], conv.leaf_id)
        on_show = set(shown)
        hidden = sorted(set(matching[conv.pk]) - on_show)  # ids grow with time: oldest first
        for pk in [*(pk for pk in shown if pk in matching[conv.pk]), *hidden]:
            if hit := first_match(matching[conv.pk][pk], query):
                match, conv.snippet = hit  # type: ignore[attr-defined]
                conv.match = match if pk in on_show else replace(match, on_show=False)  # type: ignore[attr-defined]
                break
    return [*found, *sidebar_comparisons(owner, query)[:LIST_LIMIT]]


def branch_ids(parents: dict[int, int | None], leaf_id: int | None) -> list[int]:
    """The turns on show, root first: from `leaf_id` up (as turns.services.branch, with
    ids only; a missing leaf is the newest turn, the highest id)."""
    if not parents:
        return []
    node: int | None = leaf_id if leaf_id in parents else max(parents)
    chain: list[int] = []
    while node is not None:
        chain.append(node)
        node = parents.get(node)
    chain.reverse()
    return chain


def first_match(turn: Turn, query: str) -> tuple[Match, SafeString] | None:
    """The first of `turn`'s texts, as the page shows them, that contains `query`, with its snippet."""
    fields = ("content",) if turn.role == Turn.Role.USER else ("reasoning", "content")
    for name in fields:
        if (snippet := snippet_of(getattr(turn, name), query)) is not None:
            return Match(turn.pk, "prompt" if turn.role == Turn.Role.USER else name), snippet
    return None


def snippet_of(text: str, query: str) -> SafeString | None:
    """`text` around the first case-insensitive match of `query`, escaped, the match in <mark>."""
    at = text.casefold().find(query.casefold())
    if at < 0 or not query:
        return None
    start, end = max(0, at - SNIPPET_CHARS), min(len(text), at + len(query) + SNIPPET_CHARS)
    before, hit, after = (
        _WHITESPACE.sub(" ", p) for p in (text[start:at], text[at : at + len(query)], text[at + len(query) : end])
    )
    lead = "…" if start else ""
    tail = "…" if end < len(text) else ""
    # Every piece of model or user text is escaped; only the <mark> is ours.
    return mark_safe(f"{lead}{escape(before)}<mark>{escape(hit)}</mark>{escape(after)}{tail}")
