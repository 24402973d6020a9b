"""The official SDKs as the oracle for what we send and what we read.

Nothing here was written to agree with our adapters: request bodies are validated
with pydantic over the SDKs' own request types (`*CreateParams` TypedDicts for
openai and anthropic, the pydantic models of google-genai and ollama), unknown keys
forbidden wherever the provider's API is closed, and streams are read by the SDKs'
own clients, decoders and accumulators.

Where a provider's API is open by design (OpenAI-compatible servers take vendor
fields that SDK users send through `extra_body`), the vendor keys are split off and
returned so the test can check them against the documented set for the control.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

import anthropic
import ollama
import openai
from anthropic.types import RawMessageStreamEvent
from anthropic.types import message_create_params as anthropic_params
from google import genai
from google.genai import types as gtypes
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk
from openai.types.chat import completion_create_params as chat_params
from openai.types.responses import ResponseStreamEvent
from openai.types.responses import response_create_params as responses_params
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from reasoning.events import Usage


class SdkRejected(AssertionError):
    """The SDK's types or parser refused what we built or emitted; carries its error."""


def _closed(typed_dict: Any) -> TypeAdapter[Any]:
    # `config` cannot be given for a TypedDict itself, but it is for a list of them,
    # and nested TypedDicts without a config of their own inherit it.
    return TypeAdapter(list[typed_dict], config=ConfigDict(extra="forbid"))


CHAT_BODY = _closed(chat_params.CompletionCreateParamsStreaming)
RESPONSES_BODY = _closed(responses_params.ResponseCreateParamsStreaming)
ANTHROPIC_BODY = _closed(anthropic_params.MessageCreateParamsStreaming)
CHAT_KEYS = frozenset(get_type_hints(chat_params.CompletionCreateParamsStreaming))

# Keys OpenAI-compatible servers take on an assistant message that OpenAI's types lack.
VENDOR_MESSAGE_KEYS = frozenset({"reasoning_content", "reasoning", "reasoning_details"})


def _force(value: Any, where: str) -> Any:
    """Consume the lazily validated iterables (`Iterable[...]` fields validate only
    when read) so every error surfaces now; refuse response models standing in for
    request params (the anthropic SDK's unions also admit its response blocks,
    which are open: a request must match a closed Param type)."""
    if isinstance(value, Iterator):  # pydantic-core's ValidatorIterator
        return [_force(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, BaseModel):
        raise SdkRejected(f"{where}: matched the response type {type(value).__name__}, no request param")
    if isinstance(value, dict):
        return {k: _force(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_force(item, f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def _validate(adapter: TypeAdapter[Any], body: Mapping[str, Any], what: str) -> dict[str, Any]:
    try:
        validated = adapter.validate_python([json.loads(json.dumps(body))])[0]
        result: dict[str, Any] = _force(validated, what)
    except ValidationError as exc:
        raise SdkRejected(f"{what} rejected by the SDK's types:\n{_brief(exc)}") from None
    return result


def _brief(exc: ValidationError) -> str:
    """The SDK's errors, the missing-field noise of non-matching union members left out
    unless nothing else is there (a union reports every member it tried)."""
    errors = exc.errors()
    pointed = [e for e in errors if e["type"] not in ("missing", "literal_error", "union_tag_invalid")]
    lines: list[str] = []
    seen: set[tuple[str, str]] = set()
    for error in pointed or errors:
        # `list[union[A,B,…]]` locations name every member tried: keep the head.
        loc = [str(p) if len(str(p)) < 40 else str(p).split("[")[0] + "[…]" for p in error["loc"]]
        key = (loc[-1], error["msg"])
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"  {'.'.join(loc)}: {error['msg']}")
    if len(lines) > 12:
        lines = [*lines[:12], f"  … {len(lines) - 12} more"]
    return f"{exc.error_count()} errors, e.g.\n" + "\n".join(lines)


# ---- request bodies -----------------------------------------------------------------


@dataclass
class VendorKeys:
    """What an OpenAI-compatible body carries beyond OpenAI's own types."""

    top: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)  # per message, only the extras


def check_chat_body(body: Mapping[str, Any]) -> VendorKeys:
    """Chat Completions: the body minus vendor keys must be an OpenAI
    `CompletionCreateParamsStreaming` with nothing unknown; the vendor keys come back."""
    vendor = VendorKeys(top={k: v for k, v in body.items() if k not in CHAT_KEYS})
    core = {k: v for k, v in body.items() if k in CHAT_KEYS}
    messages = []
    for message in body.get("messages", []):
        vendor.messages.append({k: v for k, v in message.items() if k in VENDOR_MESSAGE_KEYS})
        messages.append({k: v for k, v in message.items() if k not in VENDOR_MESSAGE_KEYS})
    core["messages"] = messages
    _validate(CHAT_BODY, core, "chat completions body")
    return vendor


def check_responses_body(body: Mapping[str, Any]) -> None:
    """Responses API: closed, every input item one of the SDK's input item params."""
    _validate(RESPONSES_BODY, body, "responses body")


def check_anthropic_body(body: Mapping[str, Any]) -> None:
    """Messages API: closed, every content block one of the SDK's block params."""
    _validate(ANTHROPIC_BODY, body, "anthropic messages body")


GEMINI_TOP_LEVEL = {
    "contents": list[gtypes.Content],
    "systemInstruction": gtypes.Content,
    "generationConfig": gtypes.GenerationConfig,
    "safetySettings": list[gtypes.SafetySetting],
    "tools": list[gtypes.Tool],
    "toolConfig": gtypes.ToolConfig,
    "cachedContent": str,
}


def check_gemini_body(body: Mapping[str, Any]) -> None:
    """Gemini REST body: each top-level field parsed by google-genai's own models
    (`extra="forbid"`, bytes as base64 as on the wire) and dumped back by them,
    camelCase, must equal what we sent: a misspelt, snake_case or unknown field, or a
    signature that is not base64, fails."""
    unknown = set(body) - set(GEMINI_TOP_LEVEL)
    if unknown:
        raise SdkRejected(f"gemini body: unknown top-level fields {sorted(unknown)}")
    for key, value in body.items():
        adapter: TypeAdapter[Any] = TypeAdapter(GEMINI_TOP_LEVEL[key])
        try:
            parsed = adapter.validate_json(json.dumps(value))
        except ValidationError as exc:
            raise SdkRejected(f"gemini {key} rejected by google-genai:\n{_brief(exc)}") from None
        back = adapter.dump_python(parsed, mode="json", by_alias=True, exclude_none=True)
        if back != value:
            raise SdkRejected(f"gemini {key} is not what google-genai writes:\n ours {value}\n sdk  {back}")


def check_ollama_body(body: Mapping[str, Any]) -> None:
    """Ollama /api/chat: the client's own `ChatRequest` model. Its models ignore unknown
    keys, and so does the server, so a key outside them would be silently dropped:
    that is refused here, which is what makes a dropped control visible."""
    _known(body, ollama._types.ChatRequest, "ollama body")
    for i, message in enumerate(body.get("messages", [])):
        _known(message, ollama.Message, f"ollama messages[{i}]")
    if isinstance(body.get("options"), dict):
        _known(body["options"], ollama.Options, "ollama options")
    try:
        ollama._types.ChatRequest.model_validate(body)
    except ValidationError as exc:
        raise SdkRejected(f"ollama body rejected by the client's types:\n{_brief(exc)}") from None


def _known(value: Mapping[str, Any], model: type[BaseModel], what: str) -> None:
    unknown = set(value) - set(model.model_fields)
    if unknown:
        raise SdkRejected(f"{what}: {sorted(unknown)} unknown to {model.__name__}")


# ---- streams read by the SDKs -------------------------------------------------------


@dataclass
class SdkReading:
    """What the SDK's own parser made of a stream, in our terms."""

    reasoning: str
    content: str
    usage: Usage | None
    replay: Any = None  # the SDK's view of what a next turn needs (blocks, items, parts)


def _strict_events(adapter: TypeAdapter[Any], payloads: Iterable[Any], what: str) -> None:
    for i, payload in enumerate(payloads):
        try:
            adapter.validate_python(payload)
        except ValidationError as exc:
            raise SdkRejected(f"{what} event {i} ({str(payload)[:120]}):\n{_brief(exc)}") from None


def sse_payloads(chunks: Iterable[bytes | str]) -> list[Any]:
    """The JSON of every `data:` line (for strict validation beside the SDK client)."""
    text = b"".join(c.encode() if isinstance(c, str) else c for c in chunks).decode()
    out = []
    for line in text.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                out.append(json.loads(data))
    return out


async def read_chat(base_url: str, chunks: list[bytes]) -> SdkReading:
    """Chat Completions through `openai.AsyncOpenAI` and `ChatCompletionStreamState`."""
    _strict_events(TypeAdapter(ChatCompletionChunk), sse_payloads(chunks), "chat chunk")
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-oracle", max_retries=0)
    state = ChatCompletionStreamState()
    stream = await client.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    )
    async for chunk in stream:
        state.handle_chunk(chunk)
    completion = state.get_final_completion()
    message = completion.choices[0].message
    extra = message.model_extra or {}
    reasoning = extra.get("reasoning_content") or extra.get("reasoning") or ""
    details = extra.get("reasoning_details")
    if not reasoning and isinstance(details, list):
        reasoning = "".join(d.get("text") or "" for d in details if isinstance(d, dict))
    usage = None
    if completion.usage is not None:
        u = completion.usage
        usage = Usage(
            prompt_tokens=u.prompt_tokens,
            completion_tokens=u.completion_tokens,
            reasoning_tokens=u.completion_tokens_details.reasoning_tokens
            if u.completion_tokens_details
            else None,
            cached_tokens=u.prompt_tokens_details.cached_tokens
            if u.prompt_tokens_details
            # DeepSeek's own field (§3), kept by the SDK as an extra of its usage object.
            else (u.model_extra or {}).get("prompt_cache_hit_tokens"),
        )
    return SdkReading(reasoning, message.content or "", usage, details)


async def read_responses(base_url: str, chunks: list[bytes]) -> SdkReading:
    """Responses through `client.responses.stream` and its final response."""
    _strict_events(TypeAdapter(ResponseStreamEvent), sse_payloads(chunks), "responses")
    client = openai.AsyncOpenAI(base_url=base_url, api_key="sk-oracle", max_retries=0)
    async with client.responses.stream(model="m", input="x") as stream:
        async for _ in stream:
            pass
        response = await stream.get_final_response()
    parts: list[str] = []
    for item in response.output:
        if item.type == "reasoning":
            parts += [s.text for s in item.summary]
            parts += [c.text for c in item.content or []]
    usage = None
    if response.usage is not None:
        u = response.usage
        usage = Usage(
            prompt_tokens=u.input_tokens,
            completion_tokens=u.output_tokens,
            reasoning_tokens=u.output_tokens_details.reasoning_tokens,
            cached_tokens=u.input_tokens_details.cached_tokens,
        )
    items = [item.model_dump(mode="json", exclude_none=True) for item in response.output]
    return SdkReading("\n\n".join(parts), response.output_text, usage, items)


async def read_anthropic(base_url: str, chunks: list[bytes]) -> SdkReading:
    """Messages through `client.messages.stream` and `get_final_message`."""
    # `ping` is no message event: the SDK's stream decoder skips it before parsing.
    events = [p for p in sse_payloads(chunks) if p.get("type") != "ping"]
    _strict_events(TypeAdapter(RawMessageStreamEvent), events, "anthropic")
    client = anthropic.AsyncAnthropic(base_url=base_url, api_key="sk-oracle", max_retries=0)
    async with client.messages.stream(
        model="m", max_tokens=100, messages=[{"role": "user", "content": "x"}]
    ) as stream:
        message = await stream.get_final_message()
    reasoning = "".join(b.thinking for b in message.content if b.type == "thinking")
    content = "".join(b.text for b in message.content if b.type == "text")
    u = message.usage
    prompt = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
    details = getattr(u, "output_tokens_details", None)
    usage = Usage(
        prompt_tokens=prompt,
        completion_tokens=u.output_tokens,
        reasoning_tokens=getattr(details, "thinking_tokens", None) if details else None,
        cached_tokens=u.cache_read_input_tokens,
    )
    blocks = [b.model_dump(mode="json", exclude_none=True) for b in message.content]
    return SdkReading(reasoning, content, usage, blocks)


async def read_gemini(base_url: str, chunks: list[bytes], model: str = "gemini-x") -> SdkReading:
    """streamGenerateContent through `genai.Client(...).aio.models.generate_content_stream`
    (each chunk validated by `GenerateContentResponse`, extra forbidden)."""
    client = genai.Client(
        api_key="oracle", http_options=gtypes.HttpOptions(base_url=base_url, api_version="v1beta")
    )
    reasoning, content = [], []
    usage_metadata = None
    signed: list[dict[str, Any]] = []
    async for chunk in await client.aio.models.generate_content_stream(model=model, contents="x"):
        if chunk.usage_metadata is not None:
            usage_metadata = chunk.usage_metadata
        for candidate in chunk.candidates or []:
            for part in (candidate.content.parts if candidate.content else None) or []:
                if part.text:
                    (reasoning if part.thought else content).append(part.text)
                if part.thought_signature:
                    signed.append(part.model_dump(mode="json", by_alias=True, exclude_none=True))
    usage = None
    if usage_metadata is not None:
        m = usage_metadata
        thoughts = m.thoughts_token_count
        usage = Usage(
            prompt_tokens=m.prompt_token_count,
            completion_tokens=(m.candidates_token_count or 0) + (thoughts or 0),
            reasoning_tokens=thoughts,
            cached_tokens=m.cached_content_token_count,
        )
    return SdkReading("".join(reasoning), "".join(content), usage, signed)


async def read_ollama(base_url: str) -> SdkReading:
    """/api/chat NDJSON through `ollama.AsyncClient(...).chat(stream=True)`."""
    client = ollama.AsyncClient(host=base_url)
    reasoning, content = [], []
    usage = None
    async for part in await client.chat(
        model="m", messages=[{"role": "user", "content": "x"}], stream=True
    ):
        reasoning.append(part.message.thinking or "")
        content.append(part.message.content or "")
        if part.done:
            usage = Usage(prompt_tokens=part.prompt_eval_count, completion_tokens=part.eval_count)
    return SdkReading("".join(reasoning), "".join(content), usage)
