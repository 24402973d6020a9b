"""The fake provider as its own process (so it has its own core and GIL).

    python -m bench.upstream_proc        # prints {"port": N} once listening

It is `reasoning.testing.upstream.FakeUpstream` answering every chat request with
an OpenAI Chat Completions stream described by the prompt itself:

    "bench {"tag": "ttft-3", "r": 300, "c": 100, "rate": 50, "ttfb": 0.05}"

`r`/`c`: reasoning/answer tokens, one token = `TOKEN_CHARS` characters = one SSE
chunk (the role chunk is merged into the first one, so the first byte of the body
is the first reasoning byte); `rate`: chunks per second (0: as fast as the socket
takes them). The time each HTTP chunk is written is recorded per tag and handed
out once by `GET /stats?tags=a,b` (base64 of float64 `time.monotonic()` values:
the response head, then every body chunk), so the bench can compute latencies on
the one clock every process on the machine shares.
"""

from __future__ import annotations

import array
import asyncio
import base64
import json
import sys
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs, urlparse

from reasoning.events import Usage
from reasoning.testing.upstream import FakeUpstream, RecordedRequest, Script, openai_chat_sse

TOKEN_CHARS = 4
_WORDS = (  # noqa: SIM905 (a sentence reads better than a list)
    "so the user asks x < y then we check each case & compare a/b with [1] first; "
    'hence 17*23 = 391 wait "quoted" okay alternatively n is 0 or 1e6 items'
).split()


def text(tokens: int, seed: int) -> str:
    """Deterministic text of exactly `tokens * TOKEN_CHARS` characters (both sides rebuild it)."""
    out: list[str] = []
    size, i = 0, seed
    need = tokens * TOKEN_CHARS
    while size < need:
        word = _WORDS[(i * 7 + seed) % len(_WORDS)]
        out.append(word + ("\n" if i % 13 == 0 else " "))
        size += len(word) + 1
        i += 1
    return "".join(out)[:need]


@lru_cache(maxsize=16)
def chunks_for(r: int, c: int) -> tuple[bytes, ...]:
    usage = Usage(prompt_tokens=10, completion_tokens=r + c, reasoning_tokens=r)
    out = openai_chat_sse(
        text(r, 1), text(c, 2), chunk_chars=TOKEN_CHARS, usage=usage, signature=None
    )
    if r:  # the role chunk rides with the first reasoning chunk
        out = [out[0] + out[1], *out[2:]]
    return tuple(out)


def spec_of(request: RecordedRequest) -> dict[str, Any]:
    body = request.json or {}
    prompt = body.get("messages", [{}])[-1].get("content", "")
    if isinstance(prompt, list):
        prompt = "".join(p.get("text", "") for p in prompt if isinstance(p, dict))
    # The last "bench {...}": a context builder may have merged the user turns
    # left without an answer (a failed turn earlier in a reused conversation).
    prompt = str(prompt)
    return dict(json.loads(prompt[prompt.rindex("bench {") + len("bench ") :].strip()))


class TimedUpstream(FakeUpstream):
    """Records when each write of a response went to the socket."""

    def __init__(self) -> None:
        super().__init__(default=self._script)
        self.times: dict[str, array.array[float]] = {}
        self._tag_of: dict[int, str] = {}

    def _script(self, request: RecordedRequest) -> Script:
        if request.path.startswith("/stats"):
            query = parse_qs(urlparse(request.path).query)
            tags = [t for t in query.get("tags", [""])[0].split(",") if t]
            out = {t: base64.b64encode(self.times.pop(t, array.array("d")).tobytes()).decode() for t in tags}
            return Script.json(out)
        spec = spec_of(request)
        self._tag_of[request.index] = str(spec["tag"])
        rate = float(spec.get("rate") or 0) or None
        return Script(
            chunks=chunks_for(int(spec.get("r", 0)), int(spec.get("c", 0))),
            rate=rate,
            first_chunk_delay=float(spec.get("ttfb") or 0),
        )

    async def _respond(self, conn: Any, request: RecordedRequest, script: Script) -> bool:
        tag = self._tag_of.pop(request.index, None)
        if tag is None:
            return await super()._respond(conn, request, script)
        stamps = self.times.setdefault(tag, array.array("d"))
        real = conn.writer
        conn.writer = _TimedWriter(real, stamps)
        try:
            return await super()._respond(conn, request, script)
        finally:
            conn.writer = real


class _TimedWriter:
    __slots__ = ("_stamps", "_writer")

    def __init__(self, writer: asyncio.StreamWriter, stamps: array.array[float]) -> None:
        self._writer = writer
        self._stamps = stamps

    def write(self, data: bytes) -> None:
        self._writer.write(data)
        self._stamps.append(asyncio.get_running_loop().time())

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


async def main() -> None:
    async with TimedUpstream() as upstream:
        print(json.dumps({"port": upstream.port}), flush=True)
        # Until the bench closes our stdin (or kills us).
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(main())
