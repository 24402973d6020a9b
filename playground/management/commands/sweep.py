"""`manage.py sweep`: one model, one prompt, several thinking levels, repeats, a grade.

    manage.py sweep --model "o4-mini" --levels low,medium,high,off --repeats 3 \\
        --expect-number 391 --tolerance 0 "What is 17*23?"

Exactly one grader: `--expect TEXT` (the answer contains it), `--expect-exact TEXT`,
`--expect-regex RE`, `--expect-number X [--tolerance T]`, `--expect-schema FILE`, or
`--judge LABEL --rubric TEXT [--scale 1-10|pass-fail] [--judge-reasoning]`.
Levels: `off`, any effort the model takes, `budget:N`; one the model cannot take is
refused before anything is sent. Prints a table (level, runs, graded, score with its
95 % interval, tokens, seconds, cost), or with `--json` one object:
{"id", "url", "points": [{"level", "runs", "graded", "score", "score_low", "score_high",
"reasoning_tokens", "answer_tokens", "seconds", "cost"}]} (means; cost null without a price).
`--resume ID` finishes a sweep a stopped process left running.
Exit status: 0 done, 2 bad arguments, 130 interrupted (the sweep is stopped, runs kept).
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from playground.management.commands.ask import Command as Ask
from playground.management.commands.ask import bad
from playground.sweeps.models import Sweep
from playground.sweeps.points import as_json, points
from playground.sweeps.runner import _claim, run_sweep, stop_sweep
from playground.sweeps.services import DEFAULT_REPEATS, create_sweep
from playground.turns.services import BadInput


def site_url(path: str) -> str:
    base = os.environ.get("SITE_URL") or f"http://127.0.0.1:{os.environ.get('PORT') or 8000}"
    return base.rstrip("/") + path


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


class Command(BaseCommand):
    help = "Sweep a model's thinking levels over one prompt, with repeats and a grade."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt", nargs="?", metavar="PROMPT")
        parser.add_argument("--model", metavar="LABEL")
        parser.add_argument("--levels", metavar="L1,L2", help="off, efforts (low,medium,…) and budget:N")
        parser.add_argument("--repeats", type=int, default=DEFAULT_REPEATS)
        parser.add_argument("--concurrency", type=int, default=3)
        parser.add_argument("--max-tokens", type=int, metavar="N")
        parser.add_argument("--system", metavar="TEXT")
        parser.add_argument("--prompt", dest="prompt_name", metavar="NAME", help="a saved prompt from the library")
        parser.add_argument("--inputs", metavar="FILE", help="JSON lines: values of the prompt's {{variables}}")
        graders = parser.add_mutually_exclusive_group()
        graders.add_argument("--expect", metavar="TEXT", help="the answer contains TEXT")
        graders.add_argument("--expect-exact", metavar="TEXT", help="the answer is TEXT")
        graders.add_argument("--expect-regex", metavar="RE")
        graders.add_argument("--expect-number", type=float, metavar="X")
        graders.add_argument("--expect-schema", metavar="FILE", help="a JSON Schema file")
        graders.add_argument("--judge", metavar="LABEL", help="a judge model (with --rubric)")
        parser.add_argument("--tolerance", type=float, default=0.0)
        parser.add_argument("--rubric", metavar="TEXT")
        parser.add_argument("--scale", choices=["1-10", "pass-fail"], default="1-10")
        parser.add_argument("--judge-reasoning", action="store_true", help="also score the reasoning (separately)")
        parser.add_argument("--user", metavar="NAME")
        parser.add_argument("--resume", type=int, metavar="ID", help="finish a sweep left running")
        parser.add_argument("--json", action="store_true")

    def grader(self, options: dict[str, Any]) -> dict[str, Any]:
        if options["expect"] is not None:
            return {"kind": "contains", "expected": options["expect"]}
        if options["expect_exact"] is not None:
            return {"kind": "exact", "expected": options["expect_exact"]}
        if options["expect_regex"] is not None:
            return {"kind": "regex", "pattern": options["expect_regex"]}
        if options["expect_number"] is not None:
            return {"kind": "number", "expected": options["expect_number"], "tolerance": options["tolerance"]}
        if options["expect_schema"] is not None:
            try:
                schema = json.loads(Path(options["expect_schema"]).read_text())
            except (OSError, ValueError) as e:
                raise bad(f"--expect-schema: {e}") from None
            return {"kind": "schema", "schema": schema}
        if options["judge"] is not None:
            if not options["rubric"]:
                raise bad("--judge needs --rubric")
            return {"kind": "judge", "judge": options["judge"], "rubric": options["rubric"],
                    "scale": options["scale"], "judge_reasoning": options["judge_reasoning"]}
        raise bad("choose a grader: --expect, --expect-exact, --expect-regex, --expect-number, --expect-schema "
                  "or --judge with --rubric")

    def handle(self, *args: Any, **options: Any) -> None:
        ask = Ask()
        if options["resume"] is not None:
            sweep = Sweep.objects.filter(pk=options["resume"]).first()
            if sweep is None:
                raise bad(f"no sweep {options['resume']}")
            if sweep.status == Sweep.Status.RUNNING and not _claim_now(sweep.pk):
                raise bad(f"sweep {sweep.pk} is being run by another process")
        else:
            if not options["prompt"] or not options["model"] or not options["levels"]:
                raise bad("give a PROMPT, --model and --levels (or --resume ID)")
            user = ask.user(options["user"])
            model = ask.model(options["model"])
            params = {"max_tokens": options["max_tokens"], "system": options["system"]}
            if options["prompt_name"]:
                params["prompt_id"] = ask.prompt(user, options["prompt_name"]).pk
            inputs = []
            if options["inputs"]:
                try:
                    lines = Path(options["inputs"]).read_text().splitlines()
                    inputs = [json.loads(entry) for entry in lines if entry.strip()]
                except (OSError, ValueError) as e:
                    raise bad(f"--inputs: {e}") from None
            try:
                sweep = create_sweep(
                    user, model, options["prompt"], options["levels"].split(","), self.grader(options),
                    repeats=options["repeats"], params=params, concurrency=options["concurrency"], inputs=inputs,
                )
            except BadInput as e:
                raise bad(str(e)) from None
        if not options["json"]:
            self.stderr.write(f"sweep {sweep.pk}: {sweep.runs.count()} runs of {sweep.model_label} "
                              f"at {', '.join(sweep.levels)}", style_func=str)
        try:
            asyncio.run(self.run(sweep.pk))
        except KeyboardInterrupt:
            asyncio.run(stop_sweep(sweep.pk))
            self.stderr.write("\nStopped; the runs so far are kept.")
            raise bad("interrupted") from None
        sweep.refresh_from_db()
        url = site_url(sweep.get_absolute_url())
        if options["json"]:
            self.stdout.write(json.dumps(as_json(sweep, url), ensure_ascii=False))
            return
        self.stdout.write(self.table(sweep))
        self.stdout.write(url)

    async def run(self, sweep_id: int) -> None:
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(settings.UPSTREAM_READ_TIMEOUT, connect=settings.UPSTREAM_CONNECT_TIMEOUT)
        ) as client:
            await run_sweep(sweep_id, client=client)

    def table(self, sweep: Sweep) -> str:
        head = ("level", "runs", "graded", "score", "95% interval", "reasoning tok", "answer tok", "seconds", "cost")
        rows = [head]
        for p in points(sweep):
            interval = "—" if p.score.low is None else f"{p.score.low:.2f}–{p.score.high:.2f}"
            mark = " *" if p.pick else ""
            rows.append((
                p.level + mark, str(p.runs), str(p.graded), _fmt(p.score.mean), interval,
                _fmt(p.reasoning_tokens.mean, 0), _fmt(p.answer_tokens.mean, 0), _fmt(p.seconds.mean),
                "—" if p.cost.mean is None else f"${p.cost.mean:.5f}",
            ))
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
        lines.append("* the cheapest level whose score is within the best level's 95% interval")
        return "\n".join(lines)


def _claim_now(sweep_id: int) -> bool:
    return asyncio.run(_claim(sweep_id))
