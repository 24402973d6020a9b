"""A real OpenID Connect provider for the tests: `oidc-provider-mock` in its own process.

It is a full authorization server (authlib underneath): discovery, RS256-signed ID
tokens with nonce, codes bound to the client that asked, userinfo, end_session. Users
come from `--user-claims`; its authorize page signs one in with a button named after
the subject. It does not verify PKCE (authlib's CodeChallenge is not registered), so
the tests check that we send it, not that the IdP checked it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path


@dataclass
class IdP:
    issuer: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_idp(users: list[dict[str, object]], log_dir: Path) -> Iterator[IdP]:
    log_path = log_dir / "oidc-provider.log"
    args: list[str] = []
    for claims in users:
        args += ["--user-claims", json.dumps(claims)]
    for _attempt in range(3):  # a probed port can be taken before the IdP binds it
        port = _free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port), *args],
                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"},
            )
        issuer = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120  # left as soon as it answers; a loaded machine took over 30 s
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(issuer + "/.well-known/openid-configuration", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        if process.poll() is None:
            break
        if "address already in use" not in log_path.read_text(errors="replace").lower():
            raise RuntimeError(f"oidc_provider_mock exited:\n{log_path.read_text(errors='replace')}")
    else:
        raise RuntimeError("oidc_provider_mock could not bind a port")
    try:
        yield IdP(issuer=issuer, process=process, log_path=log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
