"""Static files: hashed names, immutable caching and compression once collected;
plain, uncached sources before."""

from __future__ import annotations

import re

import httpx
import pytest
from django.core.asgi import get_asgi_application
from django.core.files.base import ContentFile
from django.test import override_settings

from playground.staticfiles import serve_static

pytestmark = pytest.mark.django_db

LINKED = re.compile(r'(?:href|src)="(/static/[^"]+)"')


async def fetch(app, url: str, encoding: str | None = None) -> httpx.Response:
    headers = {"accept-encoding": encoding} if encoding else {"accept-encoding": "identity"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1") as client:
        return await client.get(url, headers=headers)


def test_pages_link_hashed_names(client, _collected_static):
    page = client.get("/login/").content.decode()
    linked = LINKED.findall(page)
    assert {u.split("/")[-1].split(".")[0] for u in linked} >= {"app", "htmx-2", "playground"}
    for url in linked:
        assert re.search(r"\.[0-9a-f]{12}\.(css|js|svg)$", url), url
        assert (_collected_static / url.removeprefix("/static/")).is_file()


async def test_a_hashed_file_is_cached_for_good_and_compressed_when_asked(async_client, _collected_static):
    app = serve_static(get_asgi_application())
    page = (await async_client.get("/login/")).content.decode()
    script = next(u for u in LINKED.findall(page) if "/vendor/htmx-2" in u)

    plain = await fetch(app, script)
    assert plain.status_code == 200
    assert "immutable" in plain.headers["cache-control"]
    assert int(re.search(r"max-age=(\d+)", plain.headers["cache-control"]).group(1)) >= 365 * 24 * 3600
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"].lower() == "accept-encoding"
    for asked, sent in (("gzip", "gzip"), ("gzip, deflate, br", "br")):
        response = await fetch(app, script, asked)
        assert response.headers["content-encoding"] == sent
        assert int(response.headers["content-length"]) < len(plain.content) / 2
        # httpx undid the encoding: the same bytes arrive.
        assert response.content == plain.content


async def test_a_plain_name_is_not_cached_for_good(_collected_static):
    app = serve_static(get_asgi_application())
    response = await fetch(app, "/static/js/compare.js")
    assert response.status_code == 200
    assert "immutable" not in response.headers["cache-control"]


async def test_before_collectstatic_pages_link_the_sources_uncached(async_client, tmp_path):
    with override_settings(STATIC_ROOT=tmp_path / "nothing-collected"):
        page = (await async_client.get("/login/")).content.decode()
        assert '"/static/css/app.css"' in page
        response = await fetch(serve_static(get_asgi_application()), "/static/css/app.css")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "max-age=0, public"
    assert b"--accent" in response.content


async def test_websockets_are_not_wrapped():
    from playground.asgi import application

    http, websocket = application.application_mapping["http"], application.application_mapping["websocket"]
    assert type(http.pages).__name__ == "ServeStaticASGI"  # the pages, behind the API's router
    assert type(websocket).__name__ != "ServeStaticASGI"


def test_a_stylesheet_may_name_a_file_that_is_not_shipped(tmp_path):
    from django.core.files.storage import FileSystemStorage

    from playground.staticfiles import StaticStorage

    source = FileSystemStorage(location=tmp_path / "src")
    source.save("css/fonts.css", ContentFile(b"@font-face{src:url(f.woff2) format('woff2'),url(f.ttf)}"))
    source.save("css/f.woff2", ContentFile(b"font"))
    out = StaticStorage(location=tmp_path / "out", base_url="/static/")
    paths = {}
    for name in ("css/fonts.css", "css/f.woff2"):
        with source.open(name) as f:
            out.save(name, f)
        paths[name] = (source, name)
    results = list(out.post_process(paths))
    assert not [r for r in results if isinstance(r[2], Exception)], results
    css = next((tmp_path / "out" / "css").glob("fonts.*.css")).read_text()
    assert re.search(r"url\(\"?f\.[0-9a-f]{12}\.woff2\"?\)", css)  # shipped: hashed
    assert "url(f.ttf)" in css  # not shipped: as written
