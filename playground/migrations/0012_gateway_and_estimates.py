"""The catalogue's fields: a provider's gateway (empty: inferred from its base URL), and
whether a turn's reasoning-token count is an estimate."""

from __future__ import annotations

from django.db import migrations, models

from reasoning.catalogue import GATEWAY_NAMES


class Migration(migrations.Migration):
    dependencies = [
        ("playground", "0011_functions_and_tool_sets"),
    ]

    operations = [
        migrations.AddField(
            model_name="provider",
            name="gateway",
            field=models.CharField(
                blank=True,
                choices=[(g, g) for g in GATEWAY_NAMES],
                help_text="Empty: inferred from the base URL's host (an unknown host is the model family's own API).",
                max_length=32,
            ),
        ),
        migrations.AddField(
            model_name="turn",
            name="reasoning_tokens_estimated",
            field=models.BooleanField(default=False),
        ),
    ]
