"""Loopback fakes of hosted OpenAI-compatible gateways that accept and refuse request
fields as their documentation says (spec §9 and §13 "Baseten"), for `FakeUpstream`:

    async with FakeUpstream(baseten) as up: ...      # a callable script per request

`baseten`: Kimi K2.5/K2.6 and GLM 4.7/5 reason only with
`chat_template_args: {"enable_thinking": true}`; DeepSeek V4 Pro takes
`reasoning_effort` low | medium | high | xhigh, gpt-oss low | medium | high, and both
always reason; `chat_template_kwargs`, a `thinking` object, or an effort the model
does not take is a 400 naming the field. Usage carries no `completion_tokens_details`
(reasoning tokens are inside `completion_tokens`). Reasoning comes as
`reasoning_content`.

`friendli`: `chat_template_kwargs.enable_thinking` switches thinking; with
`parse_reasoning: true` the reasoning is parsed out into `reasoning_content`, returned
only when `include_reasoning` is not false; without parsing it stays in the content
as `<think>…</think>` (empty tags when thinking is off).
"""

from __future__ import annotations

import re
from typing import Any

from reasoning.events import Usage
from reasoning.testing.upstream import RecordedRequest, Script, openai_chat_sse

THOUGHT = "The user wants 17*23. 17*20 = 340, 17*3 = 51, so 391."
ANSWER = "391"

BASETEN_OPT_IN = re.compile(r"kimi-k2\.[56]|glm-(4\.7|5)")
BASETEN_EFFORTS: dict[str, tuple[str, ...]] = {
    "deepseek-v4-pro": ("low", "medium", "high", "xhigh"),
    "gpt-oss": ("low", "medium", "high"),
}


def _refuse(message: str, param: str) -> Script:
    return Script.error(
        400, {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": None}}
    )


def _usage(reasoning: str) -> Usage:
    # Reasoning is counted inside completion_tokens, never split out.
    return Usage(prompt_tokens=12, completion_tokens=len(reasoning.split()) + 1)


def baseten(request: RecordedRequest) -> Script:
    body: dict[str, Any] = request.json or {}
    model = str(body.get("model", "")).lower()
    for unknown in ("chat_template_kwargs", "thinking"):
        if unknown in body:
            return _refuse(f"Unrecognized request argument supplied: {unknown}", unknown)
    efforts = next((levels for name, levels in BASETEN_EFFORTS.items() if name in model), ())
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in efforts:
        taken = ", ".join(efforts) if efforts else "none (this model takes no reasoning_effort)"
        return _refuse(f"Invalid reasoning_effort {effort!r} for {body.get('model')}; supported: {taken}",
                       "reasoning_effort")
    if BASETEN_OPT_IN.search(model):
        args = body.get("chat_template_args") or {}
        reasons = args.get("enable_thinking") is True
    else:
        reasons = True
    reasoning = THOUGHT if reasons else ""
    return Script(chunks=openai_chat_sse(reasoning, ANSWER, usage=_usage(reasoning), model=model))


def friendli(request: RecordedRequest) -> Script:
    body: dict[str, Any] = request.json or {}
    kwargs = body.get("chat_template_kwargs") or {}
    thinking = kwargs.get("enable_thinking", True) is not False
    reasoning = THOUGHT if thinking else ""
    usage = _usage(reasoning)
    if body.get("parse_reasoning") is True:
        if body.get("include_reasoning") is False:
            return Script(chunks=openai_chat_sse("", ANSWER, usage=usage))
        return Script(chunks=openai_chat_sse(reasoning, ANSWER, usage=usage))
    return Script(chunks=openai_chat_sse("", f"<think>{reasoning}</think>{ANSWER}", field="reasoning_content",
                                         usage=usage))
