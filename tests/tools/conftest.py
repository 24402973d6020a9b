"""Real MCP servers for the tool-loop tests: tests/tools/servers/clock_server.py,
written with the official `mcp` SDK, run as its own process over stdio (started
by the client under test) or over streamable HTTP (started here on an ephemeral
port)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CLOCK_SERVER = Path(__file__).parent / "servers" / "clock_server.py"


@pytest.fixture
def clock_http() -> Iterator[str]:
    """The clock server over streamable HTTP: its URL."""
    process = subprocess.Popen(
        [sys.executable, str(CLOCK_SERVER), "--http"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("PORT "), line
        yield f"http://127.0.0.1:{int(line.split()[1])}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def clock_server(db):
    """The clock server configured as an admin would, over stdio."""
    from playground.models import McpServer

    return McpServer.objects.create(
        name="clock", command=sys.executable, args=[str(CLOCK_SERVER)], env={"TZ": "UTC", "CLOCK_TOKEN": "tok-123"}
    )
