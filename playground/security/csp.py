"""The Content-Security-Policy of every page, and the one per-user exception.

The policy itself is CONTENT_SECURITY_POLICY in settings (django-csp): scripts only
from this site, no inline script or handler, images only from this site or data:,
connections only to this site. This middleware adds this site's websocket URL to
connect-src, and, for a user who turned on "load remote images", https: to
img-src and the choice to the Markdown renderer (markdown.REMOTE_IMAGES).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

from playground.markdown import REMOTE_IMAGES


def remote_images_for(user: Any) -> bool:
    """Whether this user chose to load images from other hosts (synchronous)."""
    if user is None or not user.is_authenticated:
        return False
    from playground.models import Preferences

    return bool(Preferences.objects.filter(user=user).values_list("load_remote_images", flat=True).first())


class PagePolicyMiddleware:
    # Async-capable like every middleware here (tests/playground/test_settings.py).
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self._acall(request)
        allow = remote_images_for(getattr(request, "user", None))
        token = REMOTE_IMAGES.set(allow)
        try:
            response = self.get_response(request)
        finally:
            REMOTE_IMAGES.reset(token)
        return _with_policy(request, response, allow)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        allow = await sync_to_async(remote_images_for)(getattr(request, "user", None))
        token = REMOTE_IMAGES.set(allow)
        try:
            response = await self.get_response(request)
        finally:
            REMOTE_IMAGES.reset(token)
        return _with_policy(request, response, allow)


def _with_policy(request: HttpRequest, response: HttpResponse, allow_images: bool) -> HttpResponse:
    update: dict[str, list[str]] = dict(getattr(response, "_csp_update", None) or {})
    try:
        host = request.get_host()
    except DisallowedHost:
        host = ""
    if host:
        update["connect-src"] = [*update.get("connect-src", []), f"ws://{host}", f"wss://{host}"]
    if allow_images:
        update["img-src"] = [*update.get("img-src", []), "https:"]
    response._csp_update = update  # type: ignore[attr-defined]
    return response
