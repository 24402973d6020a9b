"""`manage.py ask --model LABEL PROMPT`: one turn from the terminal, stored like any other.

It starts the turn the way every entry does (playground.streaming.launch): the
prompt and an empty assistant turn stored, the run driving the adapter,
checkpointing and saving the turn. The live text comes the way a browser gets it,
through the conversation's group on the channel layer (`Launched.deltas`: only
new text, gaps filled). Thinking is printed dimmed on a terminal, then the answer.

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
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser

from playground.conversations.turn_words import status_text
from playground.models import Conversation, ModelProfile, Prompt, Turn
from playground.prompts.answers import structured_answer
from playground.streaming.launch import Question, launch
from playground.streaming.tap import ToolNote
from playground.tools import BadSelection, clean_selection, unknown_servers
from playground.turns.services import BadInput, clean_params, enabled_models
from reasoning.request import EFFORT_LEVELS, REPLAY_POLICIES
from reasoning.toolbox import steps as tool_steps

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

    def tool(self, note: ToolNote) -> None:
        """A tool loop's call, result or next step, on lines of their own."""
        message = note.message
        if self.in_reasoning and self.color:
            self.emit(RESET)
        self.in_reasoning = False
        if note.kind == "tool.args":
            self.emit(f"\n→ {message['name']}({message.get('arguments') or ''})\n")
        elif note.kind == "tool.result":
            where = f" [{message['server']}]" if message.get("server") else ""
            mark = "✗" if message.get("is_error") else "←"
            ms = message.get("duration_ms")
            took = f" ({ms} ms)" if ms is not None else ""
            self.emit(f"{mark} {message['name']}{where}{took}: {message.get('result') or ''}\n")
        elif note.kind == "tool.awaiting":
            self.emit(f"… {message['name']} waits for an answer given by hand\n")
        elif note.kind == "tool.notice":
            self.emit(f"! {message.get('text', '')}\n")
        elif note.kind == "turn.step":
            self.emit("\n")
            self.have = [0, 0]  # the next model call's text starts afresh
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
    structured = structured_answer(turn)
    out = {
        "conversation": turn.conversation_id,
        "turn": turn.pk,
        "reasoning": turn.reasoning,
        "content": turn.content,
        "usage": {
            "prompt_tokens": turn.prompt_tokens,
            "completion_tokens": turn.completion_tokens,
            "reasoning_tokens": turn.reasoning_tokens,
            # True: the provider reported no count; estimated from the reasoning text.
            "reasoning_tokens_estimated": turn.reasoning_tokens_estimated,
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
        "prompt": (turn.params or {}).get("prompt_name"),
        # The model calls of the turn in order (one for a turn without tools); the
        # last step's content is the answer, `content` above.
        "steps": tool_steps.public(turn.steps)
        if turn.steps
        else [{"reasoning": turn.reasoning, "content": turn.content, "tool_calls": []}],
        # What the context did before sending: reasoning kept or left out, repairs,
        # a refusal (reasoning.context.NOTE_KINDS).
        "context_notes": list((turn.sent or {}).get("context_notes") or []),
    }
    if structured is not None:
        out["structured"] = structured.as_dict()
    return out


async def follow(prompt: Question, printer: Printer | None) -> int:
    """Start the turn, print its text as it streams, and wait for its final save;
    returns the turn's id."""
    # A client that lives and closes with this one-shot event loop.
    async with httpx.AsyncClient(
        timeout=httpx.Timeout(settings.UPSTREAM_READ_TIMEOUT, connect=settings.UPSTREAM_CONNECT_TIMEOUT)
    ) as client:
        launched = await launch(prompt, follow=True, client=client)
        try:
            async for piece in launched.deltas(tools=True):
                if printer is None:
                    continue
                if isinstance(piece, ToolNote):
                    printer.tool(piece)
                elif piece.replace and piece.block == "r":
                    printer.reclassified(piece.text, "")  # the answer so far was thinking
                else:
                    printer.write(0 if piece.block == "r" else 1, piece.text)
            await launched.outcome()
        except asyncio.CancelledError:  # Ctrl-C: stop the run and let it save what it has
            if launched.run is not None:
                launched.run.stop()
            await launched.outcome()
            raise
        return launched.turn_id


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
            "--budget", type=int, metavar="N", help="a thinking budget in tokens, where the model takes one"
        )
        parser.add_argument("--temperature", type=float, metavar="T", help="0 to 2, where the model takes one")
        parser.add_argument(
            "--reasoning", choices=["separate", "inline", "hidden"], help="how reasoning is returned (default separate)"
        )
        parser.add_argument(
            "--replay", choices=list(REPLAY_POLICIES),
            help="which earlier reasoning goes back (default: the model's, else its family's)",
        )
        parser.add_argument("--max-tokens", type=int, metavar="N")
        parser.add_argument("--system", metavar="TEXT", help="a system prompt")
        parser.add_argument("--conversation", type=int, metavar="ID", help="continue this conversation")
        parser.add_argument("--user", metavar="NAME", help="default: the first superuser, else a local 'cli' user")
        parser.add_argument("--json", action="store_true", help="print one JSON object when done")
        parser.add_argument(
            "--prompt", dest="prompt_name", metavar="NAME", help="a prompt from the library (yours or a shared one)"
        )
        parser.add_argument(
            "--tools", metavar="SERVER[,SERVER:TOOL…]",
            help="MCP servers (or single tools) the model may call; the conversation keeps them",
        )
        parser.add_argument("--max-steps", type=int, metavar="N", help="model calls a tool loop may make (default 8)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = self.user(options["user"])
        model = self.model(options["model"])
        raw = {
            "thinking": options["thinking"],
            "reasoning_mode": options["reasoning"],
            "replay_policy": options["replay"],
            "effort": options["effort"],
            "budget_tokens": options["budget"],
            "temperature": options["temperature"],
            "max_tokens": options["max_tokens"],
            "system": options["system"],
            "prompt_id": self.prompt(user, options["prompt_name"]).pk if options["prompt_name"] else None,
            "max_steps": options["max_steps"],
        }
        try:
            params = clean_params(raw, model)
        except BadInput as e:
            raise bad(str(e)) from None
        conversation = None
        if options["conversation"] is not None:
            conversation = Conversation.objects.filter(pk=options["conversation"], owner=user).first()
            if conversation is None:
                raise bad(f"{user.username} has no conversation {options['conversation']}")
        tools = self.tools(options["tools"])
        prompt = Question(
            owner=user, model=model, text=options["prompt"], params=params, conversation=conversation, tools=tools
        )
        printer = None
        if not options["json"]:
            printer = Printer(
                lambda text: self.stdout.write(text, ending=""), self.stdout.flush, color=self.stdout.isatty()
            )
        try:
            turn_id = asyncio.run(follow(prompt, printer))
        except BadInput as e:
            raise bad(str(e)) from None
        except KeyboardInterrupt:
            self.stderr.write("\nStopped; the text so far is kept.")
            raise CommandError("interrupted", returncode=130) from None
        turn = Turn.objects.get(pk=turn_id)
        if printer is not None:
            printer.finish(turn)
            summary = self.summary(turn)
            self.stderr.write(f"{DIM}{summary}{RESET}" if self.stderr.isatty() else summary, style_func=str)
        else:
            self.stdout.write(json.dumps(result(turn), ensure_ascii=False))
        if turn.status != Turn.Status.COMPLETE:
            raise CommandError(status_text(turn) or turn.status, returncode=1)

    def user(self, name: str | None) -> User:
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
            labels = enabled_models().values_list("label", flat=True)
            state = "no enabled model" if model is None else "a disabled model"
            raise bad(f"{label!r} is {state}; choose one of: {', '.join(labels) or '(none)'}")
        return model

    def tools(self, raw: str | None) -> list[str] | None:
        if raw is None:
            return None
        try:
            selection = clean_selection(raw)
        except BadSelection as e:
            raise bad(f"--tools: {e}") from None
        if missing := unknown_servers(selection):
            raise bad(f"--tools: no enabled MCP server named {', '.join(missing)} (see the admin, or "
                      "[[mcp_servers]] in `providers import`)")
        return selection

    def prompt(self, user: User, name: str) -> Prompt:
        prompts = Prompt.available_to(user)
        # The user's own prompt wins over a shared one of the same name.
        prompt = prompts.filter(name=name, owner=user).first() or prompts.filter(name=name).first()
        if prompt is None:
            names = ", ".join(repr(p.name) for p in prompts) or "(none)"
            raise bad(f"no prompt {name!r}; choose one of: {names}")
        return prompt

    def summary(self, turn: Turn) -> str:
        parts = [f"conversation {turn.conversation_id}, turn {turn.pk}", turn.status]
        if turn.thinking_ms is not None:
            parts.append(f"thought {turn.thinking_ms / 1000:.1f} s")
        if turn.completion_tokens is not None:
            about = "≈ " if turn.reasoning_tokens_estimated else ""
            parts.append(f"{turn.completion_tokens} tokens ({about}{turn.reasoning_tokens or 0} reasoning)")
        if turn.duration_ms is not None:
            parts.append(f"{turn.duration_ms / 1000:.1f} s")
        if turn.steps:
            calls = sum(len(step.get("tool_calls") or ()) for step in turn.steps)
            parts.append(f"{len(turn.steps)} steps, {calls} tool call{'' if calls == 1 else 's'}")
        if (structured := structured_answer(turn)) is not None:
            parts.append("answer matches the schema" if structured.valid else
                         f"answer does not match the schema: {'; '.join(structured.errors)}")
        return " · ".join(parts)
