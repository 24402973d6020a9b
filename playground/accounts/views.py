"""The user's own settings page (/settings/)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from playground.accounts.users import signed_in
from playground.models import ModelProfile, Preferences
from playground.turns.services import enabled_models


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = Preferences
        fields = ["theme", "enter_sends", "default_model", "store_api_requests", "load_remote_images"]
        labels = {
            "enter_sends": "Enter sends (Shift+Enter for a new line); off: Ctrl+Enter sends",
            "default_model": "Model for a new chat",
            "store_api_requests": "Keep API requests as conversations (the sidebar's API folder)",
            "load_remote_images": "Load images from other hosts in model output without a click",
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        field = self.fields["default_model"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = enabled_models()
        field.empty_label = "The first enabled model"


@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    preferences = Preferences.of(request.user)
    form = PreferencesForm(request.POST or None, instance=preferences)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("settings")
    return render(request, "accounts/settings.html", {"form": form, "preferences": preferences})


@require_POST
def set_theme(request: HttpRequest) -> HttpResponse:
    """The sidebar's theme switch: the page has already applied it, this keeps it."""
    theme = request.POST.get("theme", "")
    if theme not in Preferences.Theme.values:
        return HttpResponse("theme must be system, light or dark", status=400, content_type="text/plain")
    Preferences.objects.update_or_create(user=signed_in(request), defaults={"theme": theme})
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    return redirect("settings")


@require_POST
def favourite_model(request: HttpRequest) -> HttpResponse:
    """The model picker's star: `model` starred (`on=1`) or not (`on=0`); answers the
    user's favourites as they now are, so every picker on the page can follow."""
    try:
        pk = int(request.POST.get("model", ""))
    except ValueError:
        return HttpResponse("model must be a model id", status=400, content_type="text/plain")
    if not ModelProfile.objects.filter(pk=pk, enabled=True).exists():
        return HttpResponse("no such model", status=400, content_type="text/plain")
    with transaction.atomic():
        # Locked: two quick stars (two tabs) must not each drop the other's.
        preferences = Preferences.objects.select_for_update().get(pk=Preferences.of(signed_in(request)).pk)
        starred = [m for m in preferences.favourite_models if isinstance(m, int) and m != pk]
        if request.POST.get("on") == "1":
            starred.append(pk)
        preferences.favourite_models = starred
        preferences.save(update_fields=["favourite_models"])
    return JsonResponse({"favourites": starred})


@require_POST
def provider_key(request: HttpRequest) -> HttpResponse:
    """Add, replace or remove the user's own key for a provider (USER_PROVIDER_KEYS)."""
    from playground.models import UserProviderKey
    from playground.turns import keys

    if not keys.enabled():
        return HttpResponse("Per-user keys are turned off here.", status=403, content_type="text/plain")
    user = signed_in(request)
    provider = next((p for p in keys.providers_for_keys() if str(p.pk) == request.POST.get("provider")), None)
    if provider is None:
        return HttpResponse("no such provider", status=400, content_type="text/plain")
    if request.POST.get("action") == "delete":
        UserProviderKey.objects.filter(user=user, provider=provider).delete()
        messages.success(request, f"Your key for {provider.name} was removed.")
        return redirect("settings")
    plaintext = request.POST.get("api_key", "").strip()
    if not plaintext or len(plaintext) > 1000 or any(c.isspace() for c in plaintext):
        return HttpResponse("a key is one line without spaces", status=400, content_type="text/plain")
    key = UserProviderKey.objects.filter(user=user, provider=provider).first() or UserProviderKey(
        user=user, provider=provider
    )
    key.set_api_key(plaintext)
    key.save()
    messages.success(request, f"Your key for {provider.name} was saved.")
    return redirect("settings")
