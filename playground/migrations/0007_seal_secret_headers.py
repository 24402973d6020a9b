"""Secret extra headers stored before they were sealed are encrypted now, and the
requests kept for the inspector lose any secret header they recorded."""

from __future__ import annotations

from django.db import migrations


def seal(apps, schema_editor):
    from playground.security.secrets import REDACTED, is_public_header, seal_headers

    Provider = apps.get_model("playground", "Provider")
    for provider in Provider.objects.all():
        options = provider.options
        if isinstance(options, dict) and isinstance(options.get("headers"), dict):
            provider.options = {**options, "headers": seal_headers(options["headers"])}
            provider.save(update_fields=["options"])
    Turn = apps.get_model("playground", "Turn")
    for turn in Turn.objects.exclude(sent=None).only("pk", "sent").iterator():
        headers = (turn.sent or {}).get("headers")
        if not isinstance(headers, dict):
            continue
        redacted = {k: v if is_public_header(k) else REDACTED for k, v in headers.items()}
        if redacted != headers:
            Turn.objects.filter(pk=turn.pk).update(sent={**turn.sent, "headers": redacted})


class Migration(migrations.Migration):
    dependencies = [("playground", "0006_api_tokens")]
    operations = [migrations.RunPython(seal, migrations.RunPython.noop)]
