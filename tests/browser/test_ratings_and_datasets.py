"""Issue 13 in Chromium: rate an answer, then download it as a dataset row, the
download following its progress."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser


def test_a_rated_answer_downloads_as_a_think_inline_row(logged_in_page, server, tmp_path):
    page = logged_in_page
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label="Offline simulator")
    page.get_by_label("Prompt", exact=True).fill("What is 7*8?")
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    pk = int(page.locator("article.turn.assistant").last.get_attribute("data-turn"))
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=60_000)

    rating = page.locator(f"#rating-{pk}")
    rating.get_by_label("Note").fill("clear steps")
    rating.get_by_role("button", name="Good answer").click()
    page.wait_for_selector(f'#rating-{pk} button[aria-label="Good answer"][aria-pressed="true"]')
    page.reload()
    assert page.locator(f"#rating-{pk}").get_by_label("Note").input_value() == "clear steps"

    page.goto(server.url("/datasets/"))
    page.get_by_label("Format").select_option("think_inline")
    page.get_by_label("Rating").select_option("up")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download JSONL").click()
    path = tmp_path / "rows.jsonl"
    download.value.save_as(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["metadata"]["turn"] for r in rows] == [pk]
    assert rows[0]["metadata"]["rating"] == 1
    answer = rows[0]["messages"][-1]["content"]
    assert answer.startswith("<think>\n") and "</think>\n\n" in answer and "56" in answer
    progress = page.locator("#dataset-progress")
    assert progress.evaluate("p => [p.value, p.max]") == [1, 1]
    assert "1 row(s) written, 0 skipped." in page.locator("#dataset-summary").inner_text()
