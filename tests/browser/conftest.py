"""The browser harness: the real server in a subprocess and Debian's Chromium.

    server            session: `daphne playground.asgi:application` on a free loopback
                      port, over a fresh DATA_DIR (SQLite, in-memory layer) that was
                      migrated and bootstrapped, with two known users and the
                      static files collected. `.url(path)`,
                      `.manage(...)`, `.create_user(...)`, `.log_tail()`.
    page              a Playwright (sync API) page in /usr/bin/chromium, in a fresh
                      browser context per test (one browser per worker, kept while
                      browser tests follow one another).
    logged_in_page    the same, logged in as `server.user` through the real login form.
    screenshot        `screenshot(page, name)`: PNG into docs/screenshots/ when
                      SCREENSHOTS=1 (for the README), else into the test's tmp dir.

Browser tests are plain sync functions: Playwright's sync API drives its own event
loop, which must not be running inside pytest-asyncio's. Tests marked `browser`
are skipped with a reason when Chromium is missing, except on CI (CI=true), where
a missing browser is a failure: a green CI run must have driven a real browser.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.manage_process import ManageProcess
from tests.migrated import migrate

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Fixed so a failing run can be repeated against its DATA_DIR; never a real key.
FIELD_ENCRYPTION_KEY = "tTnYl6bEyuSgpnrUQrXqT0Vb4o3b2JfOeYt5gYy6xjQ="
# Fast enough for a quick suite, slow enough that the thought block visibly streams.
SIMULATOR_TOKENS_PER_SECOND = os.environ.get("BROWSER_SIMULATOR_TOKENS_PER_SECOND", "400")
SCREENSHOT_DIR = ROOT / "docs" / "screenshots"
# Server-side settings that would point the test server at shared services.
SCRUBBED_ENV = ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "SECRET_KEY", "DEBUG")


def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.browser)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") is None or CHROMIUM.exists():
        return
    if on_ci():
        pytest.fail(f"{CHROMIUM} is missing and CI=true: install it (apt-get install chromium)")
    pytest.skip(f"browser test needs {CHROMIUM} (apt-get install chromium)")


@dataclass
class Server:
    """A running daphne process over its own DATA_DIR."""

    base_url: str
    data_dir: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    user: str = "tess"
    password: str = "tess correct horse battery"
    admin: str = "ada"
    admin_password: str = "ada correct horse battery"
    extra_users: dict[str, str] = field(default_factory=dict)
    # One kept Django process runs the commands (tests/manage_process.py), not one each.
    commands: ManageProcess | None = field(default=None, repr=False)

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def manage(
        self, *args: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a management command against this server's database (`env`: extra variables)."""
        if env:  # read at the command's start: a process of its own
            return manage({**self.env, **env}, *args, check=check)
        if self.commands is None:
            self.commands = ManageProcess(self.env, ROOT, self.data_dir / "manage.log")
        result = self.commands.run(*args)
        if check and result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def shell(self, code: str) -> str:
        """Run Python in `manage.py shell` against this server's database; its stdout."""
        return self.manage("shell", "-c", code).stdout

    def create_user(self, username: str, password: str, *, admin: bool = False) -> None:
        self.shell(create_users_code([(username, password, admin)]))
        self.extra_users[username] = password

    def close(self) -> None:
        if self.commands is not None:
            self.commands.close()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def manage(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def create_users_code(users: list[tuple[str, str, bool]], then: str = "") -> str:
    """Code to create (or reset) `users`; `then`: a management command to run next."""
    code = (
        "from django.contrib.auth import get_user_model\n"
        "User = get_user_model()\n"
        f"for name, password, admin in {users!r}:\n"
        "    user, _ = User.objects.get_or_create(username=name)\n"
        "    user.set_password(password)\n"
        "    user.is_staff = user.is_superuser = admin\n"
        "    user.save()\n"
    )
    if then:
        code += f"from django.core.management import call_command\ncall_command({then!r})\n"
    return code


def create_users(env: dict[str, str], users: list[tuple[str, str, bool]], then: str = "") -> None:
    """Create (or reset) `users` in a process of their own; `then`: a command to run next in it."""
    manage(env, "shell", "-c", create_users_code(users, then))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_health(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 120) -> None:
    # Returns as soon as the server answers; the long deadline is for a machine
    # running several suites at once, where a daphne start took over 30 s and the
    # session's server failing would fail every browser test of the worker.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"daphne exited with {process.returncode}:\n{log_path.read_text(errors='replace')}"
            )
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url}/health did not answer within {timeout} s:\n{log_path.read_text(errors='replace')}")


def server_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(
        DATA_DIR=str(data_dir),
        FIELD_ENCRYPTION_KEY=FIELD_ENCRYPTION_KEY,
        SIMULATOR_TOKENS_PER_SECOND=SIMULATOR_TOKENS_PER_SECOND,
        DJANGO_SETTINGS_MODULE="tests.settings",  # tests/settings.py: a quick password hasher
        PYTHONUNBUFFERED="1",
        # One user runs every browser test's turns: the per-user limits are tested in test_limits.
        MAX_CONCURRENT_RUNS="1000000",
        RUNS_PER_MINUTE="1000000",
    )
    return env


@pytest.fixture(scope="session")
def server(_collected_static: Path) -> Iterator[Server]:
    data_dir = Path(tempfile.mkdtemp(prefix="playground-browser-"))
    env = server_env(data_dir)
    # What `make run`'s collectstatic makes (hashed names, .gz/.br), from the session's copy.
    shutil.copytree(_collected_static, data_dir / "staticfiles")
    migrate(data_dir)  # a copy of the migrated database (tests/migrated.py)
    plain = Server.__dataclass_fields__
    user, password = plain["user"].default, plain["password"].default
    admin, admin_password = plain["admin"].default, plain["admin_password"].default
    # Users first, so bootstrap does not invent an admin with a random password;
    # one Django start for both.
    create_users(env, [(user, password, False), (admin, admin_password, True)], then="bootstrap")
    log_path = data_dir / "daphne.log"
    for _attempt in range(3):  # a free port can be taken between probe and bind
        port = free_port()
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                 "playground.asgi:application"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            )
        base_url = f"http://127.0.0.1:{port}"
        try:
            wait_for_health(base_url, process, log_path)
            break
        except RuntimeError:
            if process.poll() is None:
                process.kill()
            process.wait()
            if "Address already in use" not in log_path.read_text(errors="replace"):
                raise
    else:
        raise RuntimeError(f"daphne could not bind a port:\n{log_path.read_text(errors='replace')}")
    running = Server(base_url=base_url, data_dir=data_dir, env=env, process=process, log_path=log_path)
    try:
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


@pytest.fixture
def brief_long_thoughts(server: Server) -> Iterator[None]:
    """The "long thoughts" simulator thinks ~800 tokens instead of its 3,000 during the test.

    For tests that need its thought to be another than the quick simulator's (a
    column of its own, a diff, a tall folded block, a blind name) but never act while
    it streams: at the suite's 400 tokens a second its turn takes 2 s instead of 7.5,
    and a comparison test runs up to four such rounds. Tests that act mid-stream
    (stop, scroll, reload, cut the connection) keep the full thought."""
    read = (
        "import json\nfrom playground.models import ModelProfile\n"
        "print(json.dumps(ModelProfile.objects.get(model_id='simulator-long').options))\n"
    )
    options = json.loads(server.shell(read).strip().splitlines()[-1])

    def store(value: dict[str, object]) -> None:
        server.shell(
            "from playground.models import ModelProfile\n"
            f"ModelProfile.objects.filter(model_id='simulator-long').update(options={value!r})\n"
        )

    store({**options, "reasoning_tokens": 800})
    try:
        yield
    finally:
        store(options)


class _SharedChromium:
    """One Playwright driver and one Chromium per test worker, kept while browser
    tests follow one another (the suite runs them file after file on a worker).

    Starting the driver (a Node.js process) and Chromium costs a second or two of
    CPU and, on a busy machine, several seconds of waiting: per module that was
    minutes of the suite. While the sync driver is up, its event loop counts as
    running in this thread, so no other test could run asyncio (pytest-asyncio,
    asgiref's async_to_sync): the driver is stopped as soon as the next test is
    not a browser test (`pytest_runtest_teardown` below), and started again by
    the next browser test that needs it."""

    def __init__(self) -> None:
        self._manager: object | None = None
        self.driver: object | None = None
        self._browser: object | None = None

    def playwright(self) -> object:
        if self.driver is None:
            from playwright.sync_api import sync_playwright

            self._manager = sync_playwright()
            self.driver = self._manager.__enter__()  # type: ignore[attr-defined]
        return self.driver

    def browser(self) -> object:
        if self._browser is None or not self._browser.is_connected():  # type: ignore[attr-defined]
            driver = self.playwright()
            self._browser = driver.chromium.launch(  # type: ignore[attr-defined]
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        return self._browser

    def close_contexts(self) -> None:
        """What a test module left open in the shared browser goes with the module."""
        if self._browser is not None and self._browser.is_connected():  # type: ignore[attr-defined]
            for context in list(self._browser.contexts):  # type: ignore[attr-defined]
                context.close()

    def stop(self) -> None:
        browser, manager = self._browser, self._manager
        self._browser = self._manager = self.driver = None
        try:
            if browser is not None and browser.is_connected():  # type: ignore[attr-defined]
                browser.close()  # type: ignore[attr-defined]
        finally:
            if manager is not None:
                manager.__exit__(None, None, None)  # type: ignore[attr-defined]


SHARED = _SharedChromium()


def _is_browser_test(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker("browser") is not None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    try:
        return (yield)  # the test's fixtures first: its contexts, its module's fixtures
    finally:
        if not _is_browser_test(nextitem):
            SHARED.stop()


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[object]:
    """The worker's Playwright driver (sync API), for a test module: shared with the
    browser modules run before and after it on the worker (`_SharedChromium`)."""
    yield SHARED.playwright()


@pytest.fixture(scope="module")
def chromium(playwright_driver) -> Iterator[object]:
    """The worker's Chromium, shared by consecutive browser modules (starting one
    takes a second or more on a busy machine); each test gets a context of its own
    in it, and the contexts a module leaves open are closed with the module."""
    try:
        yield SHARED.browser()
    finally:
        SHARED.close_contexts()


@pytest.fixture
def browser_context(chromium) -> Iterator[object]:
    """A fresh browser context: no cookies, storage or cache carried between tests
    (what a fresh profile gave, without starting a browser per test)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(10_000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def phone_page(chromium, server: Server) -> Iterator[object]:
    """A logged-in page on a phone in the dark: 390×844, touch, a mobile viewport."""
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True, has_touch=True
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, server)
        yield page
    finally:
        context.close()


@pytest.fixture
def page(browser_context) -> object:
    pages = browser_context.pages
    return pages[0] if pages else browser_context.new_page()


def log_in(page, server: Server, username: str | None = None, password: str | None = None) -> None:
    """Log in through the real login form and wait for the chat page."""
    page.goto(server.url("/login/"))
    page.get_by_label("Username").fill(username or server.user)
    page.get_by_label("Password").fill(password or server.password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.fixture
def logged_in_page(page, server: Server) -> object:
    log_in(page, server)
    return page


@pytest.fixture
def errors(logged_in_page) -> list[str]:
    """The uncaught errors of the logged-in page's scripts, to assert there were none."""
    seen: list[str] = []
    logged_in_page.on("pageerror", lambda e: seen.append(str(e)))
    return seen


@pytest.fixture
def admin_page(page, server: Server) -> object:
    log_in(page, server, server.admin, server.admin_password)
    return page


def screenshot(page, name: str, directory: Path | None = None) -> Path:
    """Save a PNG of the page: into docs/screenshots/ when SCREENSHOTS=1, for the README."""
    if os.environ.get("SCREENSHOTS") == "1":
        directory = SCREENSHOT_DIR
    elif directory is None:
        directory = Path(tempfile.gettempdir()) / "playground-screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@pytest.fixture(name="screenshot")
def screenshot_fixture(tmp_path: Path) -> Callable[..., Path]:
    def take(page, name: str) -> Path:
        return screenshot(page, name, tmp_path / "screenshots")

    return take
