"""A Chat Completions request body, checked and turned into the playground's terms:
a model profile, earlier turns, the prompt, and the same cleaned parameters the
chat page stores (`turns.services.clean_params`), so the provider mapping is
the playground's own (`reasoning.controls` through the adapters).

API parameter → playground control:

    reasoning_effort: "none"                  thinking "off"
    reasoning_effort: minimal … max           effort (one the model lists)
    chat_template_kwargs.enable_thinking      thinking "on" / "off" (also `.thinking`)
    thinking: {type: enabled|adaptive|disabled, budget_tokens}
                                              thinking "on" / "off", budget_tokens
                                              (with reasoning_effort: only when the effort's
                                              budget is this budget, else a 400 naming both)
    max_tokens, max_completion_tokens         max_tokens (both given: they must agree)
    temperature, top_p, stop                  the same names
    response_format: json_schema / json_object
                                              answer_schema (its schema / {"type": "object"}),
                                              sent the provider's way (reasoning.structured)
    reasoning_format                          how reasoning is returned (not sent on)
    stream, stream_options.include_usage      how the answer is returned

Tools (`tools`, `tool_choice`, `parallel_tool_calls`, assistant `tool_calls`, `role:
tool` results) are checked in playground.api.tools; a request with any of them is sent
as its messages say, steps and results included (playground.api.services). For a model
whose capabilities say it takes no tools (`options.supports_tools` false, the Providers
page) any of them is a 400 (`unsupported_parameter`) before anything is stored or sent.

Parameters clients often send with their default value (`n: 1`, zero penalties,
`logprobs: false`) ask for nothing and are accepted; with any other value they are
refused. Anything else is a 400 naming it, and so is a value the model cannot honour: the parameters are added one at a
time to the request the adapter would build, and the first one that makes it
fail is the one named.

Reasoning in input assistant messages (`reasoning_content`, `reasoning`, a leading
`<think>…</think>` in the text) is kept apart as the stored turn's reasoning, where
the context builder applies the provider's replay rule: left out, unless the
model is configured to need it back (`reasoning.context`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playground.api import tools
from playground.api.errors import ApiError, bad_parameter
from playground.api.tools import Conversation, ToolUse
from playground.models import ModelProfile, Turn
from playground.turns.offer import takes_tools
from playground.turns.services import BadInput, clean_params, request_for
from reasoning.adapters.selection import adapter_for
from reasoning.controls import ANTHROPIC_BUDGETS, GEMINI_BUDGETS
from reasoning.parsers import split
from reasoning.request import EFFORT_LEVELS, Message

# The thinking budget an effort stands for, per thinking control (reasoning.controls).
EFFORT_BUDGETS: dict[str, dict[str, int]] = {"anthropic_budget": ANTHROPIC_BUDGETS, "gemini_budget": GEMINI_BUDGETS}
REASONING_FORMATS = ("reasoning_content", "reasoning", "think", "none")
# Accepted and without effect on the answer: a caller's end-user id.
HARMLESS = frozenset({"user"})
# Parameters many OpenAI clients send with their default value, which asks for
# nothing; any other value is refused like an unknown parameter.
NO_OP_DEFAULTS: dict[str, Callable[[Any], bool]] = {
    "n": lambda v: v == 1 and not isinstance(v, bool),
    "frequency_penalty": lambda v: v == 0 and not isinstance(v, bool),
    "presence_penalty": lambda v: v == 0 and not isinstance(v, bool),
    "logprobs": lambda v: v is False,
}
HANDLED = frozenset(
    {
        "model", "messages", "stream", "stream_options", "reasoning_effort", "chat_template_kwargs",
        "thinking", "max_tokens", "max_completion_tokens", "temperature", "top_p", "stop",
        "response_format", "reasoning_format", "tools", "tool_choice", "parallel_tool_calls",
    }
)
# The order parameters are tried in when naming the one a model cannot honour.
PROBE_ORDER = (
    "thinking", "effort", "budget_tokens", "max_tokens", "temperature", "top_p", "stop", "answer_schema",
)


@dataclass(frozen=True)
class InputTurn:
    role: str  # "user" or "assistant"
    content: str
    reasoning: str = ""


@dataclass
class CompletionRequest:
    model: ModelProfile
    history: list[InputTurn]
    prompt: str
    params: dict[str, Any]  # cleaned: the conversation's controls, as the chat page keeps them
    raw: dict[str, Any]  # as given: what the start path checks (and cleans) again
    stream: bool = False
    include_usage: bool = False
    reasoning_format: str = "reasoning_content"
    # Which API parameter set each playground control, to name it in errors.
    named: dict[str, str] = field(default_factory=dict)
    tool_use: ToolUse = field(default_factory=ToolUse)
    # The messages as the library takes them, tool calls and results included (playground.api.tools).
    conversation: Conversation = field(default_factory=Conversation)

    @property
    def uses_tools(self) -> bool:
        """Tools offered, or a tool loop in the messages: the request is sent as the
        messages say (steps and results), not rebuilt from the stored turns."""
        return bool(self.tool_use.tools) or self.conversation.uses_tools


def parse(body: Any) -> tuple[str, dict[str, Any]]:
    """The model label and the body, after the checks that need no database."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    for name, value in body.items():
        if name in HANDLED or name in HARMLESS or value is None:
            continue
        if name not in NO_OP_DEFAULTS:
            raise bad_parameter(name, f"Unsupported parameter: {name!r}.")
        if not NO_OP_DEFAULTS[name](value):
            raise bad_parameter(name, f"{name} is supported only with its default value.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_parameter("model", "model must be the label of a model (see GET /v1/models).")
    return model, body


def completion_request(body: dict[str, Any], model: ModelProfile) -> CompletionRequest:
    history, prompt, system, conversation = _messages(body.get("messages"))
    tool_use = tools.tool_use(body)
    if (tool_use.tools or conversation.uses_tools) and not takes_tools(model):
        # Refused here, before anything is stored or sent: the provider would refuse
        # it mid-run, or worse, answer as if no tool had been offered.
        raise ApiError(
            400,
            f"{model.label} takes no tools (its capabilities say so): send the request without tools "
            "and tool messages, or choose a model that takes them.",
            code="unsupported_parameter", param="tools" if tool_use.tools else "messages",
        )
    raw, named = _controls(body, model)
    if system:
        raw["system"] = system
        named["system"] = "messages"
    params = _checked(raw, named, model)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_parameter("stream", "stream must be true or false.")
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        if not isinstance(options, dict) or set(options) - {"include_usage"}:
            raise bad_parameter("stream_options", "stream_options takes only include_usage.")
        if not stream:
            raise bad_parameter("stream_options", "stream_options is only allowed with stream: true.")
        include_usage = bool(options.get("include_usage"))
    reasoning_format = body.get("reasoning_format", "reasoning_content")
    if reasoning_format not in REASONING_FORMATS:
        raise bad_parameter("reasoning_format", f"reasoning_format must be one of {', '.join(REASONING_FORMATS)}.")
    return CompletionRequest(
        model=model, history=history, prompt=prompt, params=params, raw=raw, stream=stream,
        include_usage=include_usage, reasoning_format=reasoning_format, named=named, tool_use=tool_use,
        conversation=conversation,
    )


def _text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise bad_parameter(f"{where}.content[{i}]", "Only text content parts are supported.")
            texts.append(part["text"])
        return "".join(texts)
    raise bad_parameter(f"{where}.content", "content must be a string or a list of text parts.")


def _messages(messages: Any) -> tuple[list[InputTurn], str, str, Conversation]:
    """The earlier turns and the prompt to store, the system text, and the messages as
    the library takes them. A request that goes on after tool results (its last
    message a `tool` one) stores the last user message as its prompt; the steps after
    it are in the request (its `sent`), not in the stored turns."""
    if not isinstance(messages, list) or not messages:
        raise bad_parameter("messages", "messages must be a non-empty list.")
    system: list[str] = []
    turns: list[InputTurn] = []
    conversation = Conversation()
    book = tools.CallBook()
    last_user = -1
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise bad_parameter(where, "Each message must be an object.")
        role = message.get("role")
        text = _text(message.get("content"), where)
        if role in ("system", "developer"):
            if text.strip():
                system.append(text)
        elif role == "user":
            book.check_closed()
            last_user = len(turns)
            turns.append(InputTurn("user", text))
            conversation.messages.append(Message(role="user", content=text))
        elif role == "assistant":
            calls = tools.tool_calls(message, where)
            if calls:
                book.called(calls, where)
                conversation.uses_tools = True
            else:
                book.check_closed()
            turn = _assistant(message, text)
            turns.append(turn)
            conversation.messages.append(
                Message(role="assistant", content=turn.content, reasoning=turn.reasoning, tool_calls=calls)
            )
        elif role == "tool":
            call = book.answered(message.get("tool_call_id"), where)
            conversation.messages.append(tools.tool_result(text, call, f"{where}.content"))
            conversation.uses_tools = True
        else:
            raise bad_parameter(
                f"{where}.role", f"Unsupported role {role!r}; use system, user, assistant or tool."
            )
    last = messages[-1].get("role")
    if last not in ("user", "tool") or last_user < 0:
        raise bad_parameter("messages", "The last message must be the user's, or the results of the tool calls.")
    book.check_closed()
    prompt = turns[last_user].content
    if not prompt.strip():
        raise bad_parameter(f"messages[{len(messages) - 1}].content", "The last user message is empty.")
    return turns[:last_user], prompt, "\n\n".join(system), conversation


def _assistant(message: dict[str, Any], text: str) -> InputTurn:
    reasoning_parts = []
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            reasoning_parts.append(value)
            break
    inline, content = split(text, "think")
    if inline:
        reasoning_parts.append(inline)
    return InputTurn("assistant", content, "\n\n".join(reasoning_parts))


def _controls(body: dict[str, Any], model: ModelProfile) -> tuple[dict[str, Any], dict[str, str]]:
    """The playground's raw controls from the API's parameters, and who set each."""
    raw: dict[str, Any] = {}
    named: dict[str, str] = {}

    def put(control: str, value: Any, param: str) -> None:
        if control in raw and raw[control] != value:
            raise bad_parameter(param, f"{param} contradicts {named[control]}.")
        raw[control] = value
        named[control] = param

    if (effort := body.get("reasoning_effort")) is not None:
        if effort not in EFFORT_LEVELS:
            raise bad_parameter("reasoning_effort", f"reasoning_effort must be one of {', '.join(EFFORT_LEVELS)}.")
        if effort == "none":
            put("thinking", "off", "reasoning_effort")
        else:
            put("effort", effort, "reasoning_effort")
    if (kwargs := body.get("chat_template_kwargs")) is not None:
        if not isinstance(kwargs, dict) or set(kwargs) - {"enable_thinking", "thinking"}:
            raise bad_parameter("chat_template_kwargs", "chat_template_kwargs takes only enable_thinking.")
        for key, value in kwargs.items():
            if not isinstance(value, bool):
                raise bad_parameter(f"chat_template_kwargs.{key}", f"{key} must be true or false.")
            put("thinking", "on" if value else "off", f"chat_template_kwargs.{key}")
    if (thinking := body.get("thinking")) is not None:
        if not isinstance(thinking, dict) or set(thinking) - {"type", "budget_tokens"}:
            raise bad_parameter("thinking", "thinking takes type and budget_tokens.")
        kind = thinking.get("type", "enabled")
        if kind not in ("enabled", "adaptive", "disabled"):
            raise bad_parameter("thinking.type", "thinking.type must be enabled, adaptive or disabled.")
        put("thinking", "off" if kind == "disabled" else "on", "thinking.type")
        if (budget := thinking.get("budget_tokens")) is not None:
            if not isinstance(budget, int) or isinstance(budget, bool) or budget <= 0:
                raise bad_parameter("thinking.budget_tokens", "budget_tokens must be a positive integer.")
            put("budget_tokens", budget, "thinking.budget_tokens")
    if "effort" in raw and "budget_tokens" in raw:
        _one_of_effort_and_budget(raw, model)
    for param in ("max_tokens", "max_completion_tokens"):
        if (value := body.get(param)) is not None:
            if not isinstance(value, int) or isinstance(value, bool):
                raise bad_parameter(param, f"{param} must be an integer.")
            put("max_tokens", value, param)
    for param in ("temperature", "top_p"):
        if (value := body.get(param)) is not None:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise bad_parameter(param, f"{param} must be a number.")
            put(param, value, param)
    if body.get("temperature") is not None and not model.supports_temperature:
        raise bad_parameter("temperature", f"{model.label} does not take a temperature.")
    if (stop := body.get("stop")) is not None:
        put("stop", stop, "stop")
    if (response_format := body.get("response_format")) is not None and (schema := _schema_of(response_format)):
        put("answer_schema", schema, "response_format")
    return raw, named


def _one_of_effort_and_budget(raw: dict[str, Any], model: ModelProfile) -> None:
    """`reasoning_effort` with `thinking.budget_tokens`: the seed gateway's contract takes
    both only when they say the same (the effort's budget for this model is the budget
    given), and then sends that budget; otherwise one would be silently ignored."""
    effort, budget = raw["effort"], raw["budget_tokens"]
    budgets = EFFORT_BUDGETS.get(model.thinking_control, {})
    if budgets.get(effort) == budget:
        del raw["effort"]
        return
    if effort in budgets:
        why = f"reasoning_effort {effort!r} is a budget of {budgets[effort]} tokens for {model.label}"
    else:
        why = f"{model.label} has no thinking budget for reasoning_effort {effort!r}"
    raise bad_parameter(
        "reasoning_effort",
        f"reasoning_effort and thinking.budget_tokens disagree: {why}, not {budget}. Give one of them.",
    )


def _schema_of(response_format: Any) -> str | None:
    """The answer schema (JSON text, checked by clean_params) a response_format asks for."""
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return json.dumps({"type": "object"})
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if isinstance(spec, dict) and isinstance(spec.get("schema"), dict):
            return json.dumps(spec["schema"])
        raise bad_parameter("response_format", "response_format.json_schema.schema must be a JSON Schema object.")
    raise bad_parameter("response_format", "response_format.type must be text, json_object or json_schema.")


def _checked(raw: dict[str, Any], named: dict[str, str], model: ModelProfile) -> dict[str, Any]:
    """`clean_params` of `raw`, then the request the adapter would build; each
    control is added in turn so that the first one refused is the one named."""
    probe: dict[str, Any] = {"system": raw["system"]} if "system" in raw else {}
    params: dict[str, Any] = {}
    for control in PROBE_ORDER:
        if control not in raw:
            continue
        probe[control] = raw[control]
        try:
            params = clean_params(probe, model)
            request = request_for(model, params, [Turn(role=Turn.Role.USER, content="probe")])
            adapter_for(request).prepare(request)
        except (BadInput, ValueError) as e:
            raise bad_parameter(named[control], str(e)) from None
        except Exception:
            # Not the caller's doing (an unknown provider kind, an unreadable key):
            # the start path ends the turn with the reason.
            break
    return params or clean_params(probe, model)
