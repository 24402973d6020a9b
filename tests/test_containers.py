"""The container files, tested as far as a machine without a container engine allows.

- compose.yaml: validated against the Compose Specification's own JSON schema (vendored
  in tests/vendor/compose-spec/, Apache-2.0), then checked for what we rely on.
- Dockerfile: its instructions checked (slim base, non-root user, health check, the
  production server); and (slow) its build steps run: every RUN line in order, in a
  fresh virtualenv with /app, /opt/venv and /data mapped into a temporary directory,
  except the lines that need root (apt-get, groupadd/useradd), which are listed; then
  the entrypoint and CMD start the built tree and the HEALTHCHECK command must pass.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests import container_build
from tests.container_build import instructions

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "vendor" / "compose-spec" / "compose-spec.json"


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def test_compose_file_is_valid_against_the_compose_specification_schema():
    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.Draft7Validator(schema)
    errors = sorted(validator.iter_errors(compose()), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors]


def test_the_schema_catches_a_broken_compose_file():
    # Guards the test above: the vendored schema does refuse what Compose refuses.
    broken = compose()
    broken["services"]["playground"]["depends_on"] = {"postgres": {"condition": "when_it_feels_like_it"}}
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")  # a typo
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert len(list(validator.iter_errors(broken))) >= 2


def test_compose_runs_the_playground_on_postgres_and_redis_configured_by_env():
    services = compose()["services"]
    assert set(services) == {"playground", "postgres", "redis"}
    app = services["playground"]
    assert app["build"] == "."
    assert {"path": ".env", "required": False} in app["env_file"]
    assert app["environment"]["DATABASE_URL"].startswith("postgres://playground:${POSTGRES_PASSWORD")
    assert app["environment"]["DATABASE_URL"].endswith("@postgres:5432/playground")
    assert app["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    assert app["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                 "redis": {"condition": "service_healthy"}}
    assert "playground-data:/data" in app["volumes"]
    assert all("healthcheck" in services[name] for name in ("postgres", "redis"))
    # pg_dump in the image is Debian 12's 15: the server must not be newer.
    assert services["postgres"]["image"] == "postgres:15"


def test_the_dockerfile_builds_a_slim_non_root_image_with_the_production_server_and_a_health_check():
    steps = instructions()
    words = [w for w, _ in steps]
    assert re.fullmatch(r"python:3\.\d+-slim", steps[0][1])
    users = [args for w, args in steps if w == "USER"]
    assert users == ["playground"]
    assert words.index("USER") > max(i for i, w in enumerate(words) if w == "RUN")  # nothing runs as root after
    runs = " ".join(args for w, args in steps if w == "RUN")
    assert "collectstatic" in runs
    health = next(args for w, args in steps if w == "HEALTHCHECK")
    assert "playground.healthcheck" in health
    cmd = json.loads(next(args for w, args in steps if w == "CMD"))
    assert cmd[:3] == ["python", "-m", "playground.server"] and cmd[-1] == "playground.asgi:application"
    for word, args in steps:
        if word == "COPY":
            for source in shlex.split(args)[:-1]:
                assert (ROOT / source).exists(), source


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_the_build_steps_run_in_a_fresh_virtualenv_and_the_result_serves_health(tmp_path):
    # The steps (tests/container_build.py) mostly wait on the package index: the suite
    # starts them in a process of its own when it collects this test (tests/conftest.py)
    # and runs this test last, so here they are done or nearly. Run on its own, the
    # test builds here.
    shared = os.environ.get(container_build.DIRECTORY_ENV)
    if shared and container_build.started(Path(shared)):
        base = Path(shared)
        build = container_build.wait(base, timeout=1500)
    else:
        base = tmp_path
        build = container_build.build(base)
    assert "error" not in build, build["error"]
    failed = build["failed"]
    assert failed is None, f"RUN {failed['args']}\n{failed['stdout']}\n{failed['stderr']}"
    env: dict[str, str] = build["env"]
    skipped: list[str] = build["skipped"]
    mapping: dict[str, str] = build["paths"]
    # Exactly the root-only lines were left out (the report says so).
    assert len(skipped) == 2 and "apt-get" in skipped[0] and "useradd" in skipped[1]

    app = Path(mapping["/app"])
    assert (app / "staticfiles" / "staticfiles.json").exists()  # collected at build, hashed
    assert (Path(mapping["/opt/venv"]) / "bin" / "daphne").exists()  # the dependencies, in the fresh venv
    # The image's ENV put the venv first on PATH: from here on `python` is the venv's.
    assert env["PATH"].startswith(mapping["/opt/venv"] + "/bin:")

    # The entrypoint (migrate, bootstrap) and the CMD, on a free port, then the HEALTHCHECK.
    port = free_port()
    run_env = {**env, "PORT": str(port), "FIELD_ENCRYPTION_KEY": "tTnYl6bEyuSgpnrUQrXqT0Vb4o3b2JfOeYt5gYy6xjQ="}
    cmd = json.loads(next(a for w, a in instructions() if w == "CMD"))
    cmd[cmd.index("-p") + 1] = str(port)
    cmd[cmd.index("-b") + 1] = "127.0.0.1"
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen([str(app / "docker-entrypoint.sh"), *cmd], cwd=app, env=run_env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        health = ["python", "-m", "playground.healthcheck"]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            check = subprocess.run(health, cwd=app, env=run_env, capture_output=True, text=True)
            if check.returncode == 0:
                break
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            time.sleep(0.5)
        else:
            raise AssertionError(f"unhealthy: {check.stderr}\n{(tmp_path / 'server.log').read_text()[-3000:]}")
        assert (Path(mapping["/data"]) / "playground.sqlite3").exists()  # the entrypoint migrated
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
