"""A small MCP server for the tool-loop tests, written with the official `mcp` SDK
(MCPServer, FastMCP's name since mcp 2). It runs as its own process, over stdio
(the default) or streamable HTTP (`--http`: binds 127.0.0.1 on an ephemeral port
and prints `PORT <n>` on stdout once it listens).

Tools: `now` (the time in a fixed zone), `add`, `divide` (fails on zero),
`sleep` (for timeouts), `environment` (the names and values of its environment:
the env-isolation test reads it), `echo` (returns its text: size limits).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import socket
import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("clock")


@server.tool()
def now(zone: str = "UTC") -> str:
    """The current time in ISO 8601 (only UTC is known here)."""
    if zone != "UTC":
        raise ToolError(f"unknown time zone {zone!r}")
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


@server.tool()
def add(a: float, b: float) -> float:
    """a + b"""
    return a + b


@server.tool()
def divide(a: float, b: float) -> float:
    """a / b"""
    if b == 0:
        raise ToolError("division by zero")
    return a / b


@server.tool()
async def sleep(seconds: float) -> str:
    """Wait, then say so."""
    await asyncio.sleep(seconds)
    return f"slept {seconds}"


@server.tool()
def environment() -> dict[str, str]:
    """This process's environment variables."""
    return dict(os.environ)


@server.tool()
def echo(text: str) -> str:
    """The text, unchanged."""
    return text


def serve_http() -> None:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    app = server.streamable_http_app(host="127.0.0.1")
    config = uvicorn.Config(app, log_level="warning")
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    if "--http" in sys.argv:
        serve_http()
    else:
        server.run()
