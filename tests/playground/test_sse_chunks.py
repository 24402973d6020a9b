"""The API's text chunks are built around the encoded text (issue 23.1): the same
JSON as the whole chunk encoded at once, for every reasoning format, with and
without usage, for text that needs escaping."""

from __future__ import annotations

import json

import pytest

from playground.api.shapes import ChunkWriter

TEXTS = ["plain", 'a "quoted" \\ back', "line\nbreak\ttab\r", "ctrl \x00\x01\x1f\x7f", "é ü 中文 🙂", "\u2028\u2029",
         "</script>", ""]


def whole(writer: ChunkWriter, delta: dict[str, str]) -> dict:
    return json.loads(writer._chunk(delta)[len(b"data: "):])


@pytest.mark.parametrize("include_usage", [False, True])
@pytest.mark.parametrize("fmt", ["reasoning_content", "reasoning", "think", "none"])
def test_text_chunks_equal_the_whole_chunk_encoded_at_once(fmt: str, include_usage: bool) -> None:
    writer = ChunkWriter(7, "model-\"x\"", fmt, include_usage=include_usage)
    reference = ChunkWriter(7, "model-\"x\"", fmt, include_usage=include_usage)
    reference.base = writer.base  # the same `created`
    for text in TEXTS:
        for out, field in ((writer.reasoning(text), "content" if fmt == "think" else fmt),):
            if not text or fmt == "none":
                assert out == b""
                continue
            assert out.startswith(b"data: ") and out.endswith(b"\n\n")
            got = json.loads(out[len(b"data: "):])
            expected_text = ("<think>\n" + text) if fmt == "think" and text == TEXTS[0] else text
            assert got == whole(reference, {field: expected_text})
    for text in TEXTS:
        out = writer.content(text)
        if not text:
            assert out == b""
            continue
        got = json.loads(out[len(b"data: "):])
        prefix = "\n</think>\n\n" if fmt == "think" and text == TEXTS[0] else ""
        assert got == whole(reference, {"content": prefix + text})
        assert list(got) == list(whole(reference, {"content": text}))  # the keys in the same order


def test_a_stream_of_text_chunks_reads_back_as_the_text() -> None:
    writer = ChunkWriter(1, "m", "reasoning_content", include_usage=False)
    body = b"".join(writer.reasoning(t) for t in TEXTS) + b"".join(writer.content(t) for t in TEXTS)
    reasoning = content = ""
    for event in body.split(b"\n\n"):
        if event:
            delta = json.loads(event[len(b"data: "):])["choices"][0]["delta"]
            reasoning += delta.get("reasoning_content", "")
            content += delta.get("content", "")
    assert reasoning == content == "".join(TEXTS)
