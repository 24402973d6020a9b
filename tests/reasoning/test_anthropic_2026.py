"""New Anthropic behaviour (issue 20.3, spec §13): Opus 4.7+ shows its thinking only
with `display: "summarized"`; Opus 5.5 cannot turn thinking off, refused here with a
clear message before anything is sent. Against `reasoning.testing.anthropic_2026`."""

from __future__ import annotations

from typing import Any

import pytest

from reasoning import catalogue
from reasoning.adapters.selection import adapter_for
from reasoning.controls import UnsupportedControl, check_controls
from reasoning.events import fold_text
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, Thinking
from reasoning.testing import FakeUpstream
from reasoning.testing.anthropic_2026 import ANSWER, THOUGHT, claude_2026
from reasoning.wire import make_client


def spec(model_id: str) -> ModelSpec:
    fields = catalogue.fill("anthropic", model_id, {})
    return ModelSpec(model_id, thinking_control=fields["thinking_control"], efforts=tuple(fields["efforts"]),
                     options=fields.get("options", {}))


async def ask(model_id: str, thinking: Thinking) -> tuple[tuple[str, str], dict[str, Any]]:
    model = spec(model_id)
    check_controls("anthropic", model, thinking)
    async with FakeUpstream(claude_2026) as up, make_client(read_timeout=5) as client:
        request = ChatRequest(ProviderConfig("anthropic", up.url), model, [Message("user", "17*23?")],
                              thinking=thinking)
        events = [e async for e in adapter_for(request).stream(request, client)]
        return fold_text(events), up.requests[0].json


@pytest.mark.parametrize("model_id", ["claude-opus-4-7", "claude-opus-5", "claude-opus-5-5", "claude-fable-5-1"])
async def test_thinking_on_shows_the_thinking(model_id):
    text, body = await ask(model_id, Thinking(mode="on", effort="medium"))
    assert text == (THOUGHT, ANSWER)
    assert (body["thinking"]["type"], body["thinking"]["display"]) == ("adaptive", "summarized")


@pytest.mark.parametrize("model_id", ["claude-opus-5", "claude-opus-5-5", "claude-sonnet-5-5"])
async def test_a_model_that_thinks_by_default_shows_it_at_default(model_id):
    text, body = await ask(model_id, Thinking())
    assert text == (THOUGHT, ANSWER)
    assert body["thinking"]["display"] == "summarized"


async def test_hidden_reasoning_asks_for_it_omitted():
    text, body = await ask("claude-opus-4-7", Thinking(mode="on", reasoning_mode="hidden", include_reasoning=False))
    assert (body["thinking"]["type"], body["thinking"]["display"]) == ("adaptive", "omitted")
    assert text == ("", ANSWER)


def test_opus_5_5_refuses_thinking_off_with_a_clear_message():
    with pytest.raises(UnsupportedControl) as refused:
        check_controls("anthropic", spec("claude-opus-5-5"), Thinking(mode="off"))
    assert refused.value.parameter == "thinking"
    message = str(refused.value)
    assert "claude-opus-5-5 cannot turn thinking off" in message and "effort low" in message


async def test_opus_5_can_still_turn_thinking_off():
    text, body = await ask("claude-opus-5", Thinking(mode="off"))
    assert body["thinking"] == {"type": "disabled"}
    assert text == ("", ANSWER)
