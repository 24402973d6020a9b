"""Issue 14, points 1–3 in Chromium: the stream is followed on every turn, the
composer sends on Enter and turns into Stop, and a dropped connection says so,
pauses the timer and catches up with nothing lost.

The browser reaches the server through a loopback TCP relay the test can cut,
so the socket drops the way a network blip drops it (close code 1006), not by
a script calling close(). Any uncaught page error fails the test.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import threading
import time

import pytest

from tests.browser.conftest import log_in
from tests.browser.test_chat import RECORD_STREAM

pytestmark = pytest.mark.browser

LONG = "Offline simulator (long thoughts)"
QUICK = "Offline simulator"


class Relay:
    """host:port -> target, byte for byte; `cut()` drops every connection and
    refuses new ones until `restore()`."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.down = False
        self.open: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.down:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self.lock:
                self.open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.down = True
        with self.lock:
            for s in self.open:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            self.open.clear()

    def restore(self) -> None:
        self.down = False

    def close(self) -> None:
        self.cut()
        self.listener.close()


@pytest.fixture
def relay(server):
    port = int(server.base_url.rsplit(":", 1)[1])
    r = Relay(port)
    yield r
    r.close()


def stored(server, pk: int) -> dict:
    out = server.shell(
        "import json\nfrom playground.models import Turn\n"
        f"t = Turn.objects.get(pk={pk})\n"
        "print(json.dumps({'reasoning': t.reasoning, 'content': t.content, 'status': t.status,"
        " 'conversation': t.conversation_id}))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def roles_in_order(server, conversation: int) -> list[str]:
    out = server.shell(
        "import json\nfrom playground.models import Conversation\n"
        "from playground.turns.services import branch\n"
        f"print(json.dumps([t.role for t in branch(Conversation.objects.get(pk={conversation}))]))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


def newest_turn(page) -> int:
    return int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))


def wait_done(page, pk: int) -> None:
    page.wait_for_selector(f'#turn-{pk}:not(.streaming)[data-status]:not([data-status="streaming"])', timeout=60_000)


def at_bottom(page) -> bool:
    return page.evaluate(
        "() => { const e = document.scrollingElement; return e.scrollHeight - e.scrollTop - e.clientHeight < 170; }"
    )


def send(page, prompt: str, model: str | None = None) -> None:
    if model:
        page.get_by_label("Model").select_option(label=model)
    box = page.get_by_label("Prompt")
    box.fill(prompt)
    box.press("Enter")


def test_a_five_turn_conversation_follows_every_stream_without_a_page_error(page, server, relay):
    errors: list[str] = []
    console: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: console.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.add_init_script(RECORD_STREAM)
    page.set_viewport_size({"width": 1100, "height": 700})
    log_in(page, type("S", (), {"url": relay.url, "user": server.user, "password": server.password})())

    # Turn 1: Enter sends (Shift+Enter made a new line first).
    page.get_by_label("Model").select_option(label=QUICK)
    box = page.get_by_label("Prompt")
    box.fill("What is 17*23?")
    box.press("Shift+Enter")
    assert box.input_value() == "What is 17*23?\n"
    box.press("Enter")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    first = newest_turn(page)
    wait_done(page, first)
    conversation = stored(server, first)["conversation"]

    # Turns 2 and 3: each is followed to its last line, with no error thrown.
    for n, prompt in enumerate(["And 12*12?", "And 7*8?"], start=2):
        send(page, prompt)
        page.wait_for_function(f"n => document.querySelectorAll('article.turn.assistant').length === {n}", arg=n)
        pk = newest_turn(page)
        wait_done(page, pk)
        page.wait_for_timeout(150)
        assert at_bottom(page), f"turn {n} ended below the fold"
        assert page.locator("#jump-latest").is_hidden()

    # Turn 4 thinks at length: while it streams Send is Stop, the page follows
    # it, and a reader who scrolls up is left there with a "Latest" button.
    send(page, "Think about 13*13 at length", LONG)
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 4")
    fourth = newest_turn(page)
    send_button = page.locator("#send")
    page.wait_for_function("() => document.getElementById('send').dataset.mode === 'stop'")
    assert send_button.inner_text() == "Stop"
    page.wait_for_function("id => document.getElementById(id).textContent.length > 1500", arg=f"t{fourth}-r")
    page.evaluate("() => window.scrollTo(0, 0)")
    page.wait_for_timeout(600)
    assert page.evaluate("() => window.scrollY") < 50, "the page yanked a reader who scrolled up"
    assert page.locator("#jump-latest").is_visible()

    # A prompt sent now waits for the answer: it is not sent beside it.
    send(page, "Then 14*14?", QUICK)
    assert "when this answer finishes" in page.locator("#notice").inner_text()
    assert page.locator("article.turn.user").count() == 4
    page.locator("#jump-latest").click()
    assert at_bottom(page)
    page.wait_for_timeout(400)
    assert at_bottom(page), "the page did not follow once back at the bottom"

    # Reload mid-stream: the same turn continues on the new page.
    page.reload()
    assert page.locator(f"#turn-{fourth}.streaming").count() == 1
    wait_done(page, fourth)
    # Turn 5, the waiting prompt, went out on its own once turn 4 had ended... on the
    # page that sent it; this page was reloaded, so its prompt box is empty: send it.
    assert page.locator("article.turn.user").count() == 4
    send(page, "Then 14*14?", QUICK)
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 5")
    fifth = newest_turn(page)
    wait_done(page, fifth)
    assert "196" in page.locator(f"#t{fifth}-c").inner_text()

    # Turn 6 thinks at length and the connection drops under it: a banner says
    # so, the timer stops, and on reconnect the turn catches up with nothing lost.
    send(page, "Think about 15*15 at length", LONG)
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 6")
    sixth = newest_turn(page)
    page.wait_for_function("id => document.getElementById(id).textContent.length > 300", arg=f"t{sixth}-r")
    relay.cut()
    page.wait_for_selector("#connection:not([hidden])", timeout=10_000)
    assert "Connection lost" in page.locator("#connection").inner_text()
    label = page.locator(f"#turn-{sixth} .thinking-label")
    frozen = label.inner_text()
    assert frozen.endswith("· paused"), frozen
    page.wait_for_timeout(2200)
    assert label.inner_text() == frozen, "the live timer kept ticking while offline"
    relay.restore()
    page.wait_for_selector("#connection[hidden]", state="attached", timeout=20_000)
    wait_done(page, sixth)
    turn = stored(server, sixth)
    assert turn["status"] == "complete"
    assert page.evaluate("() => window.__streamed")[f"t{sixth}-r"] == turn["reasoning"]
    assert page.locator(f"#turn-{sixth}").get_by_role("button", name="Copy answer").count() == 1

    roles = roles_in_order(server, conversation)
    assert all(a != b for a, b in itertools.pairwise(roles)), roles
    assert roles.count("user") == 6
    assert errors == [], errors
    # The browser logs the refused reconnects as errors, and only those.
    assert [m for m in console if "WebSocket" not in m and m != "[object Event]"] == [], console


def test_a_prompt_typed_while_streaming_goes_out_when_the_answer_ends(logged_in_page, server):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.get_by_label("Model").select_option(label=LONG)
    send(page, "Think about 21*21 at length")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    first = newest_turn(page)
    page.wait_for_function("() => document.getElementById('send').dataset.mode === 'stop'")
    send(page, "Now 2+2?", QUICK)
    assert "when this answer finishes" in page.locator("#notice").inner_text()
    wait_done(page, first)
    page.wait_for_function("() => document.querySelectorAll('article.turn.assistant').length === 2", timeout=20_000)
    second = newest_turn(page)
    wait_done(page, second)
    assert page.locator("article.turn.user").all_inner_texts() == ["Think about 21*21 at length", "Now 2+2?"]
    assert page.get_by_label("Prompt").input_value() == ""
    assert page.locator("#send").inner_text() == "Send"
    assert errors == []


def test_stop_is_the_send_button_and_a_stopped_turn_says_so(logged_in_page, server):
    page = logged_in_page
    page.get_by_label("Model").select_option(label=LONG)
    send(page, "Think about 22*22 at length")
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    pk = newest_turn(page)
    page.wait_for_function("id => document.getElementById(id).textContent.length > 1200", arg=f"t{pk}-r")
    time.sleep(0.5)
    page.locator("#send").click()
    page.wait_for_selector(f'#turn-{pk}[data-status="stopped"]')
    label = page.locator(f"#turn-{pk} .thought-label").inner_text()
    assert re.fullmatch(r"Thought for [1-9]\d*\.\d s.*\(stopped\)|Thought for 0\.[1-9] s.*\(stopped\)", label), label
    assert page.locator(f"#turn-{pk}").get_by_role("button", name="Copy answer").count() == 0
    assert page.locator("#send").inner_text() == "Send"


@pytest.mark.usefixtures("brief_long_thoughts")
def test_a_compare_round_throws_no_page_error(logged_in_page, server):
    """The chat script runs on the compare screen too: a round (two columns, a
    follow-up) must not trip it."""
    from tests.browser.test_compare_page import start_comparison, wait_all_done

    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    start_comparison(page, server, [QUICK, LONG], "What is 17*23?")
    wait_all_done(page, 2)
    page.get_by_label("Prompt").fill("And 12*12?")
    page.get_by_label("Prompt").press("Control+Enter")
    wait_all_done(page, 4)
    assert errors == []
