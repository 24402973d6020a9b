"""Conversations as reasoning datasets for fine-tuning, one JSON record per line.

Each record is one branch of a conversation up to a complete assistant turn, so
a conversation with regenerated answers yields one record per answer. Formats:

    messages   {"messages": [{"role": "user", "content": …},
                             {"role": "assistant", "content": …, "reasoning_content": …}]}
               (the OpenAI-style chat format with DeepSeek's reasoning field)
    think      the same, with the reasoning inlined as "<think>\\n…\\n</think>\\n\\n" before the
               answer (what Qwen3 / DeepSeek-R1 distillation data looks like)
    sharegpt   {"conversations": [{"from": "human"|"gpt", "value": …}], "reasoning": …}

Only the last assistant turn of a record carries its reasoning: earlier turns are
context, and their reasoning was not part of what the model saw either.
Stopped, interrupted and failed turns are left out; so are turns with no reasoning
unless `include_without_reasoning` is set.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from playground.models import Conversation, Turn

FORMATS = ("messages", "think", "sharegpt")


def _assistant(turn: Turn, fmt: str, *, final: bool) -> dict[str, Any]:
    if fmt == "think" and final and turn.reasoning:
        return {"role": "assistant", "content": f"<think>\n{turn.reasoning}\n</think>\n\n{turn.content}"}
    message: dict[str, Any] = {"role": "assistant", "content": turn.content}
    if fmt == "messages" and final:
        message["reasoning_content"] = turn.reasoning
    return message


def record(chain: list[Turn], fmt: str) -> dict[str, Any]:
    """One training record from a branch that ends with an assistant turn."""
    last = chain[-1]
    if fmt == "sharegpt":
        names = {"user": "human", "assistant": "gpt", "system": "system"}
        out: dict[str, Any] = {
            "conversations": [{"from": names[t.role], "value": t.content} for t in chain],
            "reasoning": last.reasoning,
        }
    else:
        messages: list[dict[str, Any]] = []
        system = (last.params or {}).get("system")
        if system:
            messages.append({"role": "system", "content": system})
        for t in chain:
            if t.role == Turn.Role.ASSISTANT:
                messages.append(_assistant(t, fmt, final=t is last))
            else:
                messages.append({"role": t.role, "content": t.content})
        out = {"messages": messages}
    out["metadata"] = {
        "model": last.model_label,
        "reasoning_tokens": last.reasoning_tokens,
        "completion_tokens": last.completion_tokens,
        "conversation": last.conversation_id,
        "turn": last.pk,
    }
    return out


def records(
    conversations: Iterable[Conversation], fmt: str = "messages", *, include_without_reasoning: bool = False
) -> Iterator[dict[str, Any]]:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    for conversation in conversations:
        turns = {t.pk: t for t in conversation.turns.all()}
        for turn in turns.values():
            if turn.role != Turn.Role.ASSISTANT or turn.status != Turn.Status.COMPLETE:
                continue
            if not turn.reasoning and not include_without_reasoning:
                continue
            chain = [turn]
            while chain[-1].parent_id in turns:
                chain.append(turns[chain[-1].parent_id])
            chain.reverse()
            yield record(chain, fmt)


def jsonl(conversations: Iterable[Conversation], fmt: str = "messages", **kwargs: Any) -> Iterator[str]:
    for item in records(conversations, fmt, **kwargs):
        yield json.dumps(item, ensure_ascii=False) + "\n"
