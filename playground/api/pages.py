"""The API tokens section of the user's settings page: make a token (its secret
shown once, on the page that answers the form) and revoke one."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from playground.accounts.users import signed_in
from playground.api.tokens import create_token, revoke
from playground.models import ApiToken


@require_POST
def create(request: HttpRequest) -> HttpResponse:
    token, secret = create_token(signed_in(request), request.POST.get("name", ""))
    # Rendered, not redirected: the secret must never sit in a session or a URL.
    context = {"token": token, "secret": secret, "base_url": request.build_absolute_uri("/v1")}
    response = render(request, "api/token_created.html", context)
    response["cache-control"] = "no-store"
    return response


@require_POST
def revoke_token(request: HttpRequest, pk: int) -> HttpResponse:
    token = ApiToken.objects.filter(pk=pk, user=signed_in(request)).first()
    if token is None:
        raise Http404("No such token")
    if revoke(token):
        messages.success(request, f"Token “{token.name or token.prefix}” revoked.")
    return redirect("settings")
