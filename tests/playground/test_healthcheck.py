"""The container's HEALTHCHECK command asks /health with a host Django allows."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def serve(status: int, seen: list[str]) -> http.server.HTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.path} {self.headers['Host']}")
            self.send_response(status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def check(port: int, allowed_hosts: str) -> int:
    env = {"PORT": str(port), "ALLOWED_HOSTS": allowed_hosts, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "playground.healthcheck"], cwd=ROOT, env=env,
                          capture_output=True, timeout=30).returncode


def test_it_names_an_allowed_host_and_passes_on_200():
    seen: list[str] = []
    server = serve(200, seen)
    try:
        assert check(server.server_port, "play.example.com,127.0.0.1") == 0
        assert check(server.server_port, ".example.com") == 0
        assert check(server.server_port, "*") == 0
    finally:
        server.shutdown()
    assert seen == ["/health play.example.com", "/health example.com", "/health 127.0.0.1"]


def test_it_fails_on_an_error_status_or_no_server():
    server = serve(503, [])
    try:
        assert check(server.server_port, "127.0.0.1") == 1
    finally:
        server.shutdown()
    assert check(server.server_port, "127.0.0.1") == 1
