"""The conversation list: date groups, pins, and search with a snippet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
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


def search(owner: Any, query: str) -> list[SidebarItem]:
    """Chats whose title, prompts, answers or reasoning contain `query` (case-insensitive),
    each with `snippet`: the first match in context, marked; then the comparisons that match."""
    text_match = Q(content__icontains=query) | Q(reasoning__icontains=query)
    found = list(
        chats_only(Conversation.objects.filter(owner=owner))
        .filter(Q(title__icontains=query) | Q(turns__content__icontains=query) | Q(turns__reasoning__icontains=query))
        .distinct()
        .order_by("-pinned", "-updated_at")[:LIST_LIMIT]
    )
    for conv in found:
        snippet = None
        turn = Turn.objects.filter(conversation=conv).filter(text_match).order_by("created_at", "pk").first()
        if turn is not None:
            for where, text in (
                ("prompt" if turn.role == "user" else "answer", turn.content),
                ("reasoning", turn.reasoning),
            ):
                if (s := snippet_of(text, query)) is not None:
                    snippet = (where, s)
                    break
        conv.snippet = snippet  # type: ignore[attr-defined]
    return [*found, *sidebar_comparisons(owner, query)[:LIST_LIMIT]]


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
