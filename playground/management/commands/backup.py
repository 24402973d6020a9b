"""`manage.py backup FILE`: a consistent copy while the server runs (playground/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from playground.backup import BackupError, backup


class Command(BaseCommand):
    help = "Write a backup (database and the keys that decrypt its secrets) to FILE, while the server runs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="the archive to write (tar.gz); replaced atomically")
        parser.add_argument(
            "--without-keys", action="store_true",
            help="leave FIELD_ENCRYPTION_KEY and SECRET_KEY out (keep them elsewhere: without them the "
            "provider keys in the copy cannot be read)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            manifest = backup(Path(options["file"]), with_keys=not options["without_keys"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        keys = "with" if manifest["keys"] else "WITHOUT"
        self.stdout.write(f"backup of the {manifest['engine']} database {keys} its keys written to {options['file']}")
