"""The harness itself: the real server answers, the login form logs in."""

from __future__ import annotations

import urllib.request


def test_it_serves_health_from_a_real_daphne(server):
    with urllib.request.urlopen(server.url("/health"), timeout=5) as response:
        assert response.read() == b"ok"


def test_it_logs_in_through_the_login_form(logged_in_page, server):
    assert logged_in_page.url.rstrip("/") == server.base_url
    assert logged_in_page.get_by_role("button", name=f"Log out {server.user}").is_visible()


def test_it_serves_the_static_files_the_page_needs(server):
    for path in ("/static/css/app.css", "/static/js/playground.js"):
        with urllib.request.urlopen(server.url(path), timeout=5) as response:
            assert response.status == 200
