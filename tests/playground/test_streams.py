"""Streams that never lose a token: runs apart from sockets, frames, checkpoints,
disconnect and resume, Stop, dead runs. Driven through the routed application
(WebsocketCommunicator) and the in-memory channel layer, with the scripted adapter."""

from __future__ import annotations

import asyncio
import itertools
import json
import time

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.db.backends import utils as db_utils
from django.utils import timezone

from playground.models import Conversation, ModelProfile, Provider, Turn
from playground.streaming import run as runs
from playground.streaming.launch import Question, launch, launch_stored
from playground.streaming.run import RUNS, TurnRun, run_group
from playground.turns import liveness
from playground.turns.liveness import mark_interrupted
from playground.turns.services import Exchange, start_exchange
from reasoning.adapters import get_adapter, register
from reasoning.events import ContentDelta, Finish, ReasoningDelta, Usage
from reasoning.request import PreparedRequest
from tests.playground.stream_page import Page, layer_losing, open_socket, saved, started_turn_id

pytestmark = pytest.mark.django_db(transaction=True)

REASONING = [ReasoningDelta(f"r{i} ") for i in range(40)]
CONTENT = [ContentDelta(f"c{i} ") for i in range(40)]
FULL_R = "".join(d.text for d in REASONING)
FULL_C = "".join(d.text for d in CONTENT)


async def socket(client, user, conversation, query=""):
    return await open_socket(client, user, f"/ws/conversations/{conversation.pk}/{query}")


async def send_prompt(comm, model, prompt="Go"):
    await comm.send_to(text_data=json.dumps({"action": "send", "prompt": prompt, "model": model.pk}))


@database_sync_to_async
def new_conversation(owner):
    return Conversation.objects.create(owner=owner)


# Exchanges stored by new_exchange, by their answer's id, until run_stored starts them.
_stored: dict[int, Exchange] = {}


@database_sync_to_async
def new_exchange(conversation, model):
    exchange = start_exchange(conversation, "Go", model, {})
    _stored[exchange.assistant_turn.pk] = exchange
    return exchange.assistant_turn.pk


async def run_stored(turn_id: int) -> TurnRun:
    """The run of an exchange stored by `new_exchange`, started as a screen starts it."""
    (launched,) = await launch_stored([_stored.pop(turn_id)])
    assert launched.run is not None, launched.error
    return launched.run


async def wait_for_run_end(turn_id, timeout=10.0):  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while turn_id in RUNS:
        assert time.monotonic() < deadline, "run did not end"
        await asyncio.sleep(0.01)


async def until(condition, timeout=10.0):  # noqa: ASYNC109
    """Poll rather than sleep a fixed time: the machine may be busy."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


class GroupWatcher:
    """A raw member of the conversation's group: every message the run publishes."""

    def __init__(self, group):
        self.group = group
        self.messages = []

    async def __aenter__(self):
        self.layer = get_channel_layer()
        self.channel = await self.layer.new_channel()
        await self.layer.group_add(self.group, self.channel)
        return self

    async def __aexit__(self, *exc):
        await self.layer.group_discard(self.group, self.channel)

    async def until_done(self, turn_id, timeout=10.0):  # noqa: ASYNC109
        async with asyncio.timeout(timeout):
            while True:
                message = await self.layer.receive(self.channel)
                self.messages.append((time.monotonic(), message))
                if message["type"] == "turn.done" and message["turn"] == turn_id:
                    return


# ---- disconnect and resume ---------------------------------------------------------------


async def test_it_loses_and_duplicates_nothing_across_a_disconnect_and_reconnect(
    client, owner, scripted, scripted_model
):
    scripted.enqueue([*REASONING, *CONTENT, Usage(3, 80, 40), Finish("stop")], delay=0.02)
    conv = await new_conversation(owner)
    page = Page()
    first = await socket(client, owner, conv)
    await send_prompt(first, scripted_model)
    turn_id = await started_turn_id(first, page)
    while len(page.text(turn_id, "r")) < 10:
        page.apply(await first.receive_from(timeout=5))
    seen_before = page.text(turn_id, "r")
    assert 0 < len(seen_before) < len(FULL_R)
    await first.disconnect()  # a network blip: the run goes on without any socket

    await asyncio.sleep(0.2)
    assert turn_id in RUNS
    # The ws extension reconnects the same page to the same URL (no resume list:
    # the turn started after the page was rendered).
    second = await socket(client, owner, conv)
    last_streaming: tuple[str, str] = ("", "")
    while turn_id not in page.done:
        page.apply(await second.receive_from(timeout=5))
        if turn_id not in page.done:
            last_streaming = (page.text(turn_id, "r"), page.text(turn_id, "c"))
    await second.disconnect()

    assert last_streaming == (FULL_R, FULL_C)
    assert page.status[turn_id] == "complete"
    turn = await saved(turn_id)
    assert (turn.reasoning, turn.content, turn.status) == (FULL_R, FULL_C, "complete")


async def test_a_reloaded_page_continues_from_the_checkpoint_without_gap_or_duplicate(
    client, owner, scripted, scripted_model
):
    scripted.enqueue([*REASONING, *CONTENT, Finish("stop")], delay=0.01)
    conv = await new_conversation(owner)
    first = await socket(client, owner, conv)
    await send_prompt(first, scripted_model)
    turn_id = await started_turn_id(first, Page())
    await first.disconnect()  # the tab is closed
    await asyncio.sleep(0.45)  # two checkpoints later the user opens the conversation again
    await until(lambda: bool(RUNS[turn_id].reasoning) and RUNS[turn_id].saves >= 2)

    checkpoint = await saved(turn_id)
    assert checkpoint.status == "streaming" and checkpoint.reasoning  # something was checkpointed
    page = Page()
    page.load(turn_id, checkpoint.reasoning, checkpoint.content)
    comm = await socket(client, owner, conv, f"?resume={turn_id}:{len(checkpoint.reasoning)}:{len(checkpoint.content)}")
    streamed = []
    while turn_id not in page.done:
        message = await comm.receive_from(timeout=5)
        page.apply(message)
        if turn_id not in page.done:
            streamed.append((page.text(turn_id, "r"), page.text(turn_id, "c")))
            # What the tab shows is always a prefix of the true text: never a duplicate.
            assert FULL_R.startswith(streamed[-1][0]) and FULL_C.startswith(streamed[-1][1])
    await comm.disconnect()
    assert streamed[-1] == (FULL_R, FULL_C)


async def test_one_socket_is_never_sent_the_same_text_twice(client, owner, scripted, scripted_model):
    scripted.enqueue([*REASONING, *CONTENT, Finish("stop")], delay=0.005)
    conv = await new_conversation(owner)
    page = Page()
    comm = await socket(client, owner, conv)
    await send_prompt(comm, scripted_model)
    turn_id = await started_turn_id(comm, page)
    await page.read_until_done(comm, turn_id)
    await comm.disconnect()
    appended = "".join(m for m in page.messages if "beforeend:#t" in m)
    # Every character of the turn went over this socket exactly once while streaming.
    assert sum(page.text(turn_id, b) == t for b, t in (("r", FULL_R), ("c", FULL_C))) == 2
    assert appended.count("r39 ") == 1 and appended.count("c0 ") == 1
    assert len(page.messages) - 2 < len(REASONING) + len(CONTENT)  # coalesced, not one per delta


async def test_a_dropped_frame_is_fetched_again_from_the_run(client, owner, scripted, scripted_model, monkeypatch):
    """The layer may drop a group message for a slow consumer (channel capacity)."""
    real_layer = get_channel_layer()

    class DroppingLayer:
        def __init__(self):
            self.frames = 0

        def __getattr__(self, name):
            return getattr(real_layer, name)

        async def group_send(self, group, message):
            if message["type"] == "turn.frame":
                self.frames += 1
                if self.frames in (3, 4, 7):
                    return  # lost on the way
            await real_layer.group_send(group, message)

    monkeypatch.setattr(runs, "get_channel_layer", DroppingLayer)
    scripted.enqueue([*REASONING, *CONTENT, Finish("stop")], delay=0.01)
    conv = await new_conversation(owner)
    page = Page()
    comm = await socket(client, owner, conv)
    await send_prompt(comm, scripted_model)
    turn_id = await started_turn_id(comm, page)
    streaming = ("", "")
    while turn_id not in page.done:
        page.apply(await comm.receive_from(timeout=5))
        if turn_id not in page.done:
            streaming = (page.text(turn_id, "r"), page.text(turn_id, "c"))
            assert FULL_R.startswith(streaming[0]) and FULL_C.startswith(streaming[1])
    await comm.disconnect()
    assert streaming == (FULL_R, FULL_C)


async def test_a_frame_arriving_after_done_is_ignored(client, owner, scripted, scripted_model):
    scripted.enqueue([ReasoningDelta("a"), ContentDelta("b"), Finish("stop")])
    conv = await new_conversation(owner)
    page = Page()
    comm = await socket(client, owner, conv)
    await send_prompt(comm, scripted_model)
    turn_id = await started_turn_id(comm, page)
    await page.read_until_done(comm, turn_id)
    await get_channel_layer().group_send(
        conv.group_name, {"type": "turn.frame", "turn": turn_id, "r_off": 1, "r": "late", "c_off": 1, "c": "late"}
    )
    assert await comm.receive_nothing(timeout=0.2)
    await comm.disconnect()


# ---- frames and checkpoints --------------------------------------------------------------


async def test_frames_coalesce_deltas_first_at_once_then_one_per_interval(owner, scripted, scripted_model, settings):
    settings.FRAME_INTERVAL = 0.05
    deltas = [ReasoningDelta("x") for _ in range(2000)] + [ContentDelta("y") for _ in range(2000)]
    scripted.enqueue([*deltas, Finish("stop")], delay=0.0003, first_delay=0.1)
    conv = await new_conversation(owner)
    turn_id = await new_exchange(conv, scripted_model)
    async with GroupWatcher(conv.group_name) as watcher:
        started = time.monotonic()
        run = await run_stored(turn_id)
        # 4000 deltas, each after a 0.3 ms sleep: 1.2 s alone, several times that with
        # pytest -n 4 on 2 loaded cores, where the 10 s default ran out.
        await watcher.until_done(turn_id, timeout=30.0)
    frames = [(t, m) for t, m in watcher.messages if m["type"] == "turn.frame"]
    duration = watcher.messages[-1][0] - started
    # The first delta goes out at once, not after a frame interval ...
    first_delta_at = run._started + run.first_reasoning_ms / 1000
    assert frames[0][0] - first_delta_at < 0.03
    # ... then at most one frame per interval, whatever the token rate, except
    # that the answer's first frame goes at once too (and the last is the final flush).
    assert len(frames) <= duration / 0.05 + 3
    answer_starts = next(i for i, (_, m) in enumerate(frames) if m["c"])
    gaps = [b[0] - a[0] for i, (a, b) in enumerate(itertools.pairwise(frames[:-1])) if i + 1 != answer_starts]
    assert min(gaps) >= 0.05 * 0.8
    # Offsets chain: each frame starts where the previous ended, and the last ends at the end.
    r_end = c_end = 0
    for _, frame in frames:
        assert (frame["r_off"], frame["c_off"]) == (r_end, c_end)
        r_end += len(frame["r"])
        c_end += len(frame["c"])
    assert (r_end, c_end) == (2000, 2000)
    assert watcher.messages[-1][1]["type"] == "turn.done"  # nothing after done


class QueryCounter:
    """Every SQL statement from any thread (database_sync_to_async runs in one)."""

    def __init__(self, monkeypatch):
        self.statements: list[str] = []
        real_execute = db_utils.CursorWrapper._execute
        counter = self

        def _execute(self, sql, params, *ignored):
            counter.statements.append(sql)
            return real_execute(self, sql, params, *ignored)

        monkeypatch.setattr(db_utils.CursorWrapper, "_execute", _execute)

    def writes_to_turns(self):
        return [s for s in self.statements if s.lstrip().upper().startswith("UPDATE") and "playground_turn" in s]


@register("paced-test")
class PacedAdapter:
    """`n` one-character deltas spread evenly over `seconds`, in 100 bursts: the
    same duration whatever the token count (the scripted adapter sleeps per delta)."""

    plan: tuple[int, float] = (100, 1.0)

    def prepare(self, request):
        return PreparedRequest("POST", "paced://local", {}, {})

    async def stream(self, request, client):
        n, seconds = self.plan
        for burst in range(100):
            await asyncio.sleep(seconds / 100)
            for _ in range(n // 100):
                yield ReasoningDelta("t") if burst < 50 else ContentDelta("t")
        yield Usage(1, n, n // 2)
        yield Finish("stop")


async def test_a_long_turn_makes_a_bounded_number_of_queries_whatever_the_token_count(owner, monkeypatch):
    provider = await database_sync_to_async(Provider.objects.create)(name="paced", kind="paced-test")
    model = await database_sync_to_async(ModelProfile.objects.create)(provider=provider, model_id="p", label="P")
    conv = await new_conversation(owner)
    adapter = get_adapter("paced-test")
    per_run = {}
    for n in (500, 5000):
        adapter.plan = (n, 2.0)  # the same two seconds with ten times the tokens
        turn_id = await new_exchange(conv, model)
        counter = QueryCounter(monkeypatch)
        started = time.monotonic()
        run = await run_stored(turn_id)
        await run.task
        duration = time.monotonic() - started
        monkeypatch.undo()
        per_run[n] = (len(counter.statements), len(counter.writes_to_turns()), round(duration, 2))
        turn = await saved(turn_id)
        assert len(turn.reasoning) + len(turn.content) == n and turn.status == "complete"
    for n, (statements, writes, duration) in per_run.items():
        checkpoints = duration / 0.2 + 1
        # prepare (a read, then `sent`), one write per checkpoint, the final read and write
        assert writes <= checkpoints + 3, (n, per_run)
        assert statements <= checkpoints + 12, (n, per_run)
    print("queries per run (statements, turn writes, seconds):", per_run)
    # Ten times the tokens, not (meaningfully) more queries.
    assert per_run[5000][0] <= per_run[500][0] + 3, per_run


async def test_checkpoints_save_the_text_while_streaming(owner, scripted, scripted_model):
    scripted.enqueue([*REASONING, *CONTENT, Finish("stop")], delay=0.02)
    conv = await new_conversation(owner)
    turn_id = await new_exchange(conv, scripted_model)
    run = await run_stored(turn_id)
    seen = []
    while not run.task.done():
        await asyncio.sleep(0.1)
        turn = await saved(turn_id)
        seen.append((turn.status, turn.reasoning, turn.content))
    streaming = [s for s in seen if s[0] == "streaming"]
    assert len({s[1] + s[2] for s in streaming}) >= 3  # the saved text grew while streaming
    for _, r, c in streaming:
        assert FULL_R.startswith(r) and FULL_C.startswith(c)
    turn = await saved(turn_id)
    assert (turn.reasoning, turn.content, turn.status) == (FULL_R, FULL_C, "complete")
    assert turn.duration_ms >= 1000 and turn.first_reasoning_ms is not None and turn.thinking_ms is not None


# ---- Stop --------------------------------------------------------------------------------


async def test_stop_gets_through_at_once_and_keeps_the_partial_text(client, owner, scripted, scripted_model):
    scripted.enqueue([*REASONING, *CONTENT, Finish("stop")], delay=0.05)
    conv = await new_conversation(owner)
    page = Page()
    comm = await socket(client, owner, conv)
    await send_prompt(comm, scripted_model)
    turn_id = await started_turn_id(comm, page)
    while len(page.text(turn_id, "r")) < 20:
        page.apply(await comm.receive_from(timeout=5))
    clicked = time.monotonic()
    await comm.send_to(text_data=json.dumps({"action": "stop", "turn": str(turn_id)}))
    await page.read_until_done(comm, turn_id)
    assert time.monotonic() - clicked < 0.5
    await comm.disconnect()
    turn = await saved(turn_id)
    assert turn.status == "stopped" and turn.finish_reason == "cancelled"
    assert 0 < len(turn.reasoning) < len(FULL_R) and FULL_R.startswith(turn.reasoning)
    assert page.status[turn_id] == "stopped"
    assert turn_id not in RUNS


async def test_stop_reaches_a_run_through_the_layer_as_from_another_worker(owner, scripted, scripted_model):
    scripted.enqueue([*REASONING, Finish("stop")], delay=0.05)
    conv = await new_conversation(owner)
    turn_id = await new_exchange(conv, scripted_model)
    run = await run_stored(turn_id)
    await until(lambda: len(run.reasoning) > 2)
    # Another worker has no entry in its RUNS: it can only publish to the run's group.
    await get_channel_layer().group_send(run_group(turn_id), {"type": "run.stop"})
    await asyncio.wait_for(run.task, 1)
    assert (await saved(turn_id)).status == "stopped"


async def test_a_run_cancelled_again_while_finishing_still_saves_and_says_done(owner, scripted, scripted_model):
    scripted.enqueue([*REASONING, Finish("stop")], delay=0.02)
    conv = await new_conversation(owner)
    turn_id = await new_exchange(conv, scripted_model)
    async with GroupWatcher(conv.group_name) as watcher:
        run = await run_stored(turn_id)
        await until(lambda: len(run.reasoning) > 2)
        run.task.cancel()
        for _ in range(5):  # server shutdown, repeated clicks: raw cancels while it saves
            await asyncio.sleep(0)
            run.task.cancel()
        await watcher.until_done(turn_id)
    await asyncio.wait_for(asyncio.gather(run.task, return_exceptions=True), 2)
    turn = await saved(turn_id)
    assert turn.status == "stopped" and turn.reasoning and FULL_R.startswith(turn.reasoning)


async def test_the_answers_first_frame_does_not_wait_for_the_frame_interval(owner, scripted, scripted_model, settings):
    # A long interval makes the difference plain: the answer starting is shown at
    # once (the page folds the thought then), not up to an interval later.
    settings.FRAME_INTERVAL = 3.0
    scripted.enqueue([ReasoningDelta("thinking"), ContentDelta("answer"), Finish("stop")], delay=0.2)
    conv = await new_conversation(owner)
    turn_id = await new_exchange(conv, scripted_model)
    async with GroupWatcher(conv.group_name) as watcher:
        run = await run_stored(turn_id)
        await watcher.until_done(turn_id, timeout=10)
    frames = [(t, m) for t, m in watcher.messages if m["type"] == "turn.frame"]
    assert [(m["r"], m["c"]) for _, m in frames] == [("thinking", ""), ("", "answer")]
    answer_at = run._started + run.first_content_ms / 1000
    assert frames[1][0] - answer_at < 1.0  # far below the 3 s interval


async def test_deltas_that_arrive_while_the_last_frame_is_being_sent_are_still_sent(
    owner, scripted, scripted_model
):
    # The run ends while its flusher waits on the layer (Redis busy); what came in
    # meanwhile must follow in a frame, not only in the final render.
    scripted.enqueue([ReasoningDelta("first "), *REASONING, *CONTENT, Finish("stop")], delay=0.005)
    conv = await new_conversation(owner)
    turn_id = await new_exchange(conv, scripted_model)
    real, release = get_channel_layer(), asyncio.Event()
    frames = []

    class SlowFirstFrame:
        def __getattr__(self, name):
            return getattr(real, name)

        async def group_send(self, group, message):
            if message["type"] == "turn.frame":
                frames.append(message)
                if len(frames) == 1:
                    await release.wait()
            await real.group_send(group, message)

    run = await run_stored(turn_id)
    run.layer = SlowFirstFrame()  # before the task's first step
    await until(lambda: run._finishing)
    release.set()
    await wait_for_run_end(turn_id)
    assert "".join(f["r"] for f in frames) == "first " + FULL_R
    assert "".join(f["c"] for f in frames) == FULL_C


# ---- runs that never start, runs that died ---------------------------------------------


async def test_a_run_that_cannot_start_ends_the_turn_and_no_socket_hangs(client, owner, scripted):
    provider = await database_sync_to_async(Provider.objects.create)(name="gone", kind="no-such-kind")
    model = await database_sync_to_async(ModelProfile.objects.create)(provider=provider, model_id="m", label="M")
    conv = await new_conversation(owner)
    page = Page()
    comm = await socket(client, owner, conv)
    await send_prompt(comm, model)
    turn_id = await started_turn_id(comm, page)
    await page.read_until_done(comm, turn_id, timeout=3)
    await comm.disconnect()
    turn = await saved(turn_id)
    assert turn.status == "error" and "no-such-kind" in turn.error["message"]
    assert "no-such-kind" in page.done[turn_id]


@database_sync_to_async
def streaming_turn(conversation, model, reasoning, content, heartbeat_age):
    turn_id = start_exchange(conversation, "Go", model, {}).assistant_turn.pk
    Turn.objects.filter(pk=turn_id).update(
        reasoning=reasoning, content=content, heartbeat_at=timezone.now() - timezone.timedelta(seconds=heartbeat_age)
    )
    return turn_id


async def test_a_socket_shows_a_dead_run_as_interrupted_once_its_heartbeat_is_stale(
    client, owner, scripted_model, settings
):
    settings.STREAM_STALE_AFTER = 0.6
    conv = await new_conversation(owner)
    turn_id = await streaming_turn(conv, scripted_model, "half a thou", "", heartbeat_age=0)
    page = Page()
    page.load(turn_id, "half a thou", "")
    # The page was rendered while the turn still looked alive; no run answers the socket.
    comm = await socket(client, owner, conv, f"?resume={turn_id}:11:0")
    await page.read_until_done(comm, turn_id, timeout=3)
    await comm.disconnect()
    assert page.status[turn_id] == "interrupted"
    assert "half a thou" in page.done[turn_id]
    turn = await saved(turn_id)
    assert (turn.status, turn.reasoning) == ("interrupted", "half a thou")


async def test_the_sweep_spares_live_runs_and_fresh_heartbeats(owner, scripted, scripted_model, settings, monkeypatch):
    settings.STREAM_STALE_AFTER = 0.3
    monkeypatch.setattr(liveness, "_swept", True)  # the process's first run would sweep first
    # Each in a conversation of its own: a prompt never continues a streaming answer.
    dead = await streaming_turn(await new_conversation(owner), scripted_model, "r", "c", heartbeat_age=5)
    scripted.enqueue([ReasoningDelta("x"), Finish("stop")], first_delay=1.0)
    live = await new_exchange(await new_conversation(owner), scripted_model)
    run = await run_stored(live)
    await asyncio.sleep(0.5)
    # The live run's heartbeat is fresh anyway; age it to show RUNS protects it too.
    await database_sync_to_async(
        lambda: Turn.objects.filter(pk=live).update(heartbeat_at=timezone.now() - timezone.timedelta(seconds=60))
    )()
    fresh = await streaming_turn(await new_conversation(owner), scripted_model, "r", "c", heartbeat_age=0)
    marked = await database_sync_to_async(mark_interrupted)()  # `fresh` stands for another worker's run
    statuses = {t: (await saved(t)).status for t in (dead, fresh, live)}
    assert statuses == {dead: "interrupted", fresh: "streaming", live: "streaming"}
    assert marked == 1
    await run.task
    assert (await saved(live)).status == "complete"


async def test_a_sweep_that_finds_nothing_stale_writes_nothing(owner, scripted_model, settings):
    # Page loads and every watching socket's watchdog sweep; with SQLite a write,
    # even one matching no row, takes the database's single write lock.
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.STREAM_STALE_AFTER = 10
    conv = await new_conversation(owner)
    fresh = await streaming_turn(conv, scripted_model, "r", "c", heartbeat_age=0)

    def sweep():
        with CaptureQueriesContext(connection) as queries:
            marked = mark_interrupted(turn_ids=[fresh])
        return marked, [q["sql"].split(None, 1)[0].upper() for q in queries.captured_queries]

    assert await database_sync_to_async(sweep)() == (0, ["SELECT"])


# ---- the consumer's bookkeeping, with the run played by the test ---------------------------


async def test_frames_that_overtake_the_resume_reply_are_kept_not_lost(client, owner, scripted_model):
    """Redis may deliver a group frame before an earlier direct reply: the socket
    keeps text beyond a gap and sends it once the gap is filled, in order, once."""
    conv = await new_conversation(owner)
    turn_id = await streaming_turn(conv, scripted_model, "", "", heartbeat_age=0)
    layer = get_channel_layer()
    asked = []
    run_channel = await layer.new_channel()
    await layer.group_add(run_group(turn_id), run_channel)  # the test is the run
    page = Page()
    comm = await socket(client, owner, conv, f"?resume={turn_id}:0:0")
    asked.append(await asyncio.wait_for(layer.receive(run_channel), 2))
    assert asked[0]["type"] == "run.resume" and (asked[0]["r_off"], asked[0]["c_off"]) == (0, 0)
    reply_to = asked[0]["reply_to"]

    def frame(kind, r_off, r, c_off, c):
        return {"type": kind, "turn": turn_id, "r_off": r_off, "r": r, "c_off": c_off, "c": c}

    # A frame published after the reply was made arrives first, then the reply.
    await layer.group_send(conv.group_name, frame("turn.frame", 10, "klmno", 0, ""))
    await layer.send(reply_to, frame("turn.resumed", 0, "abcdefghij", 0, ""))
    await page.read_for(comm, 0.2)
    assert page.text(turn_id, "r") == "abcdefghijklmno"
    # A lost frame (15-20) then two later ones: the later text waits for the gap ...
    await layer.group_send(conv.group_name, frame("turn.frame", 20, "uv", 0, "A"))
    await layer.group_send(conv.group_name, frame("turn.frame", 22, "wx", 1, "B"))
    await page.read_for(comm, 0.2)
    assert (page.text(turn_id, "r"), page.text(turn_id, "c")) == ("abcdefghijklmno", "AB")
    gap_ask = await asyncio.wait_for(layer.receive(run_channel), 2)
    assert (gap_ask["type"], gap_ask["r_off"], gap_ask["c_off"]) == ("run.resume", 15, 1)
    # ... and the reply to the gap request fills it; nothing is shown twice.
    await layer.send(reply_to, frame("turn.resumed", 15, "pqrstuvwxy", 1, "BC"))
    await layer.group_send(conv.group_name, frame("turn.frame", 24, "yz", 2, "CD"))
    await page.read_for(comm, 0.2)
    assert (page.text(turn_id, "r"), page.text(turn_id, "c")) == ("abcdefghijklmnopqrstuvwxyz", "ABCD")
    await comm.disconnect()
    await layer.group_discard(run_group(turn_id), run_channel)


async def test_a_lost_turn_done_is_made_up_for_by_the_sockets_watchdog(
    client, owner, scripted, scripted_model, monkeypatch, settings
):
    settings.STREAM_STALE_AFTER = 1.0  # the watchdog looks every 0.5 s
    monkeypatch.setattr(runs, "get_channel_layer", layer_losing("turn.done"))
    scripted.enqueue([*REASONING[:5], *CONTENT[:5], Finish("stop")], delay=0.01)
    conv = await new_conversation(owner)
    page = Page()
    comm = await socket(client, owner, conv)
    await send_prompt(comm, scripted_model)
    turn_id = await started_turn_id(comm, page)
    started = time.monotonic()
    await page.read_until_done(comm, turn_id, timeout=5)
    assert time.monotonic() - started < 3
    assert page.status[turn_id] == "complete"
    await comm.disconnect()


async def test_a_process_sweeps_dead_turns_on_its_first_run(owner, scripted, scripted_model, monkeypatch, settings):
    settings.STREAM_STALE_AFTER = 1.0
    monkeypatch.setattr(liveness, "_swept", False)  # as in a freshly started process
    conv = await new_conversation(owner)
    dead = await streaming_turn(conv, scripted_model, "left over", "", heartbeat_age=30)
    scripted.enqueue([ContentDelta("hi"), Finish("stop")])
    # In a conversation of its own: only the sweep, not the new prompt's check of its leaf, sees the dead turn.
    launched = await launch(Question(owner=owner, model=scripted_model, text="Go"))
    assert launched.run is not None and launched.run.task is not None
    await launched.run.task
    assert (await saved(dead)).status == "interrupted"
    assert (await saved(dead)).reasoning == "left over"
