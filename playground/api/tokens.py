"""API tokens: made, looked up by their hash, revoked.

A token reads `rp-` followed by 43 URL-safe characters (256 random bits). Only its
SHA-256 is stored; `prefix` (the first 10 characters) tells tokens apart in lists.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.utils import timezone

from playground import statements
from playground.models import ApiToken

TOKEN_PREFIX = "rp-"
SHOWN_PREFIX_LENGTH = 10
# "Last used" is shown to the minute: a token in steady use is written at most this
# often, not once per request (a write takes SQLite's one write lock, which the
# runs' checkpoints need).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_token(user: Any, name: str = "") -> tuple[ApiToken, str]:
    """A new token for `user`; returns it and its secret, which is never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user, name=name.strip()[:100], digest=digest_of(secret), prefix=secret[:SHOWN_PREFIX_LENGTH]
    )
    return token, secret


def user_for(authorization: str) -> Any | None:
    """The active user a `Bearer …` header belongs to, or None (unknown, revoked, malformed)."""
    token = token_for(authorization)
    return token.user if token is not None else None


def token_for(authorization: str) -> ApiToken | None:
    """The active token of a `Bearer …` header (its user loaded), or None (unknown,
    revoked, malformed, its user inactive).

    Marks the token used. The lookup is by digest on a unique index; the secret
    itself is never compared, so there is no timing to learn from.
    """
    scheme, _, secret = authorization.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret.startswith(TOKEN_PREFIX):
        return None
    # Revoked, or its user made inactive: not found, from the very next request.
    token: ApiToken | None = statements.active_token(digest_of(secret))  # with its user and preferences
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def revoke(token: ApiToken) -> bool:
    """Revoke `token`; False if it was already revoked."""
    return bool(ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()))
