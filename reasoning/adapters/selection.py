"""Which adapter serves a request: its provider kind's (the registry in
`reasoning.adapters`), wrapped in the two-call chain of thought (`reasoning.cot`)
when the model asks for it. Apart from the registry so that `cot`, which wraps
any registered adapter, and the registry do not import each other."""

from __future__ import annotations

from reasoning.adapters import Adapter, get_adapter
from reasoning.cot import ChainOfThought
from reasoning.request import ChatRequest


def adapter_for(request: ChatRequest) -> Adapter:
    """The adapter that serves `request`: its provider's, wrapped in the two-call
    chain of thought when the model asks for it."""
    adapter = get_adapter(request.provider.kind)
    if request.model.options.get("chain_of_thought") and request.thinking.mode != "off":
        return ChainOfThought(adapter)
    return adapter
