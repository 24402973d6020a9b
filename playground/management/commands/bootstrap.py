"""First-run set-up for `make run`: the offline simulator, a first login, and
turns left streaming by a previous process marked interrupted. Idempotent."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from playground.models import ModelProfile, Provider
from playground.prompts.builtins import ensure_builtin_prompts
from playground.turns.liveness import mark_interrupted

SIMULATOR_MODELS: list[dict[str, Any]] = [
    {
        "label": "Offline simulator",
        "model_id": "simulator",
        "efforts": ["low", "medium", "high"],
        "options": {},
    },
    {
        "label": "Offline simulator (long thoughts)",
        "model_id": "simulator-long",
        "efforts": ["low", "medium", "high"],
        "options": {"reasoning_tokens": 3000, "tokens_per_second": 400},
    },
]


def seed_simulator() -> Provider:
    provider, _ = Provider.objects.get_or_create(
        name="offline", defaults={"kind": "simulator", "base_url": ""}
    )
    for position, spec in enumerate(SIMULATOR_MODELS):
        ModelProfile.objects.get_or_create(
            provider=provider,
            model_id=spec["model_id"],
            defaults={
                "label": spec["label"],
                "reasoning": "markup",
                "markup": "think",
                "thinking_control": "simulator",
                "efforts": spec["efforts"],
                "supports_budget": False,
                "options": spec["options"],
                "position": position,
            },
        )
    return provider


class Command(BaseCommand):
    help = "Seed the offline simulator, create a first admin if there is no user, sweep dead turns."

    def handle(self, *args: Any, **options: Any) -> None:
        seed_simulator()
        ensure_builtin_prompts()
        User = get_user_model()
        if not User.objects.exists():
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser("admin", "", password)
            port = os.environ.get("PORT") or 8000  # `make run` serves on $PORT, 8000 unless set
            self.stdout.write(
                self.style.SUCCESS(
                    f"\nCreated the first user. Log in at http://127.0.0.1:{port}/login/ with\n"
                    f"    username: admin\n    password: {password}\n"
                    "This is shown once; change it with `python manage.py changepassword admin`.\n"
                )
            )
        if n := mark_interrupted():
            self.stdout.write(f"Marked {n} turn(s) left streaming by a stopped server as interrupted.")
