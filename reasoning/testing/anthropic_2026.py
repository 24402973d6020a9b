"""A loopback fake of the 2026 Claude models' thinking (spec §13 "Anthropic, new in
2026"), for `FakeUpstream(claude_2026)`:

* Opus 4.7 and later: thinking text comes back only with `thinking.display:
  "summarized"`; otherwise ("omitted", their default) a thinking block holds only a
  signature.
* Opus 4.7 thinks only when asked (`thinking.type: "adaptive"`); Claude 5 models think
  by default.
* `thinking.type: "enabled"` (a manual budget) is a 400 for these adaptive-only models;
  `"disabled"` is a 400 for Opus 4.7 and Opus 5.5 with Anthropic's words.
"""

from __future__ import annotations

from typing import Any

from reasoning.testing.formats_native import anthropic_sse
from reasoning.testing.upstream import RecordedRequest, Script

THOUGHT = "17*20 = 340 and 17*3 = 51; 340 + 51 = 391."
ANSWER = "391"
OPUS_5_5_OFF = (
    '"thinking.type.disabled" is not supported for this model. Use "thinking.type.adaptive" and '
    '"output_config.effort"'
)


def _refuse(message: str) -> Script:
    return Script.error(400, {"type": "error", "error": {"type": "invalid_request_error", "message": message}})


def claude_2026(request: RecordedRequest) -> Script:
    body: dict[str, Any] = request.json or {}
    model = str(body.get("model", ""))
    thinking = body.get("thinking") or {}
    kind = thinking.get("type")
    claude_5 = "-5" in model or "fable" in model
    if kind == "enabled":
        return _refuse(f"thinking.type.enabled is not supported for {model}; use thinking.type.adaptive")
    if kind == "disabled" and ("opus-5-5" in model or "opus-4-7" in model):
        return _refuse(OPUS_5_5_OFF)
    thinks = kind == "adaptive" or (claude_5 and kind != "disabled")
    if not thinks:
        return Script(chunks=anthropic_sse("", ANSWER, signature=None))
    shown = thinking.get("display") == "summarized"
    return Script(chunks=anthropic_sse(THOUGHT if shown else "", ANSWER, signature="sig-2026"))
