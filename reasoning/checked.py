"""Provider values checked where they enter: every adapter's events pass through here.

A provider (or a proxy in front of it) may send a negative or non-numeric token
count, a count beyond what a database column holds, a NUL character (PostgreSQL
refuses it in text and JSON), or a finish reason several kilobytes long. Any of
them would make the turn's final save fail. `Checked` wraps an adapter
(the run applies it to whatever `adapter_for` returns) and yields only values that fit:

    token counts   int in 0..MAX_TOKENS, else None ("not reported"); 12.0 and "12" -> 12
    text           NUL removed
    finish reason  NUL removed, at most MAX_FINISH_REASON characters
    replay data    NUL removed from every string
    ProviderError  message NUL-free, at most MAX_ERROR_MESSAGE characters; status 100..599 or None
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx

from reasoning.adapters import Adapter
from reasoning.errors import ProviderError
from reasoning.events import ContentDelta, Event, Finish, ReasoningDelta, ReplayData, Usage
from reasoning.request import ChatRequest, PreparedRequest

MAX_TOKENS = 2**31 - 1  # a signed 32-bit column (PostgreSQL integer)
MAX_FINISH_REASON = 32
MAX_ERROR_MESSAGE = 4000


def token_count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value <= MAX_TOKENS:
        return value
    return None


def clean_text(text: Any, limit: int | None = None) -> str:
    cleaned: str = (text if isinstance(text, str) else str(text)).replace("\x00", "")
    return cleaned[:limit] if limit is not None else cleaned


def clean_data(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {clean_data(k): clean_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean_data(v) for v in value]
    return value


def checked_event(event: Event) -> Event:
    if isinstance(event, ReasoningDelta | ContentDelta):
        return event if "\x00" not in event.text else type(event)(clean_text(event.text))
    if isinstance(event, Usage):
        return Usage(
            prompt_tokens=token_count(event.prompt_tokens),
            completion_tokens=token_count(event.completion_tokens),
            reasoning_tokens=token_count(event.reasoning_tokens),
            cached_tokens=token_count(event.cached_tokens),
            reasoning_tokens_estimated=event.reasoning_tokens_estimated is True,
        )
    if isinstance(event, Finish):
        return Finish(clean_text(event.reason, MAX_FINISH_REASON) or None if event.reason is not None else None)
    if isinstance(event, ReplayData):
        return ReplayData(clean_data(event.payload))
    return event


def checked_error(error: ProviderError) -> ProviderError:
    error.message = clean_text(error.message, MAX_ERROR_MESSAGE)
    error.args = (error.message,)
    status = error.status_code
    if not (isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599):
        error.status_code = None
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None and not (isinstance(retry_after, int | float) and 0 <= retry_after <= 86400):
        error.retry_after = None  # type: ignore[attr-defined]
    return error


@dataclasses.dataclass(frozen=True)
class Checked:
    inner: Adapter

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        return self.inner.prepare(request)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        try:
            async for event in self.inner.stream(request, client):
                yield checked_event(event)
        except ProviderError as e:
            raise checked_error(e) from e.__cause__
