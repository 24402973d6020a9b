"""The MCP client (reasoning.toolbox.mcp) against a real server written with the
official SDK, over stdio and streamable HTTP: tools listed as ToolSpecs, calls,
and every failure as an error result within its time limit."""

from __future__ import annotations

import json
import os
import sys
import time

import pytest

from reasoning.request import ToolCall
from reasoning.toolbox import Limits
from reasoning.toolbox.mcp import McpServer, McpToolbox, exposed_name
from tests.tools.conftest import CLOCK_SERVER

STDIO = McpServer("clock", command=sys.executable, args=(str(CLOCK_SERVER),), env={"TZ": "UTC"})
FAST = Limits(call_timeout=2, start_timeout=20, argument_chars=200, result_chars=100)


async def call(toolbox: McpToolbox, name: str, arguments: object = None) -> object:
    text = arguments if isinstance(arguments, str) else json.dumps(arguments or {})
    return await toolbox.call(ToolCall("c1", name, text))


async def test_stdio_lists_tools_and_calls_them():
    async with await McpToolbox.start([STDIO], FAST) as toolbox:
        names = [spec.name for spec in toolbox.specs]
        assert {"now", "add", "divide", "sleep", "environment", "echo"} <= set(names)
        add = next(spec for spec in toolbox.specs if spec.name == "add")
        assert add.parameters["required"] == ["a", "b"] and add.description == "a + b"
        result = await call(toolbox, "add", {"a": 2, "b": 3})
        assert (result.content, result.is_error, result.server) == ("5.0", False, "clock")
        assert result.duration_ms >= 0
        assert toolbox.server_of("add") == "clock"


async def test_streamable_http(clock_http):
    async with await McpToolbox.start([McpServer("web-clock", url=clock_http)], FAST) as toolbox:
        assert toolbox.problems == []
        result = await call(toolbox, "divide", {"a": 1, "b": 4})
        assert (result.content, result.is_error, result.server) == ("0.25", False, "web-clock")


async def test_failures_are_error_results_and_nothing_hangs():
    async with await McpToolbox.start([STDIO], FAST) as toolbox:
        failed = await call(toolbox, "divide", {"a": 1, "b": 0})
        assert failed.is_error and "division by zero" in failed.content

        missing = await call(toolbox, "teleport", {})
        assert missing.is_error and "no tool named 'teleport'" in missing.content and "add" in missing.content

        started = time.monotonic()
        slow = await call(toolbox, "sleep", {"seconds": 30})
        assert slow.is_error and "did not answer within 2 s" in slow.content
        assert time.monotonic() - started < 6

        # The session still works after a timeout.
        assert (await call(toolbox, "add", {"a": 1, "b": 1})).content == "2.0"

        not_json = await call(toolbox, "add", "{a: 1")
        assert not_json.is_error and "not valid JSON" in not_json.content
        not_object = await call(toolbox, "add", "[1, 2]")
        assert not_object.is_error and "must be a JSON object" in not_object.content


async def test_size_limits_on_arguments_and_results():
    async with await McpToolbox.start([STDIO], FAST) as toolbox:
        big = await call(toolbox, "echo", {"text": "x" * 500})
        assert big.is_error and "over the limit of 200" in big.content and "was not called" in big.content
        cut = await call(toolbox, "echo", {"text": "y" * 150})
        assert not cut.is_error
        assert cut.content.startswith("y" * 100) and "cut at the limit of 100" in cut.content
        assert "y" * 101 not in cut.content


async def test_a_server_that_fails_to_start_is_a_problem_not_a_hang():
    started = time.monotonic()
    servers = [
        STDIO,
        McpServer("missing", command="/nonexistent/mcp-server"),
        McpServer("crashes", command=sys.executable, args=("-c", "import sys; sys.exit('no config')")),
        McpServer("silent", command=sys.executable, args=("-c", "import time; time.sleep(60)")),
        McpServer("nobody", url="http://127.0.0.1:9/mcp"),
    ]
    async with await McpToolbox.start(servers, Limits(start_timeout=15)) as toolbox:
        problems = dict(toolbox.problems)
        assert set(problems) == {"missing", "crashes", "silent", "nobody"}
        assert "/nonexistent/mcp-server" in problems["missing"]
        assert "no config" in problems["crashes"]
        assert "did not start within 15 s" in problems["silent"]
        # The working server's tools are offered all the same.
        assert "add" in [spec.name for spec in toolbox.specs]
        # A call of a tool the model guessed from a server that is down says why it failed.
        guessed = await call(toolbox, "search", {})
        assert guessed.is_error and "the MCP server missing is not available" in guessed.content
    assert time.monotonic() - started < 40


async def test_stdio_server_gets_only_its_own_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "django-should-not-leak")
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", "fernet-should-not-leak")
    server = McpServer("clock", command=sys.executable, args=(str(CLOCK_SERVER),), env={"TZ": "UTC", "MY_TOKEN": "t"})
    async with await McpToolbox.start([server], Limits(call_timeout=10)) as toolbox:
        result = await call(toolbox, "environment")
    seen = json.loads(result.content)
    # PATH is inherited; LC_CTYPE is set by the server's own Python at start (PEP 538, C locale).
    assert set(seen) - {"LC_CTYPE"} == {"PATH", "TZ", "MY_TOKEN"}, seen
    assert seen["PATH"] == os.environ["PATH"] and seen["MY_TOKEN"] == "t"
    assert "should-not-leak" not in result.content


async def test_single_tools_and_name_clashes(clock_http):
    servers = [
        McpServer("clock", command=sys.executable, args=(str(CLOCK_SERVER),), tools=("add",)),
        McpServer("web", url=clock_http, tools=("add", "now")),
    ]
    async with await McpToolbox.start(servers, FAST) as toolbox:
        assert sorted(spec.name for spec in toolbox.specs) == ["add", "now", "web__add"]
        assert (await call(toolbox, "web__add", {"a": 1, "b": 2})).server == "web"
        assert (await call(toolbox, "add", {"a": 1, "b": 2})).server == "clock"
        assert (await call(toolbox, "divide", {"a": 1, "b": 2})).is_error  # not selected


def test_exposed_names_are_valid_function_names():
    assert exposed_name("s", "files.read/v2", set()) == "files_read_v2"
    assert exposed_name("s", "x", {"x"}) == "s__x"
    assert len(exposed_name("s", "n" * 100, set())) == 64


@pytest.mark.parametrize("bad", ["", "   "])
async def test_empty_arguments_mean_none(bad):
    async with await McpToolbox.start([STDIO], FAST) as toolbox:
        result = await call(toolbox, "now", bad)
        assert not result.is_error and result.content.endswith("+00:00")
