"""The fixed cast every test can use: an owner, a stranger, an admin, and
providers backed by the scripted adapter or the offline simulator."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from django.db.backends.signals import connection_created

from tests import container_build

os.environ.setdefault("SIMULATOR_TOKENS_PER_SECOND", "0")
# Rewriting the asserts of ~190 test modules costs every process that collects them
# (each xdist worker) ~10 s of CPU; pytest caches the result as bytecode files, which
# PYTHONDONTWRITEBYTECODE (the Dockerfile sets it, and so may a shell) forbids. They are
# .gitignored and only ever a cache, so the test processes write them anyway.
sys.dont_write_bytecode = False

# Files that run first, in this order, and last (the rest keep pytest's order between).
# `make test` hands whole files to its workers (`--dist loadfile`, pyproject.toml),
# in collection order: the long files, most of whose time is spent waiting on
# servers they start (scale-out deployments, the benchmark smoke test, the browser
# harness, the API gateway, MCP servers), start while there is still other work to
# run beside them, and the run ends on short files, so neither worker waits alone at
# the end. The browser files stay together, so a worker keeps one Chromium for all
# it takes of them (tests/browser/conftest.py). The containers' build steps run in a
# process of their own from the start of the run (`_start_the_container_build`), so
# their test goes last: by then the build is done, and no worker waited on it.
TESTS = Path(__file__).parent
RUN_FIRST = ("scaleout/", "test_bench_smoke.py", "browser/", "api/", "tools/", "conformance/")
RUN_LAST = ("test_containers.py",)


def _run_order_rank(item: pytest.Item) -> int:
    path = Path(str(item.fspath))
    if not path.is_relative_to(TESTS):
        return len(RUN_FIRST)
    name = path.relative_to(TESTS).as_posix()
    if name.startswith(RUN_LAST):
        return len(RUN_FIRST) + 1
    return next((rank for rank, prefix in enumerate(RUN_FIRST) if name.startswith(prefix)), len(RUN_FIRST))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Last, after pytest-django's ordering (database tests before transactional
    # ones), which it keeps within each group: the sort is stable. Every worker
    # collects the same order, as xdist requires.
    items.sort(key=_run_order_rank)


# The containers' build (tests/container_build.py) is started by the process that runs
# the session: the xdist controller, which learns what its workers collected, or the
# one process of `-n 0`; it stops it (if the test never came) and removes it at the end.
_container_build: subprocess.Popen[bytes] | None = None


def _runs_the_session(config: pytest.Config) -> bool:
    return not hasattr(config, "workerinput")


def pytest_configure(config: pytest.Config) -> None:
    if _runs_the_session(config):  # before the workers start: they inherit the name
        directory = Path(tempfile.gettempdir()) / f"playground-container-build-{uuid.uuid4().hex[:12]}"
        os.environ[container_build.DIRECTORY_ENV] = str(directory)


def _start_the_container_build(ids: Sequence[str]) -> None:
    global _container_build
    directory = os.environ.get(container_build.DIRECTORY_ENV)
    if _container_build is None and directory and any(i.endswith(container_build.TEST) for i in ids):
        _container_build = container_build.start(Path(directory))


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook; without it, the one below starts the build
def pytest_xdist_node_collection_finished(node: object, ids: Sequence[str]) -> None:
    _start_the_container_build(ids)


def pytest_collection_finish(session: pytest.Session) -> None:
    if _runs_the_session(session.config):
        _start_the_container_build([item.nodeid for item in session.items])


def pytest_unconfigure(config: pytest.Config) -> None:
    if not _runs_the_session(config):
        return
    if _container_build is not None:
        container_build.stop(_container_build)
    directory = os.environ.pop(container_build.DIRECTORY_ENV, None)
    if directory:
        shutil.rmtree(directory, ignore_errors=True)


def collected_static() -> Path:
    """`collectstatic` as `make run` does it, into a directory named after the sources.

    Hashing and compressing (brotli at its best, for Django's admin files too) takes
    20 s on a busy machine, so it runs once per change of any static file and is
    shared by later sessions (and by the browser tests' server, which copies it)."""
    import django
    import servestatic
    from django.contrib.staticfiles.finders import get_finders
    from django.core.management import call_command
    from django.test import override_settings

    digest = hashlib.sha256(f"{django.__version__} {servestatic.__version__}".encode())
    for finder in get_finders():
        for path, storage in sorted(finder.list([]), key=lambda found: found[0]):
            stat = os.stat(storage.path(path))
            digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    root = Path(tempfile.gettempdir()) / f"playground-static-{digest.hexdigest()[:20]}"
    if not (root / "staticfiles.json").is_file():
        partial = Path(tempfile.mkdtemp(prefix=f"{root.name}-", dir=root.parent))
        with override_settings(STATIC_ROOT=partial):
            call_command("collectstatic", interactive=False, verbosity=0)
        try:
            partial.rename(root)
        except OSError:  # another session finished first: its copy is the same
            shutil.rmtree(partial, ignore_errors=True)
    return root


@pytest.fixture(scope="session", autouse=True)
def _collected_static() -> Iterator[Path]:
    """Pages link hashed names in every test, exactly as they do when deployed."""
    from django.test import override_settings

    root = collected_static()
    with override_settings(STATIC_ROOT=root):
        yield root


def _reads_take_no_table_locks(sender: object, connection: Any, **kwargs: object) -> None:
    """The test database is Django's in-memory SQLite with a shared cache, where a
    reader holds a lock on each table it reads and a write on another thread fails at
    once ("database table is locked"): a failure the playground's own database (a file
    in WAL mode, whose readers never block the writer) does not have. A run's final
    save met a render on a pool thread that way. Reading uncommitted rows takes no
    table locks; the test's threads share one database, as the server's do."""
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")


connection_created.connect(_reads_take_no_table_locks)


@pytest.fixture(autouse=True)
def _isolated_data_dir(settings, tmp_path):
    settings.FIELD_ENCRYPTION_KEY = "7Rmxz3pJmB0XcQ5h4aZzG0Z9jQyZ2bYcJ3m2s3b9aXk="
    settings.FRAME_INTERVAL = 0.02
    settings.CHECKPOINT_INTERVAL = 0.2
    # No background heartbeat in the test process's loops (operations.heartbeat; its tests start it).
    settings.WORKER_HEARTBEAT_INTERVAL = 0
    # One user runs many turns in a test run; the per-user limits are tested in test_limits.
    settings.MAX_CONCURRENT_RUNS = 1_000_000
    settings.RUNS_PER_MINUTE = 1_000_000
    from playground import crypto

    crypto._fernet.cache_clear()
    yield
    crypto._fernet.cache_clear()


@pytest.fixture(autouse=True)
def _forget_runs_of_closed_loops():
    """A test whose requests ran on a loop of their own (Django's sync test client
    runs each async view on a fresh loop, closed when the response is made) can
    leave a run whose task died with that loop, so its `finally` never took it out
    of RUNS. A server's loop lives as long as the server; here the entry would only
    mislead the next test that waits for "every run", so it is dropped."""
    yield
    from playground.streaming.run import RUNS

    for turn_id, run in list(RUNS.items()):
        if run.task is None or run.task.done() or run.task.get_loop().is_closed():
            RUNS.pop(turn_id, None)


@pytest.fixture
def builtin_prompts(request: pytest.FixtureRequest) -> None:
    """The built-in prompts, as their data migration made them. A transactional test
    ends by flushing every table (pytest-django), data migrations' rows too, and the
    tests after it on the same worker (xdist hands out whole files) would find none."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    from playground.prompts.builtins import ensure_builtin_prompts

    ensure_builtin_prompts()


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("olivia", password="correct horse battery")


@pytest.fixture
def stranger(django_user_model):
    return django_user_model.objects.create_user("sam", password="another horse battery")


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("ada", password="admin horse battery")


@pytest.fixture
def scripted():
    from reasoning.testing.scripted import scripted

    scripted.reset()
    yield scripted
    scripted.reset()


@pytest.fixture
def scripted_model(db):
    from playground.models import ModelProfile, Provider

    provider = Provider.objects.create(name="scripted", kind="scripted")
    return ModelProfile.objects.create(
        provider=provider, model_id="scripted-1", label="Scripted", reasoning="native",
        efforts=["low", "high"], thinking_control="reasoning_effort",
    )


@pytest.fixture
def simulator_model(db):
    from playground.management.commands.bootstrap import seed_simulator

    return seed_simulator().models.get(model_id="simulator")
