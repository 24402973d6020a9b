"""The streamed side of the gateway: heartbeats while a model thinks silently,
and a client that goes away stopping the upstream request."""

from __future__ import annotations

import time

import httpx

from reasoning.testing.upstream import Script, render

PROMPT = [{"role": "user", "content": "Think hard."}]


def stream(gateway, **body):
    return httpx.stream(
        "POST", gateway.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.tokens['olivia']}"},
        json={"model": "Native", "messages": PROMPT, "stream": True, **body}, timeout=20,
    )


def test_it_sends_heartbeat_comments_while_the_model_thinks_silently(gateway):
    # The server's heartbeat interval is 0.3 s; the model is silent for 1.2 s.
    gateway.upstream.enqueue(Script(chunks=render("openai-chat", "", "Done thinking.", field="hidden"),
                                    first_chunk_delay=1.2))
    started = time.monotonic()
    with stream(gateway) as response:
        assert response.status_code == 200
        head_after = time.monotonic() - started
        lines = list(response.iter_lines())
    assert head_after < 1.0  # the head did not wait for the first token
    first_text = next(i for i, line in enumerate(lines) if '"content":"Done' in line)
    heartbeats = [i for i, line in enumerate(lines) if line.startswith(": keep-alive")]
    assert len([i for i in heartbeats if i < first_text]) >= 2
    assert lines[-2:] == ["data: [DONE]", ""] or lines[-1] == "data: [DONE]"


def test_a_client_that_disconnects_stops_the_upstream_request(gateway):
    seen = len(gateway.upstream.requests)
    chunks = render("openai-chat", "step " * 400, "answer", chunk_chars=5)
    gateway.upstream.enqueue(Script(chunks=chunks, rate=50))  # about 8 s in all
    with stream(gateway) as response:
        conversation = response.headers["x-playground-conversation"]
        for line in response.iter_lines():
            if "reasoning_content" in line:
                break
        left_at = time.monotonic()
    [upstream_request] = gateway.requests_after(seen)
    closed_at = upstream_request.wait_closed(timeout=5)
    assert closed_at - left_at < 2.0
    assert upstream_request.finished_at is None  # the upstream never got to the end
    deadline = time.monotonic() + 5
    while gateway.answer(conversation)["status"] == "streaming" and time.monotonic() < deadline:
        time.sleep(0.05)
    turn = gateway.answer(conversation)
    assert turn["status"] == "stopped"
    assert turn["reasoning"].startswith("step")
