"""Tools from MCP servers, through the official `mcp` SDK as the client.

    servers = [McpServer("clock", command="python3", args=("clock_server.py",), env={"TZ": "UTC"}),
               McpServer("search", url="http://127.0.0.1:9000/mcp")]
    async with await McpToolbox.start(servers, Limits(call_timeout=10)) as toolbox:
        request = dataclasses.replace(request, tools=toolbox.specs)
        result = await toolbox.call(ToolCall("c1", "now", "{}"))   # never raises

Sessions live for one turn: `start` connects to every server of the turn's
selection (in parallel, each within `Limits.start_timeout`) and `aclose` ends
them (a stdio server's process is stopped). Per turn rather than pooled per
process, because a turn is where the selection, and the user, are known: a
stateful server (a scratch file, a browser) is never shared between users or
conversations, a server that crashed or hung is gone with its turn instead of
poisoning a pool, and there is no pool to size or health-check. The price is a
start per turn that uses tools (about a second for a Python server), small next
to a reasoning model's minutes.

Each server's `mcp.Client` is owned by a task of its own (entered and exited in
that task, as anyio's scopes require), so a Stop that cancels the turn, or a
server that fails, never tears through another server's session.

Safety:
* a stdio server runs with the environment it is configured with and PATH
  (inherited unless configured), nothing else of ours: no provider keys, no
  Django secrets. (The SDK adds HOME, USER, SHELL, TERM and LOGNAME; they are
  unset through `env -u`, which puts only their names, never a value, on the
  command line.)
* every failure (a server that does not start, a call that times out, a tool
  that does not exist, arguments that are not JSON or too large) becomes an
  error result for the model; nothing here waits without a limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from reasoning.request import ToolCall, ToolSpec
from reasoning.toolbox import Limits, ToolResult, cut_result, parse_arguments, timed, unknown_tool

log = logging.getLogger(__name__)

# The names a provider accepts for a function (OpenAI's rule, the strictest).
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]")
MAX_TOOL_NAME = 64
MAX_LIST_PAGES = 20
CLOSE_TIMEOUT = 10.0  # the SDK's own shutdown of a stdio server is bounded at about 4.5 s


@dataclass(frozen=True)
class McpServer:
    """One configured MCP server: `command` (+ `args`, `env`) for stdio, or `url`
    for streamable HTTP. `tools`: only these of its tools (None: all of them)."""

    name: str
    command: str = ""
    args: Sequence[str] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str = ""
    tools: Sequence[str] | None = None

    @property
    def transport(self) -> str:
        return "http" if self.url else "stdio"


class ServerUnavailable(Exception):
    """A server could not start or list its tools."""


@dataclass
class _Connection:
    server: McpServer
    limits: Limits
    client: Any = None
    tools: list[Any] = field(default_factory=list)
    error: str | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    async def serve(self) -> None:
        """Own the session: open it, list the tools, hold it until `closing`."""
        from mcp import Client  # the SDK is imported only when tools are used

        errlog: IO[str] | None = tempfile.TemporaryFile("w+") if not self.server.url else None  # noqa: SIM115 (closed below)
        try:
            async with Client(self._transport(errlog), read_timeout_seconds=self.limits.call_timeout) as client:
                self.tools = await _list_tools(client)
                self.client = client
                self.ready.set()
                await self.closing.wait()
        except asyncio.CancelledError:
            if self.error is None:
                self.error = "stopped"
            raise
        except BaseException as e:  # an ExceptionGroup from the SDK's task groups too
            self.error = _describe(e, errlog)
            log.info("MCP server %s failed: %s", self.server.name, self.error)
        finally:
            self.client = None
            self.ready.set()
            if errlog is not None:
                errlog.close()

    def _transport(self, errlog: IO[str] | None) -> Any:
        from mcp.client.stdio import stdio_client
        from mcp.client.streamable_http import streamable_http_client

        if self.server.url:
            return streamable_http_client(self.server.url)
        return stdio_client(isolated(self.server), errlog=errlog)  # type: ignore[arg-type]


def isolated(server: McpServer) -> Any:
    """The stdio launch of `server` with only its own environment (and PATH)."""
    from mcp.client.stdio import DEFAULT_INHERITED_ENV_VARS, StdioServerParameters

    added = [name for name in DEFAULT_INHERITED_ENV_VARS if name != "PATH" and name not in server.env]
    unset = [part for name in added for part in ("-u", name)]
    env_program = shutil.which("env") or "/usr/bin/env"
    return StdioServerParameters(
        command=env_program, args=[*unset, "--", server.command, *server.args], env=dict(server.env)
    )


async def _list_tools(client: Any) -> list[Any]:
    tools: list[Any] = []
    cursor = None
    for _ in range(MAX_LIST_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _describe(error: BaseException, errlog: IO[str] | None) -> str:
    """A failure as one line a user can act on, with the end of the server's stderr."""
    leaves: list[BaseException] = []

    def walk(e: BaseException) -> None:
        if isinstance(e, BaseExceptionGroup):
            for inner in e.exceptions:
                walk(inner)
        else:
            leaves.append(e)

    walk(error)
    interesting = [e for e in leaves if not isinstance(e, asyncio.CancelledError)] or leaves
    message = "; ".join(f"{type(e).__name__}: {e}".rstrip(": ") for e in interesting[:3])
    if errlog is not None:
        with contextlib.suppress(Exception):
            errlog.flush()
            errlog.seek(0)
            tail = errlog.read()[-600:].strip()
            if tail:
                message += f" (its stderr ends: {tail.splitlines()[-1][:300]})"
    return message


def exposed_name(server: str, name: str, taken: set[str]) -> str:
    """The name the model sees: the tool's own where it is free and valid, else
    prefixed with its server (two servers with a tool `search`)."""
    plain = _TOOL_NAME.sub("_", name)[:MAX_TOOL_NAME] or "tool"
    if plain not in taken:
        return plain
    return _TOOL_NAME.sub("_", f"{server}__{name}")[:MAX_TOOL_NAME]


def result_text(result: Any) -> str:
    """A CallToolResult as the text that goes back to the model."""
    parts: list[str] = []
    for block in result.content or []:
        text = getattr(block, "text", None)
        if text is None and (resource := getattr(block, "resource", None)) is not None:
            text = getattr(resource, "text", None)
        if text is not None:
            parts.append(str(text))
        else:
            kind = getattr(block, "mime_type", None) or getattr(block, "type", "content")
            parts.append(f"[{kind} content left out]")
    if not parts and result.structured_content is not None:
        parts.append(json.dumps(result.structured_content, ensure_ascii=False))
    return "\n".join(parts)


class McpToolbox:
    """The tools of a turn's MCP servers (see the module docstring)."""

    def __init__(self, connections: list[_Connection], limits: Limits) -> None:
        self.limits = limits
        self._connections = connections
        self.problems: list[tuple[str, str]] = []
        self._routes: dict[str, tuple[_Connection, str]] = {}  # exposed name -> (server, its own name)
        specs: list[ToolSpec] = []
        for connection in connections:
            if connection.error is not None or connection.client is None:
                self.problems.append((connection.server.name, connection.error or "did not start"))
                continue
            wanted = connection.server.tools
            for tool in connection.tools:
                if wanted is not None and tool.name not in wanted:
                    continue
                name = exposed_name(connection.server.name, tool.name, set(self._routes))
                self._routes[name] = (connection, tool.name)
                schema = tool.input_schema if isinstance(tool.input_schema, dict) else {"type": "object"}
                specs.append(ToolSpec(name=name, description=tool.description or "", parameters=schema))
        self.specs: tuple[ToolSpec, ...] = tuple(specs)

    @classmethod
    async def start(cls, servers: Sequence[McpServer], limits: Limits | None = None) -> McpToolbox:
        """Connect to every server at once; one that fails is listed in `problems`."""
        limits = limits or Limits()
        connections = [_Connection(server, limits) for server in servers]
        for connection in connections:
            connection.task = asyncio.create_task(connection.serve(), name=f"mcp-{connection.server.name}")

        async def started(connection: _Connection) -> None:
            try:
                await asyncio.wait_for(connection.ready.wait(), limits.start_timeout)
            except TimeoutError:
                connection.error = f"did not start within {limits.start_timeout:g} s"
                connection.closing.set()

        try:
            await asyncio.gather(*(started(c) for c in connections))
        except BaseException:
            await cls(connections, limits).aclose()
            raise
        return cls(connections, limits)

    async def __aenter__(self) -> McpToolbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def answers_later(self, name: str) -> bool:
        return False

    def server_of(self, name: str) -> str:
        route = self._routes.get(name)
        return route[0].server.name if route else ""

    async def call(self, call: ToolCall) -> ToolResult:
        return await timed(lambda: self._call(call))

    async def _call(self, call: ToolCall) -> ToolResult:
        route = self._routes.get(call.name)
        if route is None:
            missing = unknown_tool(call.name, list(self._routes))
            if self.problems:  # perhaps a tool of a server that did not start: say so
                down = "; ".join(f"the MCP server {name} is not available ({why})" for name, why in self.problems)
                return ToolResult(f"{missing.content} Note: {down}.", True)
            return missing
        connection, own_name = route
        server = connection.server.name
        arguments = parse_arguments(call, self.limits)
        if isinstance(arguments, ToolResult):
            return ToolResult(arguments.content, True, server)
        client = connection.client
        if client is None:
            return ToolResult(f"The MCP server {server} is no longer running: {connection.error}", True, server)
        timeout = self.limits.call_timeout
        try:
            # The SDK's own timeout first; ours a little later, in case a broken
            # transport never delivers it.
            async with asyncio.timeout(timeout + 2):
                result = await client.call_tool(own_name, arguments, read_timeout_seconds=timeout)
        except TimeoutError:
            return ToolResult(f"The tool {call.name} did not answer within {timeout:g} s.", True, server)
        except Exception as e:
            message = _describe(e, None)
            if "timed out" in message.lower() or "timeout" in message.lower():
                return ToolResult(f"The tool {call.name} did not answer within {timeout:g} s.", True, server)
            return ToolResult(f"The tool {call.name} failed: {message}", True, server)
        return ToolResult(cut_result(result_text(result), self.limits), bool(result.is_error), server)

    async def aclose(self) -> None:
        for connection in self._connections:
            connection.closing.set()
        tasks = [c.task for c in self._connections if c.task is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_TIMEOUT)
