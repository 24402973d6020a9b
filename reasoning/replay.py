"""The one stored shape of a turn's replay data, and its one reader.

An adapter yields `ReplayData(payload)`; whoever stores the turn (the run) folds each
payload into the turn's stored replay with `fold`, and the context builder reads it
back with `read`. Both sides go through this module, so the shape written is the
shape read (it once was not: the run stored a list of payloads while the context
builder expected one payload, and nothing was ever sent back).

The stored shape is one JSON object with a `format`:

* `{"format": "anthropic", "content": [blocks as received]}`
* `{"format": "gemini", "parts": [parts as received], "call_ids": [ids]}`: adjacent
  unsigned answer-text parts are merged (one text part per answer); `call_ids` (present
  when the step made function calls) gives, in order, the tool-call id our events used
  for each `functionCall` part, since Gemini's parts often carry no id. A signed
  `functionCall` part must go back verbatim, `thoughtSignature` beside `functionCall`
  (Gemini 3 rejects a call without it): `function_call_parts` finds it by call id.
* `{"format": "responses", "items": [output items as received], "response_id": "resp_…"}`:
  `function_call` items (`id` fc_…, `call_id`, `name`, `arguments`) are kept in order
  with the reasoning items before them, to go back verbatim.
* `{"format": "openai", "reasoning_details": [details as received], "tool_calls":
  [{"id", "extra_content"}]}`: `tool_calls` (optional) keeps what Gemini's
  OpenAI-compatible endpoint put beside a call (`extra_content.google.thought_signature`),
  to echo on that call.
* `{"format": "anthropic", "content": [...]}` holds `tool_use` blocks with `input` as
  the parsed object, between the thinking blocks, in the order they came; `prefix` is
  the digest of the prefix the message was produced after (`reasoning.context.
  prefix_digest`: system, tools, earlier messages as sent), which a prefix-bound model
  (Claude Fable 5.1+) needs unchanged for its thinking blocks to go back.

`read` also accepts what older rows hold: a list of such payloads (the run's old
storage), `{"items": [...]}` or a bare list of Responses output items, and
`{"reasoning_details": [...]}` without a format.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("anthropic", "gemini", "responses", "openai")
_LISTS = {"anthropic": "content", "gemini": "parts", "responses": "items", "openai": "reasoning_details"}
# Further lists a format may carry; folded (concatenated) like the main one.
_EXTRA_LISTS = {"gemini": ("call_ids",), "openai": ("tool_calls",)}


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
    if format_ == "gemini":
        items = _merged_text_parts(items)
    return {**payload, "format": format_, key: list(items)}


def _merged_text_parts(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Adjacent plain answer-text parts (no signature, not thought, nothing else) as one
    part: rows stored before the adapter merged them held one part per streamed chunk."""
    merged: list[dict[str, Any]] = []
    for part in parts:
        if merged and _plain_text(merged[-1]) and _plain_text(part):
            merged[-1] = {"text": merged[-1]["text"] + part["text"]}
        else:
            merged.append(part)
    return merged


def _plain_text(part: dict[str, Any]) -> bool:
    return set(part) == {"text"} and isinstance(part["text"], str)


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
    folded = {**old, **new, key: [*old[key], *new[key]]}
    for extra in _EXTRA_LISTS.get(new["format"], ()):
        if isinstance(old.get(extra), list) or isinstance(new.get(extra), list):
            folded[extra] = [*(old.get(extra) or []), *(new.get(extra) or [])]
    return folded


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


def function_call_parts(stored: Any) -> dict[str, dict[str, Any]]:
    """Gemini: each stored `functionCall` part by the tool-call id our events gave it
    (`call_ids`, else the part's own `functionCall.id`); {} when none."""
    replay = read(stored, "gemini")
    if replay is None:
        return {}
    raw_ids = replay.get("call_ids")
    ids: list[Any] = raw_ids if isinstance(raw_ids, list) else []
    found: dict[str, dict[str, Any]] = {}
    calls = [part for part in replay["parts"] if isinstance(part.get("functionCall"), dict)]
    for n, part in enumerate(calls):
        call_id = ids[n] if n < len(ids) else part["functionCall"].get("id")
        if isinstance(call_id, str) and call_id:
            found[call_id] = part
    return found
