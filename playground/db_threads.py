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
from typing import Any

from asgiref.sync import SyncToAsync
from django.db import connections


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
