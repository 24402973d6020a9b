"""Point 7 of the gateway: OpenAI's error shape with meaningful status codes,
whether the failure is ours (token, model, parameter) or the provider's."""

from __future__ import annotations

import httpx
import openai
import pytest

from reasoning.testing.upstream import Script, render

PROMPT = [{"role": "user", "content": "Hello?"}]


def error_of(exc: openai.APIStatusError) -> dict:
    body = exc.response.json()
    assert set(body["error"]) == {"message", "type", "code", "param"}
    return body["error"]


def test_a_wrong_token_is_a_401(gateway):
    with pytest.raises(openai.AuthenticationError) as caught:
        gateway.client(token="rp-not-a-real-token").chat.completions.create(model="Native", messages=PROMPT)
    assert caught.value.status_code == 401
    assert error_of(caught.value)["code"] == "invalid_api_key"


def test_no_token_is_a_401_not_a_login_redirect(gateway):
    response = httpx.post(gateway.url + "/v1/chat/completions", json={"model": "Native", "messages": PROMPT})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_revoked_token_is_refused_at_once(gateway):
    token = gateway.manage("tokens", "create", "--user", "olivia", "--name", "short-lived").strip()
    client = gateway.client(token=token)
    assert {m.id for m in client.models.list()} >= {"Native"}
    line = next(line for line in gateway.manage("tokens", "list").splitlines() if "\tshort-lived\t" in line)
    assert token not in line and "last used never" not in line
    gateway.manage("tokens", "revoke", line.split("\t")[0])
    with pytest.raises(openai.AuthenticationError):
        client.models.list()
    seen = len(gateway.upstream.requests)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="Native", messages=PROMPT)
    assert len(gateway.upstream.requests) == seen


def test_an_unknown_model_is_a_404(gateway):
    with pytest.raises(openai.NotFoundError) as caught:
        gateway.client().chat.completions.create(model="No such model", messages=PROMPT)
    error = error_of(caught.value)
    assert (error["code"], error["param"]) == ("model_not_found", "model")


@pytest.mark.parametrize("label", ["Switched off", "Paused"])
def test_a_disabled_model_is_a_404(gateway, label):
    with pytest.raises(openai.NotFoundError):
        gateway.client().chat.completions.create(model=label, messages=PROMPT)


@pytest.mark.parametrize(
    ("label", "params", "param"),
    [
        ("Native", {"logit_bias": {"1": 2}}, "logit_bias"),
        # Tools are taken (test_tools.py); a tool_choice the provider has no way to send is not.
        ("Ollama", {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"},
         "tool_choice"),
        ("Native", {"reasoning_effort": "xhigh"}, "reasoning_effort"),  # not one Native lists
        ("Native", {"reasoning_effort": "ludicrous"}, "reasoning_effort"),
        ("Inline", {"reasoning_effort": "high"}, "reasoning_effort"),  # no effort control
        ("Inline", {"chat_template_kwargs": {"enable_thinking": False}}, "chat_template_kwargs.enable_thinking"),
        ("Native", {"thinking": {"type": "enabled", "budget_tokens": 2000}}, "thinking.budget_tokens"),
        ("Claude", {"thinking": {"type": "enabled"}, "max_tokens": 500}, "max_tokens"),
        ("Claude", {"reasoning_effort": "none", "thinking": {"type": "enabled"}}, "thinking.type"),
        ("Gemini", {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": 7}}}},
         "response_format"),  # not a JSON Schema
        ("Gemini", {"response_format": {"type": "grammar"}}, "response_format"),
        ("Claude", {"top_p": 0.5}, "top_p"),  # the Messages API has none (anthropic 2.x types)
        ("Native", {"temperature": 7}, "temperature"),
        ("Native", {"max_tokens": 10, "max_completion_tokens": 20}, "max_completion_tokens"),
        ("Native", {"n": 2}, "n"),
        ("Native", {"frequency_penalty": 0.5}, "frequency_penalty"),
        ("Native", {"logprobs": True}, "logprobs"),
    ],
)
def test_a_parameter_the_model_cannot_honour_is_a_400_naming_it(gateway, label, params, param):
    seen = len(gateway.upstream.requests)
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().chat.completions.create(model=label, messages=PROMPT, extra_body=params)
    assert error_of(caught.value)["param"] == param
    assert len(gateway.upstream.requests) == seen  # refused before anything was sent


def test_a_bad_message_list_is_a_400(gateway):
    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().chat.completions.create(
            model="Native", messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
        )
    assert error_of(caught.value)["param"] == "messages"


def test_a_provider_rate_limit_is_a_429_with_its_retry_after_and_message(gateway):
    gateway.upstream.enqueue(
        Script.error(429, {"error": {"message": "Rate limit reached for requests", "type": "requests"}},
                     headers={"retry-after": "7"})
    )
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.client().chat.completions.create(model="Native", messages=PROMPT)
    assert caught.value.response.headers["retry-after"] == "7"
    assert "Rate limit reached for requests" in error_of(caught.value)["message"]


def test_a_streamed_request_that_fails_before_its_first_token_is_the_http_status(gateway):
    gateway.upstream.enqueue(Script.error(429, {"error": {"message": "Slow down"}}, headers={"retry-after": "3"}))
    with pytest.raises(openai.RateLimitError) as caught:
        gateway.client().chat.completions.create(model="Native", messages=PROMPT, stream=True)
    assert caught.value.response.headers["retry-after"] == "3"


@pytest.mark.parametrize("label", ["Native", "Claude"])
def test_a_provider_outage_is_a_502_with_the_providers_message(gateway, label):
    body = {"error": {"message": "The engine is overloaded", "type": "overloaded_error"}}
    gateway.upstream.enqueue(Script.error(503, body))
    with pytest.raises(openai.InternalServerError) as caught:
        gateway.client().chat.completions.create(model=label, messages=PROMPT)
    assert caught.value.status_code == 502
    error = error_of(caught.value)
    assert "The engine is overloaded" in error["message"]
    assert "Traceback" not in error["message"] and "sk-upstream-secret" not in caught.value.response.text


def test_a_provider_that_never_answers_is_a_504(gateway):
    # The server's UPSTREAM_READ_TIMEOUT is 2 s.
    gateway.upstream.enqueue(Script(chunks=render("openai-chat", "r", "c"), ttfb=4))
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client().chat.completions.create(model="Native", messages=PROMPT)
    assert caught.value.status_code == 504
    assert error_of(caught.value)["code"] == "timeout"


def test_a_failure_after_streaming_began_is_an_error_object_then_done_and_the_text_is_kept(gateway):
    chunks = render("openai-chat", "Thinking about it at some length", "never sent", chunk_chars=4)
    gateway.upstream.enqueue(Script(chunks=chunks, interval=0.02, cut_after=6))
    with httpx.stream(
        "POST", gateway.url + "/v1/chat/completions",
        headers={"authorization": f"Bearer {gateway.tokens['olivia']}"},
        json={"model": "Native", "messages": PROMPT, "stream": True}, timeout=20,
    ) as response:
        assert response.status_code == 200
        conversation = response.headers["x-playground-conversation"]
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert '"error"' in lines[-2] and "reasoning_content" in "".join(lines[:-2])
    turn = gateway.answer(conversation)
    assert turn["status"] == "error"
    assert turn["reasoning"].startswith("Thinking")


def test_the_sdk_raises_on_the_error_object_in_the_stream(gateway):
    chunks = render("openai-chat", "Thinking about it at some length", "never sent", chunk_chars=4)
    gateway.upstream.enqueue(Script(chunks=chunks, interval=0.02, cut_after=6))
    reasoning = []
    with pytest.raises(openai.APIError):
        for chunk in gateway.client().chat.completions.create(model="Native", messages=PROMPT, stream=True):
            for choice in chunk.choices:
                reasoning.append((choice.delta.model_extra or {}).get("reasoning_content") or "")
    assert "".join(reasoning).startswith("Thinking")



@pytest.mark.parametrize("stream", [False, True])
def test_a_turn_that_cannot_start_is_an_error_response_and_a_stored_error(gateway, stream):
    seen = len(gateway.upstream.requests)
    with pytest.raises(openai.APIStatusError) as caught:
        gateway.client().chat.completions.create(model="Broken", messages=PROMPT, stream=stream)
    error = error_of(caught.value)
    assert error["message"] and "Traceback" not in error["message"]
    assert len(gateway.upstream.requests) == seen
    [(status,)] = gateway.query(
        "SELECT t.status FROM playground_turn t JOIN playground_conversation c ON c.id = t.conversation_id"
        " WHERE c.title = 'Hello?' AND t.model_label = 'Broken' ORDER BY t.id DESC LIMIT 1"
    )
    assert status == "error"


def test_cors_is_off(gateway):
    preflight = httpx.options(
        gateway.url + "/v1/chat/completions",
        headers={"origin": "https://elsewhere.example", "access-control-request-method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers
    response = httpx.get(
        gateway.url + "/v1/models",
        headers={"origin": "https://elsewhere.example", "authorization": f"Bearer {gateway.tokens['olivia']}"},
    )
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    assert "set-cookie" not in response.headers  # no session, no CSRF cookie: tokens only
