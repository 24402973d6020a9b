"""Test and benchmark helpers: a real loopback fake upstream and wire-format builders.

Nothing here is used in production; it lives in the package so that tests,
benchmarks and the `ask` command's self-checks can share it.
"""

from __future__ import annotations

from reasoning.testing.upstream import (
    FakeToolCall,
    FakeUpstream,
    RecordedRequest,
    Script,
    openai_chat_sse,
    openai_responses_sse,
    pieces,
    rechunk,
    render,
    sse,
    wire_format,
)

__all__ = [
    "FakeToolCall",
    "FakeUpstream",
    "RecordedRequest",
    "Script",
    "openai_chat_sse",
    "openai_responses_sse",
    "pieces",
    "rechunk",
    "render",
    "sse",
    "wire_format",
]
