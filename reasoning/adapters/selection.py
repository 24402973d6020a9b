"""Which adapter serves a request: its provider kind's (the registry in
`reasoning.adapters`), in one call or in the two-call chain of thought
(`reasoning.cot`), its reasoning reshaped by the request's mode
(`reasoning.modes`). Apart from the registry so that `cot`, which wraps any
registered adapter, and the registry do not import each other."""

from __future__ import annotations

from reasoning.adapters import Adapter, get_adapter
from reasoning.cot import ChainOfThought, SingleCall, reasons_natively, thinking_instructions
from reasoning.modes import ReasoningModes
from reasoning.request import ChatRequest
from reasoning.tokens import EstimatedReasoningTokens


def adapter_for(request: ChatRequest) -> Adapter:
    """What serves `request`: its provider's adapter, in one call or in the
    two-call chain of thought (see `reasoning.cot`)."""
    # Reasoning tokens the provider did not count are estimated per call, inside the
    # modes, so the count includes reasoning that Hidden then drops (reasoning.tokens).
    adapter = EstimatedReasoningTokens(get_adapter(request.provider.kind))
    chosen: Adapter
    if thinking_instructions(request) is not None and not reasons_natively(request):
        chosen = ChainOfThought(adapter)
    else:
        chosen = SingleCall(adapter)
    # Inline or hidden reasoning (reasoning.modes) reshapes whatever the flow yields.
    if request.thinking.reasoning_mode != "separate":
        chosen = ReasoningModes(chosen)
    return chosen
