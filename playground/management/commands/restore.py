"""`manage.py restore FILE [--force]`: a backup into an empty data directory (playground/backup.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from playground.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore a backup made by `manage.py backup` into an empty data directory and database."
    # The checks may open the database; nothing may touch it before the emptiness check.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="an archive written by `manage.py backup`")
        parser.add_argument("--force", action="store_true", help="replace a data directory or database in use")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = restore(Path(options["file"]), force=options["force"])
        except BackupError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"restored the backup of {result['created_at']} ({result['engine']}); "
            f"{result['interrupted']} turn(s) that were streaming marked interrupted. "
            "Run `manage.py migrate` if this version is newer than the backup's."
        )
