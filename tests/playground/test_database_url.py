"""DATABASE_URL takes sqlite:///path as dj-database-url users expect, besides postgres://."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from playground.settings import database_from_url


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:///data/play.sqlite3", "data/play.sqlite3"),
        ("sqlite:////var/lib/play.sqlite3", "/var/lib/play.sqlite3"),
        ("sqlite://", ":memory:"),
    ],
)
def test_it_takes_a_sqlite_url(url, name):
    database = database_from_url(url)
    assert (database["ENGINE"], database["NAME"]) == ("django.db.backends.sqlite3", name)
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]  # the same tuning as the default


def test_it_still_takes_postgres_and_names_both_schemes_when_refusing():
    assert database_from_url("postgres://u:p@db:5432/play")["NAME"] == "play"
    with pytest.raises(ImproperlyConfigured, match=r"postgres://… or sqlite:///path"):
        database_from_url("mysql://db/play")
