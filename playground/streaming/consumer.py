"""The socket of a page that shows one conversation's turns as they stream.

All delivery bookkeeping lives here, for every screen: which streaming turns
this socket follows and how much of each it has delivered (one
`follower.TurnFollower` per turn: gaps, resume, the first sync), the watchdog
that learns a turn ended when its "turn.done" never comes, backpressure
(`backpressure.SlowReader`) and messages cut to fit the transport
(`messages`). A screen subclasses it only to say how its turns are rendered:
`render_exchange`, `render_branch`, `render_finished` (the chat page and a
comparison column differ in where turns go and in blind labels).

It never waits on a run. On connect it cannot know what the page holds (a
checkpoint, or text from an earlier socket of the same page: the ws extension
reconnects with the first URL), so each streaming turn starts unsynced: its
blocks are first *replaced* with the run's whole text, then only new text goes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from playground.db_threads import off_the_shared_thread
from playground.markdown import REMOTE_IMAGES
from playground.models import Conversation, Turn
from playground.security.csp import remote_images_for
from playground.security.sockets import (
    SESSION_ENDED,
    SessionCheck,
    bad_message_frame,
    is_id,
    session_is_current,
    socket_groups,
)
from playground.streaming.backpressure import SlowReader
from playground.streaming.follower import BLOCKS, Delivery, Piece, TurnFollower
from playground.streaming.launch import ExchangeRenderer, FinishedRenderer, NotAllowed, Question, launch
from playground.streaming.messages import MESSAGE_BYTES, TEXT_CHARS, fit, pack, split_turn, text_swaps, thought_clock
from playground.streaming.run import run_group, stop_run
from playground.streaming.steps import calls_swap, notice_swap, steps_swap
from playground.turns.liveness import finished_or_dead, mark_interrupted, stale_after, sweep_once
from playground.turns.services import BadInput, branch, show_branch

log = logging.getLogger(__name__)


class StreamingConsumer(AsyncWebsocketConsumer):
    conversation: Conversation
    following: dict[int, TurnFollower]  # streaming turns this socket shows
    slow_reader: SlowReader | None = None
    watchdog: asyncio.Task[None] | None = None
    notice_template = "chat/_notice.html"
    # How the socket that sends a prompt renders the new exchange once for every socket
    # of its screen (launch's `render`); None: each socket renders its own.
    announce_exchange: ExchangeRenderer | None = None
    # How the run of a prompt sent here renders its finished turn once for every socket
    # of its screen (launch's `render_done`; read back with `finished_html`).
    render_done: FinishedRenderer | None = None

    # ---- what a screen says: how its turns are rendered ----------------------------------

    def render_exchange(self, user_turn_id: int, turn_id: int) -> str:
        """A new prompt and its (empty) answer, added to the page's turns."""
        raise NotImplementedError

    def render_branch(self) -> list[str]:
        """The branch on show, replacing the page's turns, as fragments that fit a message."""
        raise NotImplementedError

    def render_finished(self, turn_id: int, shown: tuple[int, int] | None = None) -> str:
        """A finished turn (an outerHTML swap of it), with whatever else its end changes.
        `shown`: how much of each block this socket's page shows of the run's text, if
        it shows exactly that (`TurnFollower.shown`); a screen may then leave a long
        block's streamed DOM in place rather than send its whole render again."""
        raise NotImplementedError

    def announced_html(self, event: dict[str, Any]) -> str | None:
        """The exchange as rendered once by whoever started it, if this screen can use it."""
        return None

    def finished_html(self, event: dict[str, Any], shown: tuple[int, int] | None) -> str | None:
        """The finished turn as its run rendered it once ("turn.done"), if this screen
        can use it for a page that shows `shown` of its text; None: render it here."""
        return None

    # ---- the socket ----------------------------------------------------------------------

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
        self.following = {}
        # Turns rendered for this socket honour the user's "load remote images" choice.
        REMOTE_IMAGES.set(await database_sync_to_async(remote_images_for)(user))
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
            self.following[turn_id] = TurnFollower.joining()  # what the page shows is not known
            await self.turn_done({"turn": turn_id})
        for turn_id in streaming:
            self.following[turn_id] = follower = TurnFollower.joining()
            await self._deliver(turn_id, follower.start())

    async def disconnect(self, code: int) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
        if self.slow_reader is not None:
            self.slow_reader.detach()
        if hasattr(self, "conversation"):
            await self.channel_layer.group_discard(self.conversation.group_name, self.channel_name)
            for group in socket_groups(self.scope):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def send(  # type: ignore[override]  # AsyncWebsocketConsumer's own send, not AsyncConsumer's
        self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False
    ) -> None:
        # The last guard: no message over the transport limit (it would end the socket).
        if text_data is not None and len(text_data) > 1024:
            *first, text_data = fit(text_data)
            for message in first:
                await super().send(text_data=message)
        await super().send(text_data=text_data, bytes_data=bytes_data, close=close)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            data = json.loads(text_data or "{}")
        except (json.JSONDecodeError, RecursionError):
            data = None
        # A prompt's session check goes with its start, in one hop (launch's `allowed`).
        sending = isinstance(data, dict) and data.get("action", "send") == "send"
        if not sending and not await off_the_shared_thread(session_is_current)(self.scope):
            await self.close(code=SESSION_ENDED)
            return
        if not isinstance(data, dict):
            await self.send(text_data=bad_message_frame())
            return
        action = data.get("action", "send")
        try:
            if action == "stop":
                if not is_id(data.get("turn")):
                    await self.send(text_data=bad_message_frame("Stop which turn?"))
                elif turn_id := await self._own_turn(data.get("turn")):
                    await stop_run(turn_id)  # else: it finished meanwhile, or is not ours
            elif action == "send":
                await self._send_prompt(data)
            elif action == "show":
                if not is_id(data.get("turn")):
                    await self.send(text_data=bad_message_frame("Show which branch?"))
                else:
                    await self._show_branch(int(data["turn"]))
            else:
                await self.send(text_data=bad_message_frame(f"Unknown action {str(action)[:40]!r}."))
        except Exception:
            # A bug or an odd value must not close the socket (1011) with no word.
            log.exception("socket message on conversation %s failed", self.conversation.pk)
            await self.send(text_data=bad_message_frame())

    async def session_ended(self, event: dict[str, Any]) -> None:
        await self.close(code=SESSION_ENDED)

    async def _send_prompt(self, data: dict[str, Any]) -> None:
        prompt = Question(
            owner=self.scope["user"], model=data.get("model"), text=str(data.get("prompt", "")),
            params=data, conversation=self.conversation,
        )
        try:
            # Rendered once, here, for every chat socket: a render in each socket's
            # turn_started (a hop to the sync thread) would hold up the run's first frame.
            await launch(prompt, render=self.announce_exchange, allowed=SessionCheck(self.scope),
                         render_done=self.render_done)
        except NotAllowed:
            await self.close(code=SESSION_ENDED)
        except BadInput as e:
            await self.send(text_data=bad_message_frame(str(e), self.notice_template))

    async def _show_branch(self, turn_id: int) -> None:
        """‹ ›: the branch through `turn_id` replaces the page's turns, in place. Its
        streaming turns are followed from their whole text (as on connect: the render
        holds a checkpoint, not what the page may have had); turns no longer shown are
        no longer followed. Messages are handled one at a time, so no frame comes
        between the render and the followers that match it."""
        shown = await off_the_shared_thread(self._switch_to)(turn_id)
        if shown is None:
            return  # not a turn of this conversation
        messages, streaming = shown
        await self._send_all(messages)
        for stale in set(self.following) - set(streaming):
            del self.following[stale]
        for pk in streaming:
            self.following[pk] = follower = TurnFollower.joining()
            await self._deliver(pk, follower.start())

    def _switch_to(self, turn_id: int) -> tuple[list[str], list[int]] | None:
        turn = Turn.objects.select_related("conversation").filter(pk=turn_id, conversation=self.conversation).first()
        if turn is None:
            return None
        show_branch(turn)
        mark_interrupted(self.conversation)
        streaming = [t.pk for t in branch(Conversation.objects.get(pk=self.conversation.pk)) if t.is_streaming]
        return pack(self.render_branch()), streaming

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels runs close_old_connections() on asgiref's one shared thread before
        # every handler: a hop per message per socket, queued in order behind the work
        # already there (the runs' checkpoints; in a burst, every other prompt's store).
        # Frames paid it (bench/README.md: ~1/3 of the relay's CPU and most of its p99);
        # and with 200 prompts sent at once, each socket's prompt and then its
        # "turn.started" waited behind all 200 stores, so no turn showed a frame before
        # nearly every turn had started (docs/performance.md, the burst). No handler
        # here touches the database but through `database_sync_to_async` (or
        # `off_the_shared_thread`, built on it), which closes old connections on the
        # thread it runs on, before and after: the hop guarded nothing.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # ---- group messages ------------------------------------------------------------------

    async def turn_started(self, event: dict[str, Any]) -> None:
        turn_id = event["turn"]
        if event.get("branch"):
            messages = pack(await off_the_shared_thread(self.render_branch)())
        else:
            html = self.announced_html(event) or await off_the_shared_thread(self.render_exchange)(
                event["user_turn"], turn_id
            )
            # Rendered from the database, it may hold much text already (a run that
            # went fast, or finished, before this socket rendered).
            messages = split_turn(html, turn_id)
        # The page gets the turn empty: its base is known. (A tool loop that goes on
        # after a person's answer starts again at its next step: playground.streaming.toolrun.)
        self.following[turn_id] = follower = TurnFollower(step=int(event.get("step", 0)))
        self._start_watchdog()
        await self._send_all(messages)
        if follower.step:
            # Rendered from the database, the turn shows the step that waited for a
            # person's answer as its own text: the next step starts empty, below it.
            await self._deliver(
                turn_id, Delivery([Piece("r", "", replace=True), Piece("c", "", replace=True)], reload_steps=True,
                                  calls=[]),
            )

    async def turn_frame(self, event: dict[str, Any]) -> None:
        follower = self.following.get(event["turn"])
        if follower is None:
            return  # not shown here, or already finished
        if follower.synced and self._reader_is_slow():
            follower.on_dropped()
            self._note_dropped()
            return
        await self._deliver(event["turn"], follower.on_frame(event), lead=thought_clock(event["turn"], event))

    async def turn_resumed(self, event: dict[str, Any]) -> None:
        """The run's answer to this socket's resume request."""
        follower = self.following.get(event["turn"])
        if follower is None:
            return
        if self._reader_is_slow():
            follower.on_dropped(reply=True)
            self._note_dropped()
            return
        await self._deliver(event["turn"], follower.on_resumed(event))

    async def turn_reclassified(self, event: dict[str, Any]) -> None:
        """The answer streamed so far was reasoning: both blocks are replaced."""
        follower = self.following.get(event["turn"])
        if follower is None:
            return
        if self._reader_is_slow():
            # Caught up later by a replacing resume, as for a page that just loaded.
            follower.forget()
            self._note_dropped()
            return
        await self._deliver(event["turn"], follower.on_reclassified(event))

    async def turn_step(self, event: dict[str, Any]) -> None:
        """A tool loop's next model call begins: the finished steps, empty blocks for it."""
        follower = self.following.get(event["turn"])
        if follower is None:
            return
        if self._reader_is_slow():
            follower.forget()  # caught up later by a replacing resume
            self._note_dropped()
            return
        await self._deliver(event["turn"], follower.on_step(event))

    async def tool_start(self, event: dict[str, Any]) -> None:
        await self._tool_event(event)

    async def tool_args(self, event: dict[str, Any]) -> None:
        await self._tool_event(event)

    async def tool_result(self, event: dict[str, Any]) -> None:
        await self._tool_event(event)

    async def tool_awaiting(self, event: dict[str, Any]) -> None:
        await self._tool_event(event)

    async def _tool_event(self, event: dict[str, Any]) -> None:
        """A tool call of the streaming step changed: its cards are rendered whole again."""
        follower = self.following.get(event["turn"])
        if follower is None:
            return
        delivery = follower.on_tool(event)  # kept even for a slow reader: the state is small
        if self._reader_is_slow() and delivery.ask is None:
            follower.on_dropped()
            self._note_dropped()
            return
        await self._deliver(event["turn"], delivery)

    async def tool_notice(self, event: dict[str, Any]) -> None:
        """Something the user should know (a server that did not start): shown above the
        turn's steps now; kept in the first step's notices for a later render."""
        if event["turn"] in self.following:
            await self.send(text_data=notice_swap(event["turn"], str(event.get("text", ""))))

    async def turn_done(self, event: dict[str, Any]) -> None:
        turn_id = event["turn"]
        follower = self.following.pop(turn_id, None)
        if follower is None:
            return  # frames or a second "done" (watchdog and run) after this are ignored
        try:
            html = self.finished_html(event, follower.shown()) or await off_the_shared_thread(
                self.render_finished
            )(turn_id, follower.shown())
        except Turn.DoesNotExist:
            return  # deleted with its conversation
        await self._send_all(split_turn(html, turn_id))

    # ---- delivery ------------------------------------------------------------------------

    async def _deliver(self, turn_id: int, delivery: Delivery, *, lead: str = "") -> None:
        """`lead`: a fragment that goes just before the delivery's text, in its message
        (the run's thinking time for the thought label; dropped with no text to go with)."""
        structure = []
        if delivery.reload_steps:
            follower = self.following.get(turn_id)
            steps = await database_sync_to_async(_finished_steps)(turn_id, follower.step if follower else 0)
            structure.append(steps_swap(turn_id, steps))
        if delivery.calls is not None:
            structure.append(calls_swap(turn_id, delivery.calls))
        if structure:
            await self._send_all(pack(structure))
        if delivery.pieces:
            await self._send_text(turn_id, delivery.pieces, lead=lead)
        if delivery.ask is not None:
            await self._ask_resume(turn_id, delivery.ask)

    async def _send_text(self, turn_id: int, pieces: list[Piece], *, lead: str = "") -> None:
        """Text as messages that fit; once the browser stops reading, the messages
        not yet written are dropped like frames (a resume reply may hold a long
        backlog): the follower no longer counts their text as had, and fetches it
        again when the browser reads (`catch_up`)."""
        messages = text_messages(turn_id, pieces)
        for n, (message, _) in enumerate(messages):
            if n and self._reader_is_slow():
                follower = self.following.get(turn_id)
                if follower is not None:
                    unsent = [carried for _, carries in messages[n:] for carried in carries]
                    if any(sets for _, _, sets in unsent):
                        follower.forget()  # the page's block is not a prefix of the run's text
                    else:
                        for block, chars, _ in unsent:
                            follower.have[BLOCKS.index(block)] -= chars
                        follower.on_dropped()
                self._note_dropped()
                break
            if n == 0 and lead:
                if len(lead) + len(message) * 4 <= MESSAGE_BYTES or len(lead) + len(message.encode()) <= MESSAGE_BYTES:
                    message = lead + message  # one message: the page reads both in one go
                else:
                    await self.send(text_data=lead)
            await self.send(text_data=message)
        if self.slow_reader is not None:
            self.slow_reader.sent()

    async def _send_all(self, messages: list[str]) -> None:
        for message in messages:
            await self.send(text_data=message)

    def _reader_is_slow(self) -> bool:
        return self.slow_reader is not None and self.slow_reader.paused

    def _note_dropped(self) -> None:
        if self.slow_reader is not None:
            self.slow_reader.dropped()

    async def catch_up(self) -> None:
        """The browser reads again: fetch what was dropped meanwhile."""
        for turn_id, follower in list(self.following.items()):
            if follower.dropped:
                await self._ask_resume(turn_id, follower.retry())

    async def _ask_resume(self, turn_id: int, offsets: tuple[int, int] | None) -> None:
        self._start_watchdog()
        if offsets is None:
            return
        message = {"type": "run.resume", "reply_to": self.channel_name, "r_off": offsets[0], "c_off": offsets[1]}
        if (follower := self.following.get(turn_id)) is not None and follower.step:
            message["step"] = follower.step
        await self.channel_layer.group_send(run_group(turn_id), message)

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
        while self.following:
            await asyncio.sleep(interval)
            ids = list(self.following)
            if not ids:
                break
            for turn_id in await database_sync_to_async(finished_or_dead)(ids):
                await self.turn_done({"turn": turn_id})
            for turn_id, follower in list(self.following.items()):
                if follower.resuming:
                    await self._ask_resume(turn_id, follower.retry())

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


def text_messages(turn_id: int, pieces: list[Piece]) -> list[tuple[str, list[tuple[str, int, bool]]]]:
    """`pieces` as messages that fit (`pack` of their `text_swaps`), each with what it
    carries: (block, characters, whether it sets the block rather than appends)."""
    fragments: list[tuple[str, tuple[str, int, bool]]] = []
    for piece in pieces:
        swaps = text_swaps(turn_id, piece.block, piece.text, replace=piece.replace)
        chunks = [len(piece.text[i : i + TEXT_CHARS]) for i in range(0, len(piece.text), TEXT_CHARS)] or [0]
        fragments += [(swap, (piece.block, chars, piece.replace and k == 0)) for k, (swap, chars) in
                      enumerate(zip(swaps, chunks, strict=True))]  # fmt: skip
    messages: list[tuple[str, list[tuple[str, int, bool]]]] = []
    for message in pack([swap for swap, _ in fragments]):
        carries = []
        at = 0
        while at < len(message):  # pack joins whole fragments, in order
            swap, carried = fragments.pop(0)
            assert message.startswith(swap, at)
            at += len(swap)
            carries.append(carried)
        messages.append((message, carries))
    return messages


def _finished_steps(turn_id: int, step: int) -> list[dict[str, Any]]:
    """The steps before `step` of a streaming turn, as saved before `step` began (the
    run keeps a step in `Turn.steps` from the moment its calls run, so there may be one more)."""
    steps = Turn.objects.filter(pk=turn_id).values_list("steps", flat=True).first()
    return [s for s in steps or [] if isinstance(s, dict)][:step]


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
