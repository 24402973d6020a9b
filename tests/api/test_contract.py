"""The seed gateway's contract (issue 20.5), through the official `openai` client:
`reasoning_effort` and `thinking.budget_tokens` together only when they agree; no
`reasoning_content` at all for a model with no reasoning; every limit a 429 with
`Retry-After` in OpenAI's error shape."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from reasoning.testing.upstream import Script, render
from tests.scaleout.harness import Server

PROMPT = [{"role": "user", "content": "What is 6 times 7?"}]


def error_of(exc: openai.APIStatusError) -> dict:
    body = exc.response.json()
    assert set(body["error"]) == {"message", "type", "code", "param"}
    return body["error"]


# ---- reasoning_effort with thinking.budget_tokens ------------------------------------------


@pytest.mark.parametrize(
    ("label", "effort", "budget"),
    [("Claude", "high", 3000), ("Gemini", "low", 8192), ("Native", "high", 2048)],
)
def test_an_effort_and_a_budget_that_disagree_are_a_400_naming_both(gateway, label, effort, budget):
    seen = len(gateway.upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().chat.completions.create(
            model=label, messages=PROMPT, reasoning_effort=effort,
            extra_body={"thinking": {"type": "enabled", "budget_tokens": budget}, "max_tokens": 30000},
        )
    error = error_of(caught.value)
    assert "reasoning_effort" in error["message"] and "thinking.budget_tokens" in error["message"]
    assert error["param"] in ("reasoning_effort", "thinking.budget_tokens")
    assert len(gateway.upstream.requests) == seen  # refused before anything was sent


@pytest.mark.parametrize(
    ("label", "effort", "budget", "wire"),
    [
        ("Claude", "high", 4096, lambda body: body["thinking"]["budget_tokens"]),
        ("Gemini", "low", 1024, lambda body: body["generationConfig"]["thinkingConfig"]["thinkingBudget"]),
    ],
)
def test_an_effort_and_a_budget_that_agree_are_sent_as_that_budget(gateway, label, effort, budget, wire):
    seen = len(gateway.upstream.requests)
    kind = {"Claude": "anthropic", "Gemini": "gemini"}[label]
    gateway.upstream.enqueue(Script(chunks=render(kind, "r", "42")))
    gateway.client().chat.completions.create(
        model=label, messages=PROMPT, reasoning_effort=effort,
        extra_body={"thinking": {"type": "enabled", "budget_tokens": budget}, "max_tokens": 30000},
    )
    [request] = gateway.requests_after(seen)
    assert wire(request.json) == budget


# ---- no reasoning_content for a model with no reasoning ------------------------------------


def test_a_model_with_no_reasoning_has_no_reasoning_content_field(gateway):
    gateway.upstream.enqueue(Script(chunks=render("openai-chat", "", "42", field="hidden")))
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.tokens['olivia']}"},
        json={"model": "Plain", "messages": PROMPT}, timeout=20,
    )
    assert response.status_code == 200, response.text
    message = response.json()["choices"][0]["message"]
    assert message["content"] == "42"
    assert "reasoning_content" not in message and "reasoning" not in message
    # …and the SDK reads the same message
    gateway.upstream.enqueue(Script(chunks=render("openai-chat", "", "42", field="hidden")))
    sdk = gateway.client().chat.completions.create(model="Plain", messages=PROMPT).choices[0].message
    assert "reasoning_content" not in (sdk.model_extra or {})


def test_a_reasoning_model_keeps_the_field_even_when_empty(gateway):
    gateway.upstream.enqueue(Script(chunks=render("openai-chat", "", "42", field="hidden")))
    message = gateway.client().chat.completions.create(model="Native", messages=PROMPT).choices[0].message
    assert "reasoning_content" in (message.model_extra or {})


def test_a_model_with_no_reasoning_streams_no_reasoning_content_field(gateway):
    gateway.upstream.enqueue(Script(chunks=render("openai-chat", "", "The answer is 42.", field="hidden",
                                                  chunk_chars=4)))
    with httpx.stream(
        "POST", gateway.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.tokens['olivia']}"},
        json={"model": "Plain", "messages": PROMPT, "stream": True,
              "stream_options": {"include_usage": True}}, timeout=20,
    ) as response:
        assert response.status_code == 200
        chunks = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: {")]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert content == "The answer is 42."
    for chunk in chunks:
        for choice in chunk["choices"]:
            assert "reasoning_content" not in choice["delta"] and "reasoning" not in choice["delta"]


# ---- every limit: 429 with Retry-After ------------------------------------------------------

USERS = """
from django.contrib.auth import get_user_model
for name in ("lena", "lars", "lotte", "luca"):
    get_user_model().objects.create_user(name, password="limit horse battery")
"""


@dataclasses.dataclass
class Limited:
    url: str
    tokens: dict[str, str]

    def client(self, user: str) -> openai.OpenAI:
        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.tokens[user], max_retries=0, timeout=20)


@pytest.fixture(scope="module")
def limited(gateway) -> Iterator[Limited]:
    """A second server on the gateway's database, with small per-user limits and one
    upstream connection."""
    limits = {"MAX_CONCURRENT_RUNS": "1", "RUNS_PER_MINUTE": "3",
              "UPSTREAM_MAX_CONNECTIONS": "1", "UPSTREAM_POOL_TIMEOUT": "0.5"}
    deployment = dataclasses.replace(gateway.deployment, extra={**gateway.deployment.extra, **limits})
    deployment.manage("shell", code=USERS)
    names = ("lena", "lars", "lotte", "luca")
    tokens = {name: deployment.manage("tokens", "create", "--user", name).strip() for name in names}
    server = Server(deployment).start()
    try:
        yield Limited(server.url, tokens)
    finally:
        server.stop()


def assert_rate_limit(caught: pytest.ExceptionInfo[openai.RateLimitError], most: int) -> None:
    assert caught.value.status_code == 429
    retry_after = caught.value.response.headers["retry-after"]
    assert retry_after.isdigit() and 1 <= int(retry_after) <= most
    error = error_of(caught.value)
    assert error["type"] == "rate_limit_error"


@pytest.mark.parametrize("stream", [False, True])
def test_the_limit_of_simultaneous_runs_is_a_429_with_retry_after(gateway, limited, stream):
    chunks = render("openai-chat", "step " * 200, "answer", chunk_chars=5)
    gateway.upstream.enqueue(Script(chunks=chunks, rate=50))  # about 4 s
    with httpx.stream(
        "POST", limited.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {limited.tokens['lena']}"},
        json={"model": "Native", "messages": PROMPT, "stream": True}, timeout=20,
    ) as running:
        # Held: a line iterator let go of closes the response, which stops the run.
        lines = running.iter_lines()
        for line in lines:
            if "reasoning_content" in line:
                break
        seen = len(gateway.upstream.requests)
        with pytest.raises(openai.RateLimitError) as caught:
            limited.client("lena").chat.completions.create(model="Native", messages=PROMPT, stream=stream)
        assert_rate_limit(caught, most=60)
        assert "at once" in error_of(caught.value)["message"]
        assert len(gateway.upstream.requests) == seen
        assert gateway.answer(running.headers["x-playground-conversation"])["status"] == "streaming"
    conversation = running.headers["x-playground-conversation"]
    deadline = time.monotonic() + 5
    while gateway.answer(conversation)["status"] == "streaming":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_the_limit_of_answers_a_minute_is_a_429_with_retry_after(gateway, limited):
    for _ in range(3):
        gateway.upstream.enqueue(Script(chunks=render("openai-chat", "r", "fine")))
        limited.client("lars").chat.completions.create(model="Native", messages=PROMPT)
    with pytest.raises(openai.RateLimitError) as caught:
        limited.client("lars").chat.completions.create(model="Native", messages=PROMPT)
    assert_rate_limit(caught, most=60)
    assert "a minute" in error_of(caught.value)["message"]


def test_a_provider_rate_limit_without_retry_after_still_has_one(gateway):
    gateway.upstream.enqueue(Script.error(429, {"error": {"message": "Too many tokens"}}))
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.client().chat.completions.create(model="Native", messages=PROMPT)
    assert_rate_limit(caught, most=60)
    assert "Too many tokens" in error_of(caught.value)["message"]


@pytest.mark.parametrize("stream", [False, True])
def test_a_full_pool_of_upstream_connections_is_a_429_with_retry_after(gateway, limited, stream):
    # One upstream connection (UPSTREAM_MAX_CONNECTIONS=1): lotte's slow answer holds it,
    # luca's request waits UPSTREAM_POOL_TIMEOUT for it, then is told to come back.
    chunks = render("openai-chat", "step " * 200, "answer", chunk_chars=5)
    gateway.upstream.enqueue(Script(chunks=chunks, rate=50))
    with httpx.stream(
        "POST", limited.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {limited.tokens['lotte']}"},
        json={"model": "Native", "messages": PROMPT, "stream": True}, timeout=20,
    ) as running:
        lines = running.iter_lines()  # held: letting it go would close the response
        for line in lines:
            if "reasoning_content" in line:
                break
        if not stream:
            with pytest.raises(openai.RateLimitError) as caught:
                limited.client("luca").chat.completions.create(model="Native", messages=PROMPT)
            assert_rate_limit(caught, most=60)
            assert "pool exhausted" in error_of(caught.value)["message"]
        else:
            # Streamed, the head went out after one heartbeat (0.3 s here), before the pool
            # timeout (0.5 s): the limit comes as the stream's error object, of the same type.
            with pytest.raises(openai.APIError) as streamed:
                for _ in limited.client("luca").chat.completions.create(model="Native", messages=PROMPT, stream=True):
                    pass
            assert streamed.value.body["type"] == "rate_limit_error" and streamed.value.body["code"] == "busy"
    conversation = running.headers["x-playground-conversation"]
    deadline = time.monotonic() + 5
    while gateway.answer(conversation)["status"] == "streaming":
        assert time.monotonic() < deadline
        time.sleep(0.05)
