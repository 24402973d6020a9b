"""Moved to `playground.turns.blind` (issue 19.8: the turn's domain in one room).

Kept only so code written against the old place keeps importing while the
branches that still use it are merged; nothing in the tree imports it. Delete it
once `grep -r "playground.compare.blind"` finds nothing.
"""

from playground.turns.blind import (
    SidebarItem,
    chats_only,
    hidden_column,
    sidebar_comparisons,
    without_hidden_columns,
)

__all__ = [
    "SidebarItem",
    "chats_only",
    "hidden_column",
    "sidebar_comparisons",
    "without_hidden_columns",
]
