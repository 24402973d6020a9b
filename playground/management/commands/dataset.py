"""`manage.py dataset --format … [filters] --out FILE`: a JSONL training set (see
playground.conversations.datasets). Prints the rows written and skipped, and why.
Exit status 1 when `--missing-reasoning fail` met an answer without reasoning
(no file is left behind), 2 for bad arguments."""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from playground.conversations.datasets import (
    ANSWER_STYLES,
    FORMATS,
    MISSING,
    RATINGS,
    REASONING_FIELDS,
    VERDICTS,
    DatasetFilter,
    ExportOptions,
    MissingReasoning,
    Report,
    lines,
)


def date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)", returncode=2) from None


class Command(BaseCommand):
    help = "Export conversations as a JSONL training set (SFT with or without reasoning, or DPO pairs)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--format", choices=FORMATS, default="final")
        parser.add_argument("--reasoning-field", choices=REASONING_FIELDS, default="reasoning_content",
                            help="the assistant field that holds the reasoning (format reasoning_field)")
        parser.add_argument("--missing-reasoning", choices=MISSING, default="skip",
                            help="an answer without reasoning is skipped, or stops the export")
        parser.add_argument("--dpo-reasoning", choices=ANSWER_STYLES, default="final",
                            help="how chosen and rejected answers carry reasoning (format dpo)")
        parser.add_argument("--user", help="only this user's conversations (default: every user's)")
        parser.add_argument("--model", action="append", default=[], metavar="LABEL", help="repeatable")
        parser.add_argument("--prompt", action="append", default=[], metavar="NAME", help="repeatable")
        parser.add_argument("--since", metavar="YYYY-MM-DD")
        parser.add_argument("--until", metavar="YYYY-MM-DD")
        parser.add_argument("--rating", choices=RATINGS)
        parser.add_argument("--conversation", type=int, action="append", default=[], metavar="ID", help="repeatable")
        parser.add_argument("--comparison", type=int, metavar="ID")
        parser.add_argument("--verdict", choices=VERDICTS, help="how a comparison vote judged the answer")
        parser.add_argument("--blind-only", action="store_true", help="only votes cast blind")
        parser.add_argument("--out", "-o", help="file to write (default: standard output)")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = None
        if options["user"]:
            owner = get_user_model().objects.filter(username=options["user"]).first()
            if owner is None:
                raise CommandError(f"no user named {options['user']!r}", returncode=2)
        flt = DatasetFilter(
            owner=owner, models=options["model"], prompts=options["prompt"],
            since=date(options["since"]) if options["since"] else None,
            until=date(options["until"]) if options["until"] else None,
            rating=options["rating"], conversations=options["conversation"], comparison=options["comparison"],
            verdict=options["verdict"], blind_only=options["blind_only"],
        )
        export = ExportOptions(
            format=options["format"], reasoning_field=options["reasoning_field"],
            missing_reasoning=options["missing_reasoning"], dpo_reasoning=options["dpo_reasoning"],
        )
        report = Report()
        if options["out"]:
            self.write_file(Path(options["out"]), flt, export, report)
        else:
            try:
                for line in lines(flt, export, report):
                    sys.stdout.write(line)
            except MissingReasoning as e:
                raise CommandError(str(e), returncode=1) from None
        self.stderr.write(report.summary())

    def write_file(self, path: Path, flt: DatasetFilter, export: ExportOptions, report: Report) -> None:
        # Written beside the target and renamed at the end: a refused export leaves no half file.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for line in lines(flt, export, report):
                    out.write(line)
            os.replace(tmp, path)
        except MissingReasoning as e:
            os.unlink(tmp)
            raise CommandError(str(e), returncode=1) from None
        except BaseException:
            os.unlink(tmp)
            raise
