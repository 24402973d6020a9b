"""OpenID Connect sign-in against a real provider process (oidc-provider-mock), with
Django's test client as the browser: the flow, the checks on state, nonce and audience,
who may come in and who is admin, local accounts turned off."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.contrib.auth.models import User
from django.core.exceptions import SuspiciousOperation

from playground.accounts import oidc
from playground.models import OidcIdentity
from tests.oidc_idp import IdP, running_idp

pytestmark = pytest.mark.django_db

USERS = [
    {"sub": "alice-1", "email": "alice@example.com", "preferred_username": "alice",
     "groups": ["staff", "playground-admins"]},
    {"sub": "bob-2", "email": "bob@example.org", "preferred_username": "bob", "groups": ["staff"]},
    {"sub": "carol-3", "email": "carol@example.com", "preferred_username": "carol"},
]


@pytest.fixture(scope="module")
def idp(tmp_path_factory) -> IdP:
    with running_idp(USERS, tmp_path_factory.mktemp("idp")) as running:
        yield running


@pytest.fixture(autouse=True)
def oidc_settings(settings, idp):
    settings.OIDC_ISSUER = idp.issuer
    settings.OIDC_RP_CLIENT_ID = "playground"
    settings.OIDC_RP_CLIENT_SECRET = "playground-secret"
    settings.OIDC_ADMIN_GROUP = "playground-admins"
    settings.AUTHENTICATION_BACKENDS = [*settings.AUTHENTICATION_BACKENDS, "playground.accounts.oidc.Backend"]
    oidc.forget_discovery()
    yield settings
    oidc.forget_discovery()


def start(client) -> str:
    """Our sign-in redirect: the IdP's authorize URL."""
    response = client.get("/oidc/signin/")
    assert response.status_code == 302, response.content
    return str(response["Location"])


def authorize_at_idp(authorize_url: str, sub: str) -> str:
    """What the person does at the IdP: picks their account. The redirect back to us."""
    response = requests.post(authorize_url, data={"sub": sub}, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return str(response.headers["Location"])


def callback(client, redirect: str):
    parts = urlparse(redirect)
    return client.get(parts.path, parse_qs(parts.query))


def sign_in(client, sub: str):
    return callback(client, authorize_at_idp(start(client), sub))


def test_the_authorization_request_carries_state_nonce_and_pkce(client, idp):
    query = parse_qs(urlparse(start(client)).query)
    assert urlparse(start(client)).netloc == urlparse(idp.issuer).netloc  # found by discovery
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["playground"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert "openid" in query["scope"][0].split()


def test_first_sign_in_creates_the_user_bound_to_issuer_and_subject(client, idp):
    response = sign_in(client, "alice-1")
    assert response.status_code == 302 and response["Location"] == "/"
    user = User.objects.get(username="alice")
    assert user.email == "alice@example.com"
    assert not user.has_usable_password()
    assert OidcIdentity.objects.filter(user=user, issuer=idp.issuer, subject="alice-1").exists()
    assert client.get("/").status_code == 200
    assert int(client.session["_auth_user_id"]) == user.pk
    # A second sign-in is the same user, not a new one.
    client.logout()
    sign_in(client, "alice-1")
    assert User.objects.filter(email="alice@example.com").count() == 1


def test_a_local_account_with_the_same_name_or_email_is_not_taken_over(client, django_user_model):
    local = django_user_model.objects.create_user("alice", email="alice@example.com", password="local horse battery")
    sign_in(client, "alice-1")
    signed_in = User.objects.get(pk=int(client.session["_auth_user_id"]))
    assert signed_in.pk != local.pk
    assert signed_in.username.startswith("alice-")


def test_the_admin_flag_follows_the_admin_group_at_every_sign_in(client, settings):
    sign_in(client, "alice-1")
    assert User.objects.get(username="alice").is_superuser
    sign_in(client, "bob-2")
    bob = User.objects.get(username="bob")
    assert not bob.is_staff and not bob.is_superuser
    # Alice leaves the admin group (here: the group that counts changes): next sign-in drops it.
    settings.OIDC_ADMIN_GROUP = "someone-else"
    sign_in(client, "alice-1")
    assert not User.objects.get(username="alice").is_superuser


def test_only_allowed_domains_come_in(client, settings):
    settings.OIDC_ALLOWED_DOMAINS = ["example.com"]
    response = sign_in(client, "bob-2")
    assert response.status_code == 302 and "signin=failed" in response["Location"]
    assert not User.objects.filter(username="bob").exists()
    assert "_auth_user_id" not in client.session
    sign_in(client, "alice-1")
    assert User.objects.filter(username="alice").exists()


def test_only_members_of_the_required_group_come_in(client, settings):
    settings.OIDC_REQUIRED_GROUP = "staff"
    response = sign_in(client, "carol-3")
    assert "signin=failed" in response["Location"]
    assert not User.objects.filter(username="carol").exists()
    sign_in(client, "bob-2")
    assert User.objects.filter(username="bob").exists()


def test_a_replayed_state_is_refused(client):
    first = authorize_at_idp(start(client), "alice-1")
    start(client)  # a second sign-in under way in another tab: the session keeps states
    assert callback(client, first).status_code == 302
    # The same callback again: its state was used up at the first use.
    assert callback(client, first).status_code == 400
    # And after logout (the session and its states gone): refused, nobody signed in.
    client.logout()
    replay = callback(client, first)
    assert replay.status_code == 302 and "signin=failed" in replay["Location"]
    assert "_auth_user_id" not in client.session


def test_a_callback_from_another_browser_is_refused(client, django_user_model):
    from django.test import Client

    redirect = authorize_at_idp(start(client), "alice-1")
    other = Client()
    response = callback(other, redirect)
    assert response.status_code in (302, 400)
    assert "_auth_user_id" not in other.session
    assert not django_user_model.objects.filter(username="alice").exists()


def id_token_for(idp: IdP, client_id: str, nonce: str) -> str:
    """An ID token the real IdP minted for `client_id` (the authorize + token steps)."""
    metadata = requests.get(idp.issuer + "/.well-known/openid-configuration", timeout=10).json()
    redirect_uri = "http://127.0.0.1:9/callback"
    authorize = requests.Request("GET", metadata["authorization_endpoint"], params={
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid email", "state": "s" * 32, "nonce": nonce,
    }).prepare().url
    code = parse_qs(urlparse(authorize_at_idp(str(authorize), "alice-1")).query)["code"][0]
    token = requests.post(metadata["token_endpoint"], data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "client_id": client_id, "client_secret": "whatever",
    }, timeout=10)
    token.raise_for_status()
    return str(token.json()["id_token"])


def test_an_id_token_for_another_audience_is_refused(idp):
    backend = oidc.Backend()
    nonce = "n" * 32
    ours = backend.verify_token(id_token_for(idp, "playground", nonce), nonce=nonce)
    assert ours["aud"] in ("playground", ["playground"]) and ours["sub"] == "alice-1"
    # Same IdP, same person, valid signature, but minted for another application.
    stolen = id_token_for(idp, "another-app", nonce)
    with pytest.raises(SuspiciousOperation, match=r"[Aa]udience"):
        backend.verify_token(stolen, nonce=nonce)


def test_a_wrong_nonce_is_refused(idp):
    token = id_token_for(idp, "playground", "a" * 32)
    with pytest.raises(SuspiciousOperation, match="Nonce"):
        oidc.Backend().verify_token(token, nonce="b" * 32)


def test_a_code_for_another_client_does_not_sign_in(client, idp):
    """The authorize step done as another application, its code delivered to our callback."""
    ours = urlparse(start(client))
    query = {k: v[0] for k, v in parse_qs(ours.query).items()}
    query["client_id"] = "another-app"
    forged = requests.Request("GET", f"{idp.issuer}{ours.path}", params=query).prepare().url
    response = callback(client, authorize_at_idp(str(forged), "alice-1"))
    assert "_auth_user_id" not in client.session
    assert response.status_code == 302 and "signin=failed" in response["Location"]
    assert not User.objects.filter(username="alice").exists()


def test_logout_ends_the_session_here_and_at_the_idp(client, idp):
    sign_in(client, "alice-1")
    response = client.post("/logout/")
    assert response.status_code == 302
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}" == idp.issuer
    assert location.path == "/oauth2/end_session"
    params = parse_qs(location.query)
    assert params["post_logout_redirect_uri"] == ["http://testserver/login/"]
    assert params["id_token_hint"][0].count(".") == 2
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


def test_local_login_turned_off_refuses_the_right_password(client, settings, django_user_model):
    django_user_model.objects.create_user("local", password="local horse battery")
    settings.LOCAL_LOGIN = False
    settings.AUTHENTICATION_BACKENDS = [
        "playground.accounts.signin.PermissionsOnlyBackend" if b.endswith(".ModelBackend") else b
        for b in settings.AUTHENTICATION_BACKENDS
    ]
    page = client.get("/login/")
    assert b'name="password"' not in page.content and b"Sign in with" in page.content
    response = client.post("/login/", {"username": "local", "password": "local horse battery"})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
    # Nor through the admin's own login form, nor Django's authenticate() anywhere.
    django_user_model.objects.create_superuser("boss", password="boss horse battery")
    client.post("/admin/login/", {"username": "boss", "password": "boss horse battery"})
    assert "_auth_user_id" not in client.session
    from django.contrib.auth import authenticate
    from django.test import RequestFactory

    request = RequestFactory().post("/login/")
    assert authenticate(request, username="boss", password="boss horse battery") is None


def test_without_oidc_the_login_page_is_the_local_form_and_the_routes_are_gone(client, settings):
    settings.OIDC_ISSUER = ""
    page = client.get("/login/")
    assert b'name="password"' in page.content and b"Sign in with" not in page.content
    assert client.get("/oidc/signin/").status_code == 404
