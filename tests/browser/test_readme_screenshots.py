"""The README's pictures of the Providers page and of a model's capabilities, drawn from
a seeded playground (four providers as a first hour leaves them, one model with an
override). Skipped unless SCREENSHOTS=1, which writes them into docs/screenshots/;
`python docs/screenshots/make.py` runs this and every other test that draws a README
screenshot."""

from __future__ import annotations

import os

import pytest

from tests.browser.conftest import log_in, screenshot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(os.environ.get("SCREENSHOTS") != "1", reason="draws the README's screenshots: SCREENSHOTS=1"),
]

PROVIDERS = {
    # name: (kind, base URL, models listed, models offered)
    "OpenAI": ("openai", "https://api.openai.com/v1", ["gpt-5.1", "gpt-5-mini", "gpt-4o"], ["gpt-5.1", "gpt-5-mini"]),
    "Anthropic": ("anthropic", "https://api.anthropic.com", ["claude-opus-4-7", "claude-sonnet-4-5"],
                  ["claude-opus-4-7", "claude-sonnet-4-5"]),
    "Google Gemini": ("gemini", "https://generativelanguage.googleapis.com", ["gemini-2.5-pro", "gemini-3-pro-preview"],
                      ["gemini-2.5-pro"]),
    "vLLM on the lab box": ("openai", "http://10.0.0.7:8000/v1", ["Qwen/Qwen3-32B"], ["Qwen/Qwen3-32B"]),
}
SEED = (
    "from playground.models import ModelProfile, Provider\n"
    "from playground.provider_setup import add_profiles\n"
    f"for name, (kind, url, listed, offered) in {PROVIDERS!r}.items():\n"
    "    p, _ = Provider.objects.get_or_create(name=name, defaults={'kind': kind, 'base_url': url})\n"
    "    p.set_api_key('sk-readme-' + kind + '-0000000000000000'); p.save()\n"
    "    p.models.all().delete()\n"
    "    for m in add_profiles(p, listed, enabled=False):\n"
    "        m.enabled = m.model_id in offered; m.save()\n"
    "print(ModelProfile.objects.get(model_id='Qwen/Qwen3-32B').pk)\n"
)


@pytest.fixture
def seeded(server):
    pk = int(server.shell(SEED).strip().splitlines()[-1])
    yield pk
    server.shell(
        "from playground.models import Provider\n"
        f"Provider.objects.filter(name__in={list(PROVIDERS)!r}).delete()\n"
    )


def test_the_readme_screenshots_of_providers_and_capabilities(page, server, seeded):
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    log_in(page, server, server.admin, server.admin_password)
    # Overrides to show: a vLLM started without a reasoning parser leaves Qwen3's <think>
    # tags in the text, and this one serves no tools.
    page.goto(server.url(f"/providers/models/{seeded}/capabilities"))
    page.get_by_role("radiogroup", name="Where reasoning comes back").get_by_label("Inside the answer").check()
    page.get_by_label("Context window (tokens)").fill("131072")
    page.get_by_label("Largest output (tokens)").fill("32768")
    page.get_by_label("Takes tools (function calls)").uncheck()
    page.get_by_role("button", name="Save capabilities").click()
    page.wait_for_selector("#capabilities-saved")
    page.set_viewport_size({"width": 1440, "height": 1400})
    screenshot(page, "model-capabilities")

    page.goto(server.url("/providers/"))
    # The whole page, the last card's "overridden" note included.
    page.set_viewport_size({"width": 1440, "height": page.evaluate("document.documentElement.scrollHeight")})
    screenshot(page, "providers")

    page.set_viewport_size({"width": 390, "height": 900})
    page.emulate_media(color_scheme="dark")
    page.goto(server.url("/providers/"))
    # The first provider's card at the top, under the sticky heading.
    page.evaluate("""() => window.scrollTo(0, document.querySelector('section.provider-card')
                          .getBoundingClientRect().top + window.scrollY - 64)""")
    screenshot(page, "providers-phone-dark")
    page.goto(server.url("/settings/"))
    screenshot(page, "settings-phone-dark")
    assert errors == []
