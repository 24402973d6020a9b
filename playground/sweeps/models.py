"""Effort sweeps: one prompt, one model, several thinking levels, a few repeats each.

Each run is an ordinary stored turn in a conversation of its own (origin "sweep", kept
out of the chat list), so the Raw view, the request inspector and datasets work on it.
Imported by playground.models, so these are models of the `playground` app.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse


class Sweep(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running"
        STOPPED = "stopped"
        DONE = "done"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sweeps")
    model = models.ForeignKey("playground.ModelProfile", null=True, on_delete=models.SET_NULL, related_name="+")
    model_label = models.CharField(max_length=100)  # kept if the model is deleted
    prompt = models.TextField()  # may hold {{name}} variables filled from each of `inputs`
    inputs = models.JSONField(default=list, blank=True)  # [{"name": "value"}, …]; [] = the prompt as is
    # Controls shared by every level (system, prompt_id, max_tokens).
    params = models.JSONField(default=dict, blank=True)
    levels = models.JSONField(default=list)  # "off", an effort ("low"…), or "budget:N"
    repeats = models.PositiveSmallIntegerField(default=3)
    grader = models.JSONField(default=dict)  # reasoning.grading.check_grader
    concurrency = models.PositiveSmallIntegerField(default=3)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    source_turn = models.ForeignKey("playground.Turn", null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    # The runner's lease: a sweep "running" whose heartbeat is stale has no live runner
    # (the process died): the next one to look at it resumes it.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"sweep {self.pk}: {self.model_label}"

    def get_absolute_url(self) -> str:
        return reverse("sweep_detail", args=[self.pk])

    @property
    def title(self) -> str:
        return self.prompt.strip().splitlines()[0][:80] if self.prompt.strip() else "Sweep"


class SweepRun(models.Model):
    class State(models.TextChoices):
        PENDING = "pending"  # not started (or to start again after a restart)
        RUNNING = "running"
        DONE = "done"  # answered (complete or not) and graded or ungraded
        STOPPED = "stopped"

    sweep = models.ForeignKey(Sweep, on_delete=models.CASCADE, related_name="runs")
    level = models.CharField(max_length=40)
    input_index = models.PositiveSmallIntegerField(default=0)
    repeat = models.PositiveSmallIntegerField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    conversation = models.ForeignKey("playground.Conversation", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    turn = models.ForeignKey("playground.Turn", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attempts = models.PositiveSmallIntegerField(default=0)
    score = models.FloatField(null=True, blank=True)  # None: ungraded
    grade_detail = models.TextField(blank=True)
    reasoning_score = models.FloatField(null=True, blank=True)  # "judge the reasoning too"
    judge_turn = models.ForeignKey("playground.Turn", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    reasoning_judge_turn = models.ForeignKey("playground.Turn", null=True, blank=True, on_delete=models.SET_NULL,
                                             related_name="+")

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"sweep {self.sweep_id} {self.level} #{self.repeat + 1}"

    @property
    def graded(self) -> bool:
        return self.score is not None

    def as_row(self) -> dict[str, Any]:
        turn = self.turn
        return {
            "level": self.level,
            "input": self.input_index,
            "repeat": self.repeat + 1,
            "state": self.state,
            "turn": self.turn_id,
            "status": turn.status if turn else None,
            "score": self.score,
            "grade": self.grade_detail,
            "reasoning_score": self.reasoning_score,
            "reasoning_tokens": turn.reasoning_tokens if turn else None,
            "answer_tokens": turn.answer_tokens if turn else None,
            "seconds": turn.duration_ms / 1000 if turn and turn.duration_ms is not None else None,
            "cost": float(turn.cost) if turn and turn.cost is not None else None,
        }
