"""HTTP through Django; websockets through Channels, with origin and session checked."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from playground.api.asgi import with_api  # noqa: E402
from playground.routing import websocket_urlpatterns  # noqa: E402
from playground.security.sockets import SameOriginValidator  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files are served in-process, outside the Django middleware chain
        # (a local playground has no front proxy by default; behind one, let it serve
        # STATIC_ROOT after `collectstatic`).
        # The OpenAI-compatible API (/v1/) skips the page middleware (playground.api.asgi).
        "http": with_api(ASGIStaticFilesHandler(django_asgi_app)),
        # Origin: scheme, host and port must be this site's (security.sockets).
        "websocket": SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
