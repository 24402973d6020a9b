"""The admin chooses the arena's pool: models and the thinking setting each takes part at."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin

from playground.arena.models import ArenaEntrant
from playground.turns.services import BadInput, clean_params


class ArenaEntrantForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = ArenaEntrant
        fields = ["model", "params", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        model = data.get("model")
        if model is not None:
            raw = {k: v for k, v in (data.get("params") or {}).items() if k in ("thinking", "effort", "budget_tokens")}
            try:
                # Only settings the model can take, checked as every turn's controls are.
                data["params"] = clean_params(raw, model)
            except BadInput as e:
                raise forms.ValidationError(str(e)) from None
        return data


@admin.register(ArenaEntrant)
class ArenaEntrantAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ArenaEntrantForm
    list_display = ["name", "model", "enabled"]
    list_filter = ["enabled"]
