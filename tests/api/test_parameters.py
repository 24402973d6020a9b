"""Parameters map onto the playground's own controls, per provider, and reasoning
in the input never reaches a provider that does not want it back (asserted on the
body the fake upstream received)."""

from __future__ import annotations

import json

import pytest

from reasoning.testing.upstream import Script, render

PROMPT = [{"role": "user", "content": "Hello?"}]
SECRET_FIELD = "SECRET-FIELD-REASONING"
SECRET_VLLM = "SECRET-VLLM-REASONING"
SECRET_INLINE = "SECRET-INLINE-REASONING"
HISTORY = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "content": "4", "reasoning_content": SECRET_FIELD},
    {"role": "user", "content": "And 3 + 3?"},
    {"role": "assistant", "content": "6", "reasoning": SECRET_VLLM},
    {"role": "user", "content": "And 4 + 4?"},
    {"role": "assistant", "content": f"<think>\n{SECRET_INLINE}\n</think>\n\n8"},
    {"role": "user", "content": "And 5 + 5?"},
]
REPLIES = {
    "Native": lambda: render("openai-chat", "r", "10"),
    "Inline": lambda: render("openai-chat", "r", "10", field="markup"),
    "Claude": lambda: render("anthropic", "r", "10"),
    "Gemini": lambda: render("gemini", "r", "10"),
    "Echo": lambda: render("openai-chat", "r", "10"),
}


def sent(gateway, label: str, messages=PROMPT, **params) -> dict:
    seen = len(gateway.upstream.requests)
    gateway.upstream.enqueue(Script(chunks=REPLIES[label]()))
    gateway.client().chat.completions.create(model=label, messages=messages, extra_body=params or None)
    [request] = gateway.requests_after(seen)
    return request.json


@pytest.mark.parametrize("label", ["Native", "Inline", "Claude", "Gemini"])
def test_input_reasoning_never_reaches_the_provider(gateway, label):
    body = sent(gateway, label, HISTORY)
    text = json.dumps(body)
    for secret in (SECRET_FIELD, SECRET_VLLM, SECRET_INLINE):
        assert secret not in text
    assert "<think>" not in text
    assert "Be brief." in text and "And 5 + 5?" in text


def test_input_reasoning_goes_back_to_a_model_that_requires_it(gateway):
    # A model whose reasoning is kept across turns (replay "preserved") gets it back in
    # its carrier (echo_reasoning_content: reasoning_content), from any input field.
    messages = sent(gateway, "Echo", HISTORY)["messages"]
    answers = [m for m in messages if m["role"] == "assistant"]
    assert [m["content"] for m in answers] == ["4", "6", "8"]
    assert [m["reasoning_content"] for m in answers] == [SECRET_FIELD, SECRET_VLLM, SECRET_INLINE]


def test_reasoning_effort_and_the_thinking_switch_map_like_the_playground(gateway):
    body = sent(gateway, "Native", reasoning_effort="high")
    assert body["reasoning_effort"] == "high"
    assert body["chat_template_kwargs"] == {"enable_thinking": True}
    body = sent(gateway, "Native", chat_template_kwargs={"enable_thinking": False})
    assert body["chat_template_kwargs"] == {"enable_thinking": False}
    assert "reasoning_effort" not in body


def test_claude_takes_an_effort_or_a_budget_on_the_same_control(gateway):
    assert sent(gateway, "Claude", reasoning_effort="high")["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    body = sent(gateway, "Claude", thinking={"type": "enabled", "budget_tokens": 3000}, max_tokens=8000)
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    assert body["max_tokens"] == 8000
    assert sent(gateway, "Claude", reasoning_effort="none")["thinking"] == {"type": "disabled"}


def test_gemini_effort_becomes_a_thinking_budget(gateway):
    config = sent(gateway, "Gemini", reasoning_effort="low", top_p=0.5, stop=["END"])["generationConfig"]
    assert config["thinkingConfig"] == {"thinkingBudget": 1024, "includeThoughts": True}
    assert (config["topP"], config["stopSequences"]) == (0.5, ["END"])


def test_sampling_parameters_pass_through(gateway):
    body = sent(gateway, "Native", max_completion_tokens=300, temperature=0.2, top_p=0.9, stop="STOP")
    assert (body["max_tokens"], body["temperature"], body["top_p"], body["stop"]) == (300, 0.2, 0.9, ["STOP"])


SCHEMA = {"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"]}


def test_response_format_becomes_the_answer_schema_sent_the_providers_way(gateway):
    json_schema = {"type": "json_schema", "json_schema": {"name": "sum", "schema": SCHEMA}}
    native = sent(gateway, "Native", response_format=json_schema)["response_format"]
    assert native["type"] == "json_schema" and native["json_schema"]["schema"] == SCHEMA
    gemini = sent(gateway, "Gemini", response_format=json_schema)["generationConfig"]
    assert (gemini["responseMimeType"], gemini["responseJsonSchema"]) == ("application/json", SCHEMA)
    claude = sent(gateway, "Claude", response_format={"type": "json_object"})["output_config"]
    assert claude["format"] == {"type": "json_schema", "schema": {"type": "object"}}
    assert "response_format" not in sent(gateway, "Native", response_format={"type": "text"})


def test_parameters_clients_send_with_their_default_value_are_accepted(gateway):
    body = sent(
        gateway, "Native", n=1, frequency_penalty=0, presence_penalty=0.0, logprobs=False, tools=[],
        parallel_tool_calls=True, user="script-7",
    )
    for name in ("n", "frequency_penalty", "presence_penalty", "logprobs", "tools", "parallel_tool_calls", "user"):
        assert name not in body


def test_developer_messages_are_the_system_prompt_and_text_parts_are_joined(gateway):
    messages = [
        {"role": "developer", "content": "Answer in French."},
        {"role": "user", "content": [{"type": "text", "text": "Hello, "}, {"type": "text", "text": "world"}]},
    ]
    sent_messages = sent(gateway, "Native", messages)["messages"]
    assert sent_messages == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello, world"},
    ]


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        ([{"role": "tool", "content": "42", "tool_call_id": "x"}, {"role": "user", "content": "?"}],
         "messages[0].tool_call_id"),  # a result for no call (tests/api/test_tools.py has the rest)
        ([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x"}}]}],
         "messages[0].content[0]"),
        ([{"role": "user", "content": "   "}], "messages[0].content"),
    ],
)
def test_messages_it_cannot_carry_are_a_400_naming_them(gateway, messages, param):
    import openai

    with pytest.raises(openai.BadRequestError) as caught:
        gateway.client().chat.completions.create(model="Native", messages=messages)
    assert caught.value.response.json()["error"]["param"] == param
