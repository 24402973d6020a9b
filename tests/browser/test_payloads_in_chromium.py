"""Model output is untrusted, in real Chromium: a corpus of XSS and exfiltration
payloads streamed into reasoning and answer (native reasoning, <think> markup, a
provider's error, the prompt and so the title), in chat and in compare: no script
runs and no request leaves for another host, live and after reload. And the
page's Content-Security-Policy blocks a foreign request that a script would make."""

from __future__ import annotations

import json
import re

import pytest

from reasoning.testing.upstream import FakeUpstream, Script, openai_chat_sse
from tests.browser.test_compare_page import start_comparison, wait_all_done
from tests.browser.xss_payloads import PAYLOADS

pytestmark = pytest.mark.browser

WATCH = """
window.__ran = [];
window.__xss = (n) => window.__ran.push(n);
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => window.__violations.push(e.blockedURI));
"""


def corpus(foreign: str) -> list[str]:
    return [p.replace("FOREIGN", foreign) for p in PAYLOADS]


def responder(foreign: str):
    text = "\n\n".join(corpus(foreign))

    def respond(request):
        model = (request.json or {}).get("model")
        if model == "xss-error":
            return Script.error(400, {"error": {"message": text[:3000], "type": "invalid_request_error"}})
        if model == "xss-think":
            return Script(chunks=openai_chat_sse("", f"<think>{text}</think>{text}", chunk_chars=7))
        return Script(chunks=openai_chat_sse(text, text, chunk_chars=7))  # split across many frames

    return respond


def add_models(server, base_url: str) -> None:
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        "p, _ = Provider.objects.update_or_create(name='xss',"
        f" defaults={{'kind': 'openai', 'base_url': {base_url!r}}})\n"
        "p.set_api_key('sk-test-not-a-real-key'); p.save()\n"
        "for mid, label, style in [('xss-native', 'XSS native', 'native'), ('xss-think', 'XSS think', 'markup'),"
        " ('xss-error', 'XSS error', 'native')]:\n"
        "    ModelProfile.objects.update_or_create(provider=p, model_id=mid, defaults={'label': label,"
        " 'reasoning': style, 'markup': 'think' if style == 'markup' else ''})\n"
    )


class Watch:
    def __init__(self, page, server, foreign_url: str) -> None:
        self.page = page
        self.left: list[str] = []
        self.dialogs: list[str] = []
        own = server.url("")
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

        def route(r):
            if r.request.url.startswith(own):
                r.continue_()
            else:
                self.left.append(r.request.url)
                r.abort()

        page.context.route("**/*", route)
        page.add_init_script(WATCH)

    def assert_clean(self, where: str) -> None:
        page = self.page
        page.wait_for_timeout(300)  # let any lazy load or timer fire
        ran = page.evaluate("window.__ran")
        assert ran == [], f"{where}: scripts ran for payloads {ran}"
        assert self.dialogs == [], where
        assert self.left == [], f"{where}: requests left for {self.left}"
        hostile = page.evaluate(
            # Inside model output (the app's own tools carry hx- attributes).
            """() => [...document.querySelectorAll('.reasoning *, .content *, .turn-status *')].flatMap(el =>
                [...el.attributes].filter(a => /^on|^hx-|^data-hx/i.test(a.name) ||
                    /^\\s*javascript:/i.test(a.value)).map(a => el.tagName + ' ' + a.name + '=' + a.value))"""
        )
        assert hostile == [], f"{where}: {hostile}"


def finished(page, n: int, selector: str = "article.turn.assistant") -> None:
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel + ':not([data-status=streaming])').length >= n",
        arg=[selector, n],
        timeout=30_000,
    )


def test_payloads_in_chat_run_nothing_and_load_nothing_live_and_after_reload(logged_in_page, server):
    page = logged_in_page
    with FakeUpstream() as foreign, FakeUpstream(responder(foreign.url)) as upstream:
        add_models(server, upstream.url + "/v1")
        watch = Watch(page, server, foreign.url)
        for label in ["XSS native", "XSS think", "XSS error"]:
            page.goto(server.url("/"))
            page.get_by_label("Model").select_option(label=label)
            # The first line names the conversation: a payload in the title and the sidebar.
            page.get_by_label("Prompt").fill(PAYLOADS[1] + "\n" + "\n\n".join(corpus(foreign.url)[:20]))
            page.get_by_role("button", name="Send").click()
            page.wait_for_url(re.compile(r"/c/\d+/$"))
            finished(page, 1)
            turn = page.locator("article.turn.assistant").first
            # An error's provider text is under its closed "Details": in the page, not on show.
            text = turn.text_content() if label == "XSS error" else turn.inner_text()
            assert "__xss(1)" in text  # the payloads are there, shown as text
            if label != "XSS error":
                assert "Image from 127.0.0.1" in text  # an image became a link naming its host
            watch.assert_clean(f"{label}, live")
            page.reload()
            finished(page, 1)
            watch.assert_clean(f"{label}, after reload")
        assert foreign.requests == []


def test_payloads_in_compare_run_nothing_and_load_nothing_live_and_after_reload(logged_in_page, server):
    page = logged_in_page
    with FakeUpstream() as foreign, FakeUpstream(responder(foreign.url)) as upstream:
        add_models(server, upstream.url + "/v1")
        watch = Watch(page, server, foreign.url)
        start_comparison(page, server, ["XSS native", "XSS think", "XSS error"], PAYLOADS[2] + "\n" + PAYLOADS[35])
        wait_all_done(page, 3, timeout=30_000)
        assert "Image from 127.0.0.1" in page.locator(".compare-column").first.inner_text()
        watch.assert_clean("compare, live")
        page.reload()
        wait_all_done(page, 3)
        watch.assert_clean("compare, after reload")
        assert foreign.requests == []


def test_the_policy_blocks_a_foreign_request_a_script_would_make(logged_in_page, server):
    page = logged_in_page
    with FakeUpstream() as foreign:
        page.add_init_script(WATCH)
        page.goto(server.url("/"))
        outcome = page.evaluate(
            "url => fetch(url).then(() => 'fetched', () => 'blocked')", foreign.url + "/fetch"
        )
        page.evaluate("url => { const i = new Image(); i.src = url; document.body.append(i); }", foreign.url + "/i.png")
        page.wait_for_function("() => window.__violations.length >= 2")
        assert outcome == "blocked"
        assert foreign.requests == []
        violations = page.evaluate("window.__violations")
        assert any("/fetch" in v for v in violations) and any("/i.png" in v for v in violations), violations
        policy = page.evaluate("url => fetch(url).then(r => r.headers.get('content-security-policy'))", server.url("/"))
        assert "img-src 'self' data:" in policy and json.dumps(policy)
