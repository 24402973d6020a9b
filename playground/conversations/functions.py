"""Moved to `playground.turns.functions` (issue 19.8: the turn's domain in one room).

Kept only so code written against the old place keeps importing while the
branches that still use it are merged; nothing in the tree imports it. Delete it
once `grep -r "playground.conversations.functions"` finds nothing.
"""

from playground.turns.functions import (
    EMPTY_PARAMETERS,
    MAX_FUNCTIONS,
    MAX_SCHEMA_CHARS,
    NAME,
    _schema,
    add,
    argument_problems,
    clean_function,
    clean_functions,
    named,
    result_problems,
    specs,
)

__all__ = [
    "EMPTY_PARAMETERS",
    "MAX_FUNCTIONS",
    "MAX_SCHEMA_CHARS",
    "NAME",
    "_schema",
    "add",
    "argument_problems",
    "clean_function",
    "clean_functions",
    "named",
    "result_problems",
    "specs",
]
