"""reasoning.carried reads back, from a body as sent, which reasoning went back and
in which carrier: checked on bodies the context builder makes (DeepSeek's tool loop
under the interleaved policy) and on each flavour's documented shapes."""

from __future__ import annotations

from reasoning.carried import carried
from reasoning.context import assemble
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ToolCall, ToolSpec


def deepseek_loop(policy: str) -> dict:
    request = ChatRequest(
        provider=ProviderConfig("openai", "https://api.deepseek.com/v1"),
        model=ModelSpec("deepseek-reasoner"),
        messages=[
            Message("user", "What time is it?"),
            Message("assistant", "", reasoning="I should ask the clock.", source="openai:deepseek-reasoner",
                    tool_calls=(ToolCall("c1", "now", "{}"),)),
            Message("tool", "12:00", tool_call_id="c1", name="now"),
        ],
        tools=(ToolSpec("now"),),
        replay_policy=policy,  # type: ignore[arg-type]
    )
    return assemble(request, "openai").body


def test_it_finds_the_step_reasoning_the_context_sent_back():
    found = carried(deepseek_loop("interleaved"), "openai")
    assert [(c.message, c.carrier, c.chars, c.tool_calls) for c in found] == [
        (2, "reasoning_content", len("I should ask the clock."), 1)
    ]


def test_each_flavours_carrier():
    anthropic = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "hmm", "signature": "sig"}, {"type": "tool_use", "id": "t", "name": "now",
                                                                     "input": {}}]}]}
    assert [(c.carrier, c.chars, c.tool_calls) for c in carried(anthropic, "anthropic")] == [
        ("signed thinking block", 3, 1)
    ]
    gemini = {"contents": [{"role": "model", "parts": [{"functionCall": {"name": "now", "args": {}},
                                                        "thoughtSignature": "abc"}]}]}
    assert [(c.message, c.carrier) for c in carried(gemini, "gemini")] == [(1, "thoughtSignature")]
    responses = {"input": [{"type": "message", "role": "user", "content": "hi"},
                           {"type": "reasoning", "id": "rs_1", "encrypted_content": "xyz", "summary": []},
                           {"type": "function_call", "call_id": "c", "name": "now", "arguments": "{}"}]}
    assert [(c.message, c.carrier) for c in carried(responses, "openai-responses")] == [
        (2, "reasoning item (encrypted_content)")
    ]
    ollama = {"messages": [{"role": "assistant", "content": "", "thinking": "abc", "tool_calls": [{}]}]}
    assert [(c.carrier, c.tool_calls) for c in carried(ollama, "ollama")] == [("thinking", 1)]
    markup = {"messages": [{"role": "assistant", "content": "<think>\nmulled\n</think>\n\nok"}]}
    assert [(c.carrier, c.chars) for c in carried(markup, "openai")] == [("<think> tags in content", 6)]
    assert carried(None, "openai") == [] and carried({"messages": "junk"}, "openai") == []
