"""`TEST_HTTP_BACKEND=aiohttp pytest tests/reasoning` runs every adapter test with the
httpx clients it makes moved onto `reasoning.transport.AiohttpTransport`, the
playground's default (`UPSTREAM_HTTP`): the adapters must read each provider's
stream the same over either. test_wire.py runs both backends in every run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest


@pytest.fixture(autouse=True)
def _http_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    if os.environ.get("TEST_HTTP_BACKEND", "httpx") != "aiohttp":
        yield
        return
    from reasoning.transport import AiohttpTransport

    init = httpx.AsyncClient.__init__

    def on_aiohttp(self: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("transport") is None:
            kwargs["transport"] = AiohttpTransport()
        init(self, *args, **kwargs)

    monkeypatch.setattr(httpx.AsyncClient, "__init__", on_aiohttp)
    yield
