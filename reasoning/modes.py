"""Reasoning modes per request, as Friendli's `parse_reasoning` / `include_reasoning`
define them (`Thinking.reasoning_mode`):

* `separate` (default): reasoning in its own block, the answer apart.
* `inline`: the model's raw text kept as it came. A markup model's text is not parsed
  (the adapters skip their parser), so its tags stay in the answer; a native field's
  reasoning goes into the answer between the model's tags (`<think>`…`</think>` unless
  `markup_tags` says otherwise), where a raw server would have put it.
* `hidden`: asked off where the provider has a knob (`include_reasoning=False`, see
  reasoning.controls); whatever still arrives is dropped here, before it is stored or
  shown. `Usage` is untouched, so the reasoning-token count is kept.

`ReasoningModes(adapter)` wraps an adapter with this; `reasoning.cot.adapter_for`
applies it for any mode but `separate`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from reasoning.adapters import Adapter
from reasoning.events import ContentDelta, Event, ReasoningDelta, Reclassified
from reasoning.request import ChatRequest, PreparedRequest

DEFAULT_TAGS = ("<think>", "</think>")


class ReasoningModes:
    def __init__(self, inner: Adapter) -> None:
        self.inner = inner

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        return self.inner.prepare(request)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        mode = request.thinking.reasoning_mode
        opening, closing = request.model.markup_tags or DEFAULT_TAGS
        in_reasoning = False
        async for event in self.inner.stream(request, client):
            if isinstance(event, ReasoningDelta):
                if mode == "hidden":
                    continue
                if mode == "inline":
                    text = event.text if in_reasoning else opening + event.text
                    in_reasoning = True
                    yield ContentDelta(text)
                    continue
            elif isinstance(event, ContentDelta) and in_reasoning:
                in_reasoning = False
                yield ContentDelta(closing + event.text)
                continue
            elif isinstance(event, Reclassified):
                if mode == "hidden":
                    yield Reclassified(keep=False)
                continue  # inline: the text stays as it came
            yield event
