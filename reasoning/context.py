"""Build the conversation a provider is sent, from the stored turns, with notes.

`assemble(request, flavour)` is the one function that builds it: it returns the body
fields and a list of `ContextNote`s saying every repair and every replay choice made
(kinds in `NOTE_KINDS`), or raises `ReplayRefused` for a request the provider is known
to reject (a required carrier missing), before anything is sent. `build_context` is
its body alone, for the adapters. Sections (§) refer to /work/shared/spec/providers.md;
the rules follow its §12 and §13 tables.

Replay policy (`ChatRequest.replay_policy`, else the model option `replay`, else the
catalogue's `replay_rule` for the model; the legacy options `replay_thinking` and
`keep_think_in_history`, and an echo field on a model whose family has no carrier of its
own, mean "preserved"):

* `strip`: no reasoning goes back.
* `interleaved`: inside the tool chain (the assistant steps after the last real user
  message) every step's reasoning goes back in the family's carrier; for families that
  require it on every tool-call turn (DeepSeek, Kimi: `required="tool_turns"`) the
  reasoning of any earlier turn that made tool calls goes back too.
* `preserved`: every earlier turn's reasoning goes back, and the family's preservation
  flag is sent (Kimi `thinking.keep`, GLM `thinking.clear_thinking`, Qwen 3.6
  `chat_template_kwargs.preserve_thinking`).

Replay data goes back only to the very model that produced it (`Message.source ==
"{kind}:{model_id}"`): a foreign signature is a 400 (§4), foreign reasoning means
nothing to another model. What goes back is real stored text or the verbatim payload,
never a placeholder: where the family needs a carrier that is not stored (hidden,
another model's, or left out by the policy) the request is refused.

The carriers, per flavour (`reasoning.catalogue.CARRIERS`):

`openai` (`messages`): `reasoning_content` or `reasoning` (the model option
    `echo_reasoning_field`, else the family's; vLLM reads `reasoning`, SGLang
    `reasoning_content`, §8), `reasoning_details` from the replay payload (OpenRouter,
    §6), or `<think>` tags in the content (MiniMax, `keep_think_in_history`). A family
    that echoes (`echo_reasoning_content`, DeepSeek) gets the field on every assistant
    message, `""` where nothing goes back (§3's safe choice; DeepSeek ignores it on
    turns without tool calls). R1 and Groq reject `reasoning_content` (§3, §9): their
    rule has no carrier. Tool calls go as `tool_calls`, results as `role: tool`.
`responses` (`input`): the step's output items verbatim (reasoning items with
    `encrypted_content`, `function_call` items); a reasoning item without
    `encrypted_content` is dropped, and then the step's other items lose their `id` (an
    item with an id needs its reasoning item: a 400). Not replayed, a step is an
    assistant message and id-less `function_call` items. Results are
    `function_call_output`. With the model option `previous_response_id` the last own
    turn's response id is sent and only what came after it goes in `input`.
`anthropic` (`system`, `messages`): the signed `thinking` / `redacted_thinking` blocks
    verbatim, in their place before `tool_use`; results are `tool_result` blocks in a
    user message. For prefix-bound models (Claude Fable 5.1+) a step's blocks go back
    only if the prefix they were produced after (system, tools, earlier messages; its
    digest is stored with the replay data as `prefix`, see `prefix_digest`) is unchanged;
    from the first changed one on, they are dropped.
`gemini` (`systemInstruction`, `contents`): the parts verbatim with their
    `thoughtSignature` (unsigned thought parts dropped: thought text alone does
    nothing, §5); results are `functionResponse` parts.
`ollama` (`messages`): `thinking` on the message (§7); `tool_calls` with arguments as
    an object, results as `role: tool`.

Shaping, the same for every flavour:

* `request.system` and stored `system` messages become one system text (joined by a
  blank line), sent the provider's way.
* An assistant message with no text and no tool calls is left out (a failed or
  cancelled answer; Anthropic rejects empty text blocks): `dropped_empty_turn`.
* A prompt followed by another prompt got no answer (its turn failed): it is left out,
  never merged into the next (`dropped_failed_turn`). A message marked `apart` (the
  chain-of-thought instructions) stays its own message.
* Two assistant messages in a row are merged (`merged_messages`); the merged one
  carries no reasoning or replay: neither is verbatim any more.
* An Inline-mode answer (`Message.inline`) holds its reasoning between tags in its
  text: the tags and reasoning are taken out of the content, and the reasoning goes
  back only if the policy keeps it, in the carrier.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from reasoning import replay as stored_replay
from reasoning.catalogue import ReplayRule, replay_rule
from reasoning.errors import BadRequest
from reasoning.request import REPLAY_POLICIES, ChatRequest, ReasoningStyle, ToolCall, ToolSpec

Flavour = Literal["openai", "responses", "anthropic", "gemini", "ollama"]
FLAVOURS: tuple[str, ...] = ("openai", "responses", "anthropic", "gemini", "ollama")
FLAVOUR_OF_KIND = {
    "openai": "openai",
    "openai-responses": "responses",
    "anthropic": "anthropic",
    "gemini": "gemini",
    "ollama": "ollama",
}
DEFAULT_THINK_TAGS = ("<think>", "</think>")

# The documented note kinds (docs/tools.md, "Replay in tool loops").
NOTE_KINDS: dict[str, str] = {
    "kept_reasoning": "an earlier step's reasoning went back, in the family's carrier",
    "stripped_reasoning": "an earlier message's reasoning was left out (the policy does not keep it there)",
    "preservation_flag": "the family's flag that keeps reasoning across turns was sent",
    "dropped_failed_turn": "a prompt that got no answer (its turn failed) was left out",
    "dropped_empty_turn": "a message with no text and no tool calls was left out",
    "merged_messages": "two messages of the same role in a row were joined into one",
    "added_missing_result": "a call left without a result (its loop stopped) was given an error result",
    "dropped_orphan_result": "a tool result answering no call of the step before it was left out",
    "dropped_foreign_signature": "replay data of another provider or model was left out",
    "dropped_unencrypted_item": "a Responses reasoning item without encrypted_content was left out",
    "dropped_thinking_after_edit": "thinking blocks bound to a prefix that has changed since were left out",
    "stripped_inline_markup": "an Inline answer's reasoning tags were taken out of its text",
    "refused": "the request was not sent: the provider is known to reject it",
}


@dataclass(frozen=True, slots=True)
class ContextNote:
    kind: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


class ReplayRefused(BadRequest, ValueError):
    """A request the provider is known to reject, refused before it is sent. A
    BadRequest (the run and `ask` report it like the provider's own 400) and a
    ValueError (what `Adapter.prepare` raises for a request it cannot build)."""

    def __init__(self, message: str, notes: Sequence[ContextNote] = ()) -> None:
        super().__init__(message)
        self.notes = (*notes, ContextNote("refused", message))


@dataclass(frozen=True, slots=True)
class BuiltContext:
    body: dict[str, Any]
    notes: tuple[ContextNote, ...]
    policy: str
    rule: ReplayRule


@dataclass(slots=True)
class _Turn:
    role: Literal["user", "assistant", "tool"]
    content: str
    index: int  # 1-based position in request.messages, for the notes
    reasoning: str = ""
    replay: Any = None
    own: bool = False  # produced by this request's provider and model: replay allowed
    source: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    is_error: bool = False
    in_chain: bool = False  # after the last real user message
    keep: bool = False  # its reasoning goes back

    def label(self) -> str:
        if self.role == "assistant" and self.tool_calls:
            calls = ", ".join(call.name for call in self.tool_calls)
            return f"message {self.index} (assistant step calling {calls})"
        return f"message {self.index} ({self.role})"


@dataclass(slots=True)
class _Build:
    request: ChatRequest
    policy: str
    rule: ReplayRule
    carrier: str
    notes: list[ContextNote] = field(default_factory=list)

    def note(self, kind: str, detail: str) -> None:
        self.notes.append(ContextNote(kind, detail))


def source_of(request: ChatRequest) -> str:
    """The `Message.source` this request's own turns carry."""
    return f"{request.provider.kind}:{request.model.model_id}"


def rule_of(request: ChatRequest) -> ReplayRule:
    provider = request.provider
    return replay_rule(provider.kind, request.model.model_id, provider.base_url, provider.gateway)


def replay_policy(request: ChatRequest) -> tuple[str, str]:
    """(the policy that applies, where it comes from)."""
    if request.replay_policy is not None:
        _check_policy(request.replay_policy, "replay_policy")
        return request.replay_policy, "asked for this request"
    options = request.model.options
    option = options.get("replay")
    if option:
        _check_policy(option, "the model option replay")
        return str(option), "the model's replay option"
    rule = rule_of(request)
    # The options that meant "send it back" before policies existed keep meaning it; an
    # echo field names only the carrier for a family whose rule has one (DeepSeek, Kimi …).
    echo = options.get("echo_reasoning_content") or options.get("echo_reasoning_field")
    if options.get("replay_thinking") or options.get("keep_think_in_history") or (echo and not rule.carrier):
        return "preserved", "the model's replay option (replay_thinking, keep_think_in_history or an echo field)"
    return rule.policy, f"the default for {rule.family}"


def _check_policy(value: Any, what: str) -> None:
    if value not in REPLAY_POLICIES:
        raise ValueError(f"{what} must be one of {', '.join(REPLAY_POLICIES)}, not {value!r}")


def assemble(request: ChatRequest, flavour: str) -> BuiltContext:
    """The request-body fields that carry the system text and the conversation, with
    the notes; raises ReplayRefused for a request the provider would reject."""
    if flavour not in FLAVOURS:
        raise ValueError(f"unknown context flavour {flavour!r}; expected one of {', '.join(FLAVOURS)}")
    policy, _ = replay_policy(request)
    rule = rule_of(request)
    build = _Build(request, policy, rule, _carrier(request, rule, flavour))
    system, turns = _shape(build)
    _decide(build, turns, flavour)
    if flavour == "openai":
        body: dict[str, Any] = {"messages": _openai(build, system, turns)}
    elif flavour == "ollama":
        body = {"messages": _ollama(build, system, turns)}
    elif flavour == "responses":
        body = _responses(build, system, turns)
    elif flavour == "anthropic":
        body = {"system": system} if system else {}
        body["messages"] = _anthropic(build, system, turns)
    else:
        body = {"systemInstruction": {"parts": [{"text": system}]}} if system else {}
        body["contents"] = _gemini(build, turns)
    if policy == "preserved" and rule.preserve_flag and flavour == "openai":
        body.update(json.loads(json.dumps(dict(rule.preserve_flag))))
        flag = _flat(rule.preserve_flag)
        build.note("preservation_flag", f"sent {flag} ({rule.family} keeps reasoning across turns)")
    return BuiltContext(body, tuple(build.notes), policy, rule)


def build_context(request: ChatRequest, flavour: str) -> dict[str, Any]:
    """The request-body fields that carry the system text and the conversation."""
    return assemble(request, flavour).body


def build_messages(request: ChatRequest, flavour: str) -> list[dict[str, Any]]:
    """The message list alone: `messages` (openai, ollama, anthropic), `input`
    (responses) or `contents` (gemini). For anthropic and gemini the system text is
    not in the list; use `build_context` to get it too."""
    context = build_context(request, flavour)
    key = {"responses": "input", "gemini": "contents"}.get(flavour, "messages")
    messages: list[dict[str, Any]] = context[key]
    return messages


def context_notes(request: ChatRequest) -> list[ContextNote]:
    """The notes of the context this request's provider kind is sent; a refusal is
    its notes ending in `refused`. [] for a kind with no context flavour."""
    flavour = FLAVOUR_OF_KIND.get(request.provider.kind)
    if flavour is None:
        return []
    try:
        return list(assemble(request, flavour).notes)
    except ReplayRefused as refused:
        return list(refused.notes)
    except ValueError as error:  # a setting the context cannot honour (an unknown policy …)
        return [ContextNote("refused", str(error))]


def _flat(params: Any, prefix: str = "") -> str:
    if isinstance(params, dict):
        return ", ".join(_flat(v, f"{prefix}{k}.") for k, v in params.items())
    return f"{prefix.rstrip('.')}={json.dumps(params)}"


ECHO_FIELDS = ("reasoning_content", "reasoning")


def echo_field(request: ChatRequest) -> str | None:
    """The assistant-message field the model option names for echoing reasoning back,
    or None when the options name none (the family's carrier then decides)."""
    options = request.model.options
    field_ = options.get("echo_reasoning_field")
    if field_ is not None and field_ not in ECHO_FIELDS:
        raise ValueError(f"echo_reasoning_field must be one of {', '.join(ECHO_FIELDS)}, not {field_!r}")
    if not (options.get("echo_reasoning_content") or field_):
        return None
    return str(field_ or "reasoning_content")


def _carrier(request: ChatRequest, rule: ReplayRule, flavour: str) -> str:
    if flavour in ("openai", "ollama"):
        if request.model.options.get("keep_think_in_history"):
            return "think_tags"
        if flavour == "openai":
            echo = echo_field(request)
            if echo:
                return echo
            carriers = (*ECHO_FIELDS, "reasoning_details", "think_tags", "extra_content")
            return rule.carrier if rule.carrier in carriers else ""
        return rule.carrier if rule.carrier == "think_tags" else "thinking"
    return {"anthropic": "thinking_blocks", "gemini": "thought_signature", "responses": "reasoning_items"}[flavour]


# ---- shaping: failed, empty and merged turns; inline answers ------------------------------


def _shape(build: _Build) -> tuple[str, list[_Turn]]:
    request = build.request
    source = source_of(request)
    system = [request.system] if request.system and request.system.strip() else []
    turns: list[_Turn] = []
    for at, message in enumerate(request.messages, start=1):
        if message.role == "system":
            if message.content.strip():
                system.append(message.content)
            continue
        if message.role == "tool":
            turns.append(
                _Turn("tool", message.content, at, tool_call_id=message.tool_call_id,
                      name=message.name, is_error=message.is_error)
            )
            continue
        content, reasoning = message.content, message.reasoning
        if message.role == "assistant" and message.inline:
            content, inline_reasoning = _split_inline(request, message.source == source, content)
            if inline_reasoning:
                reasoning = reasoning or inline_reasoning
                build.note(
                    "stripped_inline_markup",
                    f"message {at} (assistant): the Inline answer's reasoning tags were taken out of its text",
                )
        if not content.strip() and not message.tool_calls:
            what = "an answer with no text (failed or cancelled)" if message.role == "assistant" else "an empty prompt"
            build.note("dropped_empty_turn", f"message {at} ({message.role}): {what} was left out")
            continue
        turn = _Turn(
            role=message.role,
            content=content,
            index=at,
            reasoning=reasoning,
            replay=message.replay,
            own=message.role == "assistant" and message.source == source,
            source=message.source,
            tool_calls=tuple(message.tool_calls),
        )
        last = turns[-1] if turns else None
        if last is not None and last.role == turn.role == "user" and not message.apart:
            build.note(
                "dropped_failed_turn",
                f"message {last.index} (user): the prompt {_preview(last.content)} got no answer and was left out",
            )
            turns[-1] = turn
        elif (
            last is not None and last.role == turn.role == "assistant" and not message.apart
            and not last.tool_calls and not turn.tool_calls
        ):
            build.note(
                "merged_messages",
                f"messages {last.index} and {at} (assistant) were joined; the joined one carries no reasoning",
            )
            turns[-1] = _Turn("assistant", f"{last.content}\n\n{turn.content}", last.index)
        else:
            turns.append(turn)
    return "\n\n".join(system), _paired(build, turns)


NO_RESULT = "No result: the call was not run (the turn stopped before it)."


def _paired(build: _Build, turns: list[_Turn]) -> list[_Turn]:
    """Every call of a step answered right after it: a call whose loop stopped before
    its result gets an error result, a result that answers no call of the step before
    it is left out (every provider rejects either with a 400)."""
    out: list[_Turn] = []
    pending: list[ToolCall] = []
    step: _Turn | None = None

    def close() -> None:
        for call in pending:
            assert step is not None
            build.note("added_missing_result", f"{step.label()}: the call {call.id!r} had no result; "
                                               "an error result says it was not run")
            out.append(_Turn("tool", NO_RESULT, step.index, tool_call_id=call.id, name=call.name, is_error=True))
        pending.clear()

    for turn in turns:
        if turn.role == "tool":
            call = next((c for c in pending if c.id == turn.tool_call_id), None)
            if call is None:
                build.note(
                    "dropped_orphan_result",
                    f"{turn.label()}: it answers the call {turn.tool_call_id!r}, which the step before did not make",
                )
                continue
            pending.remove(call)
            out.append(turn)
            continue
        close()
        step = turn
        pending = list(turn.tool_calls)
        out.append(turn)
    close()
    return out


def _preview(text: str) -> str:
    text = " ".join(text.split())
    return json.dumps(text if len(text) <= 40 else text[:39] + "…", ensure_ascii=False)


def _split_inline(request: ChatRequest, own: bool, content: str) -> tuple[str, str]:
    """(answer, reasoning) of an Inline answer's raw text, by the model's markup."""
    from reasoning.parsers import split

    model = request.model
    family = (model.markup if own and model.markup else None) or "think"
    tags = (model.markup_tags if own else None) if family != "harmony" else None
    try:
        reasoning, answer = split(content, family, starts_in_reasoning=own and model.starts_in_reasoning, tags=tags)
    except ValueError:
        reasoning, answer = split(content, "think")
    return answer.strip(), reasoning.strip()


# ---- the policy: which step keeps its reasoning, and refusals ------------------------------


def _decide(build: _Build, turns: list[_Turn], flavour: str) -> None:
    boundary = max((j for j, t in enumerate(turns) if t.role == "user"), default=-1)
    policy, rule = build.policy, build.rule
    carrier = build.carrier
    for j, turn in enumerate(turns):
        turn.in_chain = j > boundary
        if turn.role != "assistant":
            continue
        has = bool(turn.reasoning.strip()) or turn.replay is not None
        if not turn.own:
            if turn.replay is not None:
                build.note(
                    "dropped_foreign_signature",
                    f"{turn.label()}: its replay data is from {turn.source or 'an unknown model'}, not this model",
                )
            elif turn.reasoning.strip():
                build.note("stripped_reasoning", f"{turn.label()}: reasoning of another model left out")
            continue
        turn.keep = policy == "preserved" or (
            policy == "interleaved" and (turn.in_chain or (rule.required == "tool_turns" and bool(turn.tool_calls)))
        )
        if not has:
            continue
        # OpenRouter-style details go back unmodified whatever the field (§6).
        details = flavour == "openai" and bool(stored_replay.items(turn.replay, "openai"))
        used = carrier or ("reasoning_details" if details else "")
        if turn.keep and used and _carries(turn, flavour, used):
            build.note("kept_reasoning", f"{turn.label()}: reasoning sent back in {_carrier_words(used)}")
        elif not turn.keep:
            where = "inside the tool chain only" if policy == "interleaved" else "none"
            build.note(
                "stripped_reasoning",
                f"{turn.label()}: reasoning left out (policy {policy}: {where})",
            )
        elif not used:
            build.note(
                "stripped_reasoning",
                f"{turn.label()}: reasoning left out: no field is known to carry it to {rule.family} "
                "(set the model option echo_reasoning_field)",
            )
    _refuse_if_rejected(build, turns, flavour)


def _carries(turn: _Turn, flavour: str, carrier: str) -> bool:
    """Whether this step has anything stored that its carrier can take back."""
    if flavour in ("openai", "ollama"):
        if carrier == "reasoning_details":
            return bool(stored_replay.items(turn.replay, "openai"))
        if carrier == "extra_content":
            stored = stored_replay.read(turn.replay, "openai") or {}
            return any(isinstance(e, dict) and "extra_content" in e for e in stored.get("tool_calls") or [])
        return bool(turn.reasoning.strip()) or bool(stored_replay.items(turn.replay, "openai"))
    if flavour == "anthropic":
        return any(b.get("type") in _THINKING for b in stored_replay.items(turn.replay, "anthropic"))
    if flavour == "gemini":
        return any(p.get("thoughtSignature") for p in stored_replay.items(turn.replay, "gemini"))
    return any(i.get("type") == "reasoning" for i in stored_replay.items(turn.replay, "responses"))


def _carrier_words(carrier: str) -> str:
    from reasoning.catalogue import CARRIERS

    return CARRIERS.get(carrier, carrier)


def _thinking_on(request: ChatRequest) -> bool:
    return request.thinking.mode != "off" and request.model.reasoning != ReasoningStyle.NONE


def _refuse_if_rejected(build: _Build, turns: list[_Turn], flavour: str) -> None:
    request, rule = build.request, build.rule
    if not rule.required or not _thinking_on(request):
        return
    # DeepSeek and Kimi want the field only in thinking mode. "default" is thinking mode
    # when the model always thinks (no switch), or when the conversation shows it did:
    # a model that answered without thinking (deepseek-chat's default) is not refused.
    thinking_mode = request.thinking.mode == "on" or request.model.thinking_control == "none" or any(
        t.own and t.reasoning.strip() for t in turns
    )
    for turn in turns:
        if turn.role != "assistant" or not turn.tool_calls:
            continue
        if rule.required == "tool_turns" and flavour in ("openai", "ollama") and thinking_mode:
            if turn.own and turn.keep and turn.reasoning.strip():
                continue
            raise _refusal(build, turn, "every assistant message that made tool calls, in all later requests")
        if rule.required == "chain" and turn.in_chain and (
            flavour in ("anthropic", "gemini") or build.carrier == "extra_content"
        ):
            if turn.own and turn.keep and _carries(turn, flavour, build.carrier):
                continue
            if turn.own and flavour == "anthropic" and not _carries(turn, flavour, build.carrier):
                continue  # the step had no thinking (thinking was off, or adaptive skipped it)
            raise _refusal(build, turn, "each tool step after the last user message")


def _why_missing(build: _Build, turn: _Turn) -> str:
    if not turn.own:
        return f"it was made by {turn.source or 'another model'}, and another model's reasoning cannot go back"
    if not turn.keep:
        return f"the replay policy {build.policy} leaves it out"
    return (
        "no reasoning was stored for it (the Hidden mode keeps none: use Separate or Inline for a tool "
        "loop with this model)"
    )


def _refusal(build: _Build, turn: _Turn, where: str) -> ReplayRefused:
    rule = build.rule
    message = (
        f"Not sent: {rule.family} rejects a tool loop without its reasoning "
        f"({_carrier_words(rule.carrier)}) on {where}, and {turn.label()} has none to send: "
        f"{_why_missing(build, turn)}."
    )
    if turn.own and not turn.keep:
        message += " Use the replay policy interleaved or preserved."
    elif rule.required == "tool_turns" or not turn.own:
        message += " Start a new conversation, or turn thinking off."
    return ReplayRefused(message, build.notes)


# ---- flavours ---------------------------------------------------------------------------------


def _arguments(text: str) -> dict[str, Any]:
    """A call's JSON arguments as an object (Anthropic, Gemini and Ollama take objects)."""
    try:
        value = json.loads(text) if text.strip() else {}
    except ValueError:
        return {"arguments": text}
    return value if isinstance(value, dict) else {"value": value}


def _wrapped(request: ChatRequest, turn: _Turn) -> str:
    opening, closing = request.model.markup_tags or DEFAULT_THINK_TAGS
    return f"{opening}\n{turn.reasoning}\n{closing}\n\n{turn.content}"


def _openai(build: _Build, system: str, turns: list[_Turn]) -> list[dict[str, Any]]:
    request, carrier = build.request, build.carrier
    # DeepSeek's safe choice (§3): its field on every assistant message, "" where nothing goes back.
    echo_always = bool(request.model.options.get("echo_reasoning_content")) or (
        build.rule.required == "tool_turns" and carrier in ECHO_FIELDS
    )
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for turn in turns:
        if turn.role == "tool":
            messages.append({"role": "tool", "tool_call_id": turn.tool_call_id or "", "content": turn.content})
            continue
        keep = turn.role == "assistant" and turn.own and turn.keep
        content: str | None = turn.content
        if keep and carrier == "think_tags" and turn.reasoning.strip():
            content = _wrapped(request, turn)
        if turn.tool_calls and not (content or "").strip():
            content = None
        message: dict[str, Any] = {"role": turn.role, "content": content}
        if turn.role == "assistant":
            if carrier in ECHO_FIELDS and (keep or echo_always):
                message[carrier] = turn.reasoning if keep else ""
            details = stored_replay.items(turn.replay, "openai") if keep else []
            if details:
                message["reasoning_details"] = details
            if turn.tool_calls:
                # Gemini's OpenAI-compatible endpoint: a call's `extra_content` (its
                # thought_signature) goes back on that call, verbatim, when kept.
                stored = (stored_replay.read(turn.replay, "openai") or {}) if keep else {}
                extras = {
                    e.get("id"): e["extra_content"]
                    for e in stored.get("tool_calls") or []
                    if isinstance(e, dict) and "extra_content" in e
                }
                message["tool_calls"] = [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments},
                        **({"extra_content": extras[c.id]} if c.id in extras else {}),
                    }
                    for c in turn.tool_calls
                ]
        messages.append(message)
    return messages


def _ollama(build: _Build, system: str, turns: list[_Turn]) -> list[dict[str, Any]]:
    request, carrier = build.request, build.carrier
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for turn in turns:
        if turn.role == "tool":
            tool: dict[str, Any] = {"role": "tool", "content": turn.content}
            if turn.name:
                tool["tool_name"] = turn.name
            messages.append(tool)
            continue
        keep = turn.role == "assistant" and turn.own and turn.keep and bool(turn.reasoning.strip())
        content = _wrapped(request, turn) if keep and carrier == "think_tags" else turn.content
        message: dict[str, Any] = {"role": turn.role, "content": content}
        if keep and carrier == "thinking":
            message["thinking"] = turn.reasoning
        if turn.tool_calls:
            message["tool_calls"] = [
                {"function": {"name": c.name, "arguments": _arguments(c.arguments)}} for c in turn.tool_calls
            ]
        messages.append(message)
    return messages


def _responses(build: _Build, system: str, turns: list[_Turn]) -> dict[str, Any]:
    request = build.request
    items: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    if request.model.options.get("previous_response_id"):
        # The server kept everything up to its last response (store: true), the system
        # message included (it was input): only what came after that turn is new.
        for at in range(len(turns) - 1, -1, -1):
            replay = stored_replay.read(turns[at].replay, "responses") if turns[at].own else None
            if replay and replay.get("response_id"):
                later = [item for turn in turns[at + 1 :] for item in _response_items(build, turn)]
                return {"previous_response_id": replay["response_id"], "input": later}
    for turn in turns:
        items.extend(_response_items(build, turn))
    return {"input": items}


def _response_items(build: _Build, turn: _Turn) -> list[dict[str, Any]]:
    if turn.role == "tool":
        return [{"type": "function_call_output", "call_id": turn.tool_call_id or "", "output": turn.content}]
    if turn.role == "user":
        return [{"role": "user", "content": turn.content}]
    stored = stored_replay.items(turn.replay, "responses") if turn.own and turn.keep else []
    calls = [
        {"type": "function_call", "call_id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls
    ]
    if not stored:
        answer = [{"role": "assistant", "content": turn.content}] if turn.content.strip() else []
        return [*answer, *calls]
    # A reasoning item sent without encrypted_content is looked up by id, which fails
    # with store=false (§2): it is dropped, and with it the ids that would need it.
    kept = [i for i in stored if i.get("type") != "reasoning" or i.get("encrypted_content")]
    if len(kept) < len(stored):
        build.note(
            "dropped_unencrypted_item",
            f"{turn.label()}: {len(stored) - len(kept)} reasoning item(s) without encrypted_content left out",
        )
        kept = [i if i.get("type") == "reasoning" else {k: v for k, v in i.items() if k != "id"} for i in kept]
    sent_calls = {i.get("call_id") for i in kept if i.get("type") == "function_call"}
    kept += [c for c in calls if c["call_id"] not in sent_calls]
    if turn.content.strip() and not any(i.get("type") == "message" for i in kept):
        kept.append({"role": "assistant", "content": turn.content})
    return kept


_THINKING = ("thinking", "redacted_thinking")


def _anthropic_blocks(turn: _Turn, stored: list[dict[str, Any]], *, thinking: bool) -> list[dict[str, Any]] | str:
    """The assistant message's content: the stored blocks verbatim when its thinking
    goes back, else built from the text and the calls."""
    if stored and thinking:
        blocks = list(stored)
        used = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
        blocks += [_tool_use(c) for c in turn.tool_calls if c.id not in used]
        if not any(b.get("type") in ("text", "tool_use") for b in blocks) and turn.content.strip():
            blocks.append({"type": "text", "text": turn.content})
        return blocks
    if not turn.tool_calls:
        return turn.content
    text = [{"type": "text", "text": turn.content}] if turn.content.strip() else []
    return [*text, *[_tool_use(c) for c in turn.tool_calls]]


def _tool_use(call: ToolCall) -> dict[str, Any]:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": _arguments(call.arguments)}


def _anthropic(build: _Build, system: str, turns: list[_Turn]) -> list[dict[str, Any]]:
    request = build.request
    binding = build.rule.prefix_binding
    messages: list[dict[str, Any]] = []
    bound_broken = False
    for turn in turns:
        if turn.role == "tool":
            result: dict[str, Any] = {
                "type": "tool_result", "tool_use_id": turn.tool_call_id or "", "content": turn.content
            }
            if turn.is_error:
                result["is_error"] = True
            _append_user(messages, [result])
            continue
        if turn.role == "user":
            _append_user(messages, turn.content)
            continue
        stored = stored_replay.items(turn.replay, "anthropic") if turn.own else []
        thinking = turn.keep and any(b.get("type") in _THINKING for b in stored)
        if thinking and binding:
            recorded = (stored_replay.read(turn.replay, "anthropic") or {}).get("prefix")
            if bound_broken or recorded != prefix_digest(system, request.tools, messages):
                why = "an earlier step's thinking was dropped" if bound_broken else (
                    "no prefix was recorded with it" if not recorded
                    else "the system prompt, the tools or an earlier message changed since it was made"
                )
                build.note("dropped_thinking_after_edit", f"{turn.label()}: thinking left out ({why})")
                bound_broken, thinking, turn.keep = True, False, False
        messages.append({"role": "assistant", "content": _anthropic_blocks(turn, stored, thinking=thinking)})
    if bound_broken and _thinking_on(request):
        for turn in turns:
            if turn.role == "assistant" and turn.in_chain and turn.tool_calls and turn.own and not turn.keep:
                raise ReplayRefused(
                    f"Not sent: {turn.label()} is a step of the current tool loop whose thinking is bound to a "
                    "prefix that has changed (an edit, a branch, a new system prompt or tool list); Anthropic "
                    "rejects the loop without it. Ask again from the last prompt.",
                    build.notes,
                )
    return messages


def _append_user(messages: list[dict[str, Any]], content: str | list[dict[str, Any]]) -> None:
    """A user message, joined to a user message right before it (tool results, then text)."""
    if not messages or messages[-1]["role"] != "user":
        messages.append({"role": "user", "content": content})
        return
    last = messages[-1]
    blocks = last["content"] if isinstance(last["content"], list) else [{"type": "text", "text": last["content"]}]
    new = content if isinstance(content, list) else [{"type": "text", "text": content}]
    last["content"] = [*blocks, *new]


def prefix_digest(system: Any, tools: Sequence[ToolSpec], messages: Sequence[Any]) -> str:
    """The digest of the prefix an Anthropic answer is produced after: the system
    text, the tools and the messages before it, as sent. The adapter stores it with
    the turn's replay data (`prefix`); the context compares it before a replay."""
    canonical = json.dumps(
        {
            "system": system or "",
            "tools": [[t.name, t.description, dict(t.parameters)] for t in tools],
            "messages": list(messages),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _gemini(build: _Build, turns: list[_Turn]) -> list[dict[str, Any]]:
    contents: list[dict[str, Any]] = []
    wire_ids: dict[str, str] = {}  # our call id -> Gemini's functionCall.id, where it sent one
    for turn in turns:
        if turn.role == "tool":
            key = "error" if turn.is_error else "result"
            response: dict[str, Any] = {"name": turn.name or "", "response": {key: turn.content}}
            if turn.tool_call_id in wire_ids:
                response["id"] = wire_ids[turn.tool_call_id or ""]
            part = {"functionResponse": response}
            if contents and contents[-1]["role"] == "user" and "functionResponse" in contents[-1]["parts"][-1]:
                contents[-1]["parts"].append(part)
            else:
                contents.append({"role": "user", "parts": [part]})
            continue
        if turn.role == "user":
            contents.append({"role": "user", "parts": [{"text": turn.content}]})
            continue
        stored = stored_replay.items(turn.replay, "gemini") if turn.own else []
        by_call = stored_replay.function_call_parts(turn.replay) if turn.own else {}
        for call_id, stored_part in by_call.items():
            wire_id = stored_part["functionCall"].get("id")
            if isinstance(wire_id, str) and wire_id:
                wire_ids[call_id] = wire_id
        calls = [
            {"functionCall": {"name": c.name, "args": _arguments(c.arguments),
                              **({"id": wire_ids[c.id]} if c.id in wire_ids else {})}}
            for c in turn.tool_calls
        ]
        if turn.keep and stored:
            parts = [p for p in stored if not p.get("thought") or p.get("thoughtSignature")]
            parts += [call for c, call in zip(turn.tool_calls, calls, strict=True) if c.id not in by_call]
        else:
            # Left out: the answer's text and its calls, no signature, no thought part.
            parts = ([{"text": turn.content}] if turn.content.strip() else []) + calls
        contents.append({"role": "model", "parts": parts or [{"text": turn.content}]})
    return contents
