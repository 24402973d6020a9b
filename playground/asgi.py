"""HTTP through Django; websockets through Channels, with origin and session checked."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")

from playground.db_threads import kept_threads_asgi_application

# Django's ASGI handler, its requests' database work on a few kept threads (db_threads).
django_asgi_app = kept_threads_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from playground.api.asgi import with_api  # noqa: E402
from playground.operations.http import observe_http  # noqa: E402
from playground.routing import websocket_urlpatterns  # noqa: E402
from playground.security.sockets import SameOriginValidator  # noqa: E402
from playground.staticfiles import serve_static  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Static files are served in-process by ServeStatic, outside the Django middleware
        # chain: hashed names cached for good, gzip/brotli copies when the browser takes
        # them (playground/staticfiles.py). A local playground has no front proxy by
        # default; behind one, the proxy may serve STATIC_ROOT instead.
        # The OpenAI-compatible API (/v1/) skips the page middleware (playground.api.asgi).
        # observe_http: a request id for the log lines, /v1/ statuses for /metrics.
        "http": observe_http(with_api(serve_static(django_asgi_app))),
        # Origin: scheme, host and port must be this site's (security.sockets).
        "websocket": observe_http(SameOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)
