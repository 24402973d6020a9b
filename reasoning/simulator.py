"""The offline simulator: the default "model", answering with no key and no network.

It is plainly a simulator, not a model. From the last user prompt it writes a few
steps of thinking (restating the question, noting key words, working out simple
arithmetic such as `17*23` or `(3+4)*2` step by step with a small parser, never
`eval`), then an answer: the arithmetic result, or a plain statement that a real
model is needed. It writes RAW text with `<think>…</think>` markup, cuts it into
irregular chunks (seeded, so runs repeat) and feeds them through
`make_parser("think")`, so it travels the same parsing path as a markup provider.

Settings, from `request.model.options`, overridden by the environment:

    tokens_per_second   60    SIMULATOR_TOKENS_PER_SECOND  (0: no sleeping at all)
    first_token_delay   0.3   seconds before the first chunk
    reasoning_tokens    None  SIMULATOR_REASONING_TOKENS: pad thinking to about this size
    thinking_steps      0     extra filler steps of thinking (long thoughts for demos)
    seed                0     chunk sizes and filler wording

Tools (`ChatRequest.tools`, unless `tool_choice` is "none" or the model option
`simulate_tools` is false): when the conversation ends with a user message, it thinks
about which tool fits, then calls one (the tool `tool_choice` names, else the first
whose name appears in the prompt, else the first tool) with arguments made from the
tool's JSON Schema (required properties only: a string gets the prompt's arithmetic
expression or its key words, a number the arithmetic result or 1, a boolean true), and
finishes "tool_calls". When it ends with tool results, it thinks about them and
answers with them. So a tool loop runs offline: thinking, call, thinking, answer.

A token is counted as 4 characters. `max_tokens` cuts the raw text: cut inside the
thinking gives reasoning only and `Finish("length")`.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import httpx

from reasoning.adapters import register
from reasoning.events import Event, Finish, ReasoningDelta, Usage
from reasoning.parsers import make_parser
from reasoning.request import ChatRequest, Message, PreparedRequest, ToolSpec
from reasoning.tool_calls import ToolCalls

CHARS_PER_TOKEN = 4
# How many of the ordered thinking steps each effort keeps, and extra filler steps.
EFFORT_STEPS: dict[str, tuple[int, int]] = {
    "minimal": (2, 0),
    "low": (3, 0),
    "medium": (6, 0),
    "high": (6, 1),
    "xhigh": (6, 3),
    "max": (6, 6),
}
DEFAULT_EFFORT = "medium"
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "could",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "so",
        "than",
        "that",
        "the",
        "then",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
_EXPRESSION = re.compile(r"[\d(][\d\s()+\-*/.]*[\d)]")
_TIMES = re.compile(r"(?<=[\d)])\s*[x×·]\s*(?=[\d(])")
_DIVIDE = re.compile(r"÷")
_OPERATOR = {"+": "+", "-": "−", "*": "×", "/": "÷"}


@dataclass(frozen=True, slots=True)
class Pace:
    tokens_per_second: float
    first_token_delay: float
    reasoning_tokens: int | None
    thinking_steps: int
    seed: int


def pace_of(options: Mapping[str, Any]) -> Pace:
    tps = float(os.environ.get("SIMULATOR_TOKENS_PER_SECOND", options.get("tokens_per_second", 60)))
    target = os.environ.get("SIMULATOR_REASONING_TOKENS", options.get("reasoning_tokens"))
    if tps < 0:
        raise ValueError(f"tokens_per_second must be ≥ 0, got {tps}")
    return Pace(
        tokens_per_second=tps,
        first_token_delay=max(0.0, float(options.get("first_token_delay", 0.3))),
        reasoning_tokens=int(target) if target not in (None, "") else None,
        thinking_steps=max(0, int(options.get("thinking_steps", 0))),
        seed=int(options.get("seed", 0)),
    )


# -- arithmetic, without eval ------------------------------------------------------------


class _NotArithmetic(Exception):
    pass


class _Calculator:
    """Recursive descent over + - * / and parentheses, recording each operation."""

    def __init__(self, source: str) -> None:
        self.tokens = re.findall(r"\d+(?:\.\d+)?|[()+\-*/]|\S", source)
        self.i = 0
        self.steps: list[str] = []

    def run(self) -> Fraction:
        if len(self.tokens) > 60:
            raise _NotArithmetic
        value = self.expr(0)
        if self.i != len(self.tokens) or not self.steps:
            raise _NotArithmetic
        return value

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise _NotArithmetic
        self.i += 1
        return token

    def expr(self, depth: int) -> Fraction:
        value = self.term(depth)
        while self.peek() in ("+", "-"):
            op = self.take()
            value = self.apply(value, op, self.term(depth))
        return value

    def term(self, depth: int) -> Fraction:
        value = self.factor(depth)
        while self.peek() in ("*", "/"):
            op = self.take()
            value = self.apply(value, op, self.factor(depth))
        return value

    def factor(self, depth: int) -> Fraction:
        if depth > 20:
            raise _NotArithmetic
        token = self.take()
        if token == "(":
            value = self.expr(depth + 1)
            if self.take() != ")":
                raise _NotArithmetic
            return value
        if token == "-":
            return -self.factor(depth + 1)
        if token[0].isdigit() and len(token) <= 15:
            return Fraction(token)
        raise _NotArithmetic

    def apply(self, a: Fraction, op: str, b: Fraction) -> Fraction:
        if op == "/" and b == 0:
            self.steps.append(f"{fmt(a)} ÷ 0 has no value: division by zero.")
            raise ZeroDivisionError
        result = {"+": a + b, "-": a - b, "*": a * b, "/": a / b if b else a}[op]
        step = f"{fmt(a)} {_OPERATOR[op]} {fmt(b)} = {fmt(result)}"
        if op == "*" and _is_whole(a) and _is_whole(b) and abs(b) >= 10:
            parts = _place_values(int(b))
            partials = [a * p for p in parts]
            step = (
                f"{fmt(a)} {_OPERATOR[op]} {fmt(b)}: split {fmt(b)} into "
                + " + ".join(str(p) for p in parts)
                + "; "
                + ", ".join(
                    f"{fmt(a)} × {p} = {fmt(x)}" for p, x in zip(parts, partials, strict=True)
                )
                + f"; adding them up gives {fmt(result)}"
            )
        self.steps.append(step)
        return result


def _is_whole(v: Fraction) -> bool:
    return v.denominator == 1


def _place_values(n: int) -> list[int]:
    sign = -1 if n < 0 else 1
    digits = str(abs(n))
    return [sign * int(d) * 10 ** (len(digits) - k - 1) for k, d in enumerate(digits) if d != "0"]


def fmt(v: Fraction) -> str:
    if v.denominator == 1:
        return str(v.numerator)
    return f"{float(v):.6g}"


@dataclass(frozen=True, slots=True)
class Worked:
    expression: str
    steps: list[str]
    result: Fraction | None  # None: division by zero


def find_arithmetic(prompt: str) -> Worked | None:
    """The first simple arithmetic expression in the prompt, worked out step by step."""
    text = _DIVIDE.sub("/", _TIMES.sub("*", prompt))
    for match in _EXPRESSION.finditer(text):
        source = match.group().strip()
        if not any(op in source for op in "+-*/"):
            continue
        calculator = _Calculator(source)
        try:
            value: Fraction | None = calculator.run()
        except ZeroDivisionError:
            value = None
        except _NotArithmetic:
            continue
        pretty = re.sub(r"\s*([+\-*/])\s*", lambda m: f" {_OPERATOR[m.group(1)]} ", source)
        return Worked(pretty, calculator.steps, value)
    return None


# -- the reply ---------------------------------------------------------------------------


def key_words(prompt: str, limit: int = 5) -> list[str]:
    seen: dict[str, None] = {}
    for word in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", prompt):
        lower = word.lower()
        if lower not in _STOP_WORDS:
            seen.setdefault(lower, None)
    return sorted(seen, key=len, reverse=True)[:limit]


def compose(request: ChatRequest, pace: Pace) -> tuple[str, str]:
    """(thinking, answer) for this request; thinking is "" when thinking is off."""
    # Messages `apart` are a flow's own instructions (reasoning.cot), not the question.
    prompt = next((m.content for m in reversed(request.messages) if m.role == "user" and not m.apart), "")
    earlier = max(0, len(request.messages) - 1)
    worked = find_arithmetic(prompt)
    words = key_words(prompt)

    if worked is None:
        answer = (
            "I am the offline simulator, not a real model, so I cannot really answer this. "
            "Configure a provider and pick a real model for a real answer."
        )
    elif worked.result is None:
        answer = f"{worked.expression} has no value: you cannot divide by zero."
    else:
        answer = f"{worked.expression} = **{fmt(worked.result)}**"
    if earlier:
        answer += (
            f"\n\n(Offline simulator; I saw {earlier} earlier message(s) in this conversation.)"
        )
    elif worked is not None:
        answer += "\n\n(Worked out by the offline simulator.)"

    thinking = request.thinking
    effort = thinking.effort or DEFAULT_EFFORT
    if thinking.mode == "off" or effort == "none":
        return "", answer
    keep, filler = EFFORT_STEPS.get(effort, EFFORT_STEPS[DEFAULT_EFFORT])

    quoted = prompt.strip().replace("\n", " ")
    if len(quoted) > 200:
        quoted = quoted[:200] + "…"
    steps = [f"The user asks: “{quoted}”." if quoted else "There is no question yet."]
    if worked is None:
        steps.append(
            "I see no arithmetic here that I can work out. I am an offline simulator, so the "
            "honest reply is that a real model is needed for a real answer."
        )
    else:
        lines = [f"This is arithmetic: {worked.expression}. Let me work it out step by step."]
        lines += [f"Step {n}: {step}." for n, step in enumerate(worked.steps, 1)]
        steps.append("\n".join(lines))
    steps.append(
        f"Key words: {', '.join(words)}." if words else "There are no particular key words."
    )
    steps.append(
        f"There are {earlier} earlier message(s) in this conversation; I keep them in mind."
        if earlier
        else "This is the first message of the conversation."
    )
    if worked is not None and worked.result is not None:
        plain = worked.expression.replace("×", "*").replace("÷", "/").replace("−", "-")
        again = find_arithmetic(plain)
        same = again is not None and again.result == worked.result
        steps.append(
            f"Double-check: going through it again gives {fmt(worked.result)}"
            + (" again, so that holds." if same else ", hmm, not the same; careful.")
        )
    else:
        steps.append("Let me make sure I do not pretend to know more than I do.")
    steps.append("So I will answer plainly.")
    steps = steps[:keep] if keep < len(steps) else steps

    rng = random.Random(f"{pace.seed}:{prompt}")
    extra = filler + pace.thinking_steps
    target_chars = (pace.reasoning_tokens or 0) * CHARS_PER_TOKEN
    if thinking.budget_tokens:
        target_chars = min(target_chars, thinking.budget_tokens * CHARS_PER_TOKEN)
    size = sum(len(s) + 2 for s in steps)
    fillers: list[str] = []
    while len(fillers) < extra or size < target_chars:
        fillers.append(_filler(rng, words, len(fillers)))
        size += len(fillers[-1]) + 2
    steps[-1:-1] = fillers
    if thinking.budget_tokens:
        steps = _within(steps, thinking.budget_tokens * CHARS_PER_TOKEN)
    return "\n\n".join(steps), answer


@dataclass(frozen=True, slots=True)
class PlannedCall:
    name: str
    arguments: str


def _tool_results(request: ChatRequest) -> list[Message]:
    """The tool results after the last assistant step that made calls, if the
    conversation ends with them."""
    results: list[Message] = []
    for message in reversed(request.messages):
        if message.role != "tool":
            break
        results.insert(0, message)
    return results


def _wants_tools(request: ChatRequest) -> bool:
    return (
        bool(request.tools)
        and request.tool_choice != "none"
        and request.model.options.get("simulate_tools", True) is not False
    )


def _pick_tool(request: ChatRequest, prompt: str) -> ToolSpec:
    choice = request.tool_choice
    if isinstance(choice, Mapping):
        named = choice.get("name") or (choice.get("function") or {}).get("name")
        for tool in request.tools:
            if tool.name == named:
                return tool
    lowered = prompt.lower()
    for tool in request.tools:
        if tool.name.lower() in lowered or tool.name.lower().replace("_", " ") in lowered:
            return tool
    return request.tools[0]


def _arguments(tool: ToolSpec, prompt: str) -> dict[str, Any]:
    worked = find_arithmetic(prompt)
    properties = tool.parameters.get("properties") or {}
    required = tool.parameters.get("required") or []
    arguments: dict[str, Any] = {}
    for name in required:
        kind = (properties.get(name) or {}).get("type")
        if kind == "string":
            words = " ".join(key_words(prompt)) or prompt.strip()[:80]
            arguments[name] = worked.expression if worked is not None else words
        elif kind in ("number", "integer"):
            result = worked.result if worked is not None else None
            value = result if result is not None and _is_whole(result) else 1
            arguments[name] = int(value) if kind == "integer" else float(value)
        elif kind == "boolean":
            arguments[name] = True
        elif kind == "array":
            arguments[name] = []
        elif kind == "object":
            arguments[name] = {}
    return arguments


def plan_tool_step(request: ChatRequest) -> tuple[str, PlannedCall | None, str] | None:
    """(thinking, call, answer) of a tool-loop step, or None for a plain answer."""
    if not request.tools:
        return None
    results = _tool_results(request)
    if results:
        lines = [
            f"The tool {r.name or 'call'} {'failed' if r.is_error else 'returned'}: {r.content.strip()[:500]}"
            for r in results
        ]
        thinking = "\n".join(lines) + "\n\nThat is what I needed; I will answer with it."
        answer = "\n\n".join(lines) + "\n\n(Offline simulator: I only repeat what the tool said.)"
        return thinking, None, answer
    if not _wants_tools(request):
        return None
    prompt = next((m.content for m in reversed(request.messages) if m.role == "user" and not m.apart), "")
    tool = _pick_tool(request, prompt)
    arguments = json.dumps(_arguments(tool, prompt), ensure_ascii=False)
    quoted = prompt.strip().replace("\n", " ")[:200]
    about = f" ({tool.description})" if tool.description else ""
    thinking = (
        f"The user asks: “{quoted}”.\n\nI have {len(request.tools)} tool(s). "
        f"{tool.name}{about} fits best.\n\nI will call {tool.name} with {arguments}."
    )
    return thinking, PlannedCall(tool.name, arguments), ""


def _filler(rng: random.Random, words: list[str], n: int) -> str:
    topic = rng.choice(words) if words else "the question"
    return rng.choice(
        (
            f"Let me look at “{topic}” from another angle before settling ({n + 1}).",
            f"Alternatively, maybe “{topic}” means something else here. Probably not ({n + 1}).",
            f"Wait, let me re-read the question and check I have not missed anything ({n + 1}).",
            f"Consider a simpler case first, then come back to “{topic}” ({n + 1}).",
        )
    )


def _within(steps: list[str], chars: int) -> list[str]:
    kept: list[str] = []
    size = 0
    for step in steps:
        size += len(step) + 2
        if kept and size > chars:
            break
        kept.append(step)
    return kept


def raw_text(thinking: str, answer: str) -> str:
    return f"<think>\n{thinking}\n</think>\n\n{answer}" if thinking else answer


def chunks(text: str, seed: str) -> Iterator[str]:
    """Irregular chunks of 1–12 characters, mostly around one token."""
    rng = random.Random(seed)
    i = 0
    while i < len(text):
        size = max(1, min(12, round(rng.gauss(CHARS_PER_TOKEN, 2.5))))
        yield text[i : i + size]
        i += size


def tokens(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


@register("simulator")
class Simulator:
    """Adapter for kind "simulator"; ignores the HTTP client."""

    def prepare(self, request: ChatRequest) -> PreparedRequest:
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        # Reasoning and replay data of earlier turns are never sent back.
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        thinking = request.thinking
        body: dict[str, Any] = {
            "model": request.model.model_id,
            "messages": messages,
            "thinking": {
                "mode": thinking.mode,
                "effort": thinking.effort,
                "budget_tokens": thinking.budget_tokens,
                "include_reasoning": thinking.include_reasoning,
            },
            "max_tokens": request.max_tokens,
            "stream": True,
        }
        if request.tools:
            body["tools"] = [{"name": t.name, "description": t.description} for t in request.tools]
            body["tool_choice"] = request.tool_choice
        return PreparedRequest("SIM", "simulator://local", {}, body)

    async def stream(self, request: ChatRequest, client: httpx.AsyncClient) -> AsyncIterator[Event]:
        pace = pace_of(request.model.options)
        planned = plan_tool_step(request)
        call: PlannedCall | None = None
        if planned is None:
            thinking, answer = compose(request, pace)
        else:
            thinking, call, answer = planned
            if request.thinking.mode == "off":
                thinking = ""
        text = raw_text(thinking, answer)
        cut = False
        if request.max_tokens is not None and len(text) > request.max_tokens * CHARS_PER_TOKEN:
            text = text[: max(0, request.max_tokens) * CHARS_PER_TOKEN]
            cut = True

        show_reasoning = request.thinking.include_reasoning
        parser = make_parser("think")
        loop = asyncio.get_running_loop()
        tps = pace.tokens_per_second
        started = loop.time() + (pace.first_token_delay if tps else 0.0)
        sent = 0
        reasoning_chars = 0
        for chunk in chunks(text, f"{pace.seed}:{len(text)}"):
            if tps:
                # Sleep to a schedule rather than per chunk, so the pace holds at any speed.
                await asyncio.sleep(max(0.0, started + tokens(sent) / tps - loop.time()))
            else:
                await asyncio.sleep(0)  # stay cancellable and let others run
            sent += len(chunk)
            for event in parser.feed(chunk):
                if isinstance(event, ReasoningDelta):
                    reasoning_chars += len(event.text)
                    if not show_reasoning:
                        continue
                yield event
        for event in parser.close():
            if isinstance(event, ReasoningDelta):
                reasoning_chars += len(event.text)
                if not show_reasoning:
                    continue
            yield event

        if call is not None and not cut:
            for call_event in ToolCalls().whole(0, None, call.name, call.arguments):
                yield call_event
            text += call.arguments
        prompt_chars = len(request.system or "") + sum(len(m.content) for m in request.messages)
        completion = tokens(len(text))
        yield Usage(
            prompt_tokens=tokens(prompt_chars),
            completion_tokens=completion,
            reasoning_tokens=min(completion, tokens(reasoning_chars)),
        )
        yield Finish("length" if cut else "tool_calls" if call is not None else "stop")
