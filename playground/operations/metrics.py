"""`/metrics`: the Prometheus text format, summed over every worker of this host.

Aggregation: prometheus_client's multiprocess mode. Each process writes its
counters to memory-mapped files in one directory (METRICS_DIR, under DATA_DIR by
default) and `/metrics`, in whichever worker answers, reads all of them. An
increment is a write to mapped memory: nothing is added to the per-turn path of
a run (a shared store such as Redis would add a round trip per update, and would
not exist in the single-process SQLite setup). Workers on other hosts each have
their own directory and their own `/metrics`; Prometheus scrapes each and `sum()`
adds them up, as it does for any replicated service.

Multiprocess mode is chosen by the environment variable PROMETHEUS_MULTIPROC_DIR,
which prometheus_client reads once at import: settings sets it (when METRICS_TOKEN
is set) before anything imports prometheus_client. Without it (metrics off, or a
test process) the same instruments count in this process's memory only.

Names follow the OpenTelemetry GenAI semantic conventions where they have one
(`gen_ai.client.token.usage` with `gen_ai.token.type`, `gen_ai.client.operation.duration`,
`gen_ai.provider.name`, `gen_ai.request.model`: dots become underscores in
Prometheus); the rest are `playground_…`. docs/operating.md lists each series.
"""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

if TYPE_CHECKING:
    from playground.streaming.run import TurnRun

MODEL_LABELS = ("gen_ai_provider_name", "gen_ai_request_model")
# Reasoning models think for seconds to minutes before they answer.
FIRST_TOKEN_BUCKETS = (0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300, 600)
TOKEN_BUCKETS = (16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576)

TURNS_STARTED = Counter(
    "playground_turns_started", "Turns whose generation started.", MODEL_LABELS
)
TURNS_FINISHED = Counter(
    "playground_turns_finished",
    "Turns that ended, by outcome (complete, stopped, error).",
    (*MODEL_LABELS, "outcome"),
)
TURNS_INTERRUPTED = Counter(
    "playground_turns_interrupted",
    "Turns left streaming by a worker that stopped, marked interrupted by a sweep.",
)
TOKEN_USAGE = Histogram(
    "gen_ai_client_token_usage",
    "Tokens per turn as the provider reported them, by gen_ai_token_type: input, output "
    "(all generated tokens, reasoning included), reasoning (the part of output spent thinking).",
    (*MODEL_LABELS, "gen_ai_token_type"),
    buckets=TOKEN_BUCKETS,
)
OPERATION_DURATION = Histogram(
    "gen_ai_client_operation_duration_seconds",
    "Duration of a turn's generation, from its start to its last token or error.",
    (*MODEL_LABELS, "outcome"),
    buckets=FIRST_TOKEN_BUCKETS,
)
FIRST_REASONING = Histogram(
    "playground_time_to_first_reasoning_token_seconds",
    "Time from a turn's start to its first reasoning text (turns with reasoning only).",
    MODEL_LABELS,
    buckets=FIRST_TOKEN_BUCKETS,
)
FIRST_ANSWER = Histogram(
    "playground_time_to_first_answer_token_seconds",
    "Time from a turn's start to the first text of its answer.",
    MODEL_LABELS,
    buckets=FIRST_TOKEN_BUCKETS,
)
if _directory := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # A live gauge file left by a dead process whose pid this one reuses would be
    # read back as this process's value.
    multiprocess.mark_process_dead(os.getpid(), _directory)  # type: ignore[no-untyped-call]
ACTIVE_STREAMS = Gauge(
    "playground_active_streams",
    "Turns generating now, in the workers that are alive.",
    multiprocess_mode="livesum",
)
UPSTREAM_ERRORS = Counter(
    "playground_upstream_errors",
    "Turns ended by an error from the provider, by kind (auth, rate_limited, timeout, ...).",
    (*MODEL_LABELS, "kind"),
)
GATEWAY_REQUESTS = Counter(
    "playground_gateway_requests",
    "Requests to the OpenAI-compatible API (/v1/), by HTTP status.",
    ("status",),
)


def _labels(run: TurnRun) -> tuple[str, str]:
    return run.request.provider.kind, run.request.model.model_id


def run_started(run: TurnRun) -> None:
    TURNS_STARTED.labels(*_labels(run)).inc()
    ACTIVE_STREAMS.inc()


def run_ended(run: TurnRun, error_kind: str | None) -> None:
    """Once per run, after its final save: what it produced and how it ended."""
    labels = _labels(run)
    ACTIVE_STREAMS.dec()
    outcome = str(run.status)
    TURNS_FINISHED.labels(*labels, outcome).inc()
    OPERATION_DURATION.labels(*labels, outcome).observe(run._elapsed_ms() / 1000)
    if error_kind is not None:
        UPSTREAM_ERRORS.labels(*labels, error_kind).inc()
    if run.first_reasoning_ms is not None:
        FIRST_REASONING.labels(*labels).observe(run.first_reasoning_ms / 1000)
    if run.first_content_ms is not None:
        FIRST_ANSWER.labels(*labels).observe(run.first_content_ms / 1000)
    if (usage := run.usage) is not None:
        for kind, count in (
            ("input", usage.prompt_tokens),
            ("output", usage.completion_tokens),
            ("reasoning", usage.reasoning_tokens),
        ):
            if count is not None:
                TOKEN_USAGE.labels(*labels, kind).observe(count)


def gateway_response(status: int) -> None:
    GATEWAY_REQUESTS.labels(str(status)).inc()


def _forget_dead_processes(directory: str) -> None:
    """The live gauges of a worker that died without saying so (kill -9) are
    dropped: "active streams" counts the living. Its counters stay in the sums."""
    for name in os.listdir(directory):
        if not name.startswith("gauge_live"):
            continue
        try:
            pid = int(name.rsplit("_", 1)[1].split(".", 1)[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
        except (ValueError, IndexError, PermissionError):
            continue


def exposition() -> bytes:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(REGISTRY)
    _forget_dead_processes(directory)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def _authorized(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@login_not_required
@require_http_methods(["GET"])
def metrics_view(request: HttpRequest) -> HttpResponse:
    token = str(settings.METRICS_TOKEN or "")
    if not token:
        raise Http404("metrics are off: METRICS_TOKEN is not set")
    if not _authorized(request, token):
        response = HttpResponse("a bearer token is needed\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})
