"""The prompt library: importing prompts from TOML, and checking a prompt's fields.

`manage.py prompts import FILE.toml` reads `[[prompts]]` tables (see
examples/prompts.toml). Keys: `name` (required), `system`, `thinking_instructions`
(present, even empty, makes a chain-of-thought prompt; empty means the default
instructions), `schema` (a JSON Schema, as a TOML table or a JSON string) and `user`
(the owner's username; without it the prompt is shared with every user, like the
built-in ones). Import is idempotent: a prompt is found by owner and name and set to
exactly what the file says. The whole file is checked first and written in one
transaction, so a bad file changes nothing; errors name the key path
(`prompts[1].schema: …`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from playground.management.commands.providers import Invalid, Key, check_keys, table, text
from playground.models import Prompt
from playground.prompts.builtins import BUILTIN_PROMPTS
from reasoning.structured import check_schema

MAX_NAME = 100
BUILTIN_NAMES = frozenset(p["name"] for p in BUILTIN_PROMPTS)
MAX_SCHEMA_DEPTH = 32  # deeper than any answer shape worth asking for; bounds the validator's recursion


def name(path: str, value: Any) -> str:
    stripped = str(text(path, value)).strip()
    if not stripped:
        raise Invalid(path, "must not be empty")
    if len(stripped) > MAX_NAME:
        raise Invalid(path, f"must be at most {MAX_NAME} characters")
    return stripped


def depth(value: Any, limit: int) -> int:
    """How deeply `value` nests, counting no further than `limit` + 1 (no recursion)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if level > limit:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, level + 1) for child in children)
    return deepest


def schema(path: str, value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except RecursionError:
            raise Invalid(path, f"nests deeper than {MAX_SCHEMA_DEPTH} levels") from None
        except ValueError as e:
            raise Invalid(path, f"is not valid JSON: {e}") from None
    if not isinstance(value, dict):
        raise Invalid(path, "must be a JSON Schema object (a TOML table or a JSON string)")
    if depth(value, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:
        raise Invalid(path, f"nests deeper than {MAX_SCHEMA_DEPTH} levels")
    if problems := check_schema(value):
        raise Invalid(path, f"is not a valid JSON Schema: {problems[0]}")
    return value


def username(path: str, value: Any) -> Any:
    value = text(path, value).strip()
    user = get_user_model().objects.filter(username=value).first()
    if user is None:
        raise Invalid(path, f"no user {value!r}")
    return user


PROMPT_KEYS: dict[str, Key] = {
    "name": Key(name, "name", required=True, doc="unique per owner"),
    "system": Key(text, "system", "", doc="the system prompt"),
    "thinking_instructions": Key(text, None, doc="makes a chain-of-thought prompt; empty = the default"),
    "schema": Key(schema, "schema", doc="JSON Schema of the final answer (table or JSON string)"),
    "user": Key(username, "owner", doc="owner's username; without it the prompt is shared"),
}


@dataclass
class PromptPlan:
    path: str
    fields: dict[str, Any]


def plan(document: dict[str, Any]) -> list[PromptPlan]:
    """Check the whole document; nothing is written here."""
    for key in document:
        if key != "prompts":
            raise Invalid(key, "unknown key (the file holds [[prompts]] tables)")
    prompts = document.get("prompts")
    if not isinstance(prompts, list) or not prompts:
        raise Invalid("prompts", "add at least one [[prompts]] table")
    plans: list[PromptPlan] = []
    seen: dict[tuple[Any, str], str] = {}
    for i, raw in enumerate(prompts):
        path = f"prompts[{i}]"
        fields = check_keys(path, table(path, raw), PROMPT_KEYS)
        fields["chain_of_thought"] = "thinking_instructions" in raw
        fields["thinking_instructions"] = raw.get("thinking_instructions", "").strip()
        owner = fields["owner"]
        owner_key = (owner.pk if owner else None, fields["name"])
        if owner_key in seen:
            raise Invalid(f"{path}.name", f"{fields['name']!r} is already used by {seen[owner_key]}")
        seen[owner_key] = path
        if owner is None and fields["name"] in BUILTIN_NAMES:
            raise Invalid(f"{path}.name", f"{fields['name']!r} is a built-in prompt; give it a user or another name")
        plans.append(PromptPlan(path, fields))
    return plans


@dataclass
class Outcome:
    created: list[str]
    updated: list[str]


def apply(plans: list[PromptPlan]) -> Outcome:
    outcome = Outcome([], [])
    with transaction.atomic():
        for p in plans:
            prompt = Prompt.objects.filter(owner=p.fields["owner"], name=p.fields["name"]).first()
            is_new = prompt is None
            prompt = prompt or Prompt()
            for field, value in p.fields.items():
                setattr(prompt, field, value)
            prompt.save()
            whose = f" of {prompt.owner.get_username()}" if prompt.owner else " (shared)"
            (outcome.created if is_new else outcome.updated).append(f"prompt {prompt.name!r}{whose}")
    return outcome
