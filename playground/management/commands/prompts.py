"""`manage.py prompts import FILE.toml` and `manage.py prompts list` (see playground.prompts.library)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import IntegrityError

from playground.management.commands.providers import Invalid, load
from playground.models import Prompt
from playground.prompts.library import apply, plan


class Command(BaseCommand):
    help = "Import prompts from a TOML file (see examples/prompts.toml), or list them."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{import,list}")
        importer = actions.add_parser("import", help="create or update prompts from FILE")
        importer.add_argument("file", type=Path, metavar="FILE.toml")
        actions.add_parser("list", help="every prompt, with its owner and kind")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for prompt in Prompt.objects.select_related("owner").order_by("owner_id", "name"):
                kind = "chain of thought" if prompt.chain_of_thought else "plain"
                extra = ", JSON schema" if prompt.schema is not None else ""
                owner = prompt.owner.get_username() if prompt.owner else "everyone"
                self.stdout.write(f"{prompt.name}  ({kind}{extra}; {owner})")
            return
        path: Path = options["file"]
        try:
            document = load(path)
        except RecursionError:
            raise CommandError(f"{path}: invalid TOML: nested too deeply", returncode=2) from None
        try:
            plans = plan(document)
        except Invalid as e:
            raise CommandError(f"{path}: {e}", returncode=2) from None
        except RecursionError:
            raise CommandError(f"{path}: nested too deeply", returncode=2) from None
        try:
            outcome = apply(plans)
        except IntegrityError as e:
            raise CommandError(f"{path}: conflicts with the stored prompts: {e}", returncode=2) from None
        for line in outcome.created:
            self.stdout.write(f"created {line}")
        for line in outcome.updated:
            self.stdout.write(f"updated {line}")
        self.stdout.write(self.style.SUCCESS(
            f"Imported {path}: {len(outcome.created)} created, {len(outcome.updated)} updated."
        ))
