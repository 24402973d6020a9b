"""The admin in a real browser: providers imported from a file, keys only ever masked."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PROVIDERS = """
[[providers]]
name = "local-vllm"
kind = "openai"
base_url = "http://127.0.0.1:8001/v1"
api_key_env = "BROWSER_TEST_VLLM_KEY"

  [[providers.models]]
  id = "Qwen/Qwen3-8B"
  label = "Qwen3 8B"
  reasoning = "markup"
  markup = "think"
  thinking_control = "chat_template_kwargs"
"""
KEY = "sk-browser-test-key-7f3a9c"


def test_it_shows_imported_providers_with_the_key_masked(admin_page, server, tmp_path, screenshot):
    path = tmp_path / "providers.toml"
    path.write_text(PROVIDERS)
    server.manage("providers", "import", str(path), env={"BROWSER_TEST_VLLM_KEY": KEY})

    page = admin_page
    # The sidebar's link opens the app's Providers page: the key masked there too.
    page.get_by_role("link", name="Providers & keys").click()
    assert "••••3a9c" in page.locator('section[data-provider="local-vllm"]').inner_text()
    assert KEY not in page.content()
    page.goto(server.url("/admin/playground/provider/"))
    row = page.locator("#result_list tr", has_text="local-vllm")
    assert "••••3a9c" in row.inner_text()
    row.get_by_role("link", name="local-vllm").click()
    assert page.get_by_label("Base url").input_value() == "http://127.0.0.1:8001/v1"
    assert page.locator("input[value='Qwen3 8B']").count() == 1
    screenshot(page, "admin-provider")
    assert KEY not in page.content()
    assert "sk-browser-test" not in page.content()
