"""Tool calls answered later: the backend of function tools a person answers.

A toolbox says `answers_later(name)` for a tool whose result a person gives (a
function defined in the conversation's tool set, with a form). When the model
calls one, the run (run.py, `_tool_step`) still runs the step's other calls,
then saves the turn as "awaiting_tool" — the call's status "awaiting" and its
result None in `Turn.steps` — sends "tool.awaiting" and "turn.done", and ends.
Nothing is held open meanwhile: no task, no server, no socket.

When the person posts the result (a view or socket handler of the page):

    run = await answer_tool_call(user, turn_id, call_id, "blue", is_error=False)

stores it (cut to TOOL_MAX_RESULT_CHARS) and sends "tool.result" to the
conversation's group. Once every awaited call of the last step has its result,
the loop goes on: the turn is "streaming" again, "turn.started" (with "step")
goes to the group, and a new run continues at the next step with the
conversation's tools, the stored steps sent back as context. `run` is that run,
or None while other calls of the step still wait. A turn may also be given up:
`stop` it like any turn, or send a new prompt after answering.

Input a user can correct (not their turn, not waiting, no such call) raises
`BadInput`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.functions import Now

from playground.models import Turn
from playground.streaming import tool_frames
from playground.streaming.run import TurnRun, begin
from playground.tools import limits, max_steps
from playground.turns.functions import specs as function_specs
from playground.turns.services import BadInput, build_request
from reasoning.events import Usage
from reasoning.toolbox import cut_result
from reasoning.toolbox import steps as tool_steps


def store_answer(
    owner: Any, turn_id: int, call_id: str, result: str, is_error: bool = False
) -> tuple[bool, dict[str, Any]]:
    """Keep a person's result of an awaited call; (every call now answered, the message for watchers)."""
    with transaction.atomic():
        turn = (
            Turn.objects.select_for_update()
            .filter(pk=turn_id, conversation__owner_id=getattr(owner, "pk", owner))
            .select_related("conversation")
            .first()
        )
        if turn is None:
            raise BadInput("No such turn.")
        if turn.status != Turn.Status.AWAITING_TOOL or not turn.steps:
            raise BadInput("This answer is not waiting for a tool's result.")
        steps = list(turn.steps)
        index, call = next(
            ((i, c) for i, c in enumerate(steps[-1]["tool_calls"]) if c["id"] == call_id and c["result"] is None),
            (None, None),
        )
        if call is None or index is None:
            raise BadInput("No call with this id waits for a result.")
        call.update(result=cut_result(str(result), limits()), is_error=bool(is_error), status=tool_steps.DONE)
        ready = not tool_steps.awaiting(steps)
        fields: dict[str, Any] = {"steps": steps}
        if ready:
            fields.update(status=Turn.Status.STREAMING, heartbeat_at=Now(), error=None)
        Turn.objects.filter(pk=turn_id).update(**fields)
    return ready, tool_frames.tool_result(turn_id, len(steps) - 1, index, call) | {
        "group": turn.conversation.group_name
    }


def continuation(turn_id: int) -> TurnRun:
    """The run that goes on with a turn whose awaited calls are all answered."""
    turn = Turn.objects.select_related("conversation", "model__provider").get(pk=turn_id)
    request = build_request(turn)  # the branch above the turn
    steps = list(turn.steps)
    request = dataclasses.replace(
        request, messages=[*request.messages, *tool_steps.turn_messages(steps, turn.source or None)]
    )
    return TurnRun(
        turn_id=turn.pk,
        group=turn.conversation.group_name,
        request=request,
        tool_selection=list(turn.conversation.tools or ()),
        functions=function_specs(turn.conversation.functions),
        max_steps=max_steps(turn.params),
        steps=steps,
        step=len(steps),
        # The counts so far; the next calls' are added to them.
        usage=Usage(turn.prompt_tokens, turn.completion_tokens, turn.reasoning_tokens, turn.cached_tokens),
    )


async def answer_tool_call(
    owner: Any, turn_id: int, call_id: str, result: str, *, is_error: bool = False
) -> TurnRun | None:
    """See the module docstring."""
    ready, message = await database_sync_to_async(store_answer)(owner, turn_id, call_id, result, is_error)
    group = message.pop("group")
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(group, message)
    if not ready:
        return None
    run = await database_sync_to_async(continuation)(turn_id)
    user_turn = await Turn.objects.filter(pk=turn_id).values_list("parent_id", flat=True).aget()
    await layer.group_send(
        group, {"type": "turn.started", "user_turn": user_turn, "turn": turn_id, "branch": True, "step": run.step}
    )
    return begin(run)
