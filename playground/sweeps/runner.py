"""Running a sweep: its runs as stored turns, a few at a time, then graded.

    await run_sweep(sweep.pk)          # the terminal (`manage.py sweep`) and tests
    resume_if_idle(sweep.pk)           # the page: start (or resume) it on this server's loop

Every run starts the way every turn does (`playground.streaming.launch`), in a
conversation of its own (origin "sweep"), so its reasoning, raw stream, request and
usage are stored like a chat turn's.

Bounded concurrency: at most `sweep.concurrency` runs at once, never more than the
owner's MAX_CONCURRENT_RUNS, and a start the owner's limits refuse (per minute, at
once) waits and tries again. A provider's 429 pauses the whole sweep for its
Retry-After (else 1, 2, 4 … s) and the run is answered again, as a new answer to
the same prompt (the refused one stays, as an error, beside it).

Stop: the sweep is marked stopped, its streaming turns are stopped (their text kept),
and no further run starts; stopped runs are graded on nothing (they are "stopped").

Restart: a runner holds a lease (`Sweep.heartbeat_at`, renewed every few seconds).
A sweep still "running" whose lease is stale lost its runner with its process; the
next one to look (the page, `manage.py sweep --resume`) takes it over: runs that were
streaming in the dead process are marked interrupted and started again, finished runs
not yet graded are graded, and pending runs start.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import httpx
from channels.db import database_sync_to_async
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from playground.db_threads import detached_context
from playground.models import Conversation, ModelProfile, Turn
from playground.streaming.launch import Launched, Question, Regeneration, launch
from playground.streaming.run import stop_run
from playground.sweeps.models import Sweep, SweepRun
from playground.sweeps.services import check_level, prompt_of
from playground.turns.liveness import INTERRUPTED, LIVE_RUNS
from playground.turns.services import BadInput, check_run_limits, enabled_models
from reasoning.grading import Grade, grade_answer, judge_prompt, parse_verdict

log = logging.getLogger(__name__)

LEASE_SECONDS = 20.0
HEARTBEAT_SECONDS = 5.0
MAX_ATTEMPTS = 6  # answers to one prompt before a rate-limited run gives up
MAX_BACKOFF = 60.0
LIMIT_POLL = 1.0  # seconds between looks when the owner's run limits are full
STOP_POLL = 1.0  # seconds between looks for a Stop while an answer streams

# Sweeps this process is running: sweep id -> its task (kept so it is not collected).
ACTIVE: dict[int, asyncio.Task[None]] = {}


class _Pause:
    """When the sweep may start its next request: a 429 pushes it back for everyone."""

    def __init__(self) -> None:
        self.until = 0.0

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        while (left := self.until - loop.time()) > 0:  # noqa: ASYNC110 (a later 429 may push it further)
            await asyncio.sleep(left)

    def push(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self.until = max(self.until, loop.time() + seconds)


# ---- database hops -------------------------------------------------------------------------

db = database_sync_to_async


@db
def _load(sweep_id: int) -> Sweep:
    return Sweep.objects.select_related("model__provider", "owner").get(pk=sweep_id)


@db
def _status(sweep_id: int) -> str:
    return Sweep.objects.filter(pk=sweep_id).values_list("status", flat=True).first() or Sweep.Status.STOPPED


@db
def _beat(sweep_id: int) -> None:
    Sweep.objects.filter(pk=sweep_id).update(heartbeat_at=timezone.now())


@db
def _save_run(run: SweepRun, *fields: str) -> None:
    run.save(update_fields=list(fields))


@db
def _conversation(sweep: Sweep, run: SweepRun, title: str, model: ModelProfile) -> Conversation:
    return Conversation.objects.create(
        owner=sweep.owner, model=model, origin="sweep", settings={}, title=title[:200]
    )


@db
def _turn(turn_id: int) -> Turn:
    return Turn.objects.select_related("model").get(pk=turn_id)


@db
def _limits(owner_id: int) -> bool:
    try:
        check_run_limits(owner_id)
    except BadInput:
        return False
    return True


@db
def _recover(sweep_id: int) -> list[int]:
    """After a restart: runs the dead runner had streaming are started again (their
    turns marked interrupted), finished ones are left for grading. Returns the ids of
    runs to do (pending, or answered but not graded)."""
    runs = SweepRun.objects.filter(sweep_id=sweep_id, state=SweepRun.State.RUNNING).select_related("turn")
    for run in runs:
        turn = run.turn
        if turn is not None and turn.status == Turn.Status.STREAMING and turn.pk not in LIVE_RUNS:
            Turn.objects.filter(pk=turn.pk, status=Turn.Status.STREAMING).update(
                status=Turn.Status.INTERRUPTED, error=INTERRUPTED
            )
    return list(
        SweepRun.objects.filter(sweep_id=sweep_id)
        .filter(Q(state=SweepRun.State.PENDING) | Q(state=SweepRun.State.RUNNING))
        .values_list("pk", flat=True)
    )


@db
def _run(run_id: int) -> SweepRun:
    return SweepRun.objects.select_related("turn").get(pk=run_id)


@db
def _finish(sweep_id: int) -> None:
    open_runs = SweepRun.objects.filter(sweep_id=sweep_id, state__in=[SweepRun.State.PENDING, SweepRun.State.RUNNING])
    if not open_runs.exists():
        Sweep.objects.filter(pk=sweep_id, status=Sweep.Status.RUNNING).update(
            status=Sweep.Status.DONE, finished_at=timezone.now()
        )


# ---- asking ------------------------------------------------------------------------------


class Runner:
    def __init__(self, sweep: Sweep, client: httpx.AsyncClient | None) -> None:
        self.sweep = sweep
        self.client = client
        self.pause = _Pause()

    async def stopped(self) -> bool:
        return await _status(self.sweep.pk) != Sweep.Status.RUNNING

    async def ask(self, start: Question | Regeneration, on_turn: Any) -> Turn | None:
        """Start `start`, wait for its saved turn; on a 429 wait and answer the same
        prompt again. None when the sweep was stopped before it started."""
        delay = 1.0
        attempts = 0
        while True:
            await self.pause.wait()
            if await self.stopped():
                return None
            if not await _limits(self.sweep.owner_id):
                await asyncio.sleep(LIMIT_POLL)
                continue
            launched = await launch(start, client=self.client)
            attempts += 1
            await on_turn(launched.turn_id)
            turn = await self.outcome(launched)
            error = turn.error or {}
            if turn.status == Turn.Status.ERROR and error.get("kind") == "rate_limited" and attempts < MAX_ATTEMPTS:
                wait = error.get("retry_after")
                wait = float(wait) if isinstance(wait, (int, float)) and wait >= 0 else delay
                delay = min(delay * 2, MAX_BACKOFF)
                self.pause.push(min(wait, MAX_BACKOFF))
                start = Regeneration(turn=turn)  # the same prompt, a new answer beside the refused one
                continue
            return turn

    async def outcome(self, launched: Launched) -> Turn:
        """The saved turn once its run ends; a Stop of the sweep (from any process: it
        is read from the database) stops it, judge turns included."""
        saved: asyncio.Future[Turn] = asyncio.ensure_future(launched.outcome())
        stopping = False
        while True:
            done, _ = await asyncio.wait({saved}, timeout=STOP_POLL)
            if done:
                return saved.result()
            if not stopping and await self.stopped():
                stopping = True
                await launched.stop()

    async def answer(self, run: SweepRun) -> Turn | None:
        sweep = self.sweep
        assert sweep.model is not None
        params = await db(check_level)(sweep.model, run.level, sweep.params)
        start: Question | Regeneration
        if run.turn_id is not None:
            # Resumed after a restart: the prompt is stored; answer it again beside the lost answer.
            previous = await _turn(run.turn_id)
            if previous.status == Turn.Status.COMPLETE or previous.status == Turn.Status.ERROR:
                return previous  # answered before the restart; only the grade is missing
            start = Regeneration(turn=previous)
        else:
            text = prompt_of(sweep, run)
            if run.conversation_id is None:
                title = f"{sweep.title} · sweep {run.level} #{run.repeat + 1}"
                conversation = await _conversation(sweep, run, title, sweep.model)
                run.conversation_id = conversation.pk
                await _save_run(run, "conversation")
            else:
                conversation = await db(Conversation.objects.get)(pk=run.conversation_id)
            start = Question(owner=sweep.owner, model=sweep.model, text=text, params=params, conversation=conversation)

        async def on_turn(turn_id: int) -> None:
            run.turn_id = turn_id
            run.attempts += 1
            await _save_run(run, "turn", "attempts")

        return await self.ask(start, on_turn)

    async def judge(self, run: SweepRun, prompt: str, turn: Turn, with_reasoning: bool) -> tuple[Grade, int | None]:
        grader = self.sweep.grader
        try:
            judge_model = await db(enabled_models().get)(pk=grader["judge"])
        except ModelProfile.DoesNotExist:
            return Grade(None, "the judge model is no longer available"), None
        text = judge_prompt(
            prompt, turn.content, grader["rubric"], grader["scale"], turn.reasoning if with_reasoning else None
        )
        title = f"{self.sweep.title} · judge of {run.level} #{run.repeat + 1}"
        conversation = await _conversation(self.sweep, run, title, judge_model)
        judged: list[int] = []

        async def on_turn(turn_id: int) -> None:
            judged.append(turn_id)

        try:
            verdict = await self.ask(Question(owner=self.sweep.owner, model=judge_model, text=text,
                                              conversation=conversation), on_turn)
        except BadInput as e:
            return Grade(None, f"the judge could not be asked: {e}"), None
        judge_turn_id = judged[-1] if judged else None
        if verdict is None:
            return Grade(None, "stopped before the judge answered"), judge_turn_id
        if verdict.status != Turn.Status.COMPLETE:
            reason = (verdict.error or {}).get("message") or verdict.status
            return Grade(None, f"the judge failed: {reason}"), judge_turn_id
        return parse_verdict(verdict.content, grader["scale"]), judge_turn_id

    async def grade(self, run: SweepRun, turn: Turn) -> None:
        grader = self.sweep.grader
        if turn.status != Turn.Status.COMPLETE:
            run.score, run.grade_detail = None, f"no answer to grade ({turn.status})"
            return
        if grader["kind"] != "judge":
            grade = grade_answer(grader, turn.content)
            run.score, run.grade_detail = grade.score, grade.detail
            return
        prompt = prompt_of(self.sweep, run)
        grade, run.judge_turn_id = await self.judge(run, prompt, turn, with_reasoning=False)
        run.score, run.grade_detail = grade.score, grade.detail
        if grader.get("judge_reasoning") and turn.reasoning:
            reasoning_grade, run.reasoning_judge_turn_id = await self.judge(run, prompt, turn, with_reasoning=True)
            run.reasoning_score = reasoning_grade.score

    async def one(self, run_id: int, gate: asyncio.Semaphore) -> None:
        async with gate:
            if await self.stopped():
                return
            run = await _run(run_id)
            run.state = SweepRun.State.RUNNING
            await _save_run(run, "state")
            try:
                turn = await self.answer(run)
            except BadInput as e:
                run.state, run.grade_detail = SweepRun.State.DONE, f"could not start: {e}"
                await _save_run(run, "state", "grade_detail")
                return
            if turn is None:  # stopped before it started
                run.state = SweepRun.State.PENDING if not await self.stopped() else SweepRun.State.STOPPED
                await _save_run(run, "state")
                return
            if turn.status == Turn.Status.STOPPED:
                run.state, run.grade_detail = SweepRun.State.STOPPED, "stopped"
                await _save_run(run, "state", "grade_detail")
                return
            await self.grade(run, turn)
            run.state = SweepRun.State.DONE
            await _save_run(run, "state", "score", "grade_detail", "reasoning_score", "judge_turn",
                            "reasoning_judge_turn")

    async def heartbeat(self) -> None:
        while True:
            await _beat(self.sweep.pk)
            await asyncio.sleep(HEARTBEAT_SECONDS)


async def run_sweep(sweep_id: int, *, client: httpx.AsyncClient | None = None) -> None:
    """Run (or resume) every unfinished run of the sweep; returns when all are done or it was stopped."""
    sweep = await _load(sweep_id)
    if sweep.status != Sweep.Status.RUNNING:
        return
    runner = Runner(sweep, client)
    beating = asyncio.create_task(runner.heartbeat())
    try:
        todo = await _recover(sweep_id)
        if sweep.model is None:
            await db(Sweep.objects.filter(pk=sweep_id).update)(status=Sweep.Status.STOPPED)
            return
        gate = asyncio.Semaphore(max(1, min(sweep.concurrency, settings.MAX_CONCURRENT_RUNS)))
        results = await asyncio.gather(*(runner.one(pk, gate) for pk in todo), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("sweep %s: a run failed", sweep_id, exc_info=result)
        await _finish(sweep_id)
    finally:
        beating.cancel()
        await asyncio.gather(beating, return_exceptions=True)
        await db(Sweep.objects.filter(pk=sweep_id).update)(heartbeat_at=None)


@db
def _claim(sweep_id: int) -> bool:
    """Take the sweep's lease if it is running and nobody holds a fresh one."""
    stale = timezone.now() - timedelta(seconds=LEASE_SECONDS)
    return bool(
        Sweep.objects.filter(pk=sweep_id, status=Sweep.Status.RUNNING)
        .filter(Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=stale))
        .update(heartbeat_at=timezone.now())
    )


async def resume_if_idle(sweep_id: int) -> bool:
    """Start the sweep's runner on this loop unless one runs here or elsewhere (a fresh
    lease). True when this call started it."""
    task = ACTIVE.get(sweep_id)
    if task is not None and not task.done() and not task.get_loop().is_closed():
        return False
    if not await _claim(sweep_id):
        return False
    # Started by a request, it outlives it: its database work goes to the shared thread (db_threads).
    task = asyncio.get_running_loop().create_task(run_sweep(sweep_id), context=detached_context())
    ACTIVE[sweep_id] = task
    task.add_done_callback(lambda t: ACTIVE.pop(sweep_id, None) if ACTIVE.get(sweep_id) is t else None)
    return True


async def stop_sweep(sweep_id: int) -> None:
    """No further run starts; the streaming ones stop, keeping their text."""
    await db(Sweep.objects.filter(pk=sweep_id, status=Sweep.Status.RUNNING).update)(
        status=Sweep.Status.STOPPED, finished_at=timezone.now()
    )
    turn_ids = await db(lambda: list(
        Turn.objects.filter(conversation__origin="sweep", status=Turn.Status.STREAMING)
        .filter(pk__in=SweepRun.objects.filter(sweep_id=sweep_id).values("turn"))
        .values_list("pk", flat=True)
    ))()
    for turn_id in turn_ids:
        await stop_run(turn_id)
