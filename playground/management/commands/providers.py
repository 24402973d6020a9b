"""`manage.py providers import FILE.toml` and `manage.py providers list`.

The file declares providers and their models (see examples/providers.toml for
every key). Import is idempotent: a provider is found by `name`, a model by its
`id` at that provider (else by `label`), and each is set to exactly what the
file says, keys left out taking their defaults. Providers and models that are
not in the file are left alone. The whole file is checked before anything is
written and written in one transaction, so a bad file changes nothing; errors
name the TOML line or the key path (`providers[1].models[0].reasoning: …`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import URLValidator, validate_slug
from django.db import IntegrityError, transaction

from playground.models import McpServer, ModelProfile, Provider
from reasoning import catalogue
from reasoning.adapters import PROVIDER_KINDS
from reasoning.catalogue import GATEWAY_NAMES
from reasoning.controls import CONTROL_KINDS, UnsupportedControl, check_profile
from reasoning.parsers import FAMILIES
from reasoning.request import EFFORT_LEVELS, REPLAY_POLICIES, ModelSpec, ReasoningStyle

REASONING_STYLES = tuple(s.value for s in ReasoningStyle)
# "simulator": the offline simulator reads the controls itself (see bootstrap).
THINKING_CONTROLS = (*CONTROL_KINDS, "simulator")
MAX_TOKENS = 10_000_000


class Invalid(Exception):
    """A value in the file that cannot be imported, with where it is."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")


# ---- value checks: each takes (path, value) and returns the value to store ------------


def text(path: str, value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(path, f"must be a string, not {type(value).__name__}")
    return value


def required_text(path: str, value: Any) -> str:
    if not text(path, value).strip():
        raise Invalid(path, "must not be empty")
    return str(value).strip()


def boolean(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise Invalid(path, "must be true or false")
    return value


def positive_int(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TOKENS:
        raise Invalid(path, f"must be a whole number from 1 to {MAX_TOKENS:,}")
    return value


def price(path: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise Invalid(path, "must be a number ≥ 0 (USD per million tokens)")
    amount = Decimal(str(value))
    if amount >= 1_000_000 or amount.as_tuple().exponent < -4:  # type: ignore[operator]
        raise Invalid(path, "must be below 1,000,000 with at most 4 decimals")
    return amount


def table(path: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(path, "must be a table")
    return value


def one_of(*choices: str) -> Callable[[str, Any], str]:
    def check(path: str, value: Any) -> str:
        if value not in choices:
            raise Invalid(path, f"must be one of {', '.join(choices)}")
        return str(value)

    return check


def slug(path: str, value: Any) -> str:
    value = required_text(path, value)
    try:
        validate_slug(value)
    except ValidationError:
        raise Invalid(path, "must be letters, digits, hyphens or underscores") from None
    if len(value) > 64:
        raise Invalid(path, "must be at most 64 characters")
    return str(value)


def url(path: str, value: Any) -> str:
    value = text(path, value).strip()
    if value:
        try:
            URLValidator(schemes=["http", "https"])(value)
        except ValidationError:
            raise Invalid(path, f"{value!r} is not an http(s) URL") from None
    return str(value)


def efforts(path: str, value: Any) -> list[str]:
    if not isinstance(value, list):
        raise Invalid(path, f"must be a list of effort levels ({', '.join(EFFORT_LEVELS)})")
    for i, level in enumerate(value):
        if level not in EFFORT_LEVELS:
            raise Invalid(f"{path}[{i}]", f"must be one of {', '.join(EFFORT_LEVELS)}")
    if len(set(value)) != len(value):
        raise Invalid(path, "lists a level twice")
    return list(value)


def thinking_control(path: str, value: Any) -> str:
    value = required_text(path, value)
    if value not in THINKING_CONTROLS:
        raise Invalid(path, f"must be one of {', '.join(THINKING_CONTROLS)}")
    return str(value)


def array_of_tables(path: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise Invalid(path, "must be an array of tables ([[providers.models]])")
    return value


def api_key_env(path: str, value: Any) -> str:
    name = required_text(path, value)
    key = os.environ.get(name)
    if not key:
        raise Invalid(path, f"environment variable {name} is not set (or empty)")
    return key


@dataclass(frozen=True)
class Key:
    check: Callable[[str, Any], Any]
    field: str | None  # the model field it sets; None for keys handled apart
    default: Any = None
    required: bool = False
    doc: str = ""


PROVIDER_KEYS: dict[str, Key] = {
    "name": Key(slug, "name", required=True, doc="unique; letters, digits, - and _"),
    "kind": Key(one_of(*PROVIDER_KINDS), "kind", required=True, doc=" | ".join(PROVIDER_KINDS)),
    "base_url": Key(url, "base_url", "", doc="the API root; empty for the provider's default"),
    "gateway": Key(
        one_of("", *GATEWAY_NAMES),
        "gateway",
        "",
        doc=" | ".join(GATEWAY_NAMES) + "; who serves the models (default: from the base URL's host)",
    ),
    "api_key_env": Key(required_text, None, doc="environment variable holding the key, read now"),
    "enabled": Key(boolean, "enabled", True),
    "options": Key(table, "options", {}, doc="provider-specific settings, e.g. extra headers"),
    "models": Key(array_of_tables, None, doc="array of tables, below"),
}

MODEL_KEYS: dict[str, Key] = {
    "id": Key(required_text, "model_id", required=True, doc="model id sent to the provider"),
    "label": Key(required_text, "label", required=True, doc="unique; shown in the UI"),
    "reasoning": Key(one_of(*REASONING_STYLES), "reasoning", "native"),
    "markup": Key(one_of(*FAMILIES), "markup", "", doc="parser family when reasoning = markup"),
    "markup_open": Key(required_text, "markup_open", "", doc="custom opening tag"),
    "markup_close": Key(required_text, "markup_close", "", doc="custom closing tag"),
    "starts_in_reasoning": Key(boolean, "starts_in_reasoning", False),
    "thinking_control": Key(thinking_control, "thinking_control", "none"),
    "efforts": Key(efforts, "efforts", []),
    "supports_budget": Key(boolean, "supports_budget", False),
    "supports_temperature": Key(boolean, "supports_temperature", True),
    "max_output_tokens": Key(positive_int, "max_output_tokens"),
    "context_window": Key(positive_int, "context_window"),
    "price_input": Key(price, "price_input", doc="USD per million prompt tokens"),
    "price_output": Key(price, "price_output", doc="USD per million output tokens"),
    "options": Key(table, "options", {}, doc="model-specific settings"),
    "replay": Key(one_of(*REPLAY_POLICIES), "replay", "",
                  doc="strip | interleaved | preserved: reasoning sent back; absent = the family's default"),
    "enabled": Key(boolean, "enabled", True),
}


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def string_list(path: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Invalid(path, "must be a list of strings")
    return list(value)


def environment(path: str, value: Any) -> dict[str, str]:
    for name, text_value in table(path, value).items():
        if not ENV_NAME.match(name):
            raise Invalid(f"{path}.{name}", "is not an environment variable name (letters, digits, _)")
        if not isinstance(text_value, str):
            raise Invalid(f"{path}.{name}", "must be a string")
    return dict(value)


def command(path: str, value: Any) -> str:
    value = required_text(path, value)
    if "=" in value.split("/")[-1]:
        raise Invalid(path, "must name a program (no '=' in its name)")
    return str(value)


# [[mcp_servers]]: tools over MCP (playground.tools). stdio: command + args + env (its
# whole environment, with PATH added); streamable HTTP: url.
MCP_SERVER_KEYS: dict[str, Key] = {
    "name": Key(slug, "name", required=True, doc="unique; letters, digits, - and _"),
    "command": Key(command, "command", "", doc="stdio: the program to run"),
    "args": Key(string_list, "args", [], doc="stdio: its arguments"),
    "env": Key(environment, "env", {}, doc="stdio: its environment, and nothing else of ours"),
    "url": Key(url, "url", "", doc="streamable HTTP: the server's endpoint"),
    "enabled": Key(boolean, "enabled", True),
}


def plan_mcp_servers(document: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    servers = document.get("mcp_servers", [])
    if not isinstance(servers, list):
        raise Invalid("mcp_servers", "must be an array of tables ([[mcp_servers]])")
    plans: list[tuple[str, dict[str, Any]]] = []
    names: dict[str, str] = {}
    for i, raw in enumerate(servers):
        path = f"mcp_servers[{i}]"
        fields = check_keys(path, table(path, raw), MCP_SERVER_KEYS)
        if bool(fields["command"]) == bool(fields["url"]):
            raise Invalid(path, "give either command (stdio) or url (streamable HTTP)")
        if fields["url"] and (fields["args"] or fields["env"]):
            raise Invalid(path, "args and env apply to a stdio server (command), not to url")
        if fields["name"] in names:
            raise Invalid(f"{path}.name", f"{fields['name']!r} is already used by {names[fields['name']]}")
        names[fields["name"]] = path
        plans.append((path, fields))
    return plans


@dataclass
class ModelPlan:
    path: str
    fields: dict[str, Any]


@dataclass
class ProviderPlan:
    path: str
    fields: dict[str, Any]
    api_key: str | None
    models: list[ModelPlan]


def check_keys(path: str, data: dict[str, Any], known: dict[str, Key]) -> dict[str, Any]:
    """The fields `data` sets (every known field, defaults filled in)."""
    for name in data:
        if name not in known:
            raise Invalid(f"{path}.{name}", f"unknown key (known: {', '.join(known)})")
    fields: dict[str, Any] = {}
    for name, key in known.items():
        if name not in data:
            if key.required:
                raise Invalid(f"{path}.{name}", "is required")
            if key.field:
                fields[key.field] = _copy(key.default)
            continue
        value = key.check(f"{path}.{name}", data[name])
        if key.field:
            fields[key.field] = value
    return fields


def _copy(value: Any) -> Any:
    return type(value)() if isinstance(value, dict | list) else value


def plan(document: dict[str, Any]) -> list[ProviderPlan]:
    """Check the whole document; nothing is written here."""
    for name in document:
        if name not in ("providers", "mcp_servers"):
            raise Invalid(name, "unknown key (the file holds [[providers]] and [[mcp_servers]] tables)")
    providers = document.get("providers", [] if "mcp_servers" in document else None)
    if not isinstance(providers, list) or not (providers or document.get("mcp_servers")):
        raise Invalid("providers", "add at least one [[providers]] table")
    plans: list[ProviderPlan] = []
    names: dict[str, str] = {}
    labels: dict[str, str] = {}
    for i, raw in enumerate(providers):
        path = f"providers[{i}]"
        fields = check_keys(path, table(path, raw), PROVIDER_KEYS)
        if fields["name"] in names:
            raise Invalid(f"{path}.name", f"{fields['name']!r} is already used by {names[fields['name']]}")
        names[fields["name"]] = path
        api_key = api_key_env(f"{path}.api_key_env", raw["api_key_env"]) if "api_key_env" in raw else None
        models: list[ModelPlan] = []
        ids: dict[str, str] = {}
        for j, model_raw in enumerate(raw.get("models", [])):
            mpath = f"{path}.models[{j}]"
            mfields = check_keys(mpath, table(mpath, model_raw), MODEL_KEYS)
            gateway = fields["gateway"] or catalogue.gateway_of(fields["base_url"])
            with_catalogue(mfields, model_raw, fields["kind"], fields["base_url"], gateway)
            check_model(mpath, mfields, fields["kind"])
            for seen, value, key in ((ids, mfields["model_id"], "id"), (labels, mfields["label"], "label")):
                if value in seen:
                    raise Invalid(f"{mpath}.{key}", f"{value!r} is already used by {seen[value]}")
                seen[value] = mpath
            mfields["position"] = j
            models.append(ModelPlan(mpath, mfields))
        plans.append(ProviderPlan(path, fields, api_key, models))
    return plans


def with_catalogue(fields: dict[str, Any], raw: dict[str, Any], kind: str, base_url: str, gateway: str = "") -> None:
    """Fill what the file left out from the catalogue of model families (an explicit
    key always wins), so a model given by kind and id alone still switches thinking."""
    given = {field: fields[field] for k in raw if (field := MODEL_KEYS[k].field)}
    for name, value in catalogue.fill(kind, fields["model_id"], given, base_url, gateway).items():
        fields[name] = value


def check_model(path: str, fields: dict[str, Any], kind: str) -> None:
    """Rules between keys of one model."""
    if fields["reasoning"] == "markup" and not (fields["markup"] or fields["markup_open"]):
        raise Invalid(f"{path}.markup", "is required when reasoning = \"markup\" (or give markup_open/markup_close)")
    if fields["reasoning"] != "markup" and (fields["markup"] or fields["markup_open"]):
        raise Invalid(f"{path}.markup", "only applies when reasoning = \"markup\"")
    if bool(fields["markup_open"]) != bool(fields["markup_close"]):
        raise Invalid(f"{path}.markup_open", "markup_open and markup_close go together")
    control = fields["thinking_control"]
    if control == "simulator" and kind != "simulator":
        raise Invalid(f"{path}.thinking_control", f"'simulator' applies to simulator providers, not {kind}")
    kinds = CONTROL_KINDS.get(control)
    if kinds and kind != "simulator" and kind not in kinds:
        raise Invalid(
            f"{path}.thinking_control",
            f"{control!r} applies to {', '.join(sorted(kinds))} providers, not {kind}",
        )
    spec = ModelSpec(
        fields["model_id"],
        reasoning=ReasoningStyle(fields["reasoning"]),  # a model that does not reason takes no effort
        thinking_control=control,
        efforts=tuple(fields["efforts"]),
        options=fields["options"],
    )
    try:
        check_profile(kind, spec)
    except UnsupportedControl as e:
        raise Invalid(f"{path}.{e.parameter}", str(e)) from None


def check_labels_against_database(plans: list[ProviderPlan]) -> None:
    """A label is unique across providers: one taken by a model elsewhere is an error."""
    for p in plans:
        for m in p.models:
            other = (
                ModelProfile.objects.filter(label=m.fields["label"])
                .exclude(provider__name=p.fields["name"], model_id=m.fields["model_id"])
                .select_related("provider")
                .first()
            )
            if other is None:
                continue
            if other.provider.name == p.fields["name"] and not any(
                x.fields["model_id"] == other.model_id for x in p.models
            ):
                continue  # a model of this provider renamed in the file: it is updated by label
            raise Invalid(
                f"{m.path}.label",
                f"{m.fields['label']!r} is already the label of {other.model_id} at {other.provider.name}",
            )


@dataclass
class Outcome:
    created: list[str]
    updated: list[str]


def apply(plans: list[ProviderPlan], mcp_servers: list[tuple[str, dict[str, Any]]] | None = None) -> Outcome:
    outcome = Outcome([], [])
    with transaction.atomic():
        for _, fields in mcp_servers or ():
            server = McpServer.objects.filter(name=fields["name"]).first()
            is_new = server is None
            server = server or McpServer()
            for name, value in fields.items():
                setattr(server, name, value)
            server.save()
            (outcome.created if is_new else outcome.updated).append(f"MCP server {server.name}")
        for p in plans:
            provider = Provider.objects.filter(name=p.fields["name"]).first()
            is_new = provider is None
            provider = provider or Provider()
            for name, value in p.fields.items():
                setattr(provider, name, value)
            if p.api_key is not None:
                provider.set_api_key(p.api_key)
            provider.save()
            (outcome.created if is_new else outcome.updated).append(f"provider {provider.name}")
            for m in p.models:
                model = (
                    ModelProfile.objects.filter(provider=provider, model_id=m.fields["model_id"]).first()
                    or ModelProfile.objects.filter(provider=provider, label=m.fields["label"]).first()
                )
                is_new = model is None
                model = model or ModelProfile(provider=provider)
                for name, value in m.fields.items():
                    setattr(model, name, value)
                model.save()
                (outcome.created if is_new else outcome.updated).append(f"model {model.label}")
    return outcome


def load(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise CommandError(f"{path}: cannot read: {e.strerror}", returncode=2) from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text", returncode=2) from None
    except tomllib.TOMLDecodeError as e:  # its message carries "(at line N, column M)"
        raise CommandError(f"{path}: invalid TOML: {e}", returncode=2) from None
    except RecursionError:
        raise CommandError(f"{path}: invalid TOML: nested too deeply", returncode=2) from None


def import_file(path: Path) -> Outcome:
    document = load(path)
    try:
        plans = plan(document)
        check_labels_against_database(plans)
        mcp_servers = plan_mcp_servers(document)
    except Invalid as e:
        raise CommandError(f"{path}: {e}", returncode=2) from None
    try:
        return apply(plans, mcp_servers)
    except IntegrityError as e:  # e.g. two models swapping labels; the transaction rolled back
        raise CommandError(f"{path}: conflicts with the stored providers: {e}", returncode=2) from None


class Command(BaseCommand):
    help = "Import providers and models from a TOML file (see examples/providers.toml), or list them."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import,list}")
        importer = actions.add_parser("import", help="create or update providers and models from FILE")
        importer.add_argument("file", type=Path, metavar="FILE.toml")
        actions.add_parser("list", help="providers and their models (never their keys)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            outcome = import_file(options["file"])
            for line in outcome.created:
                self.stdout.write(f"created {line}")
            for line in outcome.updated:
                self.stdout.write(f"updated {line}")
            self.stdout.write(self.style.SUCCESS(
                f"Imported {options['file']}: {len(outcome.created)} created, {len(outcome.updated)} updated."
            ))
        else:
            self.list_providers()

    def list_providers(self) -> None:
        providers = Provider.objects.prefetch_related("models")
        if not providers:
            self.stdout.write("No providers. Run `manage.py bootstrap` or `manage.py providers import FILE`.")
        for provider in providers:
            state = "" if provider.enabled else " (disabled)"
            key = "key stored" if provider.has_api_key else "no key"
            self.stdout.write(
                f"{provider.name}{state}  kind={provider.kind}  base_url={provider.base_url or '-'}  {key}"
            )
            for model in provider.models.all():
                state = "" if model.enabled else " (disabled)"
                self.stdout.write(f"    {model.label}{state}  id={model.model_id}  reasoning={model.reasoning}")
        for server in McpServer.objects.all():
            state = "" if server.enabled else " (disabled)"
            where = f"url={server.url}" if server.url else f"command={server.command} {' '.join(server.args or [])}"
            names = ", ".join(server.env or {}) or "-"
            self.stdout.write(f"MCP server {server.name}{state}  {where.strip()}  env={names}")
