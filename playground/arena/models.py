"""The arena's pool: which models, at which thinking setting, battle each other.

An entrant is a model plus the controls that change how it thinks (effort, thinking
on/off, budget), named as compare names its columns (`entrant_name`), so pool votes and
hand-set-up votes rank the same entrants. A battle is a blind two-column comparison
whose contenders the pool drew; its votes are ranked apart from hand-set-up ones.
Imported by playground.models, so these are models of the `playground` app.
"""

from __future__ import annotations

from django.db import models

from playground.naming import entrant_name


class ArenaEntrant(models.Model):
    model = models.ForeignKey("playground.ModelProfile", on_delete=models.CASCADE, related_name="+")
    params = models.JSONField(default=dict, blank=True, help_text='e.g. {"effort": "high"} or {"thinking": "off"}')
    name = models.CharField(max_length=200, editable=False)  # what the leaderboard ranks
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["name"], name="arena_entrant_unique_name")]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: object, **kwargs: object) -> None:
        self.name = entrant_name(self.model, self.params or {})
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class ArenaBattle(models.Model):
    comparison = models.OneToOneField("playground.Comparison", on_delete=models.CASCADE, related_name="battle")
    first = models.ForeignKey(ArenaEntrant, null=True, on_delete=models.SET_NULL, related_name="+")
    second = models.ForeignKey(ArenaEntrant, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"battle {self.pk}"
