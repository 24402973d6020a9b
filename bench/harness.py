"""Processes and clients the relay benchmarks share.

* `Upstream`: the fake provider process (`bench.upstream_proc`), pinned to the
  bench's core.
* `Server`: the real server — a temp DATA_DIR, `migrate`, `bootstrap`, the bench's
  seed (`bench.setup_db`), then daphne serving `bench.serve:application` pinned to
  a core of its own. `cpu_seconds()` and `rss_mb()` read its /proc accounting.
* `Socket`: one logged-in websocket on a conversation; `turn()` sends a prompt
  and records every frame of the resulting turn (time, reasoning and answer lengths,
  bytes) until the final re-render.

All times are `time.monotonic()`: one clock for every process on the machine.
"""

from __future__ import annotations

import array
import asyncio
import base64
import contextlib
import html
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
CORES = sorted(os.sched_getaffinity(0))
# The server gets the first core; the bench client and the fake provider share the other.
SERVER_CORES = {CORES[0]}
# The statements the server's counter (bench/serve.py) calls queries; it counts BEGIN,
# COMMIT and savepoints as "transaction", PRAGMA and the like as "other".
DATA_KINDS = ("select", "insert", "update", "delete")

BENCH_CORES = {CORES[-1]} if len(CORES) > 1 else set(CORES)
CLK_TCK = os.sysconf("SC_CLK_TCK")

APPEND = re.compile(r'<div hx-swap-oob="beforeend:#t(\d+)-([rc])">(.*?)</div>', re.S)
STARTED = re.compile(r'data-turn="(\d+)"')
FINAL = re.compile(r'id="turn-(\d+)"[^>]*hx-swap-oob="outerHTML"')


def pin_self() -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, BENCH_CORES)


def _pinned(cores: set[int]) -> Any:
    def preexec() -> None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, cores)

    return preexec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    """utime + stime of a whole process (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_run_delay_seconds(pid: int) -> float:
    """How long the process's threads have waited, runnable, for a core (/proc schedstat:
    the scheduler's run-queue delay), summed over its threads. On a shared machine a
    load's lateness is this as much as the code: a server that waited a second of a
    10 s load for its core was late by that, whatever it does per chunk. (A server on
    one core also waits behind its own other threads: its database thread, when both
    are runnable at once, as during a burst of starts.)"""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):  # a thread gone meanwhile
            total += int((task / "schedstat").read_text().split()[1])
    return total / 1e9


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


class Upstream:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PY, "-m", "bench.upstream_proc"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            preexec_fn=_pinned(BENCH_CORES),
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(json.loads(self.proc.stdout.readline())["port"])
        self.url = f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    async def times(self, tags: list[str]) -> dict[str, list[float]]:
        """Write times per tag: [head, chunk 0, chunk 1, …, end] (handed out once)."""
        out: dict[str, list[float]] = {}
        async with httpx.AsyncClient(timeout=60) as client:
            for i in range(0, len(tags), 200):
                batch = tags[i : i + 200]
                r = await client.get(f"{self.url}/stats", params={"tags": ",".join(batch)})
                for tag, b64 in r.json().items():
                    out[tag] = array.array("d", base64.b64decode(b64)).tolist()
        return out

    def close(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _migrate_and_seed(env: dict[str, str], upstream: Upstream, conversations: int) -> dict[str, Any]:
    run = {"cwd": ROOT, "env": env, "check": True, "capture_output": True, "text": True}
    subprocess.run([PY, "manage.py", "migrate", "--noinput"], **run)  # type: ignore[call-overload]
    subprocess.run([PY, "manage.py", "bootstrap"], **run)  # type: ignore[call-overload]
    out = subprocess.run(  # type: ignore[call-overload]
        [PY, "-m", "bench.setup_db", "--upstream", upstream.url, "--conversations", str(conversations)],
        **run,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


class Server:
    def __init__(
        self, upstream: Upstream, *, conversations: int, env: dict[str, str] | None = None,
        seeded: tuple[Path, dict[str, Any]] | None = None, code: Path = ROOT,
    ) -> None:
        """`seeded`: a copy of `seed_template()`'s data dir and seed instead of
        migrating and seeding again (several servers of one section). `code`: the
        checkout the server runs (another one, to compare in one run)."""
        self.data_dir = Path(tempfile.mkdtemp(prefix="bench-data-"))
        if seeded is not None:
            shutil.copytree(seeded[0], self.data_dir, dirs_exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATA_DIR": str(self.data_dir),
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "playground.settings",
            # The bench drives many streams as one user: the per-user limits would refuse them.
            "MAX_CONCURRENT_RUNS": "1000000",
            "RUNS_PER_MINUTE": "1000000",
            **(env or {}),
        }
        self.env.pop("DATABASE_URL", None)
        if not (env or {}).get("REDIS_URL"):
            self.env.pop("REDIS_URL", None)
        seed = seeded[1] if seeded is not None else self.seed(upstream, conversations)
        self.session: str = seed["session"]
        self.model: int = seed["model"]
        self.conversations: list[int] = seed["conversations"]
        self._next = 0
        self.log = open(self.data_dir / "daphne.log", "w")  # noqa: SIM115
        # The product's launcher (uvloop, the tuned GC) around daphne; `env` may
        # turn its parts off (bench/__main__.py's "candidates" section).
        # A loaded machine may take longer than daphne's 5 s for 50 handshakes at once.
        command = [PY, "-m", "playground.server", "-b", "127.0.0.1", "-p", str(self.port),
                   "--websocket_connect_timeout", "60", "bench.serve:application"]
        kind = self.env.pop("BENCH_SERVER", "daphne")
        if kind.startswith("uvicorn-"):  # issue 23.1: the same app under uvicorn (bench.uvicorn_serve)
            command = [PY, "-m", "bench.uvicorn_serve", "--port", str(self.port), "--http", kind.split("-", 1)[1]]
        if extra := self.env.pop("BENCH_EXTRA_PATH", ""):  # a package measured but not in the venv
            self.env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, self.env.get("PYTHONPATH", "")) if p)
        self.proc = subprocess.Popen(
            command,
            cwd=code,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=_pinned(SERVER_CORES),
        )
        # 30 s was not enough for a start-up at load 25 (seven other suites on two cores).
        try:
            wait_until_up(
                f"{self.url}/__bench__/stats", self.proc, 90, lambda: f"daphne did not start: {self.log_tail()}"
            )
        except BaseException:
            self.proc.kill()  # a server that came up late would otherwise outlive the bench
            self.proc.wait()
            raise

    def seed(self, upstream: Upstream, conversations: int) -> dict[str, Any]:
        return _migrate_and_seed(self.env, upstream, conversations)

    @staticmethod
    def seed_template(upstream: Upstream, conversations: int) -> tuple[Path, dict[str, Any]]:
        """A migrated, seeded data dir (no server on it) for `Server(seeded=...)`."""
        data_dir = Path(tempfile.mkdtemp(prefix="bench-seed-"))
        env = {**os.environ, "DATA_DIR": str(data_dir), "DEBUG": "false", "LOG_LEVEL": "WARNING",
               "DJANGO_SETTINGS_MODULE": "playground.settings"}
        env.pop("DATABASE_URL", None)
        env.pop("REDIS_URL", None)
        return data_dir, _migrate_and_seed(env, upstream, conversations)

    @property
    def origin(self) -> str:
        return self.url

    def take_conversations(self, n: int) -> list[int]:
        """`n` conversations, round-robin over the pool (so contexts stay short)."""
        out = [self.conversations[(self._next + i) % len(self.conversations)] for i in range(n)]
        self._next = (self._next + n) % len(self.conversations)
        return out

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def rss_mb(self) -> float:
        return proc_rss_mb(self.proc.pid)

    def run_delay_seconds(self) -> float:
        return proc_run_delay_seconds(self.proc.pid)

    async def stats(self, reset: bool = False) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.get(f"{self.url}/__bench__/{'reset' if reset else 'stats'}")
            return dict(r.json())

    def log_tail(self) -> str:
        self.log.flush()
        return (self.data_dir / "daphne.log").read_text()[-2000:]

    def close(self) -> None:
        stop(self.proc)
        self.log.close()
        shutil.rmtree(self.data_dir, ignore_errors=True)


def wait_until_up(url: str, proc: subprocess.Popen[Any], seconds: float, why: Any) -> None:
    """Poll `url` until it answers 2xx; `why()` is the error if `proc` dies or time runs out."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(why()) from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def prompt(tag: str, r: int, c: int, rate: float = 0, ttfb: float = 0) -> str:
    return "bench " + json.dumps({"tag": tag, "r": r, "c": c, "rate": rate, "ttfb": ttfb})


@dataclass
class TurnRecord:
    tag: str
    r_tokens: int
    c_tokens: int
    rate: float
    ttfb: float = 0.0
    sent_at: float = 0.0
    turn: int | None = None
    frames: list[tuple[float, int, int]] = field(default_factory=list)  # (t, r chars, c chars)
    messages: int = 0
    bytes: int = 0
    first_r_at: float | None = None
    first_c_at: float | None = None
    done_at: float | None = None
    r_len: int = 0
    c_len: int = 0
    error: str | None = None


class Socket:
    """One browser-like websocket on one conversation."""

    def __init__(self, server: Server, conversation: int) -> None:
        self.server = server
        self.conversation = conversation
        self.ws: Any = None
        self.wire_bytes = 0  # bytes read off the TCP socket after the handshake

    async def open(self, max_queue: int | None = 64, deflate: bool = False) -> Socket:
        """`deflate`: offer permessage-deflate as browsers do (and count what
        arrives on the wire); off by default, so the CPU figures are the relay's."""
        url = f"ws://127.0.0.1:{self.server.port}/ws/conversations/{self.conversation}/"
        self.ws = await websockets.connect(
            url,
            additional_headers={"Cookie": f"sessionid={self.server.session}", "Origin": self.server.origin},
            origin=None,
            compression="deflate" if deflate else None,
            max_size=None,
            max_queue=max_queue,
            open_timeout=60,
            ping_interval=None,
        )
        received = self.ws.data_received

        def counted(data: bytes) -> None:
            self.wire_bytes += len(data)
            received(data)

        self.ws.data_received = counted
        return self

    @property
    def deflated(self) -> bool:
        return any(type(e).__name__ == "PerMessageDeflate" for e in getattr(self.ws.protocol, "extensions", []))

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()

    async def send(self, record: TurnRecord) -> None:
        record.sent_at = time.monotonic()
        body = {
            "action": "send",
            "prompt": prompt(record.tag, record.r_tokens, record.c_tokens, record.rate, record.ttfb),
            "model": self.server.model,
        }
        await self.ws.send(json.dumps(body))

    async def receive(self, record: TurnRecord, timeout: float = 120) -> TurnRecord:  # noqa: ASYNC109
        """Read frames until this turn's final re-render."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                record.error = "timeout"
                return record
            try:
                message = await asyncio.wait_for(self.ws.recv(), left)
            except (TimeoutError, websockets.ConnectionClosed) as e:
                record.error = type(e).__name__
                return record
            now = time.monotonic()
            if self.handle(record, message, now):
                return record

    def handle(self, record: TurnRecord, message: str | bytes, now: float) -> bool:
        """Account one message; True when the turn is done."""
        text = message if isinstance(message, str) else message.decode()
        record.messages += 1
        record.bytes += len(text.encode())
        if record.turn is None and 'beforeend:#turns' in text:
            ids = STARTED.findall(text)
            if ids:
                record.turn = int(ids[-1])
            return False
        final = FINAL.search(text)
        if final and record.turn is not None and int(final.group(1)) == record.turn:
            record.done_at = now
            return True
        grew = False
        for turn, block, escaped in APPEND.findall(text):
            if record.turn is not None and int(turn) != record.turn:
                continue
            n = len(html.unescape(escaped))
            if block == "r":
                record.r_len += n
                if record.first_r_at is None:
                    record.first_r_at = now
            else:
                record.c_len += n
                if record.first_c_at is None:
                    record.first_c_at = now
            grew = True
        if grew:
            record.frames.append((now, record.r_len, record.c_len))
        return False

    async def turn(self, record: TurnRecord, timeout: float = 120) -> TurnRecord:  # noqa: ASYNC109
        await self.send(record)
        return await self.receive(record, timeout)


def token_latencies(record: TurnRecord, writes: list[float], token_chars: int) -> list[float]:
    """Per token (= upstream chunk): client receive time − upstream write time."""
    out: list[float] = []
    r_done = c_done = 0
    for t, r_len, c_len in record.frames:
        r_now, c_now = r_len // token_chars, c_len // token_chars
        for i in range(r_done, min(r_now, record.r_tokens)):
            out.append(t - writes[1 + i])
        for j in range(c_done, min(c_now, record.c_tokens)):
            out.append(t - writes[1 + record.r_tokens + j])
        r_done, c_done = max(r_done, r_now), max(c_done, c_now)
    return out


def max_frames_per_second(record: TurnRecord) -> int:
    """The most frames this turn sent in any one-second window."""
    times = [f[0] for f in record.frames]
    best = lo = 0
    for hi, t in enumerate(times):
        while t - times[lo] >= 1.0:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def open_sockets(server: Server, conversations: list[int], batch: int = 50) -> list[Socket]:
    sockets: list[Socket] = []
    for i in range(0, len(conversations), batch):
        opened = await asyncio.gather(*(Socket(server, c).open() for c in conversations[i : i + batch]))
        sockets.extend(opened)
    return sockets


def which(name: str) -> str | None:
    return shutil.which(name)


def turn_writes(stats: dict) -> int:
    """The writes of `stats` that belong to turns: DESIGN's budget is per turn. A server
    process's own heartbeat (its `playground_worker` row, every WORKER_HEARTBEAT_INTERVAL
    whatever the number of turns) is counted apart (`process_writes`)."""
    return stats["writes"] - process_writes(stats)


def process_writes(stats: dict) -> int:
    by_what = stats.get("writes_by_what") or {}
    return sum(n for what, n in by_what.items() if what.split()[1:2] == ["playground_worker"])
