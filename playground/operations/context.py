"""What a log line is about: the request, the user, the turn (context variables).

Set by `RequestContextMiddleware` (pages), `observe_http` (every HTTP request,
/v1/ included) and the run of a turn; asyncio copies them into the tasks a
request or a run starts, so a run's helpers log with its turn id too.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
turn_id: ContextVar[int | None] = ContextVar("turn_id", default=None)
# The request itself: its user is read only if authentication already loaded it
# (a log line never queries the database).
current_request: ContextVar[Any] = ContextVar("current_request", default=None)

# A request id from the proxy (X-Request-ID) is kept when it looks like one.
_GOOD_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def new_request_id(offered: str | None = None) -> str:
    if offered and _GOOD_ID.match(offered):
        return offered
    return uuid.uuid4().hex


def user_id() -> int | None:
    request = current_request.get()
    if request is None:
        return None
    user = request.__dict__.get("_cached_user") or request.__dict__.get("_acached_user")
    pk = getattr(user, "pk", None)
    return pk if isinstance(pk, int) else None


class RequestContextMiddleware:
    """After authentication: log lines of this request can name its user."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        token = current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            current_request.reset(token)

    async def __acall__(self, request: Any) -> Any:
        # Not reset: Django logs an error response ("Not Found: …") after the
        # middleware returns, in this same task, whose context ends with it.
        current_request.set(request)
        return await self.get_response(request)
