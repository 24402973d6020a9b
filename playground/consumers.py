"""The conversation socket: watches one conversation, sends prompts, stops runs.

It never waits on a run. Frames from the run arrive as group messages with the
offsets of their text; the consumer keeps, per streaming turn, how much of each
block this browser already has, forwards only what is new, and asks the run for
the rest when it sees a gap. So a socket that joins late or drops a frame shows
every character exactly once.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.template.loader import render_to_string

from playground import views_support as support
from playground.models import Conversation, ModelProfile, Turn
from playground.runs import run_group, start_run, stop_run
from playground.turns import BadInput, clean_params, start_exchange

log = logging.getLogger(__name__)


class ConversationConsumer(AsyncWebsocketConsumer):
    conversation: Conversation
    delivered: dict[int, list[int]]  # turn id -> [reasoning chars, content chars] this socket has
    resuming: set[int]

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
        self.delivered = {}
        self.resuming = set()
        await self.channel_layer.group_add(conversation.group_name, self.channel_name)
        await self.accept()
        # The page was rendered from the last checkpoint; its lengths come in the URL.
        for turn_id, r_len, c_len in _parse_resume(self.scope.get("query_string", b"")):
            await self._follow(turn_id, r_len, c_len)

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "conversation"):
            await self.channel_layer.group_discard(self.conversation.group_name, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            data = json.loads(text_data or "{}")
        except json.JSONDecodeError:
            return
        action = data.get("action", "send")
        if action == "stop":
            if turn_id := await self._own_turn(data.get("turn")):
                await stop_run(turn_id)
        elif action == "send":
            await self._send_prompt(data)

    async def _send_prompt(self, data: dict[str, Any]) -> None:
        try:
            exchange = await database_sync_to_async(_start)(self.conversation, data)
        except BadInput as e:
            await self.send(text_data=render_to_string("chat/_notice.html", {"message": str(e)}))
            return
        await self.channel_layer.group_send(
            self.conversation.group_name,
            {"type": "turn.started", "user_turn": exchange[0], "turn": exchange[1]},
        )
        try:
            await start_run(exchange[1])
        except Exception:
            await self.channel_layer.group_send(
                self.conversation.group_name, {"type": "turn.done", "turn": exchange[1]}
            )

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
        html = await database_sync_to_async(support.render_new_exchange)(event["user_turn"], event["turn"])
        self.delivered[event["turn"]] = [0, 0]
        await self.send(text_data=html)

    async def turn_frame(self, event: dict[str, Any]) -> None:
        turn_id = event["turn"]
        have = self.delivered.get(turn_id)
        if have is None:
            return  # a turn this page does not show (another branch) or already finished
        parts = []
        for i, (off, text) in enumerate(((event["r_off"], event["r"]), (event["c_off"], event["c"]))):
            if off > have[i]:
                await self._ask_resume(turn_id)
                continue
            new = text[have[i] - off :]
            if new:
                have[i] += len(new)
                parts.append(support.append_fragment(turn_id, "r" if i == 0 else "c", new))
        if parts:
            self.resuming.discard(turn_id)
            await self.send(text_data="".join(parts))

    async def turn_done(self, event: dict[str, Any]) -> None:
        turn_id = event["turn"]
        if self.delivered.pop(turn_id, None) is None:
            return
        self.resuming.discard(turn_id)
        html = await database_sync_to_async(support.render_turn_oob)(turn_id)
        await self.send(text_data=html)

    # ---- helpers -----------------------------------------------------------------------

    async def _follow(self, turn_id: int, r_len: int, c_len: int) -> None:
        status = await database_sync_to_async(_turn_status)(self.conversation.pk, turn_id)
        if status is None:
            return
        self.delivered[turn_id] = [r_len, c_len]
        if status == Turn.Status.STREAMING:
            await self._ask_resume(turn_id)
        else:  # it finished between the page render and this socket
            await self.turn_done({"turn": turn_id})

    async def _ask_resume(self, turn_id: int) -> None:
        if turn_id in self.resuming:
            return
        self.resuming.add(turn_id)
        r_len, c_len = self.delivered[turn_id]
        await self.channel_layer.group_send(
            run_group(turn_id),
            {"type": "run.resume", "reply_to": self.channel_name, "r_off": r_len, "c_off": c_len},
        )

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


def _turn_status(conversation_id: int, turn_id: int) -> str | None:
    return Turn.objects.filter(pk=turn_id, conversation_id=conversation_id).values_list("status", flat=True).first()


def _start(conversation: Conversation, data: dict[str, Any]) -> tuple[int, int]:
    conversation.refresh_from_db()
    try:
        model = ModelProfile.objects.select_related("provider").get(pk=int(data.get("model") or 0), enabled=True)
    except (ValueError, ModelProfile.DoesNotExist):
        raise BadInput("Choose a model.") from None
    exchange = start_exchange(conversation, str(data.get("prompt", "")), model, clean_params(data, model))
    return exchange.user_turn.pk, exchange.assistant_turn.pk
