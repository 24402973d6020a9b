"""Exact replay for /v1 clients that send back only the standard fields.

An OpenAI client's assistant message has `content`, `tool_calls` and (as the gateway
returns it) `reasoning_content`. What a tool loop needs back is often more: Anthropic's
signed thinking blocks, a Responses reasoning item with its `encrypted_content`,
the signature Gemini puts on the call's part. So when an answer ends in tool calls,
`remember` keeps the step's replay data (`Turn.steps[-1]["replay"]`, reasoning.replay's
shape) under each call's id, for the token that received it; when that token sends an
assistant message whose calls are exactly those calls again, `attach` puts the data back
on the message (and its reasoning, when the client left `reasoning_content` out), and
the context builder replays it in the family's carrier (reasoning.context). A client
that sends back the whole message it received gets the same.

Never across tokens (a call id is not a secret), never for calls that differ from what
was returned (another name or other arguments: the signature would not be theirs), and
never after GATEWAY_REPLAY_TTL seconds. Rows live in the database, so any worker finds
what another returned.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from playground.models import ApiToken, GatewayReplay, Turn
from reasoning.request import Message, ToolCall


def remember(token: ApiToken | None, turn: Turn, source: str) -> int:
    """Keep the replay data of `turn`'s last step under each of its calls' ids; the
    number of calls kept. Expired rows are dropped on the way."""
    steps = turn.steps or []
    if token is None or not steps or turn.status != Turn.Status.COMPLETE:
        return 0
    last = steps[-1]
    calls = [
        {"id": str(c.get("id") or ""), "name": str(c.get("name") or ""), "arguments": str(c.get("arguments") or "")}
        for c in last.get("tool_calls") or ()
    ]
    calls = [c for c in calls if c["id"]]
    if not calls:
        return 0
    now = timezone.now()
    expires = now + timedelta(seconds=settings.GATEWAY_REPLAY_TTL)
    step = uuid.uuid4().hex
    with transaction.atomic():
        GatewayReplay.objects.filter(expires_at__lt=now).delete()
        for call in calls:
            GatewayReplay.objects.update_or_create(
                token=token, call_id=call["id"][:200],
                defaults={
                    "step": step, "source": source, "calls": calls, "reasoning": str(last.get("reasoning") or ""),
                    "replay": last.get("replay"), "expires_at": expires,
                },
            )
    return len(calls)


def attach(token: ApiToken | None, messages: Sequence[Message]) -> list[Message]:
    """`messages` with what was kept for their tool calls put back (see the module docstring)."""
    wanted = [c.id for m in messages if m.role == "assistant" for c in m.tool_calls]
    if token is None or not wanted:
        return list(messages)
    rows = {
        row.call_id: row
        for row in GatewayReplay.objects.filter(token=token, call_id__in=wanted, expires_at__gte=timezone.now())
    }
    out = []
    for message in messages:
        row = _kept_for(message, rows) if message.role == "assistant" and message.tool_calls else None
        if row is not None:
            message = dataclasses.replace(
                message, replay=row.replay, source=row.source, reasoning=message.reasoning or row.reasoning
            )
        out.append(message)
    return out


def _kept_for(message: Message, rows: dict[str, GatewayReplay]) -> GatewayReplay | None:
    """The kept step of this message: only when its calls are all of that step's calls,
    each with the name and arguments that were returned."""
    found = [rows.get(call.id) for call in message.tool_calls]
    if any(row is None for row in found):
        return None
    first = found[0]
    assert first is not None
    if any(row is not None and row.step != first.step for row in found):
        return None
    returned = {c["id"]: c for c in first.calls}
    if set(returned) != {call.id for call in message.tool_calls}:
        return None
    if not all(_same(call, returned[call.id]) for call in message.tool_calls):
        return None
    return first


def _same(call: ToolCall, returned: dict[str, Any]) -> bool:
    if call.name != returned["name"]:
        return False
    if call.arguments == returned["arguments"]:
        return True
    try:  # a client may send the arguments back re-serialised
        return bool(json.loads(call.arguments) == json.loads(returned["arguments"]))
    except ValueError:
        return False
