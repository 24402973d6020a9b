"""`manage.py rotate_encryption_key`: re-encrypt every secret at rest with the newest key.

    python manage.py rotate_encryption_key --generate      # prints a new key
    FIELD_ENCRYPTION_KEY="NEW,OLD" python manage.py rotate_encryption_key
    FIELD_ENCRYPTION_KEY="NEW" ...                          # from now on

Provider keys and sealed extra headers are decrypted with whichever configured key
opens them and encrypted again with the first. All in one transaction: a secret no
configured key opens stops the command and nothing is changed.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from playground import crypto
from playground.models import Provider
from playground.security.secrets import reseal_headers


class Command(BaseCommand):
    help = "Re-encrypt provider keys and secret headers with the first key of FIELD_ENCRYPTION_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--generate", action="store_true", help="print a new key and change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["generate"]:
            self.stdout.write(Fernet.generate_key().decode())
            return
        crypto._fernet.cache_clear()  # the keys as configured now
        done = 0
        try:
            with transaction.atomic():
                for provider in Provider.objects.select_for_update():
                    provider.api_key_encrypted = crypto.rotate(provider.api_key_encrypted)
                    if isinstance(provider.options, dict) and "headers" in provider.options:
                        provider.options = {**provider.options, "headers": reseal_headers(provider.options["headers"])}
                    provider.save(update_fields=["api_key_encrypted", "options"])
                    done += 1
        except ValueError as e:
            raise CommandError(f"{e}; nothing was changed (is the old key still in FIELD_ENCRYPTION_KEY?)") from None
        self.stdout.write(f"Re-encrypted the secrets of {done} provider(s) with the first configured key.")
