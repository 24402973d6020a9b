"""What well-known model families can do, by model id, so a profile that names only a
kind and a model id still switches thinking, takes efforts and budgets, and reads
its markup.

`capabilities(kind, model_id, base_url)` gives the family's entry, else the kind's
default mechanism (below), else `None`. `fill(kind, model_id, given, base_url)` fills
the profile fields a file or form left out; an explicit value always wins. Sections
(§) refer to /work/shared/spec/providers.md.

Default mechanism per provider kind (when no family matches):

| kind | thinking_control | what it sends |
|---|---|---|
| anthropic | anthropic_budget | `thinking: {type: enabled, budget_tokens}` / `disabled` (§4) |
| gemini | gemini_budget | `generationConfig.thinkingConfig {thinkingBudget, includeThoughts}` (§5) |
| ollama | ollama_think | `think: true / false / "low"…` (§7) |
| openai-responses | responses | `reasoning: {effort, summary: "auto"}` (§2) |
| openai | reasoning_effort | `reasoning_effort` (§1) |

An OpenAI-compatible gateway recognised by its base URL uses its own knob instead
(OpenRouter `reasoning`, Groq, Together; `GATEWAYS`).

The entries are what the providers document (spec §1–§9); the first match wins, so
narrower patterns come first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Capabilities:
    thinking_control: str
    efforts: tuple[str, ...] = ()
    supports_budget: bool = False
    reasoning: str | None = None  # a ReasoningStyle value; None leaves the profile's
    markup: str | None = None
    starts_in_reasoning: bool | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    family: str = ""  # what matched, for messages and the admin

    def fields(self) -> dict[str, Any]:
        """As ModelProfile / providers.toml fields (only those the entry sets)."""
        out: dict[str, Any] = {
            "thinking_control": self.thinking_control,
            "efforts": list(self.efforts),
            "supports_budget": self.supports_budget,
        }
        if self.reasoning is not None:
            out["reasoning"] = self.reasoning
        if self.markup is not None:
            out["markup"] = self.markup
        if self.starts_in_reasoning is not None:
            out["starts_in_reasoning"] = self.starts_in_reasoning
        if self.options:
            out["options"] = dict(self.options)
        return out


LOW_HIGH = ("low", "medium", "high")
ECHO = {"echo_reasoning_content": True}
CLAUDE_5 = {"display_summarized": True, "thinks_by_default": True}

DEFAULT_MECHANISM: dict[str, Capabilities] = {
    "anthropic": Capabilities("anthropic_budget", LOW_HIGH, True, family="Anthropic default"),
    "gemini": Capabilities("gemini_budget", LOW_HIGH, True, family="Gemini default"),
    "ollama": Capabilities("ollama_think", family="Ollama default"),
    "openai-responses": Capabilities("responses", LOW_HIGH, family="Responses default"),
    "openai": Capabilities("reasoning_effort", LOW_HIGH, family="OpenAI-compatible default"),
}

# Gateways: who serves the model, when it is not the model family's own API. Known by
# the public base URL's host (`gateway_of`), or set on the provider (the providers
# file's `gateway`, the admin); self-hosted servers (vLLM, SGLang, llama.cpp, Ollama's
# /v1) have no public host, so they are only ever set. An unknown host, loopback
# included, is "" : the model family's own API.
GATEWAY_NAMES: tuple[str, ...] = (
    "baseten", "friendli", "openrouter", "together", "groq", "fireworks", "vllm", "sglang", "llama.cpp", "ollama",
)
GATEWAY_HOSTS: tuple[tuple[str, str], ...] = (
    ("baseten.co", "baseten"),
    ("friendli.ai", "friendli"),
    ("openrouter.ai", "openrouter"),
    ("together.xyz", "together"),
    ("together.ai", "together"),
    ("groq.com", "groq"),
    ("fireworks.ai", "fireworks"),
)
# Servers that read (and write) reasoning as `reasoning` rather than `reasoning_content`
# on an assistant message (spec §13 "Servers"): the echo field follows the server.
READS_REASONING_FIELD = frozenset({"vllm", "ollama", "groq"})


def gateway_of(base_url: str) -> str:
    """The gateway a base URL's host names, or "" (the family's own API)."""
    from urllib.parse import urlsplit

    host = (urlsplit(base_url.strip()).hostname or "").lower()
    for suffix, name in GATEWAY_HOSTS:
        if host == suffix or host.endswith("." + suffix):
            return name
    return ""


# Gateways that speak Chat Completions with their own reasoning knob for every model
# (§6, §9), by gateway name.
GATEWAYS: tuple[tuple[str, Capabilities], ...] = (
    ("openrouter", Capabilities("openrouter", ("none", "minimal", *LOW_HIGH, "xhigh"), True, family="OpenRouter")),
    ("groq", Capabilities("groq", ("none", *LOW_HIGH), family="Groq")),
    ("together", Capabilities("together", family="Together")),
    ("friendli", Capabilities("friendli", family="Friendli")),
)

# Families whose switch differs at one gateway: (gateway, pattern, capabilities),
# searched before the gateway's own knob and the families below.
GATEWAY_FAMILIES: tuple[tuple[str, str, Capabilities], ...] = (
    # Baseten (§9, §13 "Baseten"): opt-in models reason only with chat_template_args;
    # efforts go as `reasoning_effort` alone; some models reason by default.
    ("baseten", r"kimi-k2\.[5-9]|glm-(4\.[7-9]|5)",
     Capabilities("chat_template_args", options=ECHO, family="Kimi K2.5+ / GLM 4.7+ at Baseten")),
    ("baseten", r"deepseek-v4-pro",
     Capabilities("reasoning_effort", (*LOW_HIGH, "xhigh"), options={**ECHO, "max_tokens_field": "max_tokens"},
                  family="DeepSeek V4 Pro at Baseten")),
    ("baseten", r"gpt-oss", Capabilities("reasoning_effort", LOW_HIGH, family="gpt-oss at Baseten")),
    ("baseten", r"deepseek-v3\.1|minimax-m2|nemotron",
     Capabilities("none", family="reasons by default at Baseten")),
)

# (kinds, pattern over the lower-cased model id, capabilities)
_ANY_CHAT = ("openai",)
FAMILIES: tuple[tuple[tuple[str, ...], str, Capabilities], ...] = (
    # --- Anthropic (§4) ---------------------------------------------------------------
    # Claude 5 and later (§13): thinking on by default, shown only with display "summarized".
    (("anthropic",), r"claude-opus-5-5",
     Capabilities("anthropic_adaptive", (*LOW_HIGH, "xhigh", "max"), options={"adaptive_only": True, **CLAUDE_5},
                  family="Claude Opus 5.5 (cannot turn thinking off)")),
    (("anthropic",), r"claude-(opus|sonnet|haiku)-5|claude-fable",
     Capabilities("anthropic_adaptive", (*LOW_HIGH, "xhigh", "max"), options=CLAUDE_5, family="Claude 5")),
    (("anthropic",), r"claude-(opus-4-7|mythos)",
     Capabilities("anthropic_adaptive", (*LOW_HIGH, "xhigh", "max"),
                  options={"adaptive_only": True, "display_summarized": True},
                  family="Claude adaptive-only")),
    (("anthropic",), r"claude-(opus|sonnet)-4-6",
     Capabilities("anthropic_adaptive", (*LOW_HIGH, "max"), family="Claude 4.6 (adaptive)")),
    (("anthropic",), r"claude-(3-7|opus-4|sonnet-4|haiku-4)",
     Capabilities("anthropic_budget", LOW_HIGH, True, family="Claude extended thinking")),
    (("anthropic",), r"claude-3-(5|haiku|opus|sonnet)",
     Capabilities("none", reasoning="none", family="Claude 3 (no thinking)")),
    # --- Gemini (§5) --------------------------------------------------------------------
    (("gemini",), r"gemini-3.*flash",
     Capabilities("gemini_level", ("minimal", *LOW_HIGH), family="Gemini 3 Flash")),
    (("gemini",), r"gemini-3", Capabilities("gemini_level", ("low", "high"), family="Gemini 3")),
    (("gemini",), r"gemini-2\.5-pro",
     Capabilities("gemini_budget", LOW_HIGH, True, options={"thinking_always_on": True}, family="Gemini 2.5 Pro")),
    (("gemini",), r"gemini-2\.5", Capabilities("gemini_budget", LOW_HIGH, True, family="Gemini 2.5")),
    (("gemini",), r"gemini-(1\.|2\.0)", Capabilities("none", reasoning="none", family="Gemini before 2.5")),
    # --- OpenAI models (§1, §2) --------------------------------------------------------
    (("openai-responses",), r"gpt-5\.[1-9]",
     Capabilities("responses", ("none", *LOW_HIGH, "xhigh"), family="GPT-5.1+")),
    (("openai-responses",), r"gpt-5", Capabilities("responses", ("minimal", *LOW_HIGH), family="GPT-5")),
    (("openai-responses",), r"^o\d", Capabilities("responses", LOW_HIGH, family="o-series")),
    (("openai-responses",), r"gpt-oss", Capabilities("responses", LOW_HIGH, family="gpt-oss")),
    (_ANY_CHAT, r"(^|/)gpt-5\.[1-9]",
     Capabilities("reasoning_effort", ("none", *LOW_HIGH, "xhigh"), reasoning="hidden", family="GPT-5.1+")),
    (_ANY_CHAT, r"(^|/)gpt-5(?!.*chat)",
     Capabilities("reasoning_effort", ("minimal", *LOW_HIGH), reasoning="hidden", family="GPT-5")),
    (_ANY_CHAT, r"(^|/)o\d", Capabilities("reasoning_effort", LOW_HIGH, reasoning="hidden", family="o-series")),
    # Chat models that do not reason: no effort, no switch (a reasoning_effort is a 400).
    (("openai", "openai-responses"), r"(^|/)(gpt-4o|gpt-4\.1|gpt-4(-|$)|gpt-3\.5|chatgpt-4o|gpt-5(\.\d+)?-chat)",
     Capabilities("none", reasoning="none", family="non-reasoning GPT")),
    # gpt-oss: effort always (it cannot stop reasoning), harmony when a server leaves it raw.
    (_ANY_CHAT, r"gpt-oss", Capabilities("reasoning_effort", LOW_HIGH, family="gpt-oss")),
    (("ollama",), r"gpt-oss", Capabilities("ollama_think", LOW_HIGH, family="gpt-oss")),
    # --- DeepSeek (§3, §8) -------------------------------------------------------------
    # R1's template writes `<think>\n` into the prompt (§10): where a server leaves the
    # markup in the text, everything before the first `</think>` is reasoning.
    (_ANY_CHAT, r"deepseek-(reasoner|r1)|deepseek-ai/deepseek-r1",
     Capabilities("none", starts_in_reasoning=True, family="DeepSeek R1 (always thinks)")),
    (_ANY_CHAT, r"deepseek-v4",
     Capabilities("thinking_type", ("high", "max"), options=ECHO, family="DeepSeek V4")),
    (_ANY_CHAT, r"deepseek-ai/deepseek-v3\.[12]",
     Capabilities("chat_template_kwargs_thinking", family="DeepSeek V3.1/V3.2 (self-hosted)")),
    (_ANY_CHAT, r"deepseek-(chat|v3\.[12])",
     Capabilities("thinking_type", options=ECHO, family="DeepSeek V3.1/V3.2")),
    # --- Open models served OpenAI-compatibly (§8, §9) ------------------------------------
    (_ANY_CHAT, r"qwen3.*thinking-2507", Capabilities("none", family="Qwen3 thinking-only")),
    (_ANY_CHAT, r"qwen3.*instruct-2507", Capabilities("none", reasoning="none", family="Qwen3 instruct-only")),
    (_ANY_CHAT, r"qwen3", Capabilities("chat_template_kwargs", family="Qwen3 hybrid")),
    (("ollama",), r"qwen3|deepseek-r1|magistral", Capabilities("ollama_think", family="Ollama thinking model")),
    (_ANY_CHAT, r"moonshotai/kimi", Capabilities("chat_template_kwargs_thinking", family="Kimi (self-hosted)")),
    (_ANY_CHAT, r"kimi-k2", Capabilities("thinking_type", options=ECHO, family="Kimi K2")),
    (_ANY_CHAT, r"glm-(4\.[5-9]|5)", Capabilities("thinking_type", options=ECHO, family="GLM 4.5+")),
    (_ANY_CHAT, r"granite-(3\.[23]|4)", Capabilities("chat_template_kwargs_thinking", family="Granite")),
    (_ANY_CHAT, r"nemotron", Capabilities("chat_template_kwargs", family="Nemotron")),
)
_COMPILED = tuple((kinds, re.compile(pattern), caps) for kinds, pattern, caps in FAMILIES)


_GATEWAY_COMPILED = tuple((gateway, re.compile(pattern), caps) for gateway, pattern, caps in GATEWAY_FAMILIES)


def capabilities(kind: str, model_id: str, base_url: str = "", gateway: str | None = None) -> Capabilities | None:
    """The family entry for this model at this kind of provider and gateway (None:
    inferred from `base_url`), else the kind's default."""
    gateway = gateway_of(base_url) if gateway is None else gateway
    caps = _capabilities(kind, model_id.lower(), gateway)
    if caps is not None and gateway in READS_REASONING_FIELD and (
        caps.options.get("echo_reasoning_content") or replay_rule(kind, model_id).carrier == "reasoning_content"
    ):
        caps = replace(caps, options={**caps.options, "echo_reasoning_field": "reasoning"})
    return caps


def _capabilities(kind: str, model: str, gateway: str) -> Capabilities | None:
    if kind == "openai" and gateway:
        for name, pattern, caps in _GATEWAY_COMPILED:
            if name == gateway and pattern.search(model):
                return caps
        for name, caps in GATEWAYS:
            if name == gateway:
                return caps
    for kinds, pattern, caps in _COMPILED:
        if kind in kinds and pattern.search(model):
            return caps
    return DEFAULT_MECHANISM.get(kind)


CATALOGUE_FIELDS = ("thinking_control", "efforts", "supports_budget", "reasoning", "markup", "starts_in_reasoning")


def fill(
    kind: str, model_id: str, given: Mapping[str, Any], base_url: str = "", gateway: str | None = None
) -> dict[str, Any]:
    """The profile fields `given` left out, from the catalogue; `given` always wins.

    Efforts and budget support belong to the thinking control: when `given` names
    its own control, the catalogue's efforts are not borrowed for it. Catalogue
    options are merged under the given ones. A model given as not reasoning
    (`reasoning = "none"`) gets no thinking control and no efforts."""
    caps = capabilities(kind, model_id, base_url, gateway)
    if caps is None:
        return {}
    if given.get("reasoning") == "none":
        caps = Capabilities("none", family=f"{caps.family} (given as not reasoning)")
    suggested = caps.fields()
    if "thinking_control" in given and given["thinking_control"] != caps.thinking_control:
        suggested.pop("efforts", None)
        suggested.pop("supports_budget", None)
        suggested.pop("options", None)
    filled = {k: v for k, v in suggested.items() if k not in given and k != "options"}
    if "options" in suggested:
        filled["options"] = {**suggested["options"], **dict(given.get("options") or {})}
    return filled


def controls_table() -> str:
    """The markdown table in docs/providers.md: every provider kind × thinking control,
    the kind's default marked, and what each setting sends (computed by
    `reasoning.controls.thinking_params`, for a model that lists every effort)."""
    import json

    from reasoning.controls import CONTROL_KINDS, UnsupportedControl, thinking_params
    from reasoning.request import EFFORT_LEVELS, ChatRequest, ModelSpec, ProviderConfig, Thinking

    settings = {
        "default": Thinking(),
        "thinking on": Thinking(mode="on"),
        "thinking off": Thinking(mode="off"),
        "effort high": Thinking(effort="high"),
        "budget 4096": Thinking(mode="on", budget_tokens=4096),
    }
    lines = [
        "| kind | thinking_control | default at gateway | " + " | ".join(settings) + " |",
        "|---|---|---|" + "---|" * len(settings),
    ]
    for kind in ("openai", "openai-responses", "anthropic", "gemini", "ollama", "any"):
        default = DEFAULT_MECHANISM[kind].thinking_control if kind != "any" else ""
        controls = [c for c, kinds in CONTROL_KINDS.items() if kind in kinds or (kind == "any" and not kinds)]
        for control in sorted(controls, key=lambda c: (c != default, c)):
            model = ModelSpec("m", thinking_control=control, efforts=EFFORT_LEVELS if control != "none" else ())
            cells = []
            for thinking in settings.values():
                request = ChatRequest(ProviderConfig("openai" if kind == "any" else kind), model, (), thinking=thinking)
                try:
                    sent = thinking_params(request)
                    cells.append(f"`{json.dumps(sent, separators=(',', ':'))}`" if sent else "nothing")
                except UnsupportedControl:
                    cells.append("refused")
            name = f"**{control}** (default)" if control == default else control
            at = _gateways_using(control) if kind == "openai" else ""
            lines.append(f"| {kind} | {name} | {at or '—'} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _gateways_using(control: str) -> str:
    """The gateways whose catalogue entries default to `control` (for every model, or
    for some families: those marked "(some)")."""
    every = [name for name, caps in GATEWAYS if caps.thinking_control == control]
    some = [name for name, _, caps in GATEWAY_FAMILIES if caps.thinking_control == control and name not in every]
    return ", ".join([*every, *(f"{name} (some)" for name in dict.fromkeys(some))])


# An id of each gateway family, for the table's replay column (checked to match).
_GATEWAY_EXAMPLES: dict[str, tuple[str, ...]] = {
    r"kimi-k2\.[5-9]|glm-(4\.[7-9]|5)": ("moonshotai/Kimi-K2.5", "zai-org/GLM-4.7"),
    r"deepseek-v4-pro": ("deepseek-ai/DeepSeek-V4-Pro",),
    r"gpt-oss": ("openai/gpt-oss-120b",),
    r"deepseek-v3\.1|minimax-m2|nemotron": ("deepseek-ai/DeepSeek-V3.1", "MiniMaxAI/MiniMax-M2.5", "nvidia/Nemotron"),
}


def gateways_table() -> str:
    """The markdown table in docs/providers.md ("Gateways"): per gateway, how it is
    found, and the catalogue's defaults there, family by family, then for any other
    model (the families' own entries, or the kind's default): the thinking control,
    efforts, and the default replay policy with the field reasoning goes back in."""
    hosts: dict[str, list[str]] = {}
    for host, name in GATEWAY_HOSTS:
        hosts.setdefault(name, []).append(f"`{host}`")
    lines = [
        "| gateway | found by host | model id matches | thinking_control | efforts | replay (default, carrier) |",
        "|---|---|---|---|---|---|",
    ]

    def replay(name: str, model_ids: tuple[str, ...]) -> str:
        cells: list[str] = []
        for model_id in model_ids:
            rule = replay_rule("openai", model_id, gateway=name)
            caps = capabilities("openai", model_id, gateway=name)
            carrier = (caps.options.get("echo_reasoning_field") if caps else None) or rule.carrier
            cell = f"{rule.policy}, `{carrier}`" if carrier else rule.policy
            if cell not in cells:
                cells.append(cell)
        return "; ".join(cells)

    for name in GATEWAY_NAMES:
        found = ", ".join(hosts.get(name, [])) or "set only (no public host)"
        for gateway, pattern, caps in GATEWAY_FAMILIES:
            if gateway != name:
                continue
            examples = _GATEWAY_EXAMPLES[pattern]
            assert all(re.search(pattern, e.lower()) for e in examples), pattern
            efforts = ", ".join(caps.efforts) or "—"
            match = "`" + pattern.replace("|", "\\|") + "`"
            lines.append(f"| {name} | {found} | {match} | {caps.thinking_control} | {efforts} | "
                         f"{replay(name, examples)} |")
        own = dict(GATEWAYS).get(name)
        at_gateway = replay_rule("openai", "", gateway=name)
        kept = f"{at_gateway.policy}, `{at_gateway.carrier}`" if at_gateway.carrier else at_gateway.policy
        if at_gateway is DEFAULT_REPLAY["openai"]:
            kept = "the family's" + (", in `reasoning`" if name in READS_REASONING_FIELD else "")
        if own is not None:
            efforts = ", ".join(own.efforts) or "—"
            lines.append(f"| {name} | {found} | any other | {own.thinking_control} | {efforts} | {kept} |")
        else:
            lines.append(f"| {name} | {found} | any other | the family's | the family's | {kept} |")
    return "\n".join(lines) + "\n"


# ---- Replay rules: what goes back to the model (§12, §13) ----------------------------
# Kept apart from FAMILIES on purpose: the thinking controls above and the replay rules
# below change for different reasons, and `reasoning.context` reads only this table.


@dataclass(frozen=True, slots=True)
class ReplayRule:
    """How a family takes its own reasoning back (spec §13's table).

    `policy` is the default ReplayPolicy; `carrier` names where reasoning travels (a
    message field, or the signed/encrypted payload of the wire format); `preserve_flag`
    is merged into the body when the policy is "preserved"; `required` says when the
    provider rejects a request without the carrier: "tool_turns" (every assistant
    message that made tool calls, in all later requests: DeepSeek, Kimi), "chain" (the
    tool steps after the last user message: Anthropic, Gemini 3) or "" (never, only
    worse answers); `prefix_binding` (Claude Fable 5.1+) binds each thinking block to
    the exact prefix it followed."""

    family: str
    policy: str = "strip"
    carrier: str = ""
    preserve_flag: Mapping[str, Any] = field(default_factory=dict)
    required: str = ""
    prefix_binding: bool = False


# The carriers by name: the message field for Chat Completions shapes, or the payload.
CARRIERS = {
    "reasoning_content": "`reasoning_content` on the assistant message",
    "reasoning": "`reasoning` on the assistant message",
    "reasoning_details": "`reasoning_details` on the assistant message, unmodified",
    "think_tags": "`<think>…</think>` at the start of the assistant `content`",
    "thinking": "`thinking` on the assistant message (Ollama)",
    "thinking_blocks": "signed `thinking` / `redacted_thinking` blocks, verbatim, before `tool_use`",
    "thought_signature": "the parts with their `thoughtSignature`, verbatim",
    "extra_content": "`extra_content.google.thought_signature` on each tool call, verbatim",
    "reasoning_items": "`reasoning` items with `encrypted_content`, before their `function_call`",
}

DEFAULT_REPLAY: dict[str, ReplayRule] = {
    "anthropic": ReplayRule("Anthropic", "interleaved", "thinking_blocks", required="chain"),
    "gemini": ReplayRule("Gemini", "interleaved", "thought_signature"),
    "openai-responses": ReplayRule("OpenAI Responses", "interleaved", "reasoning_items"),
    "ollama": ReplayRule("Ollama", "interleaved", "thinking"),
    "openai": ReplayRule("OpenAI-compatible"),
}

REPLAY_GATEWAYS: tuple[tuple[str, ReplayRule], ...] = (
    ("openrouter.ai", ReplayRule("OpenRouter", "interleaved", "reasoning_details")),
    # Groq rejects `reasoning_content` in input with a 400 (§9) and keeps nothing.
    ("groq.com", ReplayRule("Groq")),
)

_KIMI_KEEP = {"thinking": {"keep": "all"}}
REPLAY_FAMILIES: tuple[tuple[tuple[str, ...], str, ReplayRule], ...] = (
    (("anthropic",), r"claude-3-(5|haiku|opus|sonnet)", ReplayRule("Claude 3 (no thinking)")),
    (("anthropic",), r"claude-fable|claude-(opus|sonnet|haiku)-5-5",
     ReplayRule("Claude (prefix-bound thinking)", "interleaved", "thinking_blocks", required="chain",
                prefix_binding=True)),
    (("gemini",), r"gemini-3", ReplayRule("Gemini 3", "interleaved", "thought_signature", required="chain")),
    (("gemini",), r"gemini-(1\.|2\.0)", ReplayRule("Gemini before 2.5")),
    # Gemini's OpenAI-compatible endpoint carries the signature beside each call.
    (_ANY_CHAT, r"(^|/)gemini-3",
     ReplayRule("Gemini 3 (OpenAI-compatible)", "interleaved", "extra_content", required="chain")),
    (_ANY_CHAT, r"deepseek-r1|deepseek-ai/deepseek-r1", ReplayRule("DeepSeek R1 (legacy)")),
    (_ANY_CHAT, r"deepseek-(reasoner|chat|v3\.[12]|v4)|deepseek-ai/deepseek-v3\.[12]",
     ReplayRule("DeepSeek V3.2 / V4 (thinking)", "interleaved", "reasoning_content", required="tool_turns")),
    (_ANY_CHAT, r"kimi-k2\.[6-9]",
     ReplayRule("Kimi K2.6+", "interleaved", "reasoning_content", _KIMI_KEEP, required="tool_turns")),
    (_ANY_CHAT, r"kimi-k2|moonshotai/kimi",
     ReplayRule("Kimi K2", "interleaved", "reasoning_content", required="tool_turns")),
    (_ANY_CHAT, r"glm-(4\.[5-9]|5)",
     ReplayRule("GLM 4.5+", "interleaved", "reasoning_content", {"thinking": {"clear_thinking": False}})),
    ((*_ANY_CHAT, "ollama"), r"minimax-m2", ReplayRule("MiniMax M2", "interleaved", "think_tags")),
    (_ANY_CHAT, r"gpt-oss", ReplayRule("gpt-oss (harmony)", "interleaved", "reasoning")),
    (_ANY_CHAT, r"qwen3\.[6-9]",
     ReplayRule("Qwen 3.6+", "strip", "reasoning_content", {"chat_template_kwargs": {"preserve_thinking": True}})),
    (_ANY_CHAT, r"gemma-?4", ReplayRule("Gemma 4", "interleaved", "reasoning")),
)
_REPLAY_COMPILED = tuple((kinds, re.compile(pattern), rule) for kinds, pattern, rule in REPLAY_FAMILIES)


def replay_rule(kind: str, model_id: str, base_url: str = "", gateway: str = "") -> ReplayRule:
    """The replay rule for this model at this kind of provider: the family's entry,
    else a gateway's (the one set, else by base URL), else the kind's default (strip
    for unknown kinds)."""
    model = model_id.lower()
    for kinds, pattern, rule in _REPLAY_COMPILED:
        if kind in kinds and pattern.search(model):
            return rule
    if kind == "openai":
        for host, rule in REPLAY_GATEWAYS:
            if host in base_url.lower() or (gateway and gateway_of(f"https://{host}") == gateway):
                return rule
    return DEFAULT_REPLAY.get(kind, ReplayRule("no replay"))


def replay_table() -> str:
    """The markdown table in docs/tools.md ("Replay in tool loops"): every family's
    default policy, carrier, preservation flag and when a missing carrier is refused."""
    import json

    required = {"": "never (answers get worse)", "tool_turns": "every tool-call turn, in all later requests",
                "chain": "each tool step after the last user message"}
    lines = [
        "| family | kinds | model id matches | default policy | carrier | preservation flag | refused without it |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(rule: ReplayRule, kinds: str, match: str) -> None:
        flag = f"`{json.dumps(dict(rule.preserve_flag), separators=(',', ':'))}`" if rule.preserve_flag else "—"
        carrier = CARRIERS.get(rule.carrier, "—") + (" (prefix-bound)" if rule.prefix_binding else "")
        lines.append(f"| {rule.family} | {kinds} | {match} | {rule.policy} | {carrier} | {flag} | "
                     f"{required[rule.required] if rule.carrier else '—'} |")

    for kinds, pattern, rule in REPLAY_FAMILIES:
        escaped = pattern.replace("|", "\\|")  # a pipe ends a table cell, even inside code
        row(rule, ", ".join(kinds), f"`{escaped}`")
    for host, rule in REPLAY_GATEWAYS:
        row(rule, "openai", f"base URL host `{host}`")
    for kind, rule in DEFAULT_REPLAY.items():
        row(rule, kind, "any other")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    import sys

    # `python -m reasoning.catalogue` prints the controls table, `… gateways` the other.
    print(gateways_table() if sys.argv[1:] == ["gateways"] else controls_table(), end="")
