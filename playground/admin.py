from __future__ import annotations

from typing import Any

import httpx
from asgiref.sync import async_to_sync
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from playground import crypto
from playground.models import Conversation, ModelProfile, Provider, Turn
from reasoning import catalogue
from reasoning.controls import THINKING_CONTROLS, UnsupportedControl, check_profile
from reasoning.errors import ProviderError
from reasoning.model_list import list_models
from reasoning.request import ModelSpec


class ProviderForm(forms.ModelForm):
    # Write-only: the stored key is never rendered back into the form.
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored key.",
    )
    clear_api_key = forms.BooleanField(required=False, help_text="Remove the stored key.")
    # A key typed into a form that fails on another field comes back encrypted (never
    # as text), so the next submit keeps it without the admin typing it again.
    api_key_kept = forms.CharField(required=False, widget=forms.HiddenInput)

    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url", "enabled", "options"]

    def clean_api_key(self) -> str:
        key: str = self.cleaned_data.get("api_key") or ""
        if not key and (kept := self.data.get("api_key_kept")):
            try:
                key = crypto.decrypt(kept)
            except ValueError:
                key = ""
        if key:
            # Carried to the next submit, encrypted, if another field fails (never as text).
            data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict
            data["api_key_kept"] = crypto.encrypt(key)
            self.data = data
        return key

    def save(self, commit: bool = True) -> Provider:
        provider: Provider = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            provider.set_api_key("")
        elif key := self.cleaned_data.get("api_key"):
            provider.set_api_key(key)
        if commit:
            provider.save()
        return provider


AUTOMATIC = ""
CONTROL_CHOICES = [
    (AUTOMATIC, "automatic (from the model id)"),
    *[(c, c) for c in (*THINKING_CONTROLS, "simulator")],
]


class ModelProfileForm(forms.ModelForm):
    """Thinking control "automatic" fills the control, efforts and budget support from
    the catalogue of model families (efforts given here win); the result, or a control
    chosen by hand, is checked against the provider's kind before it is saved."""

    thinking_control = forms.ChoiceField(choices=CONTROL_CHOICES, required=False)

    class Meta:
        model = ModelProfile
        fields = [
            "provider", "model_id", "label", "reasoning", "markup", "markup_open", "markup_close",
            "starts_in_reasoning", "thinking_control", "efforts", "supports_budget", "supports_temperature",
            "max_output_tokens", "context_window", "price_input", "price_output", "options", "enabled",
            "position",
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        provider = data.get("provider") or getattr(self.instance, "provider", None)
        model_id = data.get("model_id")
        if provider is None or not model_id:
            return data
        if data.get("thinking_control", AUTOMATIC) == AUTOMATIC:
            given = {"efforts": data["efforts"]} if data.get("efforts") else {}
            filled = catalogue.fill(provider.kind, model_id, given, provider.base_url)
            data["thinking_control"] = filled.get("thinking_control", "none")
            for name in ("efforts", "supports_budget"):
                if name in filled:
                    data[name] = filled[name]
            if "options" in filled:
                data["options"] = {**filled["options"], **(data.get("options") or {})}
        spec = ModelSpec(
            model_id,
            thinking_control=data["thinking_control"],
            efforts=tuple(data.get("efforts") or ()),
            options=data.get("options") or {},
        )
        try:
            check_profile(provider.kind, spec)
        except UnsupportedControl as e:
            field = {"thinking_control": "thinking_control", "efforts": "efforts"}.get(e.parameter)
            self.add_error(field, str(e))
        return data


class ModelInline(admin.TabularInline):
    model = ModelProfile
    form = ModelProfileForm
    extra = 0
    fields = ["label", "model_id", "reasoning", "markup", "thinking_control", "efforts", "enabled"]


def _listed_models(provider: Provider) -> list[str]:
    """The provider's model list, fetched with its stored key from its stored URL."""

    async def fetch() -> list[str]:
        async with httpx.AsyncClient(timeout=httpx.Timeout(15.0)) as client:
            return await list_models(provider.config(), client)

    return async_to_sync(fetch)()


def _problem(provider: Provider, error: Exception) -> str:
    """The provider's own message, the key blanked out should it echo it."""
    if isinstance(error, ProviderError):
        text = f"{error.kind}" + (f", HTTP {error.status_code}" if error.status_code else "") + f": {error.message}"
    else:
        text = str(error)
    try:
        key = provider.config().api_key
    except ValueError:
        key = ""
    return text.replace(key, "[key]") if key else text


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "kind", "base_url", "key", "enabled"]
    readonly_fields = ["key"]
    inlines = [ModelInline]
    actions = ["test_connection", "fetch_models"]

    @admin.action(description="Test connection (stored key, stored URL)")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            try:
                ids = _listed_models(provider)
            except (ProviderError, ValueError) as e:
                self.message_user(request, f"{provider.name}: {_problem(provider, e)}", messages.ERROR)
            else:
                self.message_user(request, f"{provider.name}: connected; it lists {len(ids)} models.", messages.SUCCESS)

    @admin.action(description="Fetch models into profiles (catalogue defaults)")
    def fetch_models(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        for provider in queryset:
            try:
                ids = _listed_models(provider)
            except (ProviderError, ValueError) as e:
                self.message_user(request, f"{provider.name}: {_problem(provider, e)}", messages.ERROR)
                continue
            known = set(provider.models.values_list("model_id", flat=True))
            new = [i for i in ids if i not in known]
            for position, model_id in enumerate(new, start=provider.models.count()):
                label = model_id[:100]
                if ModelProfile.objects.filter(label=label).exists():
                    label = f"{model_id} ({provider.name})"[:100]
                fields = catalogue.fill(provider.kind, model_id, {}, provider.base_url)
                ModelProfile.objects.create(
                    provider=provider, model_id=model_id, label=label, position=position, **fields
                )
            self.message_user(
                request, f"{provider.name}: {len(ids)} models listed, {len(new)} added.", messages.SUCCESS
            )

    @admin.display(description="API key")
    def key(self, obj: Provider) -> str:
        return obj.masked_api_key() or "—"


@admin.register(ModelProfile)
class ModelProfileAdmin(admin.ModelAdmin):
    form = ModelProfileForm
    list_display = ["label", "provider", "model_id", "reasoning", "thinking_control", "enabled"]
    list_filter = ["provider", "reasoning", "enabled"]
    search_fields = ["label", "model_id"]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "updated_at"]
    search_fields = ["title"]
    raw_id_fields = ["leaf"]


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["pk", "conversation", "role", "model_label", "status", "created_at"]
    list_filter = ["status", "role"]
    raw_id_fields = ["conversation", "parent"]


from playground.arena import admin as _arena_admin  # noqa: E402,F401  (the arena's pool)
