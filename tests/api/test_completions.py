"""The official `openai` client against the running gateway: reasoning as
`reasoning_content` for every provider convention, whole and streamed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from reasoning.events import Usage
from reasoning.testing.upstream import Script, render

THOUGHT = "First, 6 times 7. That is 42."
ANSWER = "The answer is 42."

# label → the upstream's wire format for a reply with THOUGHT and ANSWER
REPLIES: dict[str, Any] = {
    "Native": lambda usage: render("openai-chat", THOUGHT, ANSWER, field="reasoning_content", usage=usage),
    "Inline": lambda usage: render("openai-chat", THOUGHT, ANSWER, field="markup", usage=usage),
    "Claude": lambda usage: render("anthropic", THOUGHT, ANSWER, usage=usage),
    "Gemini": lambda usage: render("gemini", THOUGHT, ANSWER, usage=usage),
}
USAGE = Usage(prompt_tokens=11, completion_tokens=30, reasoning_tokens=12)


def extra(obj: Any, name: str) -> Any:
    """A field the SDK's types do not declare, where the SDK keeps it."""
    return (obj.model_extra or {}).get(name)


def ask(gateway, label: str, **kwargs: Any) -> Any:
    return gateway.client().chat.completions.create(
        model=label, messages=[{"role": "user", "content": "What is 6 times 7?"}], **kwargs
    )


@pytest.mark.parametrize("label", list(REPLIES))
def test_it_returns_reasoning_content_apart_from_the_answer(gateway, label):
    gateway.upstream.enqueue(Script(chunks=REPLIES[label](USAGE)))
    completion = ask(gateway, label)
    message = completion.choices[0].message
    assert message.content == ANSWER
    assert extra(message, "reasoning_content") == THOUGHT
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == label


@pytest.mark.parametrize("label", list(REPLIES))
def test_it_streams_reasoning_content_then_content(gateway, label):
    gateway.upstream.enqueue(Script(chunks=REPLIES[label](USAGE)))
    stream = ask(gateway, label, stream=True, stream_options={"include_usage": True})
    order: list[str] = []
    reasoning, content, finish, usage = [], [], None, None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if text := extra(choice.delta, "reasoning_content"):
                reasoning.append(text)
                order.append("reasoning")
            if choice.delta.content:
                content.append(choice.delta.content)
                order.append("content")
            finish = choice.finish_reason or finish
    assert "".join(reasoning) == THOUGHT
    assert "".join(content) == ANSWER
    assert order.index("content") > max(i for i, kind in enumerate(order) if kind == "reasoning")
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens_details.reasoning_tokens is not None


def test_usage_counts_reasoning_tokens_apart(gateway):
    gateway.upstream.enqueue(Script(chunks=REPLIES["Native"](USAGE)))
    usage = ask(gateway, "Native").usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 30, 41)
    assert usage.completion_tokens_details.reasoning_tokens == 12


def test_gemini_thought_tokens_are_added_to_the_completion_count(gateway):
    # Gemini counts thoughts apart from candidates (spec §5); the gateway reports
    # OpenAI's convention, where completion tokens include reasoning tokens.
    gateway.upstream.enqueue(Script(chunks=REPLIES["Gemini"](Usage(5, 20, 8))))
    usage = ask(gateway, "Gemini").usage
    assert usage.completion_tokens_details.reasoning_tokens == 8
    assert usage.completion_tokens >= 8


def test_an_unreported_reasoning_token_count_is_estimated_never_zero(gateway):
    # Issue 20.6: the provider reported none, so it is estimated from the reasoning text
    # (reasoning.tokens), at most the completion tokens, which include it.
    from reasoning.tokens import estimate_tokens

    gateway.upstream.enqueue(Script(chunks=REPLIES["Native"](Usage(prompt_tokens=3, completion_tokens=9))))
    completion = ask(gateway, "Native")
    assert completion.usage.completion_tokens_details.reasoning_tokens == min(9, estimate_tokens(THOUGHT)) > 0


def test_no_usage_at_all_is_null_counts(gateway):
    gateway.upstream.enqueue(Script(chunks=REPLIES["Native"](None)))
    usage = ask(gateway, "Native").usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (None, None, None)


@pytest.mark.parametrize(
    ("reasoning_format", "field"),
    [("reasoning_content", "reasoning_content"), ("reasoning", "reasoning"), ("none", None), ("think", None)],
)
def test_each_reasoning_format_whole(gateway, reasoning_format, field):
    gateway.upstream.enqueue(Script(chunks=REPLIES["Native"](USAGE)))
    message = ask(gateway, "Native", extra_body={"reasoning_format": reasoning_format}).choices[0].message
    others = {"reasoning_content", "reasoning"} - {field}
    assert all(extra(message, name) is None for name in others)
    if field:
        assert extra(message, field) == THOUGHT
        assert message.content == ANSWER
    elif reasoning_format == "think":
        assert message.content == f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"
    else:
        assert message.content == ANSWER


@pytest.mark.parametrize("reasoning_format", ["reasoning_content", "reasoning", "none", "think"])
def test_each_reasoning_format_streamed(gateway, reasoning_format):
    gateway.upstream.enqueue(Script(chunks=REPLIES["Inline"](USAGE)))
    stream = ask(gateway, "Inline", stream=True, extra_body={"reasoning_format": reasoning_format})
    fields: dict[str, list[str]] = {"reasoning_content": [], "reasoning": [], "content": []}
    for chunk in stream:
        for choice in chunk.choices:
            for name in ("reasoning_content", "reasoning"):
                if text := extra(choice.delta, name):
                    fields[name].append(text)
            if choice.delta.content:
                fields["content"].append(choice.delta.content)
    got = {name: "".join(parts) for name, parts in fields.items()}
    if reasoning_format in ("reasoning_content", "reasoning"):
        assert got == {"reasoning_content": "", "reasoning": "", reasoning_format: THOUGHT, "content": ANSWER}
    elif reasoning_format == "none":
        assert got == {"reasoning_content": "", "reasoning": "", "content": ANSWER}
    else:
        assert got == {"reasoning_content": "", "reasoning": "", "content": f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"}


def test_models_lists_the_enabled_models_with_their_provider(gateway):
    models = {m.id: m.owned_by for m in gateway.client().models.list()}
    assert models["Native"] == "deepseekish"
    assert models["Claude"] == "anthropic"
    assert models["Gemini"] == "google"
    assert "Switched off" not in models and "Paused" not in models


def test_the_request_is_stored_in_the_owners_api_folder(gateway):
    gateway.upstream.enqueue(Script(chunks=REPLIES["Native"](USAGE)))
    response = gateway.client().chat.completions.with_raw_response.create(
        model="Native", messages=[{"role": "user", "content": "Stored?"}]
    )
    conversation = int(response.headers["x-playground-conversation"])
    [(origin, title, owner)] = gateway.query(
        "SELECT c.origin, c.title, u.username FROM playground_conversation c"
        " JOIN auth_user u ON u.id = c.owner_id WHERE c.id = ?",
        conversation,
    )
    assert (origin, title, owner) == ("api", "Stored?", "olivia")
    turn = gateway.answer(conversation)
    assert (turn["status"], turn["reasoning"], turn["content"]) == ("complete", THOUGHT, ANSWER)


def test_an_owner_who_keeps_no_api_requests_gets_the_answer_and_no_conversation(gateway):
    gateway.manage(
        "shell",
        code="from playground.models import Preferences\n"
        "from django.contrib.auth import get_user_model\n"
        "p = Preferences.of(get_user_model().objects.get(username='sam'))\n"
        "p.store_api_requests = False\n"
        "p.save()\n",
    )
    gateway.upstream.enqueue(Script(chunks=REPLIES["Native"](USAGE)))
    response = gateway.client(token=gateway.tokens["sam"]).chat.completions.with_raw_response.create(
        model="Native", messages=[{"role": "user", "content": "Forget me"}]
    )
    assert extra(response.parse().choices[0].message, "reasoning_content") == THOUGHT
    conversation = int(response.headers["x-playground-conversation"])
    deadline = time.monotonic() + 5
    while gateway.query("SELECT id FROM playground_conversation WHERE id = ?", conversation):
        assert time.monotonic() < deadline, "the conversation was kept"
        time.sleep(0.05)
