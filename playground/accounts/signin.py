"""The login page: the local form (unless LOCAL_LOGIN=false) and the OpenID Connect button."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden

from playground.accounts import oidc


class PermissionsOnlyBackend(ModelBackend):
    """LOCAL_LOGIN=false: Django's backend for permissions, but no password sign-in
    (the login page, the admin's login form and anything else calling authenticate)."""

    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> None:
        return None


class LoginPage(auth_views.LoginView):
    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not settings.LOCAL_LOGIN:
            # The password backend is gone too; this says why instead of "wrong password".
            return HttpResponseForbidden("Local accounts are turned off here: sign in with the identity provider.")
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update(
            local_login=settings.LOCAL_LOGIN,
            oidc_enabled=oidc.enabled(),
            oidc_provider_name=settings.OIDC_PROVIDER_NAME,
            signin_failed=self.request.GET.get("signin") == "failed",
        )
        return context


_oidc_logout = oidc.LogoutView.as_view()
_local_logout = auth_views.LogoutView.as_view()


def logout(request: HttpRequest) -> HttpResponse:
    """The IdP's logout follows ours when OIDC is configured; else Django's own."""
    response: HttpResponse = (_oidc_logout if oidc.enabled() else _local_logout)(request)
    return response
