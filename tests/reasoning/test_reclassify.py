"""A `</think>` with no opening tag (the chat template opened it): the adapters turn
the answer streamed so far into reasoning, unless thinking is off."""

from __future__ import annotations

import dataclasses

import pytest

from reasoning.adapters import get_adapter
from reasoning.events import Reclassified, fold_text
from reasoning.request import ChatRequest, Message, ModelSpec, ProviderConfig, ReasoningStyle, Thinking
from reasoning.testing import FakeUpstream, Script, openai_chat_sse
from reasoning.testing.formats_native import ollama_ndjson
from reasoning.wire import make_client

THOUGHT = "The user asks 17*23. 17*20 = 340, 17*3 = 51."
ANSWER = "391"

MODELS = {
    "native": ModelSpec("deepseek-r1", reasoning=ReasoningStyle.NATIVE),
    "markup": ModelSpec("qwen3", reasoning=ReasoningStyle.MARKUP, markup="think"),
    "markup-starts-inside": ModelSpec(
        "qwen3", reasoning=ReasoningStyle.MARKUP, markup="think", starts_in_reasoning=True
    ),
}


async def run(kind: str, model: ModelSpec, chunks: list[bytes], thinking: Thinking) -> list[object]:
    content_type = "application/x-ndjson" if kind == "ollama" else "text/event-stream"
    async with FakeUpstream(Script(chunks=chunks, headers={"content-type": content_type})) as up:
        request = ChatRequest(
            provider=ProviderConfig(kind, up.url + ("/v1" if kind == "openai" else "")),
            model=model,
            messages=[Message("user", "17*23?")],
            thinking=thinking,
        )
        async with make_client(read_timeout=5) as client:
            return [e async for e in get_adapter(kind).stream(request, client)]


@pytest.mark.parametrize("model", list(MODELS))
async def test_a_stray_close_tag_reclassifies_the_streamed_answer(model):
    chunks = openai_chat_sse(THOUGHT, ANSWER, field="markup", open_tag=False, chunk_chars=5)
    events = await run("openai", MODELS[model], chunks, Thinking())
    assert fold_text(events) == (THOUGHT, ANSWER)
    # Streamed as answer first (or, when the profile says so, as reasoning from the start).
    assert sum(isinstance(e, Reclassified) for e in events) == (0 if model == "markup-starts-inside" else 1)


async def test_ollama_markup_reclassifies_too():
    model = ModelSpec("deepseek-r1:8b", reasoning=ReasoningStyle.MARKUP, markup="think")
    chunks = [
        line.replace(b"<think>", b"") for line in ollama_ndjson(THOUGHT, ANSWER, markup=True, chunk_chars=6)
    ]
    events = await run("ollama", model, chunks, Thinking())
    assert fold_text(events) == (THOUGHT, ANSWER)


@pytest.mark.parametrize("model", list(MODELS))
async def test_with_thinking_off_the_answer_is_never_reasoning(model):
    chunks = openai_chat_sse("", "Just 391, no thinking today.", field="markup", chunk_chars=4)
    switchable = dataclasses.replace(MODELS[model], thinking_control="chat_template_kwargs")
    events = await run("openai", switchable, chunks, Thinking(mode="off"))
    assert fold_text(events) == ("", "Just 391, no thinking today.")
    assert not any(isinstance(e, Reclassified) for e in events)
