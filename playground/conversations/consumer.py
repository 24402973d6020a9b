"""The conversation socket: watches one conversation, sends prompts, stops runs.

It never waits on a run. Frames from the run arrive as group messages with the
offsets of their text; the consumer keeps, per streaming turn, how much of each
block this browser already has, forwards only what is new, and asks the run for
the rest when it sees a gap. So a socket that joins late or drops a frame shows
every character exactly once.

On connect the consumer cannot know what the page holds: the page may have been
rendered from a checkpoint, or this may be the ws extension reconnecting a page
that already received frames over an earlier socket (it reuses the first URL).
So each streaming turn is first synced by *replacing* its blocks with the run's
whole text ("turn.resumed" from offset 0); from then on only new text is sent.

A browser that stops reading must not grow the server's memory: Twisted buffers
every write. The consumer registers a streaming producer on daphne's transport;
while Twisted says the buffer is full, frames are dropped (their text is not
counted as delivered, so it is fetched again once the browser reads), and a
socket that stays full for WS_SLOW_CLIENT_TIMEOUT seconds is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from playground.conversations import fragments
from playground.conversations.services import (
    BadInput,
    branch,
    clean_params,
    mark_interrupted,
    stale_after,
    start_exchange,
)
from playground.markdown import REMOTE_IMAGES
from playground.models import Conversation, ModelProfile, Turn
from playground.security.csp import remote_images_for
from playground.security.sockets import SESSION_ENDED, bad_message_frame, session_is_current, socket_groups
from playground.streaming.messages import fit, pack, split_turn, text_swaps
from playground.streaming.run import run_group, start_run, stop_run, sweep_once

log = logging.getLogger(__name__)


class ConversationConsumer(AsyncWebsocketConsumer):
    conversation: Conversation
    delivered: dict[int, list[int]]  # turn id -> [reasoning chars, content chars] this browser has
    unsynced: dict[int, list[dict[str, Any]]]  # turn -> frames that came before its first, replacing, resume reply
    resuming: set[int]  # turns with a resume request in flight
    dropped: set[int]  # turns whose frames were dropped while the browser was not reading
    ahead: dict[tuple[int, int], list[tuple[int, str]]]  # (turn, block) -> text beyond a gap
    slow_reader: SlowReader | None = None
    watchdog: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        conversation = await self._conversation(user, self.scope["url_route"]["kwargs"]["pk"])
        if conversation is None:
            await self.close(code=4403)
            return
        self.conversation = conversation
        # Turns rendered for this socket honour the user's "load remote images" choice.
        REMOTE_IMAGES.set(await database_sync_to_async(remote_images_for)(user))
        self.delivered, self.unsynced, self.resuming, self.dropped, self.ahead = {}, {}, set(), set(), {}
        await self.channel_layer.group_add(conversation.group_name, self.channel_name)
        for group in socket_groups(self.scope):  # logout or a password change ends this socket
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.slow_reader = SlowReader.attach(self)
        await sweep_once()
        # The page lists the turns it rendered streaming; turns started later (seen by
        # an earlier socket of the same page) are on the branch too.
        shown = [turn_id for turn_id, _, _ in _parse_resume(self.scope.get("query_string", b""))]
        streaming, finished = await database_sync_to_async(_turns_to_follow)(conversation, shown)
        for turn_id in finished:  # it finished between the page render and this socket
            self.delivered[turn_id] = [0, 0]
            await self.turn_done({"turn": turn_id})
        for turn_id in streaming:
            self.delivered[turn_id] = [0, 0]
            self.unsynced[turn_id] = []
            await self._ask_resume(turn_id)

    async def disconnect(self, code: int) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        if self.slow_reader is not None:
            self.slow_reader.detach()
        if hasattr(self, "conversation"):
            await self.channel_layer.group_discard(self.conversation.group_name, self.channel_name)
            for group in socket_groups(self.scope):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        # The last guard: no message over the transport limit (it would end the socket).
        if text_data is not None and len(text_data) > 1024:
            *first, text_data = fit(text_data)
            for message in first:
                await super().send(text_data=message)
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not await database_sync_to_async(session_is_current)(self.scope):
            await self.close(code=SESSION_ENDED)
            return
        try:
            data = json.loads(text_data or "{}")
        except (json.JSONDecodeError, RecursionError):
            data = None
        if not isinstance(data, dict):
            await self.send(text_data=bad_message_frame())
            return
        action = data.get("action", "send")
        try:
            if action == "stop":
                if not _is_id(data.get("turn")):
                    await self.send(text_data=bad_message_frame("Stop which turn?"))
                elif turn_id := await self._own_turn(data.get("turn")):
                    await stop_run(turn_id)  # else: it finished meanwhile, or is not ours
            elif action == "send":
                await self._send_prompt(data)
            else:
                await self.send(text_data=bad_message_frame(f"Unknown action {str(action)[:40]!r}."))
        except Exception:
            # A bug or an odd value must not close the socket (1011) with no word.
            log.exception("socket message on conversation %s failed", self.conversation.pk)
            await self.send(text_data=bad_message_frame())

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.close(code=SESSION_ENDED)

    async def _send_prompt(self, data: dict[str, Any]) -> None:
        try:
            exchange = await database_sync_to_async(_start)(self.conversation, data)
        except BadInput as e:
            await self.send(text_data=bad_message_frame(str(e)))
            return
        user_turn, turn, html = exchange
        await self.channel_layer.group_send(
            self.conversation.group_name,
            {"type": "turn.started", "user_turn": user_turn, "turn": turn, "html": html},
        )
        try:
            await start_run(turn)
        except Exception:
            # The turn was saved as an error with its reason; every socket re-renders it.
            await self.channel_layer.group_send(self.conversation.group_name, {"type": "turn.done", "turn": turn})

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs close_old_connections() in the sync thread before every
        # handler: a thread hop per frame per socket, queued behind the runs'
        # checkpoints. Frames never touch the database, so they skip it
        # (bench/README.md: it cost ~1/3 of the relay's CPU and most of its p99).
        if message["type"] == "turn.frame":
            await self.turn_frame(message)
        else:
            await super().dispatch(message)

    # ---- group messages ----------------------------------------------------------------

    async def turn_started(self, event: dict[str, Any]) -> None:
        # Rendered once, by the socket that started the exchange, before the run: a
        # render here (a hop to the sync thread) would hold up the run's first frame,
        # which queues behind this message (bench: added TTFT, instant provider).
        # A comparison announces its columns without HTML (its column sockets render
        # their own); a chat tab open on a column's conversation renders it here.
        html = event.get("html") or await database_sync_to_async(fragments.render_new_exchange)(
            event["user_turn"], event["turn"]
        )
        self.delivered[event["turn"]] = [0, 0]  # the page gets the turn empty: its base is known
        self._start_watchdog()
        await self.send(text_data=html)

    async def turn_frame(self, event: dict[str, Any]) -> None:
        turn_id = event["turn"]
        if turn_id not in self.delivered:
            return  # not shown here, or already finished
        if (early := self.unsynced.get(turn_id)) is not None:
            # Kept until the resume reply: the layer may deliver a frame published
            # after the reply was made before the reply itself.
            if len(early) < 1000:
                early.append(event)
            return
        await self._forward(turn_id, event)

    async def turn_resumed(self, event: dict[str, Any]) -> None:
        """The run's answer to this socket's resume request."""
        turn_id = event["turn"]
        if turn_id not in self.delivered:
            return
        self.resuming.discard(turn_id)
        if turn_id not in self.unsynced:
            await self._forward(turn_id, event)
            return
        if self._reader_is_slow():
            self.dropped.add(turn_id)
            return
        early = self.unsynced.pop(turn_id)
        r, c = event["r"], event["c"]
        self.delivered[turn_id] = [event["r_off"] + len(r), event["c_off"] + len(c)]
        # An empty block is left alone: what the page holds is a prefix of the run's
        # text, so it is empty too, and a swap into the answer block would tell the
        # page the answer has started (it folds the thought).
        swaps = [
            *(text_swaps(turn_id, "r", r, replace=True) if r else []),
            *(text_swaps(turn_id, "c", c, replace=True) if c else []),
        ]
        if swaps:
            await self._send_all(pack(swaps))
        for frame in early:
            await self._forward(turn_id, frame)

    async def turn_done(self, event: dict[str, Any]) -> None:
        turn_id = event["turn"]
        if self.delivered.pop(turn_id, None) is None:
            return  # frames or a second "done" (watchdog and run) after this are ignored
        self.unsynced.pop(turn_id, None)
        self.resuming.discard(turn_id)
        self.dropped.discard(turn_id)
        self.ahead.pop((turn_id, 0), None)
        self.ahead.pop((turn_id, 1), None)
        try:
            html = await database_sync_to_async(fragments.render_turn_oob)(turn_id)
        except Turn.DoesNotExist:
            return  # deleted with its conversation
        await self._send_all(split_turn(html, turn_id))

    # ---- helpers -----------------------------------------------------------------------

    async def _forward(self, turn_id: int, event: dict[str, Any]) -> None:
        """Send the part of a frame this browser lacks; on a gap, ask the run for it.

        Text beyond a gap is kept (per block, by offset) and sent as soon as the
        gap is filled: with a channel layer that does not keep the order of a
        group message and a direct one (Redis), a frame may overtake the resume
        reply that precedes it.
        """
        if self._reader_is_slow():
            self.dropped.add(turn_id)
            return
        have = self.delivered[turn_id]
        parts = []
        gap = False
        for i, (off, text) in enumerate(((event["r_off"], event["r"]), (event["c_off"], event["c"]))):
            waiting = self.ahead.get((turn_id, i))
            if not waiting and off <= have[i]:  # the usual case: contiguous or overlapping
                new = text[have[i] - off :]
            else:
                waiting = waiting or []
                if text:
                    waiting.append((off, text))
                new, waiting = _join_from(have[i], waiting)
                if waiting and len(waiting) < 500:
                    self.ahead[(turn_id, i)] = waiting
                    gap = True
                else:
                    self.ahead.pop((turn_id, i), None)
                    gap = gap or bool(waiting)
            if new:
                have[i] += len(new)
                parts += text_swaps(turn_id, "r" if i == 0 else "c", new)
        if parts:
            await self._send_all(pack(parts))
        if gap:
            await self._ask_resume(turn_id)

    async def _send_all(self, messages: list[str]) -> None:
        for message in messages:
            await self.send(text_data=message)

    def _reader_is_slow(self) -> bool:
        return self.slow_reader is not None and self.slow_reader.paused

    async def catch_up(self) -> None:
        """The browser reads again: fetch what was dropped meanwhile."""
        for turn_id in list(self.dropped):
            self.dropped.discard(turn_id)
            if turn_id in self.delivered:
                self.resuming.discard(turn_id)
                await self._ask_resume(turn_id)

    async def _ask_resume(self, turn_id: int) -> None:
        self._start_watchdog()
        if turn_id in self.resuming:
            return
        self.resuming.add(turn_id)
        r_len, c_len = self.delivered[turn_id]
        await self.channel_layer.group_send(
            run_group(turn_id),
            {"type": "run.resume", "reply_to": self.channel_name, "r_off": r_len, "c_off": c_len},
        )

    def _start_watchdog(self) -> None:
        if self.watchdog is None or self.watchdog.done():
            self.watchdog = asyncio.ensure_future(self._watch())

    async def _watch(self) -> None:
        """While this socket follows streaming turns, look at them in the database now
        and then. A run whose process died never sends "turn.done" (and a full layer
        may drop one): a turn found finished, or stale and so marked interrupted, is
        re-rendered from the database. Each pending resume is asked again, in case
        the request or its reply was dropped."""
        interval = min(max(stale_after() / 2, 0.5), 5.0)
        while self.delivered:
            await asyncio.sleep(interval)
            ids = list(self.delivered)
            if not ids:
                break
            finished = await database_sync_to_async(_finished_or_dead)(ids)
            for turn_id in finished:
                await self.turn_done({"turn": turn_id})
            for turn_id in list(self.resuming):
                if turn_id in self.delivered:
                    self.resuming.discard(turn_id)
                    await self._ask_resume(turn_id)

    @database_sync_to_async
    def _conversation(self, user: Any, pk: int) -> Conversation | None:
        return Conversation.objects.filter(owner=user, pk=pk).first()

    @database_sync_to_async
    def _own_turn(self, turn_id: Any) -> int | None:
        try:
            pk = int(turn_id)
        except (TypeError, ValueError):
            return None
        return Turn.objects.filter(pk=pk, conversation=self.conversation).values_list("pk", flat=True).first()


class SlowReader:
    """A Twisted streaming producer on the socket's transport.

    Twisted calls pauseProducing when its write buffer for the socket passes its
    bufferSize (64 KiB) and resumeProducing once the buffer has drained: exactly
    "the browser is not reading". Under a server other than daphne (or in tests
    with WebsocketCommunicator) there is no transport and frames always go out.
    """

    def __init__(self, consumer: ConversationConsumer, protocol: Any) -> None:
        self.consumer = consumer
        self.protocol = protocol
        self.paused = False
        self._close_timer: asyncio.TimerHandle | None = None
        self._catching_up: asyncio.Future[None] | None = None
        self.previous: Any = None  # the producer registered before us, if any

    @classmethod
    def attach(cls, consumer: ConversationConsumer) -> SlowReader | None:
        protocol = _daphne_protocol(consumer.base_send) if settings.WS_BACKPRESSURE else None
        if protocol is None:
            return None
        reader = cls(consumer, protocol)
        transport = protocol.transport
        try:
            # The HTTP channel that carried the upgrade is still registered as the
            # transport's producer (it has no more work of its own); we take its
            # place and pass on stopProducing so its clean-up still runs.
            reader.previous = getattr(transport, "producer", None)
            if reader.previous is not None:
                transport.unregisterProducer()
            transport.registerProducer(reader, True)
        except Exception:
            log.warning("no backpressure for %s", consumer.channel_name, exc_info=True)
            return None
        return reader

    def detach(self) -> None:
        self._cancel_timer()
        with contextlib.suppress(Exception):
            if getattr(self.protocol.transport, "producer", None) is self:
                self.protocol.transport.unregisterProducer()

    def pauseProducing(self) -> None:  # Twisted's IPushProducer
        self.paused = True
        if self._close_timer is None:
            loop = asyncio.get_event_loop()
            self._close_timer = loop.call_later(float(settings.WS_SLOW_CLIENT_TIMEOUT), self._give_up)

    def resumeProducing(self) -> None:
        self.paused = False
        self._cancel_timer()
        self._catching_up = asyncio.ensure_future(self.consumer.catch_up())

    def stopProducing(self) -> None:
        self._cancel_timer()
        if self.previous is not None:
            with contextlib.suppress(Exception):
                self.previous.stopProducing()

    def _cancel_timer(self) -> None:
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None

    def _give_up(self) -> None:
        # A close frame would queue behind the unread data, so the TCP connection is
        # dropped; the page's socket reconnects and resyncs from the run.
        log.info("closing a socket whose browser stopped reading (%s)", self.consumer.channel_name)
        self._close_timer = None
        with contextlib.suppress(Exception):
            self.protocol.transport.unregisterProducer()
        with contextlib.suppress(Exception):
            self.protocol.transport.abortConnection()


def _daphne_protocol(send: Any) -> Any:
    """Daphne's WebSocketProtocol behind an ASGI `send`: daphne passes
    `partial(server.handle_reply, protocol)`, which channels' session middleware wraps."""
    obj = send
    for _ in range(8):
        if isinstance(obj, functools.partial):
            for arg in obj.args:
                if hasattr(arg, "registerProducer") and hasattr(arg, "transport"):
                    return arg
            obj = obj.func
        else:
            owner = getattr(obj, "__self__", None)
            obj = getattr(owner, "real_send", None) or getattr(owner, "send", None)
            if obj is None or obj is send:
                return None
    return None


def _is_id(value: Any) -> bool:
    if isinstance(value, str):
        value = int(value) if value.isdigit() and len(value) < 19 else None
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**63


def _join_from(have: int, pieces: list[tuple[int, str]]) -> tuple[str, list[tuple[int, str]]]:
    """The text that continues from offset `have` out of (offset, text) pieces,
    and the pieces still beyond a gap."""
    out: list[str] = []
    left: list[tuple[int, str]] = []
    for off, text in sorted(pieces):
        if off > have:
            left.append((off, text))
        elif off + len(text) > have:
            out.append(text[have - off :])
            have = off + len(text)
    return "".join(out), [(off, text) for off, text in left if off + len(text) > have]


def _parse_resume(query: bytes) -> list[tuple[int, int, int]]:
    """`?resume=12:340:20,13:0:0` -> [(12, 340, 20), (13, 0, 0)]; junk is ignored."""
    out = []
    for pair in query.decode(errors="ignore").split("&"):
        key, _, value = pair.partition("=")
        if key != "resume":
            continue
        for item in value.replace("%3A", ":").replace("%2C", ",").split(","):
            try:
                turn, r, c = (int(x) for x in item.split(":"))
            except ValueError:
                continue
            out.append((turn, max(r, 0), max(c, 0)))
    return out[:50]


def _turns_to_follow(conversation: Conversation, shown: list[int]) -> tuple[list[int], list[int]]:
    """(streaming turns to follow, turns the page showed streaming that have finished)."""
    mark_interrupted(conversation)
    on_branch = {t.pk for t in branch(conversation) if t.is_streaming}
    statuses = dict(
        Turn.objects.filter(conversation=conversation, pk__in=[*shown, *on_branch]).values_list("pk", "status")
    )
    streaming = sorted(pk for pk, status in statuses.items() if status == Turn.Status.STREAMING)
    finished = sorted(pk for pk, status in statuses.items() if status != Turn.Status.STREAMING and pk in shown)
    return streaming, finished


def _finished_or_dead(turn_ids: list[int]) -> list[int]:
    """The followed turns no longer streaming (or deleted), after a sweep of the dead ones."""
    mark_interrupted(turn_ids=turn_ids)
    streaming = set(Turn.objects.filter(pk__in=turn_ids, status=Turn.Status.STREAMING).values_list("pk", flat=True))
    return [pk for pk in turn_ids if pk not in streaming]


def _start(conversation: Conversation, data: dict[str, Any]) -> tuple[int, int, str]:
    conversation.refresh_from_db()
    try:
        model = ModelProfile.objects.select_related("provider").get(pk=int(data.get("model") or 0), enabled=True)
    except (ValueError, ModelProfile.DoesNotExist):
        raise BadInput("Choose a model.") from None
    exchange = start_exchange(conversation, str(data.get("prompt", "")), model, clean_params(data, model))
    user_turn, turn = exchange.user_turn.pk, exchange.assistant_turn.pk
    return user_turn, turn, fragments.render_new_exchange(user_turn, turn)
