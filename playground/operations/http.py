"""The first request or socket starts this worker's heartbeat (operations.heartbeat).
Every HTTP request gets a request id (kept from the proxy's X-Request-ID when
it looks like one, sent back in the response) for its log lines; /v1/ responses
are counted by status for /metrics. An ASGI wrapper, so the API (which skips the
page middleware, playground.api.asgi) is covered too."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

from playground.operations import context, heartbeat, metrics

GATEWAY_PREFIX = "/v1/"


class observe_http:  # lower case: it reads as a function, observe_http(app)
    def __init__(self, app: Any) -> None:
        self.app = app

    def __getattr__(self, name: str) -> Any:
        # The wrapped router's own attributes (its `pages` app) read through: the
        # wrapper adds ids and counts, it is not another layer to look behind.
        return getattr(self.__dict__["app"], name)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            heartbeat.ensure_started()
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        offered = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        rid = context.new_request_id(offered)
        token = context.request_id.set(rid)
        gateway = scope["path"].startswith(GATEWAY_PREFIX)

        # Not a coroutine of its own: it hands back `send`'s awaitable, so each body
        # message of a stream (one per SSE chunk on /v1) is not wrapped in another
        # coroutine frame.
        def send_with_id(message: dict[str, Any]) -> Awaitable[None]:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", rid.encode())]}
                if gateway:
                    metrics.gateway_response(int(message["status"]))
            return send(message)  # type: ignore[no-any-return]

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            context.request_id.reset(token)
