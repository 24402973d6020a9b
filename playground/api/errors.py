"""Errors in OpenAI's shape: `{"error": {"message", "type", "code", "param"}}`.

Our own refusals (a bad token, an unknown model, a bad parameter) and provider
failures (a stored turn's `error`, as `reasoning.errors.ProviderError.as_dict`
wrote it) become one `ApiError`, with the status code an OpenAI client expects:

    kind            status   why
    auth            502      the server's provider key is wrong, not the caller's token
    bad_request     400      the provider refused the request; its words are passed on
    not_found       404      the provider does not know the model
    rate_limited    429      with `retry-after` passed on when the provider gave one
                             (DEFAULT_RETRY_AFTER when it gave none)

Our own limits of runs per user (at once, a minute) are 429s too (`rate_limited`), with
`Retry-After`: every limit is a 429 an OpenAI client retries by itself.
    unavailable     502
    broken_stream   502
    timeout         504      no byte from the provider within the read timeout
    busy            429      no free upstream connection of ours within UPSTREAM_POOL_TIMEOUT
                             (with Retry-After: a limit, like the provider's 429)
    anything else   502

Messages are the provider's own; nothing internal (a traceback, a key) is added.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.http import JsonResponse

# Every 429 says when to come back (the seed gateway's contract); a provider's 429
# without `retry-after` gets this many seconds.
DEFAULT_RETRY_AFTER = 1

PROVIDER_STATUS: dict[str, tuple[int, str]] = {
    "auth": (502, "upstream_error"),
    "bad_request": (400, "invalid_request_error"),
    "not_found": (404, "invalid_request_error"),
    "rate_limited": (429, "rate_limit_error"),
    "unavailable": (502, "upstream_error"),
    "broken_stream": (502, "upstream_error"),
    "timeout": (504, "timeout_error"),
    "busy": (429, "rate_limit_error"),  # our pool of upstream connections was full
}


@dataclass
class ApiError(Exception):
    status: int
    message: str
    type: str = "invalid_request_error"
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "code": self.code, "param": self.param}}

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status)
        for name, value in self.headers.items():
            response[name] = value
        return response


def bad_parameter(param: str, message: str) -> ApiError:
    return ApiError(400, message, code="invalid_parameter", param=param)


def from_turn_error(error: dict[str, Any] | None) -> ApiError:
    """The ApiError for a turn that ended in `error` (a ProviderError's dict)."""
    error = error or {}
    kind = str(error.get("kind") or "")
    status, type_ = PROVIDER_STATUS.get(kind, (502, "upstream_error"))
    if kind == "internal":
        message = "The request failed inside the playground; the server log says why."
    else:
        message = str(error.get("message") or "The provider failed without saying why.")
    headers: dict[str, str] = {}
    if kind in ("rate_limited", "busy"):
        retry_after = error.get("retry_after")
        if not isinstance(retry_after, (int, float)) or isinstance(retry_after, bool) or retry_after < 0:
            retry_after = DEFAULT_RETRY_AFTER
        headers["retry-after"] = str(max(1, math.ceil(retry_after)))
    return ApiError(status, message, type=type_, code=kind or None, headers=headers)


def rate_limited(message: str, retry_after: int, code: str = "rate_limit_exceeded") -> ApiError:
    """A limit of ours (runs at once, runs a minute): 429 with `Retry-After`, as OpenAI answers."""
    return ApiError(
        429, message, type="rate_limit_error", code=code, headers={"retry-after": str(max(1, retry_after))}
    )
