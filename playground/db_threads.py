"""Database connections and the threads of an ASGI process (issue 23.3, 23.4).

Django serves each ASGI request inside an asgiref `ThreadSensitiveContext`, and
by default that context makes a thread for the request (and a second one to join
it at the end): its `sync_to_async` work runs there, on a database connection of
its own that no later request can reuse. Under steady load that is a thread, a
thread join and a SQLite connection (opened, its PRAGMAs run, its page cache
filled) per request, and glibc's heap never gives back what the churn leaves
behind: the server grew ~8 MB per round of 40 API streams while its live
objects stayed flat (docs/performance.md). With the same work on kept threads
the heap stays flat.

So requests run on `RequestThreads`: a few kept single-worker threads, each with
its kept-open connection (`CONN_MAX_AGE` and Django's `close_old_connections`
manage it as a WSGI worker thread's). A request takes the thread with the fewest
requests on it; all its thread-sensitive calls run there, one at a time, as
before. `REQUEST_THREADS` sets how many (a slow synchronous view holds up only the
requests that share its thread).

* Work that outlives its request (a run, a sweep, the API's clean-up) must not
  keep the request's context: asgiref refuses thread-sensitive calls from a
  context that has exited. `detached_context()` gives it a context without it:
  its database work goes to asgiref's one thread-sensitive thread for the process,
  on one kept-open connection, like the chat socket's runs.
* Handlers that still make a thread per request (Django's own, as the test
  client's) close that thread's connections when the request ends
  (`close_request_connections`): the thread is not used again.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync, ThreadSensitiveContext
from channels.db import DatabaseSyncToAsync
from django.core.handlers.asgi import ASGIHandler
from django.db import connections

T = TypeVar("T")

_kept = threading.local()


def _mark_kept() -> None:
    _kept.thread = True


def on_kept_thread() -> bool:
    """True on one of `RequestThreads`' threads (their connections are reused)."""
    return getattr(_kept, "thread", False)


class RequestThreads:
    """`size` kept single-worker executors; `take()` the least busy, `give_back()` it."""

    def __init__(self, size: int) -> None:
        self.size = max(1, size)
        self._executors: list[ThreadPoolExecutor] = []
        self._requests: list[int] = []

    def take(self) -> int:
        """The index of the executor with the fewest requests on it (made on first use)."""
        if len(self._executors) < self.size and (not self._requests or min(self._requests) > 0):
            self._executors.append(
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="request", initializer=_mark_kept)
            )
            self._requests.append(0)
        index = min(range(len(self._requests)), key=self._requests.__getitem__)
        self._requests[index] += 1
        return index

    def give_back(self, index: int) -> None:
        self._requests[index] -= 1

    def executor(self, index: int) -> ThreadPoolExecutor:
        return self._executors[index]

    @property
    def started(self) -> int:
        return len(self._executors)


class KeptThreadsASGIHandler(ASGIHandler):
    """Django's ASGI handler, with each request's synchronous work on one of a few
    kept threads (`RequestThreads`) instead of a thread made for it."""

    threads: RequestThreads | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        threads = self.threads or request_threads()
        index = threads.take()
        try:
            async with ThreadSensitiveContext(executor=threads.executor(index)):
                await self.handle(scope, receive, send)
        finally:
            threads.give_back(index)


_threads: RequestThreads | None = None


def request_threads() -> RequestThreads:
    """The process's request threads (one set for every handler: pages and /v1)."""
    global _threads
    if _threads is None:
        from django.conf import settings

        _threads = RequestThreads(int(getattr(settings, "REQUEST_THREADS", 4)))
    return _threads


def kept_threads_asgi_application() -> KeptThreadsASGIHandler:
    """`django.core.asgi.get_asgi_application()`, on kept request threads."""
    import django

    django.setup(set_prefix=False)
    return KeptThreadsASGIHandler()


def detached_context() -> contextvars.Context:
    """The current context without the request's thread-sensitive context."""
    context = contextvars.copy_context()
    if SyncToAsync.thread_sensitive_context.get(None) is not None:
        context.run(SyncToAsync.thread_sensitive_context.set, None)  # type: ignore[arg-type]
    return context


def close_request_connections(**_: Any) -> None:
    """`request_finished`: on a thread made for this request alone (Django's own
    ASGI handler), close its connections: the thread is not used again. Kept
    request threads keep theirs; elsewhere (WSGI, the tests' sync client, the
    shared thread) connections are left to Django's usual `CONN_MAX_AGE` handling."""
    if SyncToAsync.thread_sensitive_context.get(None) is None or on_kept_thread():
        return
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def off_the_shared_thread(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """`database_sync_to_async` on one of the kept request threads (`request_threads()`:
    a few threads, each with its kept-open connection), not asgiref's one
    thread-sensitive thread, which carries the chat's starts and every run's writes in
    order (issue 23.3). For work no run's write must come before: a session check, a
    render, an API request's own start. With all of it on one thread, 200 turns started
    at once went through in stages (every session check, then every start, then every
    render: no first frame before all 200 were stored), and a finished turn's render
    held up the next starts. Not a request's own thread (a connection opened for one
    request) and not the loop's default pool (one more connection per pool thread, as
    many threads as the machine has cores plus four): the kept threads bound the
    process's connections (issue 23.4). SQLite's WAL lets them read while the shared
    thread writes; writers wait for each other (IMMEDIATE, the busy timeout)."""

    async def on_a_kept_thread(*args: Any, **kwargs: Any) -> T:
        if SyncToAsync.thread_sensitive_context.get(None) is not None:
            # Inside an HTTP request (KeptThreadsASGIHandler): its own kept thread and
            # connection, already taken for it; a second one would only add a connection.
            return await DatabaseSyncToAsync(func)(*args, **kwargs)
        threads = request_threads()
        index = threads.take()
        try:
            call = DatabaseSyncToAsync(func, thread_sensitive=False, executor=threads.executor(index))
            return await call(*args, **kwargs)
        finally:
            threads.give_back(index)

    return on_a_kept_thread
