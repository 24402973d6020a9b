"""A deterministic adapter for tests above `reasoning/`: it yields queued events.

    from reasoning.testing.scripted import scripted
    scripted.enqueue([ReasoningDelta("hm"), ContentDelta("42"), Finish("stop")], delay=0.01)

Each `stream()` call takes the next queued script (or the default one) and
records the request it was given, so a test can check what the playground asked
for (e.g. that no earlier reasoning was sent back).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx

from reasoning.adapters import register
from reasoning.errors import ProviderError
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, Usage
from reasoning.request import ChatRequest, PreparedRequest


@dataclass
class Script:
    events: Sequence[Event | ProviderError]
    delay: float = 0.0  # seconds before each event
    first_delay: float = 0.0


DEFAULT = Script(
    [ReasoningDelta("Let me think. "), ReasoningDelta("Done."), ContentDelta("The answer."),
     Usage(10, 8, 4), Finish("stop")]
)


@dataclass
class ScriptedAdapter:
    queue: deque[Script] = field(default_factory=deque)
    requests: list[ChatRequest] = field(default_factory=list)

    def enqueue(self, events: Sequence[Event | ProviderError], delay: float = 0.0, first_delay: float = 0.0) -> None:
        self.queue.append(Script(events, delay, first_delay))

    def reset(self) -> None:
        self.queue.clear()
        self.requests.clear()

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        body = {
            "model": request.model.model_id,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        return PreparedRequest("POST", "scripted://local", {"authorization": "Bearer x"}, body)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        self.requests.append(request)
        script = self.queue.popleft() if self.queue else DEFAULT
        if script.first_delay:
            await asyncio.sleep(script.first_delay)
        for item in script.events:
            if script.delay:
                await asyncio.sleep(script.delay)
            if isinstance(item, ProviderError):
                raise item
            yield item


scripted = ScriptedAdapter()
register("scripted")(lambda: scripted)  # type: ignore[arg-type]
