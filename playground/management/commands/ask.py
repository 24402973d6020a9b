"""`manage.py ask --model LABEL PROMPT`: one turn from the terminal, stored like any other.

It runs the browser's machinery: `turns.start_exchange` stores the prompt and an
empty assistant turn, `runs.start_run` drives the adapter, checkpoints and saves
the turn. The live text comes the way a browser gets it: this command joins the
conversation's group on the channel layer and prints the frames (only the new
text, by their offsets). Thinking is printed dimmed on a terminal, then the answer.

`--json` prints one object instead (see `result()`). Exit status: 0 on success,
1 when the provider failed (the JSON still says how), 2 for bad arguments,
130 when interrupted (the partial turn is kept as "stopped").

Without `--user` the turn belongs to the first superuser, or, when there is none,
to a local user "cli" created with no usable password.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Model

from playground.conversations.services import BadInput, clean_params, start_exchange
from playground.models import Conversation, ModelProfile, Turn
from playground.streaming.run import start_run
from playground.templatetags.playground import status_text
from reasoning.request import EFFORT_LEVELS

DIM, RESET = "\x1b[2m", "\x1b[0m"


def bad(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Printer:
    """Writes a turn's text as it arrives: thinking first (dimmed on a terminal), then the answer."""

    def __init__(self, write: Callable[[str], None], flush: Callable[[], None], *, color: bool) -> None:
        self.emit = write
        self.flush = flush
        self.color = color
        self.have = [0, 0]  # characters of reasoning and content printed so far
        self.in_reasoning = False

    def frame(self, r_off: int, r: str, c_off: int, c: str) -> None:
        for i, (off, text) in enumerate(((r_off, r), (c_off, c))):
            if off > self.have[i]:
                continue  # a gap (a dropped frame): the stored text fills it at the end
            self.write(i, text[self.have[i] - off :])

    def reclassified(self, r: str, c: str) -> None:
        """The answer printed so far was thinking (a close tag with no open tag). A
        terminal cannot take it back: say so, and go on from the run's new texts."""
        if self.in_reasoning and self.color:
            self.emit(RESET)
        self.emit("\n[the text above was thinking]\n\n")
        self.in_reasoning = False
        self.have = [len(r), 0]
        self.write(1, c)

    def write(self, block: int, new: str) -> None:
        if not new:
            return
        if block == 0 and not self.in_reasoning:
            self.in_reasoning = True
            if self.color:
                self.emit(DIM)
            else:
                self.emit("Thinking:\n")
        if block == 1 and self.in_reasoning:
            self.in_reasoning = False
            self.emit((RESET if self.color else "") + "\n\n" + ("" if self.color else "Answer:\n"))
        self.have[block] += len(new)
        self.emit(new)
        self.flush()

    def finish(self, turn: Turn) -> None:
        """Print what the frames did not carry, from the stored turn."""
        if self.have[0] < len(turn.reasoning) and not self.have[1]:
            self.write(0, turn.reasoning[self.have[0] :])
        self.write(1, turn.content[self.have[1] :])
        if self.in_reasoning and self.color:
            self.emit(RESET)
        if self.have[0] or self.have[1]:
            self.emit("\n")
        self.flush()


def result(turn: Turn) -> dict[str, Any]:
    return {
        "conversation": turn.conversation_id,
        "turn": turn.pk,
        "reasoning": turn.reasoning,
        "content": turn.content,
        "usage": {
            "prompt_tokens": turn.prompt_tokens,
            "completion_tokens": turn.completion_tokens,
            "reasoning_tokens": turn.reasoning_tokens,
        },
        "finish_reason": turn.finish_reason or None,
        "status": turn.status,
        "error": (
            {
                "kind": turn.error.get("kind", "unknown"),
                "message": turn.error.get("message", ""),
                "status_code": turn.error.get("status_code"),
                # Seconds the provider asked to wait (a 429's Retry-After), or None.
                "retry_after": turn.error.get("retry_after"),
            }
            if turn.error
            else None
        ),
        "timings": turn.metrics(),
    }


async def follow(turn_id: int, group: str, printer: Printer | None) -> None:
    """Start the run, print its frames until it is done, and wait for its final save."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    # A client that lives and closes with this one-shot event loop.
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(settings.UPSTREAM_READ_TIMEOUT, connect=settings.UPSTREAM_CONNECT_TIMEOUT)
    ) as client:
        run = await start_run(turn_id, client=client)
        assert run.task is not None
        try:
            while True:
                message = await layer.receive(channel)
                if message.get("turn") != turn_id:
                    continue
                if message["type"] == "turn.frame" and printer is not None:
                    printer.frame(message["r_off"], message["r"], message["c_off"], message["c"])
                elif message["type"] == "turn.reclassified" and printer is not None:
                    printer.reclassified(message["r"], message["c"])
                elif message["type"] == "turn.done":
                    break
            await run.task
        except asyncio.CancelledError:  # Ctrl-C: stop the run and let it save what it has
            run.stop()
            await asyncio.shield(run.task)
            raise
        finally:
            await layer.group_discard(group, channel)


class Command(BaseCommand):
    help = "Ask a model one question from the terminal; the turn is stored like a browser's."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("prompt", metavar="PROMPT")
        parser.add_argument("--model", required=True, metavar="LABEL", help="a model's label")
        parser.add_argument(
            "--effort", metavar="LEVEL", help=f"one of the model's efforts ({', '.join(EFFORT_LEVELS)})"
        )
        parser.add_argument("--thinking", choices=["on", "off"])
        parser.add_argument(
            "--reasoning", choices=["separate", "inline", "hidden"], help="how reasoning is returned (default separate)"
        )
        parser.add_argument("--max-tokens", type=int, metavar="N")
        parser.add_argument("--system", metavar="TEXT", help="a system prompt")
        parser.add_argument("--conversation", type=int, metavar="ID", help="continue this conversation")
        parser.add_argument("--user", metavar="NAME", help="default: the first superuser, else a local 'cli' user")
        parser.add_argument("--json", action="store_true", help="print one JSON object when done")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self.user(options["user"])
        model = self.model(options["model"])
        raw = {
            "thinking": options["thinking"],
            "reasoning_mode": options["reasoning"],
            "effort": options["effort"],
            "max_tokens": options["max_tokens"],
            "system": options["system"],
        }
        try:
            params = clean_params(raw, model)
        except BadInput as e:
            raise bad(str(e)) from None
        if options["conversation"] is not None:
            conversation = Conversation.objects.filter(pk=options["conversation"], owner=user).first()
            if conversation is None:
                raise bad(f"{user.username} has no conversation {options['conversation']}")
            created = False
        else:
            conversation = Conversation.objects.create(owner=user, model=model)
            created = True
        try:
            exchange = start_exchange(conversation, options["prompt"], model, params)
        except BadInput as e:
            if created:
                conversation.delete()
            raise bad(str(e)) from None

        turn_id = exchange.assistant_turn.pk
        printer = None
        if not options["json"]:
            printer = Printer(
                lambda text: self.stdout.write(text, ending=""), self.stdout.flush, color=self.stdout.isatty()
            )
        try:
            asyncio.run(follow(turn_id, conversation.group_name, printer))
        except KeyboardInterrupt:
            self.stderr.write("\nStopped; the text so far is kept.")
            raise CommandError("interrupted", returncode=130) from None
        except Exception:
            # A request that could not be built ends the turn with its reason (start_run);
            # anything that left the turn streaming is a bug worth its traceback.
            if Turn.objects.get(pk=turn_id).status == Turn.Status.STREAMING:
                raise
        turn = Turn.objects.get(pk=turn_id)
        if printer is not None:
            printer.finish(turn)
            summary = self.summary(turn)
            self.stderr.write(f"{DIM}{summary}{RESET}" if self.stderr.isatty() else summary, style_func=str)
        else:
            self.stdout.write(json.dumps(result(turn), ensure_ascii=False))
        if turn.status != Turn.Status.COMPLETE:
            raise CommandError(status_text(turn) or turn.status, returncode=1)

    def user(self, name: str | None) -> Model:
        User = get_user_model()
        if name is not None:
            user = User.objects.filter(username=name).first()
            if user is None:
                raise bad(f"no user {name!r}")
            return user
        first_admin = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
        if first_admin is not None:
            return first_admin
        user, created = User.objects.get_or_create(username="cli")
        if created:
            user.set_unusable_password()
            user.save()
        return user

    def model(self, label: str) -> ModelProfile:
        model = ModelProfile.objects.select_related("provider").filter(label=label).first()
        if model is None or not model.enabled or not model.provider.enabled:
            labels = ModelProfile.objects.filter(enabled=True, provider__enabled=True).values_list(
                "label", flat=True
            )
            state = "no enabled model" if model is None else "a disabled model"
            raise bad(f"{label!r} is {state}; choose one of: {', '.join(labels) or '(none)'}")
        return model

    def summary(self, turn: Turn) -> str:
        parts = [f"conversation {turn.conversation_id}, turn {turn.pk}", turn.status]
        if turn.thinking_ms is not None:
            parts.append(f"thought {turn.thinking_ms / 1000:.1f} s")
        if turn.completion_tokens is not None:
            parts.append(f"{turn.completion_tokens} tokens ({turn.reasoning_tokens or 0} reasoning)")
        if turn.duration_ms is not None:
            parts.append(f"{turn.duration_ms / 1000:.1f} s")
        return " · ".join(parts)
