"""The Dockerfile's build steps, run outside a container engine (tests/test_containers.py).

Every RUN line in order, in a fresh virtualenv with /app, /opt/venv and /data mapped into
a directory of the build's own, except the lines that need root (apt-get,
groupadd/useradd), which are listed in the result. The build spends minutes waiting on
the package index (pip resolves and downloads every dependency, with no cache, as the
image does) and little of it on a CPU; so the suite starts it in a process of its own as
soon as the test is collected (`tests/conftest.py`), and the test, which runs last,
checks what it left (`result.json`) and starts the built tree.

    python -m tests.container_build DIRECTORY
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NEEDS_ROOT = ("apt-get", "groupadd", "useradd")
RESULT = "result.json"
# The test that reads a build (tests/test_containers.py).
TEST = "test_containers.py::test_the_build_steps_run_in_a_fresh_virtualenv_and_the_result_serves_health"
# The environment variable naming the directory of the suite's build (set by
# tests/conftest.py in the process that starts the workers, so every worker sees it).
DIRECTORY_ENV = "PLAYGROUND_CONTAINER_BUILD"


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


def mapping(base: Path) -> dict[str, str]:
    """The image's paths and where they are in a build under `base`. The files the
    Dockerfile puts in the image's /tmp too: this machine's /tmp is shared, and two
    builds at once (two checkouts' suites) removed each other's requirements.txt."""
    return {"/opt/venv": str(base / "opt-venv"), "/app": str(base / "app"),
            "/data": str(base / "data"), "/tmp/build-data": str(base / "build-data"),
            "/tmp/requirements.txt": str(base / "requirements.txt")}


def build(base: Path) -> dict[str, Any]:
    """Runs the build steps under `base`, stopping at the first RUN line that fails.

    Returns the environment the image's ENV lines made, the RUN lines left out, and
    the failed line (its output's tails) if one failed."""
    paths = mapping(base)

    def mapped(text: str) -> str:
        for image_path in sorted(paths, key=len, reverse=True):
            text = re.sub(re.escape(image_path) + r"(?=[/\s\"':]|$)", paths[image_path], text)
        return text

    env = {"HOME": str(base), "PATH": os.environ["PATH"], "LANG": "C.UTF-8"}
    for key in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_TRUSTED_HOST", "PIP_CONFIG_FILE"):
        if key in os.environ:
            env[key] = os.environ[key]
    # `python` in the image is the base image's; here, the interpreter running the tests.
    shim = base / "shim"
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)
    env["PATH"] = f"{shim}:{env['PATH']}"
    workdir = base
    skipped: list[str] = []
    failed: dict[str, object] | None = None
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
            started = time.monotonic()
            result = subprocess.run(["/bin/sh", "-c", mapped(args)], cwd=workdir, env=env,
                                    capture_output=True, text=True, timeout=1500)
            if result.returncode != 0:
                failed = {"args": args, "returncode": result.returncode, "seconds": time.monotonic() - started,
                          "stdout": result.stdout[-3000:], "stderr": result.stderr[-3000:]}
                break
    return {"env": env, "skipped": skipped, "failed": failed, "paths": paths}


def write_result(base: Path) -> None:
    """`build(base)`, its outcome written to base/result.json last (renamed into place,
    so a reader sees all of it or nothing); an exception is an outcome too."""
    try:
        outcome = build(base)
    except BaseException as error:  # the test reports it: nothing else reads this process's stderr
        import traceback

        outcome = {"error": "".join(traceback.format_exception(error))}
    partial = base / f"{RESULT}.partial"
    partial.write_text(json.dumps(outcome))
    partial.rename(base / RESULT)


def start(base: Path) -> subprocess.Popen[bytes]:
    """The build in a process of its own, niced: it mostly waits on the network, and
    its CPU (collectstatic's brotli) should go to the tests only when they leave some."""
    base.mkdir(parents=True, exist_ok=True)
    log = (base / "build.log").open("wb")
    try:
        process = subprocess.Popen([sys.executable, "-m", "tests.container_build", str(base)], cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   process_group=0, preexec_fn=lambda: os.nice(5))
    finally:
        log.close()
    (base / "pid").write_text(str(process.pid))
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ends a build that is still running, with the pip or collectstatic it started
    (its own process group): the session ended without the test reading it."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def started(base: Path) -> bool:
    return (base / "pid").exists()


def _alive(pid: int) -> bool:
    try:  # a process that exited but was not yet waited for by its parent is a zombie: gone
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def wait(base: Path, timeout: float) -> dict[str, Any]:
    """The result of a build started by `start`, waiting up to `timeout` seconds for it."""
    deadline = time.monotonic() + timeout
    pid = int((base / "pid").read_text())
    while not (base / RESULT).exists():
        gone = not _alive(pid) and not (base / RESULT).exists()
        if gone or time.monotonic() > deadline:
            log = base / "build.log"
            what = "ended without a result" if gone else f"did not finish in {timeout:.0f} s"
            raise AssertionError(f"the build {what}\n{log.read_text()[-3000:] if log.exists() else ''}")
        time.sleep(0.5)
    result: dict[str, Any] = json.loads((base / RESULT).read_text())
    return result


if __name__ == "__main__":
    write_result(Path(sys.argv[1]))
