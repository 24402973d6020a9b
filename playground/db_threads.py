"""Database connections and the threads of an ASGI process (issue 23.3, 23.4).

Django serves each ASGI request inside an asgiref `ThreadSensitiveContext`: the
request's `sync_to_async` work runs on a thread made for that request, with a
database connection of its own that no later request can reuse. Two costs follow:

* The connection outlives the thread: `CONN_MAX_AGE` keeps it open, and the
  wrapper's reference cycles free it only at a full garbage collection, which the
  server's tuned GC makes rare. Under steady load the process piles up SQLite
  connections (each with its own page cache): RSS grew by tens of MB over runs.
  `close_request_connections` closes them when the request ends.
* A run started by a request (the API's) inherits the request's context, so every
  checkpoint of the run would go to a thread (and connection) of its own, made
  again for each run. `detached_context()` gives the run a context without it:
  its database work goes to asgiref's one thread-sensitive thread for the
  process, on one kept-open connection, like the chat socket's runs.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import SyncToAsync
from channels.db import database_sync_to_async
from django.db import connections

T = TypeVar("T")


def detached_context() -> contextvars.Context:
    """The current context without the request's thread-sensitive context."""
    context = contextvars.copy_context()
    if SyncToAsync.thread_sensitive_context.get(None) is not None:
        context.run(SyncToAsync.thread_sensitive_context.set, None)  # type: ignore[arg-type]
    return context


def close_request_connections(**_: Any) -> None:
    """`request_finished`: on a request's own thread (ASGI), close its connections:
    the thread is not used again. Elsewhere (WSGI, tests' sync client, the shared
    thread) connections are left to Django's usual `CONN_MAX_AGE` handling."""
    if SyncToAsync.thread_sensitive_context.get(None) is None:
        return
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close()


def off_the_shared_thread(func: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """`database_sync_to_async` on a pool thread (the loop's default executor: a
    few threads, kept, each with its connection), not asgiref's one thread-sensitive
    thread, which carries the chat's starts and every run's writes in order (issue
    23.3). For work no run's write must come before: a session check, a render, an
    API request's own start. With all of it on one thread, 200 turns started at
    once went through in stages (every session check, then every start, then every
    render: no first frame before all 200 were stored), and a finished turn's render
    held up the next starts. Not a request's own thread either: that would open a
    connection for the one request. SQLite's WAL lets the pool read while the
    shared thread writes; writers wait for each other (IMMEDIATE, the busy timeout)."""
    return database_sync_to_async(func, thread_sensitive=False)
