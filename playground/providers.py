"""The Providers page (admin only), inside the playground's layout: add a provider
from a preset, one action that saves it, tests the connection and fetches its models
(the provider's own message on failure), then choose which models are enabled. Each
enabled model's capabilities are edited here in plain words (playground.model_capabilities);
the Django admin stays for everything else (prices, markup tags, raw options)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from playground import model_capabilities, provider_setup
from playground.admin import ProviderForm
from playground.conversations.sidebar_context import sidebar_context
from playground.models import ModelProfile, Provider
from reasoning import catalogue
from reasoning.errors import ProviderError


@dataclass(frozen=True)
class Preset:
    key: str
    name: str
    kind: str
    base_url: str


PRESETS = (
    Preset("openai", "OpenAI", "openai", "https://api.openai.com/v1"),
    Preset("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com"),
    Preset("gemini", "Google Gemini", "gemini", "https://generativelanguage.googleapis.com"),
    Preset("deepseek", "DeepSeek", "openai", "https://api.deepseek.com"),
    Preset("openrouter", "OpenRouter", "openai", "https://openrouter.ai/api/v1"),
    Preset("baseten", "Baseten", "openai", "https://inference.baseten.co/v1"),
    Preset("friendli", "Friendli", "openai", "https://api.friendli.ai/serverless/v1"),
    Preset("together", "Together", "openai", "https://api.together.xyz/v1"),
    Preset("groq", "Groq", "openai", "https://api.groq.com/openai/v1"),
    Preset("ollama", "Ollama", "ollama", "http://127.0.0.1:11434"),
    Preset("vllm", "vLLM / SGLang", "openai", "http://127.0.0.1:8000/v1"),
    Preset("compatible", "Any OpenAI-compatible", "openai", ""),
)
PRESET_BY_KEY = {p.key: p for p in PRESETS}

CONTROL_LABELS = model_capabilities.CONTROL_LABELS


def model_row(model: ModelProfile) -> dict[str, Any]:
    caps = catalogue.capabilities(model.provider.kind, model.model_id, model.provider.base_url)
    overridden: list[str] = []
    if model.enabled:  # only offered models are edited here; a provider may list hundreds
        family = model_capabilities.family_of(model)
        overridden = [
            model_capabilities.LABELS[name]
            for name in model_capabilities.overrides(model_capabilities.plain(model), family)
        ]
    return {
        "model": model,
        "family": caps.family if caps and caps.family else "",
        "control": CONTROL_LABELS.get(model.thinking_control, model.thinking_control),
        "overridden": overridden,
    }


def _context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    providers = Provider.objects.exclude(kind="simulator").prefetch_related("models")
    rows = [(p, [model_row(m) for m in p.models.all()]) for p in providers]
    return {**sidebar_context(request), "presets": PRESETS, "providers": rows, **extra}


@staff_member_required
@require_http_methods(["GET", "POST"])
def providers_page(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "providers/page.html", _context(request, form=ProviderForm()))
    preset = PRESET_BY_KEY.get(request.POST.get("preset", ""))
    data = request.POST.copy()
    if preset and not data.get("kind"):
        data["kind"] = preset.kind
    if preset and not data.get("base_url"):
        data["base_url"] = preset.base_url
    data.setdefault("enabled", "on")
    data.setdefault("options", "{}")
    form = ProviderForm(data)
    if not form.is_valid():
        return render(request, "providers/page.html", _context(request, form=form), status=400)
    provider = form.save()
    return _connect(request, provider)


def _connect(request: HttpRequest, provider: Provider) -> HttpResponse:
    """Test the connection by fetching the model list; add what it lists (not yet enabled)."""
    try:
        ids = provider_setup.listed_models(provider)
    except (ProviderError, ValueError) as e:
        problem = provider_setup.problem(provider, e)
        return render(
            request, "providers/page.html",
            _context(request, form=ProviderForm(), failed=provider, problem=problem), status=400,
        )
    added = provider_setup.add_profiles(provider, ids, enabled=False)
    return render(
        request, "providers/page.html",
        _context(request, form=ProviderForm(), connected=provider, listed=len(ids), added=len(added)),
    )


@staff_member_required
@require_POST
def reconnect(request: HttpRequest, pk: int) -> HttpResponse:
    return _connect(request, get_object_or_404(Provider, pk=pk))


@staff_member_required
@require_POST
def choose_models(request: HttpRequest, pk: int) -> HttpResponse:
    """Enable the models ticked, disable the others; the picker has them at once."""
    provider = get_object_or_404(Provider, pk=pk)
    chosen = {int(v) for v in request.POST.getlist("enabled") if v.isdigit()}
    for model in provider.models.all():
        if model.enabled != (model.pk in chosen):
            model.enabled = model.pk in chosen
            model.save(update_fields=["enabled"])
    return redirect("providers")


@staff_member_required
@require_http_methods(["GET", "POST"])
def model_capabilities_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A model's capabilities in plain words; a refused save keeps every answer and
    says why beside the field; `reset` puts one answer back to the family's value."""
    profile = get_object_or_404(ModelProfile.objects.select_related("provider"), pk=pk)
    family = model_capabilities.family_of(profile)
    if request.method == "GET":
        form = model_capabilities.CapabilitiesForm(profile, initial=model_capabilities.plain(profile))
        return _capabilities(request, profile, family, form, model_capabilities.plain(profile))
    data: QueryDict = request.POST
    if (reset := request.POST.get("reset")) and family is not None and reset in family.answers:
        answers = {**model_capabilities.plain(profile), reset: family.answers[reset]}
        data = _as_data(answers)
    form = model_capabilities.CapabilitiesForm(profile, data)
    if not form.is_valid():
        return _capabilities(request, profile, family, form, model_capabilities.plain(profile), status=400)
    model_capabilities.save(profile, form.stored)
    return redirect(f"{request.path}?saved=1")


def _as_data(answers: dict[str, Any]) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in answers.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list):
            data.setlist(name, value)
        else:
            data[name] = "" if value is None else str(value)
    return data


def _capabilities(
    request: HttpRequest, profile: ModelProfile, family: model_capabilities.Family | None,
    form: model_capabilities.CapabilitiesForm, stored: dict[str, Any], status: int = 200,
) -> HttpResponse:
    kind = profile.provider.kind
    overridden = model_capabilities.overrides(stored, family)
    rows: dict[str, dict[str, Any]] = {}
    for name, label in model_capabilities.LABELS.items():
        row: dict[str, Any] = {
            "name": name, "label": label, "field": form[name], "errors": form.errors.get(name),
            "stored": model_capabilities.STORED[name], "shape": model_capabilities.SHAPES.get(name, "input"),
        }
        if family is not None:
            row["family"] = model_capabilities.describe(name, family.answers[name], kind)
            row["decided"] = name in family.decided
            row["overridden"] = name in overridden
        rows[name] = row
    offered = model_capabilities.offered(profile)
    return render(request, "providers/capabilities.html", {
        **sidebar_context(request), "profile": profile, "family": family, "form": form, "rows": rows,
        "overridden": [model_capabilities.LABELS[n] for n in overridden], "offered": offered,
        "saved": request.GET.get("saved") == "1" and status == 200,
    }, status=status)
