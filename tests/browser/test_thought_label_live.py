"""In Chromium: the live label of the thought block says "Thought for" only when
there was reasoning, and follows a reclassification (issue 19.6, "fix on the way").

A model that answers with no reasoning at all folds no "Thought for 0.4 s" block
over its answer; a model whose template opened `<think>` streams its thinking as
the answer first (no reasoning yet: no thought block), and when the stray close
tag moves that text into the thought block the label ticks again, then says
"Thought for" once the real answer starts."""

from __future__ import annotations

import re

import pytest

from reasoning.testing import FakeUpstream, Script, openai_chat_sse, pieces, sse

pytestmark = pytest.mark.browser

THOUGHT = "The user asks for 17 times 23. Twenty times is 340, three times is 51."


def add_model(server, base_url: str, name: str, label: str) -> None:
    server.shell(
        "from playground.models import ModelProfile, Provider\n"
        f"p, _ = Provider.objects.update_or_create(name={name!r},"
        f" defaults={{'kind': 'openai', 'base_url': {base_url!r}}})\n"
        f"ModelProfile.objects.update_or_create(provider=p, model_id='plain-model',"
        f" defaults={{'label': {label!r}, 'position': 96}})\n"
    )


def send(page, server, label: str, prompt: str) -> int:
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=label)
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    return int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))


def test_an_answer_with_no_reasoning_is_not_labelled_thought_for(logged_in_page, server):
    page = logged_in_page
    chunks = openai_chat_sse("", "Paris is the capital of France, and has been for a long time.", chunk_chars=6)
    delays = [0.05] * len(chunks)
    delays[-3] = 2.5  # the answer is streaming, not finished, while we look
    with FakeUpstream(Script(chunks=chunks, delays=delays)) as upstream:
        add_model(server, upstream.url + "/v1", "plain-fake", "Plain model (no reasoning)")
        pk = send(page, server, "Plain model (no reasoning)", "Capital of France?")
        page.wait_for_function("id => document.querySelector(`#t${id}-c`).textContent.includes('Paris')", arg=pk)
        assert page.locator(f"#turn-{pk}").get_attribute("data-status") == "streaming"
        thought = page.locator(f"#turn-{pk} details.thought")
        assert thought.is_hidden()
        assert "Thought for" not in (thought.locator("summary").text_content() or "")
        page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=20_000)
    assert page.locator(f"#turn-{pk} details.thought").count() == 0


def markup_stream(*texts: str) -> list[bytes]:
    """A Chat Completions stream whose content comes in exactly these chunks."""
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": "fake-model"}
    def chunk(delta: dict, finish: str | None = None) -> bytes:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    return [chunk({"role": "assistant", "content": ""}), *(chunk({"content": t}) for t in texts),
            chunk({}, "stop"), sse("[DONE]")]


def test_the_live_label_follows_a_reclassification(logged_in_page, server, screenshot):
    page = logged_in_page
    # The stray close tag comes alone: for a while the thought is reasoning and no answer has begun.
    chunks = markup_stream(*pieces(THOUGHT, 12), "</think>", "391")
    close_at = len(chunks) - 4
    delays = [0.05] * len(chunks)
    delays[close_at] = 2.0  # the thought, still taken for the answer
    delays[close_at + 1] = 2.5  # moved into the thought block, the answer not yet begun
    with FakeUpstream(Script(chunks=chunks, delays=delays)) as upstream:
        add_model(server, upstream.url + "/v1", "r1-label", "R1 template (label)")
        pk = send(page, server, "R1 template (label)", "17*23?")
        thought = page.locator(f"#turn-{pk} details.thought")
        label = page.locator(f"#turn-{pk} .thinking-label")

        page.wait_for_function("id => document.querySelector(`#t${id}-c`).textContent.includes('Twenty')", arg=pk)
        assert thought.is_hidden()  # no reasoning yet: nothing was "thought for" any time
        assert not label.text_content().startswith("Thought for")

        page.wait_for_function("id => document.querySelector(`#t${id}-r`).textContent.includes('Twenty')", arg=pk)
        assert page.locator(f"#turn-{pk}").get_attribute("data-status") == "streaming"
        assert thought.is_visible()
        page.wait_for_function(
            "id => /^Thinking… \\d+ s/.test(document.querySelector(`#turn-${id} .thinking-label`).textContent)", arg=pk
        )
        assert "live" in (label.get_attribute("class") or "")
        screenshot(page, "label-after-reclassify")

        page.wait_for_function("id => document.querySelector(`#t${id}-c`).textContent.includes('391')", arg=pk)
        assert re.fullmatch(r"Thought for \d+\.\d s", label.text_content()), label.text_content()
        page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=20_000)
