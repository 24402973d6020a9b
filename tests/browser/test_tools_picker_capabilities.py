"""In Chromium: the composer's Tools picker follows the chosen model's capabilities,
as the Controls do (issue 21's loose ends). For a model whose capabilities say it
takes no tools, the picker says so with the short reason the server's refusal uses
and offers nothing new; what was picked can still be unpicked, and then the send
goes through. The server still refuses a send with tools for it (also in a new chat)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CLOCK_SERVER = Path(__file__).resolve().parents[1] / "tools" / "servers" / "clock_server.py"
TOOLLESS = "Toolless simulator"


@pytest.fixture
def toolless(server):
    server.shell(
        "from playground.models import McpServer, ModelProfile, Provider\n"
        "McpServer.objects.update_or_create(name='clock', defaults=dict("
        f"command={sys.executable!r}, args=[{str(CLOCK_SERVER)!r}], env={{}}, url='', enabled=True))\n"
        "p, _ = Provider.objects.get_or_create(name='toolless-sim', defaults={'kind': 'simulator', 'base_url': ''})\n"
        "ModelProfile.objects.update_or_create(provider=p, model_id='simulator', defaults={'label': '"
        + TOOLLESS
        + "', 'reasoning': 'markup', 'markup': 'think', 'thinking_control': 'simulator',"
        " 'efforts': ['low', 'medium', 'high'], 'options': {'supports_tools': False}, 'position': 96})\n"
    )
    yield
    server.shell("from playground.models import Provider\nProvider.objects.filter(name='toolless-sim').delete()\n")


def picker_state(page) -> dict:
    return page.evaluate("""() => {
        const picker = document.getElementById('tools-picker');
        const note = document.getElementById('tools-unavailable');
        return {unavailable: picker.dataset.unavailable || '', title: picker.querySelector('summary').title,
                note: note.hidden ? '' : note.innerText.trim(),
                clock: document.querySelector('#tools-servers input[value=clock]').disabled};
    }""")


def test_the_tools_picker_says_a_model_takes_no_tools_and_the_send_keeps_everything(logged_in_page, server, toolless):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label="Offline simulator")
    page.locator("#tools-picker > summary").click()
    assert picker_state(page) == {
        "unavailable": "", "title": "Tools: MCP servers and functions the model may call in this conversation",
        "note": "", "clock": False,
    }
    page.get_by_label("clock").check()

    page.get_by_label("Model").select_option(label=TOOLLESS)
    page.wait_for_selector("#tools-picker[data-unavailable]", timeout=30_000)  # the controls come from the server
    # The reason, in the picker and in the Controls' list, as for every control it cannot take.
    assert picker_state(page) == {
        "unavailable": "this model takes no tools", "title": "Tools: this model takes no tools",
        "note": "Not available: this model takes no tools. Choose another model to use tools.",
        "clock": False,  # picked before: it can still be unpicked
    }
    assert "Tools: this model takes no tools" in page.locator("#controls .unavailable-list").inner_text()

    # Sent anyway: the server refuses it with the same words, and nothing typed is lost.
    page.get_by_label("Prompt").fill("What time is it?")
    page.get_by_label("Prompt").press("Enter")
    page.wait_for_selector("#notice .error")
    assert "takes no tools" in page.locator("#notice").inner_text()
    assert re.search(r"/$", page.url) and "/c/" not in page.url
    assert page.get_by_label("Prompt").input_value() == "What time is it?"
    assert page.locator("#model option:checked").inner_text() == TOOLLESS

    # Unpicked, the tool is not offered again; the send goes through without it.
    page.get_by_label("clock").uncheck()
    page.wait_for_function("document.querySelector('#tools-servers input[value=clock]').disabled")
    page.get_by_label("Prompt").press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    page.wait_for_selector(".turn.assistant:not(.streaming) .content")
    # The conversation reopens with its model: the picker still says no tools.
    assert page.locator("#model option:checked").inner_text() == TOOLLESS
    assert picker_state(page)["unavailable"] == "this model takes no tools"
    assert page.locator("#tools-servers input[value=clock]").is_disabled()

    # Another model that takes tools: offered again, in place.
    page.get_by_label("Model").select_option(label="Offline simulator")
    page.wait_for_selector("#tools-picker:not([data-unavailable])", timeout=30_000)
    assert picker_state(page)["clock"] is False and picker_state(page)["note"] == ""
    assert errors == []
