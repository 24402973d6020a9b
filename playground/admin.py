from __future__ import annotations

import re
from typing import Any

from asgiref.sync import async_to_sync, sync_to_async
from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from playground import crypto, provider_setup
from playground.models import Conversation, McpServer, ModelProfile, Provider, Turn
from reasoning import catalogue
from reasoning.controls import THINKING_CONTROLS, UnsupportedControl, check_profile
from reasoning.errors import ProviderError
from reasoning.request import ModelSpec, ReasoningStyle


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
        fields = ["name", "kind", "base_url", "gateway", "enabled", "options"]

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
            "max_output_tokens", "context_window", "price_input", "price_output", "options", "replay", "enabled",
            "position",
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        provider = data.get("provider") or getattr(self.instance, "provider", None)
        model_id = data.get("model_id")
        if provider is None or not model_id:
            return data
        if data.get("thinking_control", AUTOMATIC) == AUTOMATIC:
            given = {"efforts": data["efforts"]} if data.get("efforts") else {}
            if data.get("reasoning") == "none":
                given["reasoning"] = "none"
            filled = catalogue.fill(provider.kind, model_id, given, provider.base_url, provider.effective_gateway)
            data["thinking_control"] = filled.get("thinking_control", "none")
            for name in ("efforts", "supports_budget"):
                if name in filled:
                    data[name] = filled[name]
            if "options" in filled:
                data["options"] = {**filled["options"], **(data.get("options") or {})}
        spec = ModelSpec(
            model_id,
            reasoning=ReasoningStyle(data.get("reasoning") or "native"),  # one that does not reason takes no effort
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


_listed_models = provider_setup.listed_models
_problem = provider_setup.problem


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "kind", "base_url", "gateway", "key", "enabled"]
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
            new = provider_setup.add_profiles(provider, ids)
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


# ---- MCP servers (tools): admin only --------------------------------------------------------

KEPT = "••••"  # an env value shown as this is kept as stored


class McpServerForm(forms.ModelForm):
    """`env` as NAME=value lines; stored values are never rendered back (they often
    hold a token): each shows as NAME=•••• and is kept unless replaced."""

    env_lines = forms.CharField(
        label="Environment", required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"stdio: one NAME=value per line; the server gets these (and PATH) and nothing else of ours. "
        f"A value shown as {KEPT} is kept as stored.",
    )

    class Meta:
        model = McpServer
        fields = ["name", "command", "args", "url", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stored = self.instance.env if self.instance and self.instance.pk else {}
        self.fields["env_lines"].initial = "\n".join(f"{name}={KEPT}" for name in stored or {})

    def clean_env_lines(self) -> dict[str, str]:
        stored = (self.instance.env or {}) if self.instance.pk else {}
        env: dict[str, str] = {}
        for number, line in enumerate((self.cleaned_data.get("env_lines") or "").splitlines(), start=1):
            if not line.strip():
                continue
            name, sep, value = line.partition("=")
            name = name.strip()
            if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise forms.ValidationError(f"line {number}: write NAME=value")
            env[name] = stored[name] if value == KEPT and name in stored else value
        return env

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("command")) == bool(data.get("url")):
            raise forms.ValidationError("Give either a command (stdio) or a URL (streamable HTTP).")
        args = data.get("args")
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            self.add_error("args", "A JSON list of strings, e.g. [\"server.py\", \"--verbose\"].")
        return data

    def save(self, commit: bool = True) -> McpServer:
        server: McpServer = super().save(commit=False)
        server.env = self.cleaned_data.get("env_lines") or {}
        if commit:
            server.save()
        return server


@admin.register(McpServer)
class McpServerAdmin(admin.ModelAdmin):
    """Only superusers: a stdio server runs a program on this machine."""

    form = McpServerForm
    list_display = ["name", "transport", "enabled"]
    actions = ["list_tools"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(getattr(request.user, "is_superuser", False))

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    @admin.display(description="transport")
    def transport(self, obj: McpServer) -> str:
        return f"HTTP {obj.url}" if obj.url else f"stdio {obj.command}"

    @admin.action(description="Start and list tools")
    def list_tools(self, request: HttpRequest, queryset: QuerySet[McpServer]) -> None:
        from playground import tools

        async def listed(server: McpServer) -> tuple[list[str], list[tuple[str, str]]]:
            configs, problems = await sync_to_async(tools.server_configs)([server.name])
            toolbox = await tools.open_toolbox(configs, problems)
            try:
                return [spec.name for spec in toolbox.specs], list(toolbox.problems)
            finally:
                await toolbox.aclose()

        for server in queryset:
            names, problems = async_to_sync(listed)(server)
            if problems:
                self.message_user(request, f"{server.name}: {problems[0][1]}", messages.ERROR)
            else:
                self.message_user(request, f"{server.name}: {len(names)} tools: {', '.join(names)}", messages.SUCCESS)
from playground.arena import admin as _arena_admin  # noqa: E402,F401  (the arena's pool)
