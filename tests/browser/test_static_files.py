"""The real server sends static files with hashed names, cached for good, compressed."""

from __future__ import annotations

import re
import urllib.request

import pytest

pytestmark = pytest.mark.browser


def get(url: str, encoding: str = "identity"):
    request = urllib.request.Request(url, headers={"Accept-Encoding": encoding})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def test_daphne_serves_hashed_immutable_compressed_static_files(server):
    _, _, page = get(server.url("/login/"))
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', page.decode())
    # The icon (an SVG since the ux branch) is linked like the stylesheets and scripts: hashed, cached for good.
    assert linked and all(re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", u) for u in linked), linked
    icon = next(u for u in linked if u.endswith(".svg"))
    status, headers, _ = get(server.url(icon))
    assert status == 200 and "immutable" in headers["Cache-Control"] and headers["Content-Type"].startswith("image/svg")
    script = next(u for u in linked if "htmx-2" in u)
    status, headers, plain = get(server.url(script))
    assert status == 200 and "immutable" in headers["Cache-Control"]
    for asked, sent in (("gzip", "gzip"), ("br, gzip", "br")):
        status, headers, body = get(server.url(script), asked)
        assert headers.get("Content-Encoding") == sent and len(body) < len(plain) / 2
