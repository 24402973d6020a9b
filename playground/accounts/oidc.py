"""Sign-in with OpenID Connect, next to (or instead of) local accounts.

Built on mozilla-django-oidc (authorization code flow, state and nonce kept in the
session and deleted on first use, PKCE with S256). What it leaves to us, and this
module adds:

- discovery: the endpoints come from `OIDC_ISSUER/.well-known/openid-configuration`,
  fetched on first use and cached, so the IdP being down never breaks a local login;
- the ID token's audience and issuer are checked (the library decodes with
  `verify_aud=False`): a token minted for another application is refused;
- a user is bound to the IdP's (issuer, subject), never matched by e-mail, so an IdP
  account cannot take over a local account that happens to share an address;
- who may come in (OIDC_ALLOWED_DOMAINS, OIDC_REQUIRED_GROUP) and who is admin
  (OIDC_ADMIN_GROUP), read again at every sign-in;
- logout at the IdP too (RP-initiated logout with the ID token as hint).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils.crypto import get_random_string
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
    OIDCLogoutView,
)

from playground.models import OidcIdentity

log = logging.getLogger(__name__)

DISCOVERY_TTL = 3600.0
_discovery_lock = threading.Lock()
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


def enabled() -> bool:
    return bool(getattr(settings, "OIDC_ISSUER", ""))


def issuer() -> str:
    return str(settings.OIDC_ISSUER).rstrip("/")


def discovery() -> dict[str, Any]:
    """The IdP's metadata, cached for an hour (a failure is not cached)."""
    url = issuer() + "/.well-known/openid-configuration"
    with _discovery_lock:
        hit = _discovered.get(url)
        if hit and time.monotonic() - hit[0] < DISCOVERY_TTL:
            return hit[1]
    response = requests.get(url, timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
    response.raise_for_status()
    metadata: dict[str, Any] = response.json()
    # OpenID Connect Discovery §4.3: the metadata must name the issuer we asked.
    if str(metadata.get("issuer", "")).rstrip("/") != issuer():
        raise SuspiciousOperation(f"discovery names issuer {metadata.get('issuer')!r}, not {issuer()!r}")
    with _discovery_lock:
        _discovered[url] = (time.monotonic(), metadata)
    return metadata


def forget_discovery() -> None:
    with _discovery_lock:
        _discovered.clear()


# What mozilla-django-oidc reads as settings but we take from discovery.
DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}


def oidc_setting(attr: str, *default: Any) -> Any:
    if attr in DISCOVERED:
        return discovery()[DISCOVERED[attr]]
    if default:
        return getattr(settings, attr, default[0])
    return getattr(settings, attr)


def groups(claims: dict[str, Any]) -> set[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        return {value}
    if isinstance(value, list | tuple):
        return {str(g) for g in value}
    return set()


class Backend(OIDCAuthenticationBackend):  # type: ignore[misc]
    """The library's backend with lazy discovery, audience/issuer checks and our user rules."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads endpoints here; Django builds every backend on each local
        # login too, so nothing may reach the network before an OIDC callback.
        self.UserModel = get_user_model()

    get_settings = staticmethod(oidc_setting)

    @property
    def OIDC_OP_TOKEN_ENDPOINT(self) -> str:
        return str(discovery()["token_endpoint"])

    @property
    def OIDC_OP_USER_ENDPOINT(self) -> str:
        return str(discovery()["userinfo_endpoint"])

    @property
    def OIDC_OP_JWKS_ENDPOINT(self) -> str:
        return str(discovery()["jwks_uri"])

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(settings.OIDC_RP_CLIENT_ID)

    @property
    def OIDC_RP_CLIENT_SECRET(self) -> str:
        return str(settings.OIDC_RP_CLIENT_SECRET)

    @property
    def OIDC_RP_SIGN_ALGO(self) -> str:
        return str(settings.OIDC_RP_SIGN_ALGO)

    OIDC_RP_IDP_SIGN_KEY = None

    def authenticate(self, request: HttpRequest | None, **kwargs: Any) -> User | None:
        if not enabled() or request is None or "code" not in request.GET:
            return None  # a password login: not ours
        try:
            return super().authenticate(request, **kwargs)  # type: ignore[no-any-return]
        except requests.RequestException as error:
            # The IdP refused the code (used, expired, issued to another client) or is
            # unreachable: a failed sign-in, not a server error. Never log the body's secrets.
            status = getattr(getattr(error, "response", None), "status_code", None)
            log.warning("OIDC sign-in failed at the IdP (status %s)", status)
            return None

    def retrieve_matching_jwk(self, token: str) -> Any:
        """The IdP's signing key for this token: by `kid` when the token names one, else
        the only key of the IdP that fits the algorithm (the library assumes a kid)."""
        response = requests.get(
            self.OIDC_OP_JWKS_ENDPOINT, timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL
        )
        response.raise_for_status()
        header = jwt.get_unverified_header(token)
        keys = [k for k in response.json().get("keys", []) if k.get("alg", header.get("alg")) == header.get("alg")]
        if "kid" in header:
            keys = [k for k in keys if k.get("kid") == header["kid"]]
        elif len(keys) > 1:
            raise SuspiciousOperation("ID token names no key (kid) and the IdP has several")
        if not keys:
            raise SuspiciousOperation("no key of the IdP matches the ID token")
        return jwt.PyJWK(keys[0])

    def _verify_jws(self, payload: str, key: Any) -> dict[str, Any]:
        """As the library, plus what OpenID Connect Core §3.1.3.7 asks: the audience
        contains our client id (and `azp` names us when there are several), the issuer
        is the configured one, and exp/iat are there."""
        header = jwt.get_unverified_header(payload)
        if header.get("alg") != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(f"ID token signed with {header.get('alg')!r}, not {self.OIDC_RP_SIGN_ALGO!r}")
        try:
            claims: dict[str, Any] = jwt.decode(
                payload,
                key,
                algorithms=[self.OIDC_RP_SIGN_ALGO],
                audience=self.OIDC_RP_CLIENT_ID,
                issuer=discovery()["issuer"],
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
                leeway=60,
            )
        except jwt.InvalidTokenError as error:
            raise SuspiciousOperation(f"ID token refused: {error}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("ID token for several audiences without azp naming us")
        return claims

    def get_userinfo(self, access_token: str, id_token: str, payload: dict[str, Any]) -> dict[str, Any]:
        info = super().get_userinfo(access_token, id_token, payload)
        # Core §5.3.2: a userinfo answer for another subject must not be used.
        if str(info.get("sub")) != str(payload.get("sub")):
            raise SuspiciousOperation("userinfo is about another subject than the ID token")
        # Groups often ride only in the ID token: both, the userinfo answer winning.
        return {**payload, **info}

    def verify_claims(self, claims: dict[str, Any]) -> bool:
        if not claims.get("sub"):
            return False
        if domains := [d.lower() for d in settings.OIDC_ALLOWED_DOMAINS]:
            email = str(claims.get("email") or "")
            verified = claims.get("email_verified", True) is not False
            if not verified or "@" not in email or email.rsplit("@", 1)[1].lower() not in domains:
                log.warning("OIDC sign-in refused: e-mail domain not allowed (sub %s)", claims.get("sub"))
                return False
        if (required := settings.OIDC_REQUIRED_GROUP) and required not in groups(claims):
            log.warning("OIDC sign-in refused: not in group %s (sub %s)", required, claims.get("sub"))
            return False
        return True

    def filter_users_by_claims(self, claims: dict[str, Any]) -> Any:
        return self.UserModel.objects.filter(
            oidc_identities__issuer=issuer(), oidc_identities__subject=str(claims["sub"])
        )

    def create_user(self, claims: dict[str, Any]) -> User:
        base = str(claims.get("preferred_username") or claims.get("email") or claims["sub"])[:140]
        with transaction.atomic():
            username = base
            while self.UserModel.objects.filter(username=username).exists():
                # Never reuse a local account's name: it would look like the same person.
                username = f"{base}-{get_random_string(4).lower()}"
            user = self.UserModel.objects.create_user(username=username, email=str(claims.get("email") or ""))
            user.set_unusable_password()
            user.save()
            try:
                OidcIdentity.objects.create(user=user, issuer=issuer(), subject=str(claims["sub"]))
            except IntegrityError:
                raise SuspiciousOperation("this identity signed in twice at once") from None
        return self.update_user(user, claims)

    def update_user(self, user: User, claims: dict[str, Any]) -> User:
        if admin_group := settings.OIDC_ADMIN_GROUP:
            admin = admin_group in groups(claims)
            if user.is_staff != admin or user.is_superuser != admin:
                user.is_staff = user.is_superuser = admin
                user.save(update_fields=["is_staff", "is_superuser"])
        if (email := claims.get("email")) and user.email != email:
            user.email = str(email)
            user.save(update_fields=["email"])
        return user


def _only_when_enabled(request: HttpRequest) -> None:
    if not enabled():
        raise Http404("OpenID Connect sign-in is not configured")


class SignInView(OIDCAuthenticationRequestView):  # type: ignore[misc]
    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads the endpoint at construction; ours waits for a request.
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID

    def get(self, request: HttpRequest) -> HttpResponse:
        _only_when_enabled(request)
        self.OIDC_OP_AUTH_ENDPOINT = discovery()["authorization_endpoint"]
        return super().get(request)  # type: ignore[no-any-return]


class CallbackView(OIDCAuthenticationCallbackView):  # type: ignore[misc]
    get_settings = staticmethod(oidc_setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        _only_when_enabled(request)
        return super().get(request)  # type: ignore[no-any-return]


class LogoutView(OIDCLogoutView):  # type: ignore[misc]
    get_settings = staticmethod(oidc_setting)


def provider_logout_url(request: HttpRequest) -> str:
    """Where logout goes: the IdP's end_session_endpoint when this session came from it."""
    after = request.build_absolute_uri(reverse(settings.LOGOUT_REDIRECT_URL))
    id_token = request.session.get("oidc_id_token")
    if not (enabled() and id_token):
        return after
    try:
        endpoint = discovery().get("end_session_endpoint")
    except (requests.RequestException, SuspiciousOperation, ValueError):
        endpoint = None
    if not endpoint:
        return after
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": after,
                       "client_id": settings.OIDC_RP_CLIENT_ID})
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"
