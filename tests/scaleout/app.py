"""The playground's ASGI application plus a "paced" adapter, for real daphne
processes started by the scale-out tests (no network, deterministic text), and
`GET /_scaleout/backpressure`: what the backpressure mechanism counted in this
process (playground.streaming.backpressure.STATS), as JSON.

A model's options say how it streams: `reasoning`/`content` delta counts, `rate`
(deltas per second) and `pad` (extra characters per delta, to make bytes).
`expected(options)` is the text it produces, for the tests to compare with.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

from playground.asgi import application as playground_application
from reasoning.adapters import register
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, Usage
from reasoning.request import ChatRequest, PreparedRequest

__all__ = ["application", "expected"]


def _delta(kind: str, i: int, pad: int) -> str:
    return f"{kind}{i}{'.' * pad} "


def expected(options: Mapping[str, Any]) -> tuple[str, str]:
    pad = int(options.get("pad", 0))
    reasoning = "".join(_delta("r", i, pad) for i in range(int(options.get("reasoning", 100))))
    content = "".join(_delta("c", i, pad) for i in range(int(options.get("content", 20))))
    return reasoning, content


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/_scaleout/backpressure":
        from playground.streaming.backpressure import STATS

        body = json.dumps(STATS).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": body})
        return
    await playground_application(scope, receive, send)


@register("paced")
class PacedAdapter:
    def prepare(self, request: ChatRequest) -> PreparedRequest:
        return PreparedRequest("POST", "paced://local", {}, {"model": request.model.model_id})

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        options = request.model.options
        pad, rate = int(options.get("pad", 0)), float(options.get("rate", 100))
        loop = asyncio.get_running_loop()
        started = loop.time()
        i = 0
        for kind, count in (("r", int(options.get("reasoning", 100))), ("c", int(options.get("content", 20)))):
            for j in range(count):
                wait = started + i / rate - loop.time()  # paced from the start: no drift
                if wait > 0:
                    await asyncio.sleep(wait)
                text = _delta(kind, j, pad)
                yield ReasoningDelta(text) if kind == "r" else ContentDelta(text)
                i += 1
        yield Usage(1, i, None)
        yield Finish("stop")
