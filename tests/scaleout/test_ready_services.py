"""`/ready` on real daphne processes: 200 with PostgreSQL and Redis answering; 503
naming the part that is down when either points at a closed port."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from tests.scaleout.harness import BIN, ROOT, Deployment, Server, free_port, services_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.services]


class ProbedServer(Server):
    """Started when it answers /ready at all (its /health needs the database)."""

    def start(self) -> ProbedServer:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(BIN / "daphne"), "-b", "127.0.0.1", "-p", str(self.port), "playground.asgi:application"],
                cwd=ROOT, env=self.deployment.env(), stdout=log, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 120  # left as soon as it answers; a loaded machine took over 30 s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited: {self.log.read_text()[-3000:]}")
            try:
                httpx.get(f"{self.url}/ready", timeout=5)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError(f"daphne did not come up: {self.log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def services():
    return services_or_skip()


def ready(tmp_path, database_url: str, redis_url: str) -> httpx.Response:
    server = ProbedServer(Deployment(tmp_path, database_url=database_url, redis_url=redis_url)).start()
    try:
        started = time.monotonic()
        response = httpx.get(f"{server.url}/ready", timeout=10)
        assert time.monotonic() - started < 5  # a probe with a dead part answers quickly
        return response
    finally:
        server.stop()


def test_ready_with_postgresql_and_redis_up(tmp_path, services):
    pg_user, redis_url = services
    response = ready(tmp_path, f"postgres://{pg_user}@127.0.0.1:5432/test", redis_url)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "failing": [], "checks": {"database": "ok", "channel_layer": "ok"}}


def test_ready_names_redis_when_it_is_down(tmp_path, services):
    pg_user, _ = services
    response = ready(tmp_path, f"postgres://{pg_user}@127.0.0.1:5432/test", f"redis://127.0.0.1:{free_port()}/0")
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["failing"] == ["channel_layer"]
    assert body["checks"]["database"] == "ok"
    assert "ConnectionError" in body["checks"]["channel_layer"]


def test_ready_names_postgresql_when_it_is_down(tmp_path, services):
    pg_user, redis_url = services
    response = ready(tmp_path, f"postgres://{pg_user}@127.0.0.1:{free_port()}/test", redis_url)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["failing"] == ["database"]
    assert body["checks"]["channel_layer"] == "ok"
    assert "OperationalError" in body["checks"]["database"]
