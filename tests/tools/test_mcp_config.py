"""MCP servers are configured by an admin only: `[[mcp_servers]]` in the providers
file (`manage.py providers import`) and the admin (superusers), env values
encrypted at rest and never shown back."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from playground.models import McpServer
from tests.tools.conftest import CLOCK_SERVER

pytestmark = pytest.mark.django_db


def import_text(tmp_path: Path, text: str) -> str:
    path = tmp_path / "providers.toml"
    path.write_text(text)
    out = io.StringIO()
    call_command("providers", "import", str(path), stdout=out)
    return out.getvalue()


def test_import_stdio_and_http_servers(tmp_path):
    out = import_text(tmp_path, '''
[[mcp_servers]]
name = "clock"
command = "python3"
args = ["clock_server.py"]
env = { TZ = "UTC", CLOCK_TOKEN = "secret-token" }

[[mcp_servers]]
name = "web_search-2"
url = "http://127.0.0.1:9000/mcp"
''')
    assert "created MCP server clock" in out and "created MCP server web_search-2" in out
    clock = McpServer.objects.get(name="clock")
    assert (clock.command, clock.args, clock.url) == ("python3", ["clock_server.py"], "")
    assert clock.opened_env() == {"TZ": "UTC", "CLOCK_TOKEN": "secret-token"}
    assert "secret-token" not in json.dumps(clock.env)  # sealed at rest
    assert McpServer.objects.get(name="web_search-2").url == "http://127.0.0.1:9000/mcp"
    # Importing again updates.
    assert "updated MCP server clock" in import_text(tmp_path, '[[mcp_servers]]\nname = "clock"\ncommand = "python3"\n')
    assert McpServer.objects.get(name="clock").env == {}
    listed = io.StringIO()
    call_command("providers", "list", stdout=listed)
    assert "MCP server web_search-2  url=http://127.0.0.1:9000/mcp" in listed.getvalue()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[mcp_servers]]\nname = "bad name"\ncommand = "x"\n', "mcp_servers[0].name: must be letters, digits"),
        ('[[mcp_servers]]\nname = "a"\n', "give either command (stdio) or url"),
        ('[[mcp_servers]]\nname = "a"\ncommand = "x"\nurl = "http://localhost:9000/mcp"\n', "give either command"),
        ('[[mcp_servers]]\nname = "a"\nurl = "http://localhost:9/mcp"\nenv = { A = "1" }\n', "apply to a stdio server"),
        ('[[mcp_servers]]\nname = "a"\ncommand = "x"\nenv = { "A-B" = "1" }\n', "not an environment variable"),
        ('[[mcp_servers]]\nname = "a"\ncommand = "x"\nargs = "y"\n', "args: must be a list of strings"),
        ('[[mcp_servers]]\nname = "a"\nurl = "ftp://h"\n', "is not an http(s) URL"),
        ('[[mcp_servers]]\nname = "a"\ncommand = "x"\n[[mcp_servers]]\nname = "a"\ncommand = "y"\n', "already used"),
    ],
)
def test_bad_servers_are_refused_and_nothing_is_written(tmp_path, text, message):
    with pytest.raises(CommandError) as caught:
        import_text(tmp_path, text)
    assert message in str(caught.value) and caught.value.returncode == 2
    assert not McpServer.objects.exists()


def test_the_admin_is_for_superusers_only(client, admin_user, django_user_model):
    staff = django_user_model.objects.create_user("stan", password="pw-staff-horse", is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.set(Permission.objects.filter(codename__endswith="mcpserver"))
    client.force_login(staff)
    assert client.get("/admin/playground/mcpserver/").status_code == 403
    assert client.get("/admin/playground/mcpserver/add/").status_code == 403

    client.force_login(admin_user)
    response = client.post("/admin/playground/mcpserver/add/", {
        "name": "clock", "command": sys.executable, "args": json.dumps([str(CLOCK_SERVER)]), "url": "",
        "enabled": "on", "env_lines": "TZ=UTC\nTOKEN=tok-42",
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    server = McpServer.objects.get(name="clock")
    assert server.opened_env() == {"TZ": "UTC", "TOKEN": "tok-42"}
    page = client.get(f"/admin/playground/mcpserver/{server.pk}/change/").content.decode()
    assert "TOKEN=••••" in page and "tok-42" not in page
    # Saving the form unchanged keeps the stored values.
    client.post(f"/admin/playground/mcpserver/{server.pk}/change/", {
        "name": "clock", "command": sys.executable, "args": json.dumps([str(CLOCK_SERVER)]), "url": "",
        "enabled": "on", "env_lines": "TZ=UTC\nTOKEN=••••",
    })
    assert McpServer.objects.get(pk=server.pk).opened_env() == {"TZ": "UTC", "TOKEN": "tok-42"}


@pytest.mark.django_db(transaction=True)
def test_the_admin_lists_a_servers_tools(client, admin_user):
    server = McpServer.objects.create(name="clock", command=sys.executable, args=[str(CLOCK_SERVER)])
    client.force_login(admin_user)
    action = {"action": "list_tools", "index": 0, "_selected_action": [server.pk]}
    response = client.post("/admin/playground/mcpserver/", action, follow=True)
    text = response.content.decode()
    assert "Clock: 6 tools: now, add, divide, sleep, environment, echo" in text  # the admin capitalises messages
