"""The bodies the catalogue's gateway and 2026 Claude defaults produce, checked by the
official SDKs' request types (issue 20.3, 20.4): OpenAI's Chat Completions params with
only the gateway's documented vendor keys beside them, Anthropic's Messages params."""

from __future__ import annotations

import pytest

from reasoning import catalogue
from reasoning.adapters import get_adapter
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking
from tests.conformance.oracle import check_anthropic_body, check_chat_body

# Each gateway's documented vendor fields (spec §9).
VENDOR = {"baseten": {"chat_template_args"}, "friendli": {"chat_template_kwargs", "parse_reasoning",
                                                            "include_reasoning"}}


def body(kind: str, model_id: str, thinking: Thinking, gateway: str = "") -> dict:
    fields = catalogue.fill(kind, model_id, {}, "http://127.0.0.1:1/v1", gateway)
    model = ModelSpec(model_id, thinking_control=fields["thinking_control"], efforts=tuple(fields["efforts"]),
                      options=fields.get("options", {}))
    request = ChatRequest(ProviderConfig(kind, "http://127.0.0.1:1/v1"), model, [Message("user", "17*23?")],
                          thinking=thinking)
    return get_adapter(kind).prepare(request).json


CASES = [
    ("baseten", "moonshotai/Kimi-K2.5", Thinking(mode="on")),
    ("baseten", "zai-org/GLM-5", Thinking(mode="off")),
    *[("baseten", "deepseek-ai/DeepSeek-V4-Pro", Thinking(effort=e)) for e in ("low", "medium", "high", "xhigh")],
    ("baseten", "openai/gpt-oss-120b", Thinking(effort="medium")),
    ("friendli", "deepseek-ai/DeepSeek-R1", Thinking()),
    ("friendli", "Qwen/Qwen3-32B", Thinking(mode="off", reasoning_mode="hidden", include_reasoning=False)),
    ("friendli", "Qwen/Qwen3-32B", Thinking(mode="on", reasoning_mode="inline")),
]


@pytest.mark.parametrize(("gateway", "model_id", "thinking"), CASES)
def test_gateway_bodies_are_openai_bodies_plus_the_gateways_own_fields(gateway, model_id, thinking):
    vendor = check_chat_body(body("openai", model_id, thinking, gateway))
    assert set(vendor.top) <= VENDOR[gateway], vendor.top


@pytest.mark.parametrize("model_id", ["claude-opus-4-7", "claude-opus-5", "claude-opus-5-5", "claude-fable-5-1"])
@pytest.mark.parametrize("thinking", [Thinking(), Thinking(mode="on", effort="high"),
                                      Thinking(mode="on", reasoning_mode="hidden", include_reasoning=False)])
def test_2026_claude_bodies_are_messages_params(model_id, thinking):
    sent = body("anthropic", model_id, thinking)
    # Prefix-bound models also carry the binding beta's `block_binding` (toolreplay's,
    # sent with its beta header), which the SDK's non-beta types do not declare.
    sent.get("thinking", {}).pop("block_binding", None)
    check_anthropic_body(sent)
