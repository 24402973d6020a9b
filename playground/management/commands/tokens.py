"""`manage.py tokens create|list|revoke`: API tokens for the OpenAI-compatible API.

    tokens create --user NAME [--name LABEL]   prints the new token, once, and nothing else
    tokens list                                one line per token: id, name, user, created,
                                               last used ("never"), and "revoked <time>"
                                               for revoked ones; never the secret
    tokens revoke ID                           effective at once

Exit status 2 for an unknown user or token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from playground.api.tokens import create_token, revoke
from playground.models import ApiToken


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else "never"


class Command(BaseCommand):
    help = "Create, list and revoke tokens for the OpenAI-compatible API (/v1/)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a token and print it once")
        create.add_argument("--user", required=True, metavar="NAME")
        create.add_argument("--name", default="", metavar="LABEL")
        actions.add_parser("list", help="every token, without its secret")
        revoke_parser = actions.add_parser("revoke", help="revoke a token by its id")
        revoke_parser.add_argument("id", type=int, metavar="ID")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"handle_{options['action']}")(options)

    def handle_create(self, options: dict[str, Any]) -> None:
        try:
            user = get_user_model().objects.get(username=options["user"])
        except get_user_model().DoesNotExist:
            raise CommandError(f"no user {options['user']!r}", returncode=2) from None
        _, secret = create_token(user, options["name"])
        self.stdout.write(secret)

    def handle_list(self, options: dict[str, Any]) -> None:
        for token in ApiToken.objects.select_related("user").order_by("pk"):
            fields = [
                str(token.pk),
                token.name or "-",
                token.user.get_username(),
                f"created {_when(token.created_at)}",
                f"last used {_when(token.last_used_at)}",
            ]
            if token.revoked_at is not None:
                fields.append(f"revoked {_when(token.revoked_at)}")
            self.stdout.write("\t".join(fields))

    def handle_revoke(self, options: dict[str, Any]) -> None:
        token = ApiToken.objects.filter(pk=options["id"]).first()
        if token is None:
            raise CommandError(f"no token {options['id']}", returncode=2)
        if revoke(token):
            self.stderr.write(f"token {token.pk} revoked")
        else:
            self.stderr.write(f"token {token.pk} was already revoked")
