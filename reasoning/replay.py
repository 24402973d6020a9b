"""The one stored shape of a turn's replay data, and its one reader.

An adapter yields `ReplayData(payload)`; whoever stores the turn (the run) folds each
payload into the turn's stored replay with `fold`, and the context builder reads it
back with `read`. Both sides go through this module, so the shape written is the
shape read (it once was not: the run stored a list of payloads while the context
builder expected one payload, and nothing was ever sent back).

The stored shape is one JSON object with a `format`:

* `{"format": "anthropic", "content": [blocks as received]}`
* `{"format": "gemini", "parts": [parts as received]}`
* `{"format": "responses", "items": [output items as received], "response_id": "resp_…"}`
* `{"format": "openai", "reasoning_details": [details as received]}`

`read` also accepts what older rows hold: a list of such payloads (the run's old
storage), `{"items": [...]}` or a bare list of Responses output items, and
`{"reasoning_details": [...]}` without a format.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("anthropic", "gemini", "responses", "openai")
_LISTS = {"anthropic": "content", "gemini": "parts", "responses": "items", "openai": "reasoning_details"}


def _normalised(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, list):
        if payload and all(isinstance(p, dict) and "type" in p and "format" not in p for p in payload):
            return {"format": "responses", "items": payload}  # bare Responses output items
        folded: dict[str, Any] | None = None
        for entry in payload:
            folded = fold(folded, entry)
        return folded
    if not isinstance(payload, dict):
        return None
    format_ = payload.get("format")
    if format_ is None:
        if isinstance(payload.get("items"), list):
            format_ = "responses"
        elif isinstance(payload.get("reasoning_details"), list):
            format_ = "openai"
    if format_ not in FORMATS:
        return None
    key = _LISTS[format_]
    items = payload.get(key)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return None
    return {**payload, "format": format_, key: list(items)}


def fold(stored: Any, payload: Any) -> dict[str, Any] | None:
    """The stored replay after one more `ReplayData` payload of the same turn: a
    payload of the same format extends the lists, another format replaces it."""
    new = _normalised(payload)
    old = _normalised(stored) if stored is not None else None
    if new is None:
        return old
    if old is None or old["format"] != new["format"]:
        return new
    key = _LISTS[new["format"]]
    return {**old, **new, key: [*old[key], *new[key]]}


def read(stored: Any, format_: str) -> dict[str, Any] | None:
    """The stored replay if it is of `format_` (see the module docstring), else None."""
    replay = _normalised(stored)
    if replay is None or replay["format"] != format_:
        return None
    return replay


def items(stored: Any, format_: str) -> list[dict[str, Any]]:
    """The list a format replays (blocks, parts, items, details); [] when none."""
    replay = read(stored, format_)
    return list(replay[_LISTS[format_]]) if replay else []
