"""Build the conversation a provider is sent, from the stored turns.

Reasoning is left out by default: a stored turn's `reasoning` and `replay` go back
only where the provider needs them, and replay data only to the very model that
produced it (`Message.source == "{kind}:{model_id}"` of this request), because a
foreign signature is a 400 (§4) and foreign reasoning means nothing to another model.
Sections (§) refer to /work/shared/spec/providers.md; the rules follow its §12 table.

What each flavour sends (body fields from `build_context`), and what goes back for an
assistant turn of this same model:

`openai` (`messages`): the text; `reasoning_details` from the replay payload (OpenRouter,
    §6); the reasoning echoed on every assistant message (`""` when empty or foreign) if the
    model option `echo_reasoning_content` is true (DeepSeek thinking mode, §3), in the field
    the model option `echo_reasoning_field` names (default `reasoning_content`; `reasoning`
    for vLLM since it renamed the field, §8); otherwise never (R1 and Groq reject
    `reasoning_content` with a 400, §3, §9).
`responses` (`input`): the replay payload's output items verbatim; reasoning items without
    `encrypted_content` are dropped (§2), and a message item is added after them if the
    payload has none. With the model option `previous_response_id` (which also makes the
    adapter send `store: true`), the last own turn's response id is sent as
    `previous_response_id` and only what came after that turn goes in `input`.
`anthropic` (`system`, `messages`): the text; the replay payload's content blocks verbatim
    (thinking + signature, redacted_thinking, text) only if the model option
    `replay_thinking` is true. §4 lets finished turns' thinking be left out, and leaving it
    out is the choice that can never fail signature validation.
`gemini` (`systemInstruction`, `contents`): the replay payload's parts verbatim, minus
    thought parts that carry no signature (§5: thought text without its signature does
    nothing); the text when there is no payload.
`ollama` (`messages`): the text; `thinking` if the model option `replay_thinking` is true
    (§7: input messages accept it).

For `openai` and `ollama`, a model option `keep_think_in_history` (MiniMax-M2, §9/§10)
puts the reasoning back inside the text, wrapped in `ModelSpec.markup_tags` (default
`<think>`/`</think>`), for turns of this model.

Replay data is stored and read in one shape, `reasoning.replay` (its docstring lists
the formats); this module only reads it through `reasoning.replay.items`/`read`.

Shaping, the same for every flavour:

* `request.system` and stored `system` messages become one system text (joined by a
  blank line), sent the provider's way: a first `system` message (openai, ollama,
  responses), `system` (anthropic), `systemInstruction` (gemini).
* Turns with empty text are left out: a failed or cancelled assistant turn carries no
  usable answer, and Anthropic rejects empty text blocks.
* Consecutive turns of the same role are merged into one (unless the later is `apart`), texts joined by a blank line
  (DeepSeek R1 rejects successive same roles, §3; Anthropic and Gemini want turns to
  alternate). This happens when a failed turn left two user messages in a row. A
  merged assistant turn carries no reasoning or replay: neither is verbatim any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from reasoning import replay as stored_replay
from reasoning.request import ChatRequest

Flavour = Literal["openai", "responses", "anthropic", "gemini", "ollama"]
FLAVOURS: tuple[str, ...] = ("openai", "responses", "anthropic", "gemini", "ollama")
DEFAULT_THINK_TAGS = ("<think>", "</think>")


@dataclass(frozen=True, slots=True)
class _Turn:
    role: Literal["user", "assistant"]
    content: str
    reasoning: str = ""
    replay: Any = None
    own: bool = False  # produced by this request's provider and model: replay allowed


def source_of(request: ChatRequest) -> str:
    """The `Message.source` this request's own turns carry."""
    return f"{request.provider.kind}:{request.model.model_id}"


def build_context(request: ChatRequest, flavour: str) -> dict[str, Any]:
    """The request-body fields that carry the system text and the conversation."""
    system, turns = _shape(request)
    if flavour == "openai":
        return {"messages": _openai(request, system, turns)}
    if flavour == "ollama":
        return {"messages": _ollama(request, system, turns)}
    if flavour == "responses":
        return _responses(request, system, turns)
    if flavour == "anthropic":
        body: dict[str, Any] = {}
        if system:
            body["system"] = system
        body["messages"] = _anthropic(request, turns)
        return body
    if flavour == "gemini":
        body = {}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        body["contents"] = _gemini(turns)
        return body
    raise ValueError(f"unknown context flavour {flavour!r}; expected one of {', '.join(FLAVOURS)}")


def build_messages(request: ChatRequest, flavour: str) -> list[dict[str, Any]]:
    """The message list alone: `messages` (openai, ollama, anthropic), `input`
    (responses) or `contents` (gemini). For anthropic and gemini the system text is
    not in the list; use `build_context` to get it too."""
    context = build_context(request, flavour)
    key = {"responses": "input", "gemini": "contents"}.get(flavour, "messages")
    messages: list[dict[str, Any]] = context[key]
    return messages


def _shape(request: ChatRequest) -> tuple[str, list[_Turn]]:
    source = source_of(request)
    system = [request.system] if request.system and request.system.strip() else []
    turns: list[_Turn] = []
    for message in request.messages:
        if message.role == "system":
            if message.content.strip():
                system.append(message.content)
            continue
        if not message.content.strip():
            continue
        turn = _Turn(
            role=message.role,
            content=message.content,
            reasoning=message.reasoning,
            replay=message.replay,
            own=message.role == "assistant" and message.source == source,
        )
        if turns and turns[-1].role == turn.role and not message.apart:
            turn = _Turn(role=turn.role, content=f"{turns[-1].content}\n\n{turn.content}")
            turns[-1] = turn
        else:
            turns.append(turn)
    return "\n\n".join(system), turns


ECHO_FIELDS = ("reasoning_content", "reasoning")


def echo_field(request: ChatRequest) -> str | None:
    """The assistant-message field that echoes reasoning back, or None for no echo."""
    options = request.model.options
    field = options.get("echo_reasoning_field")
    if field is not None and field not in ECHO_FIELDS:
        raise ValueError(f"echo_reasoning_field must be one of {', '.join(ECHO_FIELDS)}, not {field!r}")
    if not (options.get("echo_reasoning_content") or field):
        return None
    return str(field or "reasoning_content")


def _wrapped(request: ChatRequest, turn: _Turn) -> str:
    if not (turn.own and turn.reasoning and request.model.options.get("keep_think_in_history")):
        return turn.content
    opening, closing = request.model.markup_tags or DEFAULT_THINK_TAGS
    return f"{opening}\n{turn.reasoning}\n{closing}\n\n{turn.content}"


def _openai(request: ChatRequest, system: str, turns: list[_Turn]) -> list[dict[str, Any]]:
    echo = echo_field(request)
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for turn in turns:
        message: dict[str, Any] = {"role": turn.role, "content": _wrapped(request, turn)}
        if turn.role == "assistant":
            if echo:
                message[echo] = turn.reasoning if turn.own else ""
            details = stored_replay.items(turn.replay, "openai") if turn.own else []
            if details:
                message["reasoning_details"] = details
        messages.append(message)
    return messages


def _ollama(request: ChatRequest, system: str, turns: list[_Turn]) -> list[dict[str, Any]]:
    replay = bool(request.model.options.get("replay_thinking"))
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for turn in turns:
        message: dict[str, Any] = {"role": turn.role, "content": _wrapped(request, turn)}
        if replay and turn.own and turn.reasoning:
            message["thinking"] = turn.reasoning
        messages.append(message)
    return messages


def _responses(request: ChatRequest, system: str, turns: list[_Turn]) -> dict[str, Any]:
    items: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    if request.model.options.get("previous_response_id"):
        # The server kept everything up to its last response (store: true), the system
        # message included (it was input): only what came after that turn is new.
        for at in range(len(turns) - 1, -1, -1):
            replay = stored_replay.read(turns[at].replay, "responses") if turns[at].own else None
            if replay and replay.get("response_id"):
                later = [{"role": t.role, "content": t.content} for t in turns[at + 1 :]]
                return {"previous_response_id": replay["response_id"], "input": later}
    for turn in turns:
        replayed = _response_items(turn.replay) if turn.own else []
        if replayed:
            items.extend(replayed)
            if not any(item.get("type") == "message" for item in replayed):
                items.append({"role": "assistant", "content": turn.content})
        else:
            items.append({"role": turn.role, "content": turn.content})
    return {"input": items}


def _response_items(replay: Any) -> list[dict[str, Any]]:
    # A reasoning item sent without encrypted_content is looked up by id, which
    # fails with store=false (§2); such items are dropped.
    return [
        item
        for item in stored_replay.items(replay, "responses")
        if item.get("type") != "reasoning" or item.get("encrypted_content")
    ]


def _anthropic(request: ChatRequest, turns: list[_Turn]) -> list[dict[str, Any]]:
    replay = bool(request.model.options.get("replay_thinking"))
    messages: list[dict[str, Any]] = []
    for turn in turns:
        blocks = _payload(turn, "anthropic", "content") if replay and turn.own else None
        messages.append({"role": turn.role, "content": blocks or turn.content})
    return messages


def _gemini(turns: list[_Turn]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    for turn in turns:
        role = "model" if turn.role == "assistant" else "user"
        parts = [
            part
            for part in (_payload(turn, "gemini", "parts") if turn.own else None) or []
            if not part.get("thought") or part.get("thoughtSignature")
        ]
        contents.append({"role": role, "parts": parts or [{"text": turn.content}]})
    return contents


def _payload(turn: _Turn, format_: str, key: str) -> list[dict[str, Any]] | None:
    return stored_replay.items(turn.replay, format_) or None
