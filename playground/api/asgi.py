"""/v1/ served by Django without the page middleware.

The API authenticates by bearer token and sets no cookie, so sessions, CSRF,
messages, login redirects and clickjacking headers have nothing to do for it. They
are not free: in an async handler each `MiddlewareMixin` middleware runs its
request and response halves through `sync_to_async`, on the one thread that also
carries every run's database checkpoints, and a streamed answer's first token
waits for all of them (bench: 6 ms p50 added to the first token, 1.5–10 ms of it
in those hops). Same urlconf, views and error handling; no middleware.

A streamed answer (`EventStream`) is written by the handler itself: each part the
view's generator yields is one `http.response.body` message, with none of
`StreamingHttpResponse`'s per-part machinery (its async wrapper and `make_bytes`,
`__aiter__`, Django's `chunk_bytes` slicing): at 50 chunks a second per stream,
those three generator hops per chunk were a share of the relay's CPU
(docs/performance.md, "The relay per chunk"). Disconnects are Django's: the handler
cancels the task that writes, the generator is closed (`aclosing`), and its
`finally` stops the run, which closes the upstream request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from django.core.handlers.exception import convert_exception_to_response
from django.http import StreamingHttpResponse
from django.http.response import HttpResponseBase

from playground.db_threads import KeptThreadsASGIHandler

API_PREFIX = "/v1/"


class EventStream(StreamingHttpResponse):
    """A streamed body of bytes parts, each written as it is yielded. Under another
    handler (Django's test client, the page handler) it is a plain
    `StreamingHttpResponse` of the same parts."""

    def __init__(self, parts: AsyncIterator[bytes], **kwargs: Any) -> None:
        super().__init__(parts, **kwargs)
        self.parts = parts


class ApiHandler(KeptThreadsASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # BaseHandler's own response getters (django-stubs does not declare them).
        get_response = getattr(self, "_get_response_async" if is_async else "_get_response")
        self._middleware_chain = convert_exception_to_response(get_response)

    async def send_response(self, response: HttpResponseBase, send: Any) -> None:
        if not isinstance(response, EventStream):
            await super().send_response(response, send)
            return
        # The head as Django's send_response makes it (an API response sets no cookie,
        # but a view could: they go as Django sends them).
        headers = [(name.encode("ascii"), value.encode("latin1")) for name, value in response.items()]
        headers += [(b"Set-Cookie", c.output(header="").encode("ascii").strip()) for c in response.cookies.values()]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        async with aclosing(response.parts) as parts:  # type: ignore[type-var]
            async for part in parts:
                await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body"})


class with_api:  # lower case: it reads as a function, with_api(http)
    """`pages` (the HTTP application), with paths under /v1/ sent to the
    middleware-free handler."""

    def __init__(self, pages: Any) -> None:
        self.pages = pages
        self.api = ApiHandler()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            await self.api(scope, receive, send)
        else:
            await self.pages(scope, receive, send)
