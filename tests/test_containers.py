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
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "tests" / "vendor" / "compose-spec" / "compose-spec.json"
NEEDS_ROOT = ("apt-get", "groupadd", "useradd")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    result = []
    for line in lines:
        word, _, rest = line.partition(" ")
        result.append((word.upper(), rest.strip()))
    return result


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
    mapping = {"/opt/venv": str(tmp_path / "opt-venv"), "/app": str(tmp_path / "app"),
               "/data": str(tmp_path / "data"), "/tmp/build-data": str(tmp_path / "build-data")}

    def mapped(text: str) -> str:
        for image_path in sorted(mapping, key=len, reverse=True):
            text = re.sub(re.escape(image_path) + r"(?=[/\s\"':]|$)", mapping[image_path], text)
        return text

    env = {"HOME": str(tmp_path), "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "PIP_CONFIG_FILE"):
        if key in os.environ:
            env[key] = os.environ[key]
    # `python` in the image is the base image's; here, the interpreter running the tests.
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)
    env["PATH"] = f"{shim}:{env['PATH']}"
    workdir = tmp_path
    skipped: list[str] = []
    for word, args in instructions():
        if word == "ENV":
            for name, value in re.findall(r"(\w+)=(\S+)", args):
                env[name] = mapped(value).replace("$PATH", env["PATH"])
        elif word == "WORKDIR":
            workdir = Path(mapped(args))
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, target = shlex.split(args)
            for source in sources:
                destination = workdir / target if not target.startswith("/") else Path(mapped(target))
                if (ROOT / source).is_dir():
                    shutil.copytree(ROOT / source, destination / Path(source).name if target.endswith("./") and
                                    target == "./" else destination, dirs_exist_ok=True,
                                    ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(ROOT / source, destination if not target.endswith("/") else destination / source)
        elif word == "RUN":
            if any(tool in args for tool in NEEDS_ROOT):
                skipped.append(args)
                continue
            result = subprocess.run(["/bin/sh", "-c", mapped(args)], cwd=workdir, env=env,
                                    capture_output=True, text=True, timeout=1500)
            assert result.returncode == 0, f"RUN {args}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
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
