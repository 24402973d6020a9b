"""Log lines: readable text by default, one JSON object each with LOG_FORMAT=json;
secrets scrubbed from both.

`ContextFilter` (on the console handler) adds the request, user and turn ids
(playground.operations.context) to every record, and replaces every known secret
in the message and the exception text with "[redacted]": the provider keys and
headers of every scrubber this process made (security.secrets.KNOWN_SECRETS, so
a key is known from the moment a run could log it), and the settings' own
secrets (SECRET_KEY, FIELD_ENCRYPTION_KEY, METRICS_TOKEN, the database password).
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

from playground.operations import context

CONTEXT_FIELDS = ("request_id", "user_id", "turn_id")


def _setting_secrets() -> list[str]:
    try:
        from django.conf import settings

        if not settings.configured:
            return []
        values = [
            getattr(settings, "SECRET_KEY", ""),
            getattr(settings, "FIELD_ENCRYPTION_KEY", ""),
            getattr(settings, "METRICS_TOKEN", ""),
            str(settings.DATABASES.get("default", {}).get("PASSWORD", "")),
        ]
    except Exception:  # logging must never fail because settings are half-loaded
        return []
    return [v for v in values if isinstance(v, str) and v]


_cache: tuple[Any, Any] = (None, None)


def scrubber() -> Any:
    """A scrubber of every secret known now (remade only when that set changes)."""
    global _cache
    from playground.security.secrets import KNOWN_SECRETS, Scrubber

    key = (len(KNOWN_SECRETS), tuple(_setting_secrets()))
    if _cache[0] != key:
        _cache = (key, Scrubber([*KNOWN_SECRETS, *key[1]]))
    return _cache[1]


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.request_id.get()
        record.user_id = context.user_id()
        record.turn_id = context.turn_id.get()
        scrub = scrubber()
        if scrub:
            message = record.getMessage()
            record.msg, record.args = scrub.scrub(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if record.exc_text:
                record.exc_text = scrub.scrub(record.exc_text)
            if record.stack_info:
                record.stack_info = scrub.scrub(record.stack_info)
        return True


class TextFormatter(logging.Formatter):
    """The readable default: time, level, logger, message, then the ids there are."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        values = ((name, getattr(record, name, None)) for name in CONTEXT_FIELDS)
        ids = " ".join(f"{name}={value}" for name, value in values if value is not None)
        if not ids:
            return line
        first, sep, rest = line.partition("\n")
        return f"{first} [{ids}]{sep}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ids, and the
    exception's text when there is one (its newlines escaped inside the string)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            if (value := getattr(record, name, None)) is not None:
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)
