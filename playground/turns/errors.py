"""Why a turn ended in error, as `Turn.error` keeps it.

One shape for every way a turn fails, whoever ends it: the run (a provider's
error, a step limit, an answer too long, a bug), its start (a request that
could not be built or sent) and the liveness sweep (a dead process). Pages, the
API, `ask --json` and the exports read these keys; a provider's own errors
(`reasoning.errors.ProviderError.as_dict`) have the same three and may add
`retry_after`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# The kinds the app itself sets; a provider's error brings its own (reasoning.errors).
Kind = Literal["bad_request", "internal", "interrupted", "step_limit", "too_long"]


@dataclass(frozen=True)
class TurnError:
    kind: Kind
    message: str
    status_code: int | None = None  # the provider's HTTP status; None when the app ended the turn

    @classmethod
    def bad_request(cls, e: BaseException) -> TurnError:
        """A turn refused before it ran: the exception's text, or its type when it has none."""
        return cls("bad_request", str(e) or type(e).__name__)

    def as_dict(self) -> dict[str, Any]:
        """As `Turn.error` stores it (JSON)."""
        return {"kind": self.kind, "message": self.message, "status_code": self.status_code}
