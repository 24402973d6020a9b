from __future__ import annotations

from django import forms
from django.contrib import admin

from playground.models import Conversation, ModelProfile, Provider, Turn


class ProviderForm(forms.ModelForm):
    # Write-only: the stored key is never rendered back into the form.
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Leave empty to keep the stored key.",
    )
    clear_api_key = forms.BooleanField(required=False, help_text="Remove the stored key.")

    class Meta:
        model = Provider
        fields = ["name", "kind", "base_url", "enabled", "options"]

    def save(self, commit: bool = True) -> Provider:
        provider: Provider = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            provider.set_api_key("")
        elif key := self.cleaned_data.get("api_key"):
            provider.set_api_key(key)
        if commit:
            provider.save()
        return provider


class ModelInline(admin.TabularInline):
    model = ModelProfile
    extra = 0
    fields = ["label", "model_id", "reasoning", "markup", "thinking_control", "efforts", "enabled"]


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):
    form = ProviderForm
    list_display = ["name", "kind", "base_url", "key", "enabled"]
    readonly_fields = ["key"]
    inlines = [ModelInline]

    @admin.display(description="API key")
    def key(self, obj: Provider) -> str:
        return obj.masked_api_key() or "—"


@admin.register(ModelProfile)
class ModelProfileAdmin(admin.ModelAdmin):
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
