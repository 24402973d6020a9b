from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from playground.conversations.datasets import FORMATS, jsonl
from playground.models import Conversation


class Command(BaseCommand):
    help = "Export conversations as a JSONL reasoning dataset for fine-tuning."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=FORMATS, default="messages")
        parser.add_argument("--user", help="only this user's conversations (default: all users)")
        parser.add_argument("--conversation", type=int, action="append", help="only these (repeatable)")
        parser.add_argument("--include-without-reasoning", action="store_true")
        parser.add_argument("--output", "-o", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        conversations = Conversation.objects.order_by("pk").prefetch_related("turns")
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user named {options['user']!r}", returncode=2)
            conversations = conversations.filter(owner=user)
        if options["conversation"]:
            conversations = conversations.filter(pk__in=options["conversation"])
        lines = jsonl(conversations, options["format"], include_without_reasoning=options["include_without_reasoning"])
        out = open(options["output"], "w", encoding="utf-8") if options["output"] else sys.stdout  # noqa: SIM115
        count = 0
        try:
            for line in lines:
                out.write(line)
                count += 1
        finally:
            if out is not sys.stdout:
                out.close()
        self.stderr.write(f"{count} record(s) written.")
