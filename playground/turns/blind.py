"""What a blind comparison keeps from the chat side until the vote.

A column of a comparison is an ordinary conversation, so every chat route
(`/c/<id>/`, its exports, a turn's Raw and Request views, the chat socket) could
name its model. While the comparison's labels are hidden those routes either
send the reader to the comparison or show the column's blind name.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Max, Q, QuerySet

from playground.models import Comparison, ComparisonColumn, Conversation, Turn

SidebarItem = Conversation | Comparison


def hidden_column(conversation_id: int) -> ComparisonColumn | None:
    """The column this conversation is, while its comparison still hides the models."""
    return (
        ComparisonColumn.objects.filter(conversation_id=conversation_id, comparison__blind=True,
                                        comparison__revealed_at__isnull=True)
        .select_related("comparison")
        .first()
    )


def without_hidden_columns(turns: QuerySet[Turn]) -> QuerySet[Turn]:
    """Turns minus those of columns whose comparison still hides the models (a dataset
    row names its model, and so does a list of the models that answered)."""
    return turns.exclude(
        conversation__comparison_column__comparison__blind=True,
        conversation__comparison_column__comparison__revealed_at__isnull=True,
    )


def chats_only(conversations: QuerySet[Conversation]) -> QuerySet[Conversation]:
    """The conversations the chat list shows: a comparison's columns are one comparison item, not chats,
    and an effort sweep's runs are its page's (one conversation per run would flood the list)."""
    return conversations.filter(comparison_column__isnull=True).exclude(origin="sweep")


def sidebar_comparisons(owner: User, query: str = "") -> QuerySet[Comparison]:
    """The owner's comparisons as sidebar items, `updated_at` being their newest column's."""
    comparisons = Comparison.objects.filter(owner=owner)
    if query:
        comparisons = comparisons.filter(
            Q(title__icontains=query) | Q(columns__conversation__turns__content__icontains=query)
        )
    return comparisons.annotate(updated_at=Max("columns__conversation__updated_at")).order_by("-updated_at")
