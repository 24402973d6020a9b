"""OpenID Connect sign-in in Chromium, against a real provider process
(oidc-provider-mock): sign in, a conversation is yours, sign out (here and at the
IdP), a second identity sees none of it; local accounts turned off."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import ROOT, Server, free_port, manage, server_env, wait_for_health
from tests.oidc_idp import IdP, running_idp

USERS = [
    {"sub": "alice-1", "email": "alice@example.com", "preferred_username": "alice", "groups": ["admins"]},
    {"sub": "bob-2", "email": "bob@example.com", "preferred_username": "bob"},
]


@pytest.fixture(scope="module")
def idp() -> Iterator[IdP]:
    with running_idp(USERS, Path(tempfile.mkdtemp(prefix="playground-idp-"))) as running:
        yield running


@pytest.fixture(scope="module")
def oidc_server(idp: IdP, _collected_static: Path) -> Iterator[Server]:
    """The real server with OIDC on and local accounts off."""
    data_dir = Path(tempfile.mkdtemp(prefix="playground-oidc-"))
    env = server_env(data_dir)
    env.update(
        OIDC_ISSUER=idp.issuer, OIDC_CLIENT_ID="playground", OIDC_CLIENT_SECRET="s3cret-for-tests",
        OIDC_PROVIDER_NAME="Example IdP", OIDC_ADMIN_GROUP="admins", LOCAL_LOGIN="false",
    )
    shutil.copytree(_collected_static, data_dir / "staticfiles")
    manage(env, "migrate", "--noinput")
    manage(env, "bootstrap")
    log_path = data_dir / "daphne.log"
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "playground.asgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    running = Server(base_url=base_url, data_dir=data_dir, env=env, process=process, log_path=log_path)
    try:
        wait_for_health(base_url, process, log_path)
        yield running
    finally:
        running.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(data_dir, ignore_errors=True)


def sign_in(page, server: Server, idp: IdP, sub: str) -> None:
    page.goto(server.url("/"))
    page.wait_for_url(re.compile(r"/login/"))
    page.get_by_role("link", name="Sign in with Example IdP").click()
    page.wait_for_url(lambda url: url.startswith(idp.issuer))
    page.get_by_role("button", name=sub, exact=True).click()
    page.wait_for_url(lambda url: url.startswith(server.base_url) and "/login/" not in url)


def is_superuser(server: Server, username: str) -> bool:
    code = f"from django.contrib.auth.models import User\nprint(User.objects.get(username={username!r}).is_superuser)"
    return server.shell(code).strip().splitlines()[-1] == "True"


def test_sign_in_own_a_conversation_sign_out_and_another_identity_sees_none_of_it(page, oidc_server, idp):
    server = oidc_server
    requests_seen: list[str] = []
    page.on("request", lambda r: requests_seen.append(r.url))

    # Local accounts are off: no password field, only the IdP.
    page.goto(server.url("/login/"))
    assert page.locator('input[name="password"]').count() == 0

    sign_in(page, server, idp, "alice-1")
    authorize = next(u for u in requests_seen if "/oauth2/authorize" in u)
    assert "code_challenge=" in authorize and "code_challenge_method=S256" in authorize
    assert "nonce=" in authorize and "state=" in authorize

    page.get_by_label("Prompt").fill("Alice's secret plan")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    alices = page.url
    page.wait_for_selector('[data-status]:not([data-status="streaming"])', timeout=60_000)
    assert page.locator("#conversation-list").get_by_text("Alice's secret plan").count() >= 1
    assert is_superuser(server, "alice") is True

    # Sign out: ours, then the IdP's end_session (with our ID token as hint), then back here.
    page.get_by_role("button", name=re.compile(r"Log out alice")).click()
    page.wait_for_url(lambda url: url.startswith(idp.issuer + "/oauth2/end_session"))
    assert "id_token_hint=" in page.url
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(re.compile(r"/login/"))
    page.goto(alices)
    page.wait_for_url(re.compile(r"/login/"))

    # Bob: his own empty list; Alice's conversation is a 404 for him.
    sign_in(page, server, idp, "bob-2")
    assert page.locator("#conversation-list").get_by_text("Alice's secret plan").count() == 0
    response = page.goto(alices)
    assert response is not None and response.status == 404
    assert is_superuser(server, "bob") is False
