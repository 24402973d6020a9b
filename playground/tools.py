"""Which tools a conversation offers, and the toolbox of one turn.

A conversation's selection (`Conversation.tools`) is a list of entries: an MCP
server's name ("clock": all its tools) or one tool of it ("clock:now"). Servers
are configured by an admin (`McpServer`, the admin or `[[mcp_servers]]` in the
providers file); a selection naming a server that is gone or disabled offers
nothing from it, and the turn says so.

The limits come from settings, each with a default:
TOOL_CALL_TIMEOUT (s, 30), TOOL_START_TIMEOUT (s, 20), TOOL_MAX_STEPS (8),
TOOL_MAX_ARGUMENT_CHARS (32 KiB), TOOL_MAX_RESULT_CHARS (64 KiB).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.conf import settings

from playground.models import McpServer
from reasoning.toolbox import MAX_ARGUMENT_CHARS, MAX_RESULT_CHARS, Limits, NoTools, Toolbox
from reasoning.toolbox.mcp import McpServer as ServerConfig
from reasoning.toolbox.mcp import McpToolbox

_ENTRY = re.compile(r"^[A-Za-z0-9_-]{1,64}(:[^\s:][^\s]{0,199})?$")
MAX_ENTRIES = 50


class BadSelection(ValueError):
    """A tool selection that cannot be stored; the message says why."""


def clean_selection(raw: Any) -> list[str]:
    """A selection as stored: entries "server" or "server:tool", each once, in order.
    Accepts a list or a comma-separated string (the `ask --tools` form)."""
    if raw in (None, ""):
        return []
    items: Iterable[Any] = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple) and not isinstance(raw, str):
        raise BadSelection("tools must be a list of server names or server:tool entries")
    out: list[str] = []
    for item in items:
        entry = str(item).strip()
        if not entry:
            continue
        if not _ENTRY.match(entry):
            raise BadSelection(f"{entry!r} is not a server name (letters, digits, - and _) or server:tool")
        if entry not in out:
            out.append(entry)
    if len(out) > MAX_ENTRIES:
        raise BadSelection(f"at most {MAX_ENTRIES} tools or servers")
    return out


def unknown_servers(selection: list[str]) -> list[str]:
    """Servers the selection names that are not configured and enabled."""
    names = {entry.split(":", 1)[0] for entry in selection}
    known = set(McpServer.objects.filter(name__in=names, enabled=True).values_list("name", flat=True))
    return sorted(names - known)


def limits() -> Limits:
    return Limits(
        argument_chars=int(getattr(settings, "TOOL_MAX_ARGUMENT_CHARS", MAX_ARGUMENT_CHARS)),
        result_chars=int(getattr(settings, "TOOL_MAX_RESULT_CHARS", MAX_RESULT_CHARS)),
        call_timeout=float(getattr(settings, "TOOL_CALL_TIMEOUT", 30.0)),
        start_timeout=float(getattr(settings, "TOOL_START_TIMEOUT", 20.0)),
    )


def max_steps(params: dict[str, Any] | None) -> int:
    given: Any = (params or {}).get("max_steps") or getattr(settings, "TOOL_MAX_STEPS", 8)
    return int(given)


def server_configs(selection: list[str]) -> tuple[list[ServerConfig], list[tuple[str, str]]]:
    """The configured servers of `selection` (synchronous: the database), and the
    problems of the entries that name none."""
    wanted: dict[str, list[str] | None] = {}
    for entry in selection:
        name, _, tool = entry.partition(":")
        if not tool:
            wanted[name] = None  # the whole server
        elif wanted.get(name, []) is not None:
            wanted.setdefault(name, []).append(tool)  # type: ignore[union-attr]
    rows = {s.name: s for s in McpServer.objects.filter(name__in=list(wanted), enabled=True)}
    configs, problems = [], []
    for name, tools in wanted.items():
        row = rows.get(name)
        if row is None:
            problems.append((name, "no enabled MCP server has this name"))
            continue
        configs.append(
            ServerConfig(
                name=row.name,
                command=row.command,
                args=tuple(str(a) for a in row.args or ()),
                env=row.opened_env(),
                url=row.url,
                tools=tuple(tools) if tools is not None else None,
            )
        )
    return configs, problems


async def open_toolbox(configs: list[ServerConfig], problems: list[tuple[str, str]]) -> Toolbox:
    if not configs:
        return NoTools(problems=list(problems))
    toolbox = await McpToolbox.start(configs, limits())
    toolbox.problems[:0] = problems
    return toolbox
