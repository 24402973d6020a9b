"""Known secrets never leave: one scrubber on the way in.

Provider text (an error message, streamed text, a finish reason) may quote the
key it was sent ("Incorrect API key provided: sk-…", as OpenAI does). Everything
the run receives passes through a `Scrubber` made from the secrets of the
provider it talks to, before it is stored, logged, sent on a socket, rendered or
exported (those all read what the run stored).

    scrubber = Scrubber.for_provider(config, extra=api_tokens)   # extra: any other secret
    scrubber.scrub("… sk-live-123 …")      -> "… [redacted] …"
    stream = scrubber.stream()             # per block: a key split across deltas
    stream.feed("… sk-li") + stream.feed("ve-123 …") + stream.flush()

Extra headers (`options.headers`, e.g. a gateway's `cf-aig-authorization`) are
secrets unless their name is known to be harmless; their values are stored
encrypted (`seal_headers`) and shown redacted in the Request inspector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from playground import crypto
from reasoning.request import PreparedRequest, ProviderConfig

REDACTED = "[redacted]"
SEALED = "fernet:"  # prefix of a header value stored encrypted
# Too short to be a credential; replacing them would mangle ordinary text.
MIN_SECRET_LENGTH = 8
# Headers whose values say nothing secret (OpenRouter's attribution, API versions).
PUBLIC_HEADERS = frozenset(
    {
        "accept", "content-type", "user-agent", "http-referer", "referer", "x-title",
        "anthropic-version", "anthropic-beta", "openai-beta",
    }
)


# Every secret any scrubber of this process was made with: the log filter scrubs
# log records with them too (playground.operations.logs).
KNOWN_SECRETS: set[str] = set()


def is_public_header(name: str) -> bool:
    return name.lower() in PUBLIC_HEADERS


def secret_values(config: ProviderConfig) -> list[str]:
    """The provider key and every secret extra header value, with a "Bearer " stripped too."""
    values = [config.api_key]
    headers = config.options.get("headers") if isinstance(config.options, Mapping) else None
    if isinstance(headers, Mapping):
        values += [str(v) for k, v in headers.items() if not is_public_header(str(k))]
    out: list[str] = []
    for value in values:
        value = value.strip()
        out.append(value)
        scheme, _, credential = value.partition(" ")
        if credential and scheme.lower() in {"bearer", "basic", "token"}:
            out.append(credential.strip())
    return out


class Scrubber:
    """Replaces every occurrence of the given secrets with "[redacted]"."""

    def __init__(self, secrets: Iterable[str]) -> None:
        unique = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        # Longest first: a secret that contains another is replaced whole.
        self.secrets: tuple[str, ...] = tuple(sorted(unique, key=len, reverse=True))
        KNOWN_SECRETS.update(unique)

    @classmethod
    def for_provider(cls, config: ProviderConfig, extra: Iterable[str] = ()) -> Scrubber:
        return cls([*secret_values(config), *extra])

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def scrub(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def scrub_data(self, value: Any) -> Any:
        """The same over JSON-like data (error dicts, replay payloads, request bodies)."""
        if not self.secrets:
            return value
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {self.scrub(str(k)): self.scrub_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub_data(v) for v in value]
        return value

    def stream(self) -> StreamScrubber:
        return StreamScrubber(self)

    def redact_request(self, prepared: PreparedRequest) -> PreparedRequest:
        """What the Request inspector may show: every header not known to be public
        redacted, and every known secret removed from the URL and the body."""
        base = prepared.redacted()
        headers = {k: self.scrub(v) if is_public_header(k) else REDACTED for k, v in base.headers.items()}
        return PreparedRequest(base.method, self.scrub(base.url), headers, self.scrub_data(base.json))


class StreamScrubber:
    """Scrubs one stream of deltas, holding back a tail that may be the start of a
    secret until the next delta shows whether it is. With no secret, or a tail
    that starts none, text passes at once."""

    def __init__(self, scrubber: Scrubber) -> None:
        self.secrets = scrubber.secrets
        self.scrubber = scrubber
        self.held = ""

    def feed(self, text: str) -> str:
        if not self.secrets:
            return text
        text = self.scrubber.scrub(self.held + text)
        keep = self._prefix_tail(text)
        self.held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self.held = self.held, ""
        return held

    def _prefix_tail(self, text: str) -> int:
        """The length of the longest tail of `text` that is a proper prefix of a secret."""
        longest = 0
        for secret in self.secrets:
            start = max(0, len(text) - len(secret) + 1)
            i = text.find(secret[0], start)
            while i != -1:
                if secret.startswith(text[i:]):
                    longest = max(longest, len(text) - i)
                    break
                i = text.find(secret[0], i + 1)
        return longest


# ---- secret headers at rest ---------------------------------------------------------------


def seal_headers(headers: Any) -> Any:
    """Encrypt every secret header value not yet encrypted (idempotent)."""
    if not isinstance(headers, Mapping):
        return headers
    return {
        str(k): v
        if is_public_header(str(k)) or (isinstance(v, str) and v.startswith(SEALED))
        else SEALED + crypto.encrypt(str(v))
        for k, v in headers.items()
    }


def open_headers(headers: Any) -> Any:
    """The header values as sent: sealed ones decrypted."""
    if not isinstance(headers, Mapping):
        return headers
    return {
        str(k): crypto.decrypt(v[len(SEALED) :]) if isinstance(v, str) and v.startswith(SEALED) else v
        for k, v in headers.items()
    }


def reseal_headers(headers: Any) -> Any:
    """Sealed values re-encrypted with the newest key (for key rotation)."""
    if not isinstance(headers, Mapping):
        return headers
    return {
        str(k): SEALED + crypto.rotate(v[len(SEALED) :]) if isinstance(v, str) and v.startswith(SEALED) else v
        for k, v in headers.items()
    }
