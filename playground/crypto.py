"""Provider API keys (and secret extra headers) at rest: Fernet with a key that is not SECRET_KEY.

The key comes from FIELD_ENCRYPTION_KEY (or FIELD_ENCRYPTION_KEY_FILE), else it
is generated once into a private file in the data directory. Several keys may be
given, comma-separated, newest first, to rotate (MultiFernet).
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from playground.settings import private_secret


@cache
def _fernet() -> MultiFernet:
    raw = settings.FIELD_ENCRYPTION_KEY or private_secret(
        settings.FIELD_ENCRYPTION_KEY_PATH, lambda: Fernet.generate_key().decode()
    )
    return MultiFernet([Fernet(k.strip().encode()) for k in raw.split(",") if k.strip()])


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode() if plaintext else ""


# Keys opened before, by token, for the keys they were opened with: every turn's start
# builds its provider's config, and Fernet checks and decrypts the token each time.
_opened: dict[str, str] = {}
_opened_with: MultiFernet | None = None
OPENED_KEPT = 256


def decrypt(token: str) -> str:
    global _opened_with
    if not token:
        return ""
    fernet = _fernet()
    if fernet is not _opened_with:  # other keys (a rotation, a restore): open again
        _opened.clear()
        _opened_with = fernet
    if (plaintext := _opened.get(token)) is not None:
        return plaintext
    try:
        plaintext = fernet.decrypt(token.encode()).decode()
    except InvalidToken:
        # Wrong or rotated-away key: report without ever echoing the token.
        raise ValueError("stored API key cannot be decrypted with the configured key") from None
    if len(_opened) >= OPENED_KEPT:
        _opened.clear()
    _opened[token] = plaintext
    return plaintext


def rotate(token: str) -> str:
    """The same plaintext encrypted with the newest key (the first in FIELD_ENCRYPTION_KEY)."""
    if not token:
        return ""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise ValueError("a stored secret cannot be decrypted with any configured key") from None


def mask(plaintext: str) -> str:
    """What the admin may show: enough to recognise a key, never enough to use it."""
    if not plaintext:
        return ""
    return "••••" + plaintext[-4:] if len(plaintext) >= 12 else "••••"
