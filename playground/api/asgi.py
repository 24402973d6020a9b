"""/v1/ served by Django without the page middleware.

The API authenticates by bearer token and sets no cookie, so sessions, CSRF,
messages, login redirects and clickjacking headers have nothing to do for it. They
are not free: in an async handler each `MiddlewareMixin` middleware runs its
request and response halves through `sync_to_async`, on the one thread that also
carries every run's database checkpoints, and a streamed answer's first token
waits for all of them (bench: 6 ms p50 added to the first token, 1.5–10 ms of it
in those hops). Same urlconf, views and error handling; no middleware.
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.exception import convert_exception_to_response

from playground.db_threads import KeptThreadsASGIHandler

API_PREFIX = "/v1/"


class ApiHandler(KeptThreadsASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # BaseHandler's own response getters (django-stubs does not declare them).
        get_response = getattr(self, "_get_response_async" if is_async else "_get_response")
        self._middleware_chain = convert_exception_to_response(get_response)


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
