"""Joins the catalogue's and toolreplay's migrations (both follow 0007); the integrator
may fold this into a renumbering."""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("playground", "0008_catalogue_fields"),
        ("playground", "0008_toolreplay_replay_policy"),
    ]

    operations: list[migrations.operations.base.Operation] = []
