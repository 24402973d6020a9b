"""`/metrics` is off without METRICS_TOKEN, refuses a request without the token,
and needs no session; the exposition parses with prometheus_client's parser.
(Aggregation over workers and the series after real turns: tests/scaleout/test_metrics_workers.py.)"""

from __future__ import annotations

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db


def test_metrics_are_off_without_a_token(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    assert Client().get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_metrics_need_the_bearer_token(settings, admin_user):
    settings.METRICS_TOKEN = "t0ken-for-metrics"
    staff = Client()
    staff.force_login(admin_user)
    assert staff.get("/metrics").status_code == 401  # a session is not the token
    assert Client().get("/metrics", headers={"Authorization": "Bearer t0ken-for-metric"}).status_code == 401
    assert Client().get("/metrics", headers={"Authorization": "Basic t0ken-for-metrics"}).status_code == 401
    response = Client().get("/metrics", headers={"Authorization": "Bearer t0ken-for-metrics"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    names = {family.name for family in text_string_to_metric_families(response.content.decode())}
    assert {
        "playground_turns_started", "playground_turns_finished", "gen_ai_client_token_usage",
        "playground_time_to_first_reasoning_token_seconds", "playground_time_to_first_answer_token_seconds",
        "playground_active_streams", "playground_upstream_errors", "playground_gateway_requests",
        "playground_turns_interrupted",
    } <= names
