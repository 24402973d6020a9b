"""Websocket boundaries, as small pieces a consumer calls in a line each.

- `SameOriginValidator` (ASGI, in asgi.py): the Origin header must name this site
  exactly — scheme, host and port — or one of CSRF_TRUSTED_ORIGINS. Channels'
  AllowedHostsOriginValidator compares the host only, so a page on another port
  of the same host (another app, a dev server) could drive a user's socket.
- `session_is_current(scope)`: the session the socket was opened with still
  exists and still belongs to an active user with the same password; checked on
  every message the browser sends (a prompt's with its start's first query:
  `SessionCheck`), so logout, a password change or a disabled
  account ends the socket. `end_sockets_of_session`/`_of_user` (signals below)
  close the idle ones at once too.
- `bad_message_frame(reason)`: the notice a malformed message gets; the socket stays open.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from importlib import import_module
from typing import Any
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connection, models
from django.db.models import Subquery
from django.db.models.expressions import RawSQL
from django.http.request import split_domain_port, validate_host
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.crypto import constant_time_compare

log = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}
SESSION_ENDED = 4401  # the close code of a socket whose session ended (as for no login at all)


def normalized_origin(origin: str) -> str | None:
    """"HTTP://Host:80" -> "http://host"; None for anything that is not scheme://host[:port]."""
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in DEFAULT_PORTS or not host or parts.path not in ("", "/") or parts.username or parts.query:
        return None
    if ":" in host:
        host = f"[{host}]"  # IPv6
    return f"{scheme}://{host}" + (f":{port}" if port and port != DEFAULT_PORTS[scheme] else "")


def _headers(scope: dict[str, Any]) -> dict[bytes, bytes]:
    return {name.lower(): value for name, value in scope.get("headers", [])}


def _is_secure(scope: dict[str, Any], headers: dict[bytes, bytes]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, value = proxy
        header = name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        return bool(headers.get(header, b"").decode("latin1").split(",")[0].strip() == value)
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    headers = _headers(scope)
    origin = normalized_origin(headers.get(b"origin", b"").decode("latin1"))
    if origin is None:
        return False
    trusted = {normalized_origin(o) for o in settings.CSRF_TRUSTED_ORIGINS if "*" not in o}
    if origin in trusted:
        return True
    host = headers.get(b"host", b"").decode("latin1").strip()
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    own = normalized_origin(f"{'https' if _is_secure(scope, headers) else 'http'}://{host}")
    return own is not None and origin == own


class SameOriginValidator:
    """ASGI middleware: websocket connections from another origin are refused (403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: Any, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def session_is_current(scope: Any) -> bool:
    """Whether the socket's session still logs its user in (Django's own rules:
    the session exists, names the user, and carries the user's current auth hash).
    Synchronous: call it through database_sync_to_async."""
    user = scope.get("user")
    session = scope.get("session")
    if user is None or not user.is_authenticated or session is None or not session.session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session.session_key)
    users = get_user_model()._default_manager.filter(pk=user.pk)
    fresh: Any
    if isinstance(store, DatabaseSessionStore):
        # The session's row with the user's, in one query (a prompt's start pays for it):
        # what `store.load()` reads (the unexpired session), beside the user.
        fresh = users.annotate(session_data=_session_data(store)).first()
        data = store.decode(fresh.session_data) if fresh is not None and fresh.session_data else {}
    else:
        data = store.load()
        fresh = users.first() if data else None
    return _logs_in(user, data, fresh)


def _session_data(store: DatabaseSessionStore) -> Subquery:
    rows = store.model.objects.filter(session_key=store.session_key, expire_date__gt=timezone.now())
    return Subquery(rows.values("session_data")[:1])


def _logs_in(user: Any, data: dict[str, Any], fresh: Any, auth_hash: Callable[[], str] | None = None) -> bool:
    if str(data.get(SESSION_KEY)) != str(user.pk) or BACKEND_SESSION_KEY not in data:
        return False
    if fresh is None or not fresh.is_active:
        return False
    return constant_time_compare(data.get(HASH_SESSION_KEY, ""), (auth_hash or fresh.get_session_auth_hash)())


class SessionCheck:
    """`session_is_current(scope)` as a start asks it: called on its own, or read as
    columns of the start's first query (`columns()`, then `verdict(row)`), so a
    prompt's start pays no statement of its own for it. `columns()` is None when the
    session is not in the database (then it is called on its own)."""

    PREFIX = "session_check_"

    def __init__(self, scope: Any) -> None:
        self.scope = scope

    def __call__(self) -> bool:
        return session_is_current(self.scope)

    def columns(self) -> dict[str, Any] | None:
        user, session = self.scope.get("user"), self.scope.get("session")
        if user is None or not user.is_authenticated or session is None or not session.session_key:
            return None
        store = import_module(settings.SESSION_ENGINE).SessionStore(session.session_key)
        if not isinstance(store, DatabaseSessionStore):
            return None
        # As plain SQL: the ORM's subqueries cost more CPU to compile than the statement
        # they save (the same rows as session_is_current reads, by primary key).
        q = connection.ops.quote_name
        sessions, users = store.model._meta, get_user_model()._meta
        now = connection.ops.adapt_datetimefield_value(timezone.now())

        def column(meta: Any, name: str) -> str:
            return q(meta.get_field(name).column)

        def user_column(name: str) -> RawSQL:
            return RawSQL(f"(SELECT {column(users, name)} FROM {q(users.db_table)}"
                          f" WHERE {column(users, users.pk.name)} = %s)", (user.pk,),
                          output_field=users.get_field(name))  # type: ignore[arg-type]  # a concrete field

        return {
            f"{self.PREFIX}data": RawSQL(
                f"(SELECT {column(sessions, 'session_data')} FROM {q(sessions.db_table)}"
                f" WHERE {column(sessions, 'session_key')} = %s AND {column(sessions, 'expire_date')} > %s)",
                (store.session_key, now), output_field=models.TextField(),
            ),
            # What get_session_auth_hash and is_active read of the user's row.
            f"{self.PREFIX}password": user_column("password"),
            f"{self.PREFIX}active": user_column("is_active"),
        }

    def verdict(self, row: Any) -> bool:
        """What `session_is_current` says, from the columns `row` was read with."""
        user = self.scope["user"]
        encoded = getattr(row, f"{self.PREFIX}data")
        secrets = (settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))
        data = _decoded(settings.SESSION_ENGINE, encoded, secrets) if encoded else {}
        password = getattr(row, f"{self.PREFIX}password")
        fresh = None
        if password is not None:
            fresh = get_user_model()(pk=user.pk, password=password, is_active=getattr(row, f"{self.PREFIX}active"))
        return _logs_in(user, data, fresh, lambda: _auth_hash(settings.AUTH_USER_MODEL, password, secrets))


# What follows from a session's stored text and a user's password hash, kept for the
# sessions a process serves (a prompt's start decoded and signed them again every time,
# ~0.2 ms): both are read from the database on every check as before; only the same
# text with the same keys is not worked out twice. Read only by `_logs_in`.
@functools.lru_cache(maxsize=2048)
def _decoded(engine: str, encoded: str, secrets: tuple[str, tuple[str, ...]]) -> dict[str, Any]:
    # `secrets` (the keys in use) is part of the key only: text signed with another key is not kept as valid.
    return dict(import_module(engine).SessionStore().decode(encoded))


@functools.lru_cache(maxsize=2048)
def _auth_hash(user_model: str, password: str, secrets: tuple[str, tuple[str, ...]]) -> str:
    return str(get_user_model()(password=password).get_session_auth_hash())


def is_id(value: Any) -> bool:
    """Whether a socket message's id looks like a row id (an int, or digits)."""
    if isinstance(value, str):
        value = int(value) if value.isdigit() and len(value) < 19 else None
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def bad_message_frame(
    reason: str = "That message could not be understood.", template: str = "chat/_notice.html"
) -> str:
    return render_to_string(template, {"message": reason})


# ---- closing idle sockets at once --------------------------------------------------------


def session_group(session_key: str) -> str:
    return f"session-{session_key}"[:99]


def user_group(user_id: Any) -> str:
    return f"user-{user_id}"


def socket_groups(scope: Any) -> list[str]:
    """The groups a socket joins so the signals below can end it."""
    groups = [user_group(scope["user"].pk)]
    session = scope.get("session")
    if session is not None and session.session_key:
        groups.append(session_group(session.session_key))
    return groups


def end_sockets(group: str) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, {"type": "session.ended"})
    except Exception:  # the socket still ends at its next message
        log.warning("could not tell the sockets of %s to close", group, exc_info=True)


def connect_signals() -> None:
    from django.contrib.auth.signals import user_logged_out
    from django.db.models.signals import post_save, pre_save

    user_model = get_user_model()
    user_logged_out.connect(_on_logout, dispatch_uid="security.sockets.logout")
    pre_save.connect(_remember_login_state, sender=user_model, dispatch_uid="security.sockets.pre_save")
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid="security.sockets.post_save")


def _on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    key = getattr(getattr(request, "session", None), "session_key", None)
    if key:
        end_sockets(session_group(key))


def _remember_login_state(sender: Any, instance: Any, **kwargs: Any) -> None:
    if instance.pk is None:
        return
    before = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    instance._login_state_changed = before is not None and (
        before["password"] != instance.password or (before["is_active"] and not instance.is_active)
    )


def _on_user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    if getattr(instance, "_login_state_changed", False):
        instance._login_state_changed = False
        end_sockets(user_group(instance.pk))
