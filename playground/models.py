"""Providers and their models (admin-managed), conversations and turns (per user).

A turn keeps reasoning and content apart, with the opaque replay payload some
providers need back, the parameters it ran with, exactly what was sent (keys
redacted), token counts with reasoning apart, timings and cost.
"""

from __future__ import annotations

import contextlib
import dataclasses
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core import validators
from django.db import models
from django.urls import reverse

from playground import crypto
from playground.security import secrets
from reasoning.accepts import capabilities
from reasoning.adapters import PROVIDER_KINDS
from reasoning.catalogue import GATEWAY_NAMES, gateway_of
from reasoning.request import EFFORT_LEVELS, REPLAY_POLICIES, ModelSpec, ProviderConfig, ReasoningStyle

REPLAY_CHOICES = [(p, p) for p in REPLAY_POLICIES]

UNDECRYPTABLE = (
    "cannot be decrypted: FIELD_ENCRYPTION_KEY changed. Enter the key again, or add the old key "
    "after the new one in FIELD_ENCRYPTION_KEY (comma-separated)"
)


def decimal_that_fits(value: Any, field: models.DecimalField[Any, Any]) -> Decimal | None:
    """`value` as a Decimal the column can hold, else None (a cost of "1e999999", NaN,
    or one beyond max_digits would make every later read of the row fail)."""
    try:
        number = Decimal(str(value))
    except (ArithmeticError, ValueError, TypeError):
        return None
    if not number.is_finite():
        return None
    limit = Decimal(10) ** (field.max_digits - field.decimal_places)
    if abs(number) >= limit:
        return None
    return number.quantize(Decimal(1).scaleb(-field.decimal_places))


class Provider(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=32, choices=[(k, k) for k in PROVIDER_KINDS])
    base_url = models.URLField(max_length=300, blank=True)
    # Who serves the models when it is not their family's own API (reasoning.catalogue:
    # Baseten, Friendli, vLLM …); empty: inferred from the base URL's host.
    gateway = models.CharField(
        max_length=32, blank=True, choices=[(g, g) for g in GATEWAY_NAMES],
        help_text="Empty: inferred from the base URL's host (an unknown host is the model family's own API).",
    )
    api_key_encrypted = models.TextField(blank=True, editable=False)
    enabled = models.BooleanField(default=True)
    options = models.JSONField(default=dict, blank=True, help_text="Provider-specific settings")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Secret extra headers are encrypted at rest like the key (security.secrets).
        if isinstance(self.options, dict) and "headers" in self.options:
            self.options = {**self.options, "headers": secrets.seal_headers(self.options["headers"])}
        super().save(*args, **kwargs)

    def set_api_key(self, plaintext: str) -> None:
        self.api_key_encrypted = crypto.encrypt(plaintext)

    @property
    def has_api_key(self) -> bool:
        return bool(self.api_key_encrypted)

    def masked_api_key(self) -> str:
        if not self.has_api_key:
            return ""
        try:
            return crypto.mask(crypto.decrypt(self.api_key_encrypted))
        except ValueError:
            # FIELD_ENCRYPTION_KEY was rotated without keeping the old key: say so (a
            # page that shows the provider must not fail) and what fixes it.
            return UNDECRYPTABLE

    @property
    def effective_gateway(self) -> str:
        """The gateway the catalogue's defaults follow: the one set, else the host's."""
        return self.gateway or gateway_of(self.base_url)

    def config(self) -> ProviderConfig:
        return ProviderConfig(
            kind=self.kind,
            base_url=self.base_url,
            api_key=crypto.decrypt(self.api_key_encrypted),
            options=self.sent_options(),
            gateway=self.gateway,
        )


    def sent_options(self) -> dict[str, Any]:
        options = dict(self.options or {})
        if "headers" in options:
            options["headers"] = secrets.open_headers(options["headers"])
        return options


class ModelProfile(models.Model):
    """One model at one provider, and how it reasons."""

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="models")
    model_id = models.CharField(max_length=200, help_text="The id sent to the provider")
    label = models.CharField(max_length=100, unique=True, help_text="Shown in the UI")
    reasoning = models.CharField(
        max_length=16, choices=[(s.value, s.value) for s in ReasoningStyle], default="native"
    )
    markup = models.CharField(max_length=32, blank=True, help_text="Markup family, e.g. think")
    markup_open = models.CharField(max_length=40, blank=True)
    markup_close = models.CharField(max_length=40, blank=True)
    starts_in_reasoning = models.BooleanField(default=False)
    thinking_control = models.CharField(max_length=40, default="none")
    efforts = models.JSONField(default=list, blank=True, help_text=f"Subset of {EFFORT_LEVELS}")
    supports_budget = models.BooleanField(default=False)
    supports_temperature = models.BooleanField(default=True)
    max_output_tokens = models.PositiveIntegerField(null=True, blank=True)
    context_window = models.PositiveIntegerField(null=True, blank=True)
    # USD per million tokens; reasoning tokens are billed as output.
    price_input = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    price_output = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    # Which stored reasoning goes back to the model (reasoning.context): "" = the
    # catalogue's default for the family.
    replay = models.CharField(
        max_length=12, blank=True, default="", choices=REPLAY_CHOICES,
        help_text="Reasoning sent back: strip, interleaved (inside a tool loop) or preserved; empty = family default",
    )
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model_id"], name="unique_model_per_provider")
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def source(self) -> str:
        return f"{self.provider.kind}:{self.model_id}"

    @property
    def supports_thinking_toggle(self) -> bool:
        return self.thinking_control != "none" or self.provider.kind == "simulator"

    def spec(self) -> ModelSpec:
        tags = (self.markup_open, self.markup_close) if self.markup_open else None
        return ModelSpec(
            model_id=self.model_id,
            reasoning=ReasoningStyle(self.reasoning),
            markup=self.markup or None,
            markup_tags=tags,
            starts_in_reasoning=self.starts_in_reasoning,
            thinking_control=self.thinking_control,
            efforts=tuple(self.efforts or ()),
            options={**(self.options or {}), "replay": self.replay} if self.replay else (self.options or {}),
        )

    def accepts(self) -> dict[str, tuple[str, ...] | str]:
        """Each control with what this model takes, or why not (reasoning.accepts)."""
        return capabilities(
            self.provider.kind,
            self.spec(),
            supports_budget=self.supports_budget,
            supports_temperature=self.supports_temperature,
        )

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> Decimal | None:
        if self.price_input is None and self.price_output is None:
            return None
        million = Decimal(1_000_000)
        return (
            (self.price_input or 0) * (prompt_tokens or 0)
            + (self.price_output or 0) * (completion_tokens or 0)
        ) / million


class Prompt(models.Model):
    """A named prompt in a user's library: a system prompt, optional thinking
    instructions, optional JSON Schema for the final answer.

    With `chain_of_thought` on it is a chain-of-thought prompt (reasoning.cot):
    `thinking_instructions`, or the default ones when empty. Built-in prompts have
    no owner and are offered to everyone.
    """

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="prompts"
    )
    name = models.CharField(max_length=100)
    system = models.TextField(blank=True)
    chain_of_thought = models.BooleanField(default=False)
    thinking_instructions = models.TextField(blank=True)
    schema = models.JSONField(null=True, blank=True, help_text="JSON Schema the final answer must match")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["owner_id", "name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="unique_prompt_name_per_owner"),
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(owner__isnull=True), name="unique_builtin_prompt_name"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def builtin(self) -> bool:
        return self.owner_id is None

    @classmethod
    def available_to(cls, user: Any) -> models.QuerySet[Prompt]:
        return cls.objects.filter(models.Q(owner=user) | models.Q(owner__isnull=True)).order_by(
            models.F("owner_id").asc(nulls_first=True), "name"
        )

    def snapshot(self) -> dict[str, Any]:
        """What a turn keeps of its prompt (the prompt may change later)."""
        snap: dict[str, Any] = {"prompt_id": self.pk, "prompt_name": self.name}
        if self.system.strip():
            snap["prompt_system"] = self.system
        if self.chain_of_thought:
            snap["thinking_instructions"] = self.thinking_instructions
        if self.schema is not None:
            snap["schema"] = self.schema
        return snap


class ToolSet(models.Model):
    """A named set of functions in a user's library, loaded into a conversation like
    a prompt (playground.turns.functions has the shape)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tool_sets")
    name = models.CharField(max_length=100)
    functions = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="unique_tool_set_name_per_owner")]

    def __str__(self) -> str:
        return self.name


class Conversation(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=200, default="New conversation")
    # Where the conversation came from: "" (the playground) or "api" (a request to the
    # OpenAI-compatible API, listed in the sidebar's API folder).
    origin = models.CharField(max_length=8, blank=True, default="")
    model = models.ForeignKey(ModelProfile, null=True, blank=True, on_delete=models.SET_NULL)
    # The prompt the conversation was started with (its turns keep a snapshot).
    prompt = models.ForeignKey(Prompt, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # Per-conversation controls (thinking, effort, budget, max tokens, temperature, system).
    settings = models.JSONField(default=dict, blank=True)
    # The last turn of the branch on show; new prompts continue from it.
    leaf = models.ForeignKey(
        "Turn", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Pinned conversations head the sidebar, whatever their age.
    pinned = models.BooleanField(default=False)
    # A read-only link (/s/<token>/) that needs no login; None: not shared.
    share_token = models.CharField(max_length=64, null=True, blank=True, unique=True, editable=False)
    share_reasoning = models.BooleanField(default=False)
    # The tools offered to the model in this conversation's turns: MCP server names
    # ("clock": all its tools) or single tools ("clock:now"). See playground.tools.
    tools = models.JSONField(default=list, blank=True)
    # Functions the user answers by hand (playground.turns.functions): each
    # {"name", "description", "parameters": JSON Schema, "returns": JSON Schema or absent}.
    functions = models.JSONField(default=list, blank=True)
    # Overrides the model's replay policy for this conversation's next turns ("" = the model's).
    replay_policy = models.CharField(max_length=12, blank=True, default="", choices=REPLAY_CHOICES)

    class Meta:
        ordering = ["-updated_at"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("conversation", args=[self.pk])

    @property
    def group_name(self) -> str:
        return f"conversation-{self.pk}"


class Turn(models.Model):
    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"

    class Status(models.TextChoices):
        STREAMING = "streaming"
        COMPLETE = "complete"
        STOPPED = "stopped"
        INTERRUPTED = "interrupted"
        ERROR = "error"
        # A tool loop paused on a call whose result a person gives (playground.streaming.toolrun).
        AWAITING_TOOL = "awaiting_tool"

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="turns")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    content = models.TextField(blank=True)
    reasoning = models.TextField(blank=True)
    replay = models.JSONField(null=True, blank=True)
    # A tool loop's steps in order (reasoning.toolbox.steps has the shape); empty for a
    # turn that called no tool. `reasoning`/`content` are then the last step's.
    steps = models.JSONField(default=list, blank=True)
    model = models.ForeignKey(ModelProfile, null=True, blank=True, on_delete=models.SET_NULL)
    model_label = models.CharField(max_length=100, blank=True)  # kept if the model is deleted
    source = models.CharField(max_length=240, blank=True)  # "kind:model_id" that produced it
    params = models.JSONField(default=dict, blank=True)
    sent = models.JSONField(null=True, blank=True)  # the request as sent, keys redacted
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.COMPLETE)
    error = models.JSONField(null=True, blank=True)
    finish_reason = models.CharField(max_length=32, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    reasoning_tokens = models.PositiveIntegerField(null=True, blank=True)
    # The provider reported no reasoning count: reasoning_tokens is estimated from the
    # reasoning text (reasoning.tokens), and shown as "≈ N".
    reasoning_tokens_estimated = models.BooleanField(default=False)
    cached_tokens = models.PositiveIntegerField(null=True, blank=True)
    cost = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    # Milliseconds from the request being sent.
    first_reasoning_ms = models.PositiveIntegerField(null=True, blank=True)
    first_content_ms = models.PositiveIntegerField(null=True, blank=True)
    thinking_ms = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Bumped by every checkpoint: a "streaming" turn whose heartbeat is stale
    # belongs to a process that died.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Whose provider key paid for it (USER_PROVIDER_KEYS): "user" with the key, or
    # "site" (the admin's key); blank on turns from before. "user" stays when the key is deleted.
    key_source = models.CharField(max_length=8, blank=True)
    user_key = models.ForeignKey(
        "UserProviderKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="turns"
    )
    # The worker process generating it (Worker.name): if that worker stops beating,
    # the surviving workers mark the turn interrupted (operations.heartbeat).
    worker = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        ordering = ["created_at", "pk"]
        indexes = [
            models.Index(fields=["status", "heartbeat_at"]),
            # A start counts the owner's answers of the last minute (turns.services.runs_allowed):
            # this minute's rows of everyone, not every answer the owner ever had.
            models.Index(fields=["created_at"], name="turn_created_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.role} turn {self.pk}"

    @property
    def is_streaming(self) -> bool:
        return self.status == self.Status.STREAMING

    @property
    def answer_tokens(self) -> int | None:
        if self.completion_tokens is None:
            return None
        if self.reasoning_tokens is None and self.reasoning:
            # The provider reasoned but did not say how much (Ollama, older Anthropic):
            # the completion count holds both, and how it splits is unknown.
            return None
        return self.completion_tokens - (self.reasoning_tokens or 0)

    @property
    def answer_tokens_per_second(self) -> float | None:
        tokens = self.answer_tokens
        if not tokens or self.duration_ms is None or self.first_content_ms is None:
            return None
        seconds = (self.duration_ms - self.first_content_ms) / 1000
        return tokens / seconds if seconds > 0 else None

    def metrics(self) -> dict[str, Any]:
        return {
            "first_reasoning_ms": self.first_reasoning_ms,
            "first_content_ms": self.first_content_ms,
            "thinking_ms": self.thinking_ms,
            "duration_ms": self.duration_ms,
        }


# ---- Comparisons: one prompt over several conversations ------------------------------

COLUMN_LETTERS = "ABCDEF"


class Comparison(models.Model):
    """One prompt sent to 2–6 columns at once; each column is an ordinary,
    owner-scoped Conversation with its own model and controls.

    In a blind comparison the columns are shuffled and shown as "Model A/B/…"
    until the owner votes (or reveals); `revealed_at` ends the blindness.
    """

    is_comparison = True  # tells the sidebar's one list of chats and comparisons apart

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    title = models.CharField(max_length=200, default="New comparison")
    blind = models.BooleanField(default=False)
    same_settings = models.BooleanField(default=False)
    revealed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("compare_detail", args=[self.pk])

    @property
    def labels_hidden(self) -> bool:
        return self.blind and self.revealed_at is None


class ComparisonColumn(models.Model):
    """The link between a comparison and one of its conversations, in screen order."""

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="columns")
    conversation = models.OneToOneField(
        Conversation, on_delete=models.CASCADE, related_name="comparison_column"
    )
    position = models.PositiveSmallIntegerField()
    model = models.ForeignKey(ModelProfile, null=True, on_delete=models.SET_NULL, related_name="+")
    params = models.JSONField(default=dict, blank=True)
    # What the leaderboard ranks: the model's label and the controls that change
    # how it thinks ("Model X · effort high"), kept if the model is deleted.
    entrant = models.CharField(max_length=200)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "position"], name="unique_column_position")
        ]

    def __str__(self) -> str:
        return f"{self.comparison_id}/{self.letter}"

    @property
    def letter(self) -> str:
        return COLUMN_LETTERS[self.position]

    @property
    def blind_name(self) -> str:
        return f"Model {self.letter}"


class Vote(models.Model):
    """The owner's verdict on one round (the n-th prompt) of a comparison.

    With two columns the choices read "A better / B better / tie / both bad";
    with more, "best is X / tie / all bad". For ranking, a "best" vote counts as
    a win of the winner over every other column, a tie or "all bad" as a tie
    between every pair (leaderboard.pairwise_outcomes).
    """

    class Outcome(models.TextChoices):
        BEST = "best"
        TIE = "tie"
        ALL_BAD = "all_bad"

    comparison = models.ForeignKey(Comparison, on_delete=models.CASCADE, related_name="votes")
    round = models.PositiveIntegerField()  # 1-based index of the prompt voted on
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    winner = models.ForeignKey(
        ComparisonColumn, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # Whether the labels were still hidden when the vote was cast.
    blind = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["round"]
        constraints = [
            models.UniqueConstraint(fields=["comparison", "round"], name="one_vote_per_round")
        ]

    def __str__(self) -> str:
        return f"vote on {self.comparison_id} round {self.round}: {self.outcome}"


class Preferences(models.Model):
    """One user's own settings, shown on /settings/.

    One row per user, made on first use (`Preferences.of(user)`), so a feature that
    adds a setting adds a field with a default and nothing else.
    """

    class Theme(models.TextChoices):
        SYSTEM = "system", "Follow the system"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.SYSTEM)
    # Enter sends and Shift+Enter makes a new line; off swaps them (Ctrl+Enter sends).
    enter_sends = models.BooleanField(default=True)
    # The model a new chat starts with; None means the first enabled model.
    default_model = models.ForeignKey(
        ModelProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Requests made through the OpenAI-compatible API are kept as conversations.
    store_api_requests = models.BooleanField(default=True)
    # Images in model output that point at another host load only when this is on.
    load_remote_images = models.BooleanField(default=False)
    # The model picker's starred models (ModelProfile ids, in the order starred): kept
    # here, not in the browser, so they follow the user to another browser or device.
    favourite_models = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"

    @classmethod
    def of(cls, user: Any) -> Preferences:
        # Loaded with the user already (select_related("user__preferences"), as the
        # API's token lookup does): no query of its own.
        related = getattr(type(user), "preferences", None)
        if related is not None and related.is_cached(user):
            with contextlib.suppress(cls.DoesNotExist):
                preferences: Preferences = user.preferences
                return preferences
        preferences, _ = cls.objects.get_or_create(user=user)
        return preferences


class Rating(models.Model):
    """The owner's thumbs up or down, with an optional note, on one assistant turn."""

    class Value(models.IntegerChoices):
        UP = 1, "👍"
        DOWN = -1, "👎"

    turn = models.OneToOneField(Turn, on_delete=models.CASCADE, related_name="rating")
    value = models.SmallIntegerField(choices=Value.choices)
    note = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"rating {self.value:+d} of turn {self.turn_id}"


class ApiToken(models.Model):
    """A bearer token for the OpenAI-compatible API, owned by one user.

    Only a SHA-256 of the secret is stored (the secret is 256 random bits, so a slow
    hash would add nothing); the secret is shown once, when made. `prefix` is the
    secret's first characters, enough to tell tokens apart in a list. Revoking
    keeps the row (who had access, and when it was last used) and takes effect at
    once: every request looks the token up.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    prefix = models.CharField(max_length=16, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.name or 'token'} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class McpServer(models.Model):
    """An MCP server whose tools a conversation may offer to its model (admin only).

    stdio: `command` with `args`, run with `env` and nothing else of ours (see
    reasoning.toolbox.mcp); streamable HTTP: `url`. Values in `env` are encrypted
    at rest like provider keys (they often hold a token)."""

    name = models.CharField(
        max_length=64, unique=True, validators=[validators.RegexValidator(r"^[A-Za-z0-9_-]+$")],
        help_text="letters, digits, - and _",
    )
    command = models.CharField(max_length=500, blank=True, help_text="stdio: the program to run")
    args = models.JSONField(default=list, blank=True, help_text="stdio: its arguments, a JSON list of strings")
    env = models.JSONField(default=dict, blank=True, help_text="stdio: its whole environment (PATH is added)")
    url = models.URLField(max_length=500, blank=True, help_text="streamable HTTP: the endpoint, e.g. http://host/mcp")
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "MCP server"

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        if isinstance(self.env, dict):
            self.env = {str(k): _sealed(v) for k, v in self.env.items()}
        super().save(*args, **kwargs)

    def opened_env(self) -> dict[str, str]:
        return {k: _opened(v) for k, v in (self.env or {}).items()}


def _sealed(value: Any) -> str:
    text = str(value)
    return text if text.startswith(secrets.SEALED) else secrets.SEALED + crypto.encrypt(text)


def _opened(value: Any) -> str:
    text = str(value)
    return crypto.decrypt(text[len(secrets.SEALED) :]) if text.startswith(secrets.SEALED) else text


class GatewayReplay(models.Model):
    """What /v1 returned with a tool call that the standard fields cannot carry back
    (signed thinking blocks, encrypted reasoning items, Gemini's signatures: the step's
    replay data), kept so that a client sending back only the standard fields plus
    `reasoning_content` still gets exact replay (playground.api.replay_store).

    One row per call of the step, all with the step's data, found by the call's id and
    only for the token that received it; gone after GATEWAY_REPLAY_TTL."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="+")
    call_id = models.CharField(max_length=200)
    step = models.CharField(max_length=32)  # the step's calls share it
    source = models.CharField(max_length=240)  # "kind:model_id" that produced the step
    calls = models.JSONField(default=list)  # the step's calls as returned: [{id, name, arguments}]
    reasoning = models.TextField(blank=True)
    replay = models.JSONField(null=True, blank=True)  # reasoning.replay's stored shape
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "call_id"], name="unique_gateway_replay_call")]

    def __str__(self) -> str:
        return f"{self.call_id} ({self.source})"


class OidcIdentity(models.Model):
    """Who a user is at an OpenID Connect provider: (issuer, subject), never the e-mail
    address (an IdP account must not take over a local account sharing its address)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities")
    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique")]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"


class UserProviderKey(models.Model):
    """A user's own key for a provider (USER_PROVIDER_KEYS): encrypted like the admin's,
    used for that user's turns only, and the turns it paid for point back to it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys")
    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="user_keys")
    api_key_encrypted = models.TextField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "provider"], name="one_key_per_user_and_provider")]

    def __str__(self) -> str:
        return f"{self.user_id}'s key for {self.provider_id}"

    def set_api_key(self, plaintext: str) -> None:
        self.api_key_encrypted = crypto.encrypt(plaintext)

    def masked_api_key(self) -> str:
        try:
            return crypto.mask(crypto.decrypt(self.api_key_encrypted))
        except ValueError:
            return UNDECRYPTABLE

    def config(self) -> ProviderConfig:
        """The provider's settings with this key in place of the admin's."""
        return dataclasses.replace(self.provider.config(), api_key=crypto.decrypt(self.api_key_encrypted))
# Effort sweeps live in their own module; importing them here makes them this app's models.
from playground.arena.models import ArenaBattle, ArenaEntrant  # noqa: E402,F401
from playground.sweeps.models import Sweep, SweepRun  # noqa: E402,F401


class Worker(models.Model):
    """A server process, alive while `beat_at` is recent (operations.heartbeat)."""

    name = models.CharField(max_length=100, primary_key=True)  # host:pid:random
    started_at = models.DateTimeField(auto_now_add=True)
    beat_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name
