"""`/ready`: can this worker serve? Its database and its channel layer answer.

`/health` says the process is alive; `/ready` is what a load balancer or an
orchestrator's readiness probe asks before sending traffic. Each check is one
round trip with a short timeout, so a probe every few seconds costs nothing and
a dead dependency answers 503 within READY_TIMEOUT, naming the part that failed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connections
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def check_channel_layer() -> None:
    """Redis answers PING at every configured host; the in-memory layer is always there."""
    layer: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    if not layer["BACKEND"].startswith("channels_redis."):
        return
    import redis

    timeout = float(settings.READY_TIMEOUT)
    for host in layer["CONFIG"]["hosts"]:
        address = host["address"] if isinstance(host, dict) else host
        client = redis.Redis.from_url(address, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()


CHECKS: dict[str, Callable[[], None]] = {"database": check_database, "channel_layer": check_channel_layer}


def readiness() -> dict[str, str]:
    """Each part's state: "ok", or the error that says why not (no secrets: the
    error is the exception's class, and its message for a connection refused etc.)."""
    states = {}
    for name, check in CHECKS.items():
        try:
            check()
            states[name] = "ok"
        except Exception as e:  # any failure means not ready; which one is in the answer
            states[name] = f"{type(e).__name__}: {_first_line(e)}"
            if name == "database":
                # A broken connection must not stay in the pool for the next probe.
                connections["default"].close_if_unusable_or_obsolete()
    return states


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else ""


@login_not_required
@require_http_methods(["GET", "HEAD"])
def ready(request: HttpRequest) -> HttpResponse:
    states = readiness()
    failing = [name for name, state in states.items() if state != "ok"]
    body = {"status": "ok" if not failing else "unavailable", "failing": failing, "checks": states}
    return HttpResponse(
        json.dumps(body), status=503 if failing else 200, content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )
