"""A conversation out as Markdown (the branch on show, for reading) or JSON (every
branch, for import), and JSON back in as a new conversation.

Import is strict: an unknown key, a wrong type, a dangling parent or an
over-long text is refused with a message that says where, and nothing is stored.
Provider replay data and the request as sent are not exported: the first is
opaque and tied to the provider session, the second is an audit record. A tool
loop's steps are (their text, calls and results; not their replay data).
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from playground.models import Conversation, ModelProfile, Turn, decimal_that_fits
from playground.turns.services import BadInput, branch, clean_params

FORMAT = "reasoning-playground/conversation"
VERSION = 1
MAX_BYTES = 10 * 1024 * 1024
MAX_TURNS = 5000
MAX_TEXT = 2_000_000
MAX_DEPTH = 20  # nesting of objects and lists; an export is 5 deep
_ERROR_KEYS = {"kind": 32, "message": 4000}

_COUNTS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "cached_tokens")
_TIMINGS = ("first_reasoning_ms", "first_content_ms", "thinking_ms", "duration_ms")
_TURN_KEYS = {
    "id", "parent", "role", "content", "reasoning", "model", "source", "params", "status",
    "finish_reason", "error", "cost", "created_at", "steps", *_COUNTS, *_TIMINGS,
}
_STEP_KEYS = {"reasoning", "content", "finish_reason", "tool_calls", "notices"}
_CALL_KEYS = {"id", "name", "arguments", "server", "result", "is_error", "duration_ms", "status"}
MAX_STEPS = 200
MAX_CALLS = 64
_TOP_KEYS = {"format", "version", "title", "exported_at", "model", "settings", "leaf", "turns"}
_FINISHED = {s.value for s in Turn.Status if s != Turn.Status.STREAMING}


def to_json(conversation: Conversation) -> dict[str, Any]:
    turns = list(conversation.turns.order_by("created_at", "pk"))
    local = {t.pk: i + 1 for i, t in enumerate(turns)}  # ids that do not leak database keys
    return {
        "format": FORMAT,
        "version": VERSION,
        "title": conversation.title,
        "exported_at": timezone.now().isoformat(),
        "model": conversation.model.label if conversation.model else None,
        "settings": conversation.settings or {},
        "leaf": local.get(conversation.leaf_id) if conversation.leaf_id else None,
        "turns": [
            {
                "id": local[t.pk],
                "parent": local.get(t.parent_id) if t.parent_id else None,
                "role": t.role,
                "content": t.content,
                "reasoning": t.reasoning,
                "model": t.model_label or None,
                "source": t.source or None,
                "params": t.params or {},
                "status": t.status,
                "finish_reason": t.finish_reason or None,
                "error": t.error,
                "cost": str(t.cost) if t.cost is not None else None,
                "created_at": t.created_at.isoformat(),
                **{k: getattr(t, k) for k in _COUNTS},
                **{k: getattr(t, k) for k in _TIMINGS},
                **({"steps": _exported_steps(t.steps)} if t.steps else {}),
            }
            for t in turns
        ],
    }


def _exported_steps(steps: Any) -> list[dict[str, Any]]:
    return [
        {
            "reasoning": step.get("reasoning") or "",
            "content": step.get("content") or "",
            "finish_reason": step.get("finish_reason") or "",
            "tool_calls": [{k: c.get(k) for k in sorted(_CALL_KEYS) if k in c} for c in step.get("tool_calls") or ()],
        }
        for step in steps or ()
        if isinstance(step, dict)
    ]


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines())


def to_markdown(conversation: Conversation) -> str:
    out = [f"# {conversation.title}", ""]
    for t in branch(conversation):
        if t.role == Turn.Role.USER:
            out += ["## User", "", t.content, ""]
            continue
        out += [f"## Assistant · {t.model_label or 'unknown model'}", ""]
        for n, step in enumerate(t.steps[:-1] if t.steps else [], 1):
            out += [f"**Step {n}**", ""]
            if step.get("reasoning"):
                out += [_quote(str(step["reasoning"])), ""]
            if step.get("content"):
                out += [str(step["content"]), ""]
            for c in step.get("tool_calls") or ():
                said = "(no result)" if c.get("result") is None else str(c["result"])
                out += [f"Tool call `{c.get('name')}`{' (error)' if c.get('is_error') else ''}:", "",
                        "```json", str(c.get("arguments") or "{}"), "```", "", "```", said, "```", ""]
        if t.reasoning:
            seconds = f"{t.thinking_ms / 1000:.1f} s" if t.thinking_ms else "unknown time"
            about = "≈ " if t.reasoning_tokens_estimated else ""
            tokens = f" · {about}{t.reasoning_tokens:,} tokens" if t.reasoning_tokens else ""
            out += [f"**Reasoning** (thought for {seconds}{tokens})", "", _quote(t.reasoning), ""]
        elif t.reasoning_tokens:
            out += [f"**Reasoning** hidden by the provider · {t.reasoning_tokens:,} tokens", ""]
        out += ["**Answer**", "", t.content or "_(no answer)_", ""]
        if t.status != Turn.Status.COMPLETE:
            out += [f"_Status: {t.status}_", ""]
    return "\n".join(out).rstrip() + "\n"


# ---- import ------------------------------------------------------------------------------


def _fail(where: str, problem: str) -> BadInput:
    return BadInput(f"Import refused: {where} {problem}.")


def _text(value: Any, where: str, *, limit: int = MAX_TEXT, nullable: bool = False) -> str:
    if value is None and nullable:
        return ""
    if not isinstance(value, str):
        raise _fail(where, "must be a string")
    if len(value) > limit:
        raise _fail(where, f"is longer than {limit:,} characters")
    return value.replace("\x00", "")  # PostgreSQL stores no NUL


def _depth_within(doc: Any, limit: int) -> bool:
    stack = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > limit:
                return False
            stack.extend((v, depth + 1) for v in (value.values() if isinstance(value, dict) else value))
    return True


def _steps(value: Any, where: str) -> list[dict[str, Any]]:
    """A tool loop's steps, checked key by key (the stored shape, reasoning.toolbox.steps)."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_STEPS:
        raise _fail(where, f"must be a list of at most {MAX_STEPS} steps")
    steps = []
    for n, raw in enumerate(value, 1):
        at = f"{where} {n}"
        step = _object(raw, at)
        if unknown := set(step) - _STEP_KEYS:
            raise _fail(at, f"has unknown keys: {', '.join(sorted(unknown))}")
        calls_in = step.get("tool_calls") or []
        if not isinstance(calls_in, list) or len(calls_in) > MAX_CALLS:
            raise _fail(f"{at} tool_calls", f"must be a list of at most {MAX_CALLS} calls")
        calls = []
        for m, raw_call in enumerate(calls_in, 1):
            where_call = f"{at} call {m}"
            call = _object(raw_call, where_call)
            if unknown := set(call) - _CALL_KEYS:
                raise _fail(where_call, f"has unknown keys: {', '.join(sorted(unknown))}")
            result = call.get("result")
            calls.append({
                "id": _text(call.get("id"), f"{where_call} id", limit=200),
                "name": _text(call.get("name"), f"{where_call} name", limit=200),
                "arguments": _text(call.get("arguments", ""), f"{where_call} arguments", nullable=True),
                "server": _text(call.get("server"), f"{where_call} server", limit=64, nullable=True),
                "result": None if result is None else _text(result, f"{where_call} result"),
                "is_error": call.get("is_error") is True,
                "duration_ms": _count(call.get("duration_ms"), f"{where_call} duration_ms"),
                "status": "done" if result is not None else "",
            })
        steps.append({
            "reasoning": _text(step.get("reasoning", ""), f"{at} reasoning", nullable=True),
            "content": _text(step.get("content", ""), f"{at} content", nullable=True),
            "finish_reason": _text(step.get("finish_reason"), f"{at} finish_reason", limit=32, nullable=True),
            "replay": None,
            "source": "",
            "tool_calls": calls,
        })
    return steps


def _params(value: Any, where: str, model: ModelProfile | None) -> dict[str, Any]:
    """Turn and conversation settings, checked as if typed (regenerate sends them again)."""
    try:
        return clean_params(_object(value, where), model)
    except BadInput as e:
        raise _fail(where, f"are out of range: {e}") from None


def _error(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    error = _object(value, where)
    out: dict[str, Any] = {k: _text(error.get(k, ""), f"{where} {k}", limit=n) for k, n in _ERROR_KEYS.items()}
    for key in ("status_code", "retry_after"):
        number = error.get(key)
        is_number = isinstance(number, int | float) and not isinstance(number, bool)
        if number is not None and not (is_number and 0 <= number < 100_000):
            raise _fail(f"{where} {key}", "must be a number ≥ 0 or null")
        out[key] = number
    return out


def _count(value: Any, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
        raise _fail(where, "must be a whole number ≥ 0 or null")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(where, "must be an object")
    return value


def parse(data: bytes) -> dict[str, Any]:
    """Check an export; return it as plain, validated values (nothing stored)."""
    if len(data) > MAX_BYTES:
        raise BadInput(f"Import refused: the file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadInput(f"Import refused: not valid JSON ({e}).") from None
    except RecursionError:
        doc = None
    if doc is None or not _depth_within(doc, MAX_DEPTH):
        raise BadInput(f"Import refused: the JSON is nested more than {MAX_DEPTH} levels deep.")
    doc = _object(doc, "the document")
    if unknown := set(doc) - _TOP_KEYS:
        raise _fail("the document", f"has unknown keys: {', '.join(sorted(unknown))}")
    if doc.get("format") != FORMAT:
        raise _fail('"format"', f"must be {FORMAT!r}")
    if doc.get("version") != VERSION:
        raise _fail('"version"', f"must be {VERSION}")
    title = _text(doc.get("title"), '"title"', limit=200).strip() or "Imported conversation"
    models = {m.label: m for m in ModelProfile.objects.select_related("provider")}
    model_label = doc.get("model")
    model = models.get(model_label) if isinstance(model_label, str) else None
    settings = _params(doc.get("settings", {}), '"settings"', model)
    turns_in = doc.get("turns")
    if not isinstance(turns_in, list) or not turns_in:
        raise _fail('"turns"', "must be a non-empty list")
    if len(turns_in) > MAX_TURNS:
        raise _fail('"turns"', f"has more than {MAX_TURNS} entries")
    seen: dict[int, str] = {}
    turns: list[dict[str, Any]] = []
    for i, raw in enumerate(turns_in):
        where = f"turn {i + 1}"
        t = _object(raw, where)
        if unknown := set(t) - _TURN_KEYS:
            raise _fail(where, f"has unknown keys: {', '.join(sorted(unknown))}")
        tid = _count(t.get("id"), f"{where} id")
        if tid is None or tid in seen:
            raise _fail(f"{where} id", "must be a unique whole number")
        parent = _count(t.get("parent"), f"{where} parent")
        if parent is not None and parent not in seen:
            raise _fail(f"{where} parent", f"{parent} is not an earlier turn")
        role = t.get("role")
        if role not in (Turn.Role.USER, Turn.Role.ASSISTANT):
            raise _fail(f"{where} role", 'must be "user" or "assistant"')
        if parent is not None and seen[parent] == role:
            raise _fail(where, f"follows a turn of the same role ({role})")
        status = t.get("status", Turn.Status.COMPLETE)
        if status == Turn.Status.STREAMING:
            status = Turn.Status.INTERRUPTED  # exported mid-stream: nothing will finish it here
        if not isinstance(status, str) or status not in _FINISHED:
            raise _fail(f"{where} status", f"must be one of {', '.join(sorted(_FINISHED))}")
        cost = t.get("cost")
        if cost is not None:
            try:
                cost = Decimal(_text(cost, f"{where} cost", limit=30))
            except InvalidOperation:
                raise _fail(f"{where} cost", "must be a decimal number in a string") from None
            if not cost.is_finite() or cost < 0:
                raise _fail(f"{where} cost", "must be ≥ 0")
            cost = decimal_that_fits(cost, Turn._meta.get_field("cost"))
            if cost is None:
                raise _fail(f"{where} cost", "is too large")
        error = _error(t.get("error"), f"{where} error")
        model_name = _text(t.get("model"), f"{where} model", limit=100, nullable=True)
        seen[tid] = role
        turns.append(
            {
                "id": tid,
                "parent": parent,
                "role": role,
                "content": _text(t.get("content", ""), f"{where} content"),
                "reasoning": _text(t.get("reasoning", ""), f"{where} reasoning", nullable=True),
                "model_label": model_name,
                "source": _text(t.get("source"), f"{where} source", limit=240, nullable=True),
                "params": _params(t.get("params", {}), f"{where} params", models.get(model_name)),
                "status": status,
                "finish_reason": _text(t.get("finish_reason"), f"{where} finish_reason", limit=32, nullable=True),
                "error": error,
                "cost": cost,
                "steps": _steps(t.get("steps"), f"{where} step") if role == Turn.Role.ASSISTANT else [],
                **{k: _count(t.get(k), f"{where} {k}") for k in (*_COUNTS, *_TIMINGS)},
            }
        )
    leaf = _count(doc.get("leaf"), '"leaf"')
    if leaf is not None and leaf not in seen:
        raise _fail('"leaf"', f"{leaf} is not a turn")
    return {
        "title": title,
        "settings": settings,
        "model": doc.get("model"),
        "leaf": leaf,
        "turns": turns,
    }


def import_conversation(owner: Any, data: bytes) -> Conversation:
    doc = parse(data)
    models = {m.label: m for m in ModelProfile.objects.select_related("provider")}
    label = doc["model"] if isinstance(doc["model"], str) else None
    with transaction.atomic():
        conv = Conversation.objects.create(
            owner=owner,
            title=unique_title(owner, doc["title"]),
            settings=doc["settings"],
            model=models.get(label or ""),
        )
        stored: dict[int, Turn] = {}
        for t in doc["turns"]:
            fields = {k: v for k, v in t.items() if k not in ("id", "parent")}
            stored[t["id"]] = Turn.objects.create(
                conversation=conv,
                parent=stored.get(t["parent"]) if t["parent"] is not None else None,
                model=models.get(t["model_label"]) if t["role"] == Turn.Role.ASSISTANT else None,
                **fields,
            )
        last = stored[doc["turns"][-1]["id"]]
        conv.leaf = stored[doc["leaf"]] if doc["leaf"] is not None else last
        conv.save(update_fields=["leaf"])
    return conv


def unique_title(owner: Any, title: str) -> str:
    """`title`, or "title (2)", "title (3)"… if the owner already has one so named."""
    taken = set(
        Conversation.objects.filter(owner=owner, title__startswith=title[:190]).values_list("title", flat=True)
    )
    if title not in taken:
        return title
    n = 2
    while f"{title[:190]} ({n})" in taken:
        n += 1
    return f"{title[:190]} ({n})"
