"""One hierarchy for everything that can go wrong upstream.

    ProviderError                 kind            permanent
    ├── AuthError                 "auth"          yes   (401, 403)
    ├── BadRequest                "bad_request"   yes   (400, 422, other 4xx)
    ├── NotFound                  "not_found"     yes   (404: model or URL)
    ├── RateLimited               "rate_limited"  no    (429; .retry_after seconds)
    ├── Unavailable               "unavailable"   no    (5xx, connection refused)
    ├── ProviderTimeout           "timeout"       no    (no byte within the read timeout)
    │   └── PoolExhausted         "busy"          no    (no free connection of ours within the pool timeout)
    └── BrokenStream              "broken_stream" no    (cut, malformed or unterminated stream,
                                                         or an error event after HTTP 200)

httpx errors and provider error bodies are translated into these at the adapter
boundary (`reasoning.wire`); nothing above `reasoning/` sees httpx or provider JSON.
`message` is the provider's own words where it gave any.
"""

from __future__ import annotations


class ProviderError(Exception):
    kind = "provider_error"
    permanent = False

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    def as_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "message": self.message, "status_code": self.status_code}


class AuthError(ProviderError):
    kind = "auth"
    permanent = True


class BadRequest(ProviderError):
    kind = "bad_request"
    permanent = True
    # Set when refused locally before sending: the control at fault (UnsupportedControl's).
    parameter: str | None = None


class NotFound(ProviderError):
    kind = "not_found"
    permanent = True


class RateLimited(ProviderError):
    kind = "rate_limited"

    def __init__(
        self, message: str, *, status_code: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "retry_after": self.retry_after}


class Unavailable(ProviderError):
    kind = "unavailable"


class ProviderTimeout(ProviderError):
    kind = "timeout"


class PoolExhausted(ProviderTimeout):
    """Every pooled connection was busy for the whole pool timeout: our limit, not the
    provider's (the API answers it as a 429 with Retry-After, like every limit)."""

    kind = "busy"


class BrokenStream(ProviderError):
    kind = "broken_stream"
