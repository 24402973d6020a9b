"""Who is asking."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest


def signed_in(request: HttpRequest) -> User:
    """The request's user. LoginRequiredMiddleware lets no anonymous request reach
    a view that is not `login_not_required`; this says so to the type checker,
    and refuses rather than scoping a query to an anonymous user if it ever did."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
