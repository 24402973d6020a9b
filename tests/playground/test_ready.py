"""`/ready` in the default setup (SQLite, in-memory layer): unauthenticated, JSON,
one cheap query; a failing part is named with 503."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from playground.operations import health


@pytest.mark.django_db
def test_ready_answers_anyone_with_each_part_ok():
    with CaptureQueriesContext(connection) as queries:
        response = Client().get("/ready")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok", "failing": [], "checks": {"database": "ok", "channel_layer": "ok"}}
    assert len(queries) == 1  # SELECT 1: no session, no user, nothing else


@pytest.mark.django_db
def test_a_failing_part_is_named_with_503(monkeypatch):
    def refuse():
        raise ConnectionRefusedError("Connection refused")

    monkeypatch.setitem(health.CHECKS, "channel_layer", refuse)
    response = Client().get("/ready")
    assert response.status_code == 503
    assert response.json()["failing"] == ["channel_layer"]
    assert response.json()["checks"]["channel_layer"] == "ConnectionRefusedError: Connection refused"
