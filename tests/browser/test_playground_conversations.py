"""Issue "playground" part 4, in Chromium: rename, search, regenerate into a
sibling, edit a prompt into a new branch, move between branches (kept across a
reload), export as Markdown and JSON, import the JSON back, delete."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

QUICK = "Offline simulator"


def answers(page):
    return page.locator("article.turn.assistant")


def last_answer_id(page) -> int:
    return int(answers(page).last.get_attribute("data-turn"))


def wait_done(page, pk: int) -> None:
    page.wait_for_selector(f'#turn-{pk}[data-status="complete"]', timeout=30_000)


def start(page, server, prompt: str) -> int:
    page.goto(server.url("/"))
    page.get_by_label("Model").select_option(label=QUICK)
    page.get_by_label("Prompt").fill(prompt)
    page.get_by_role("button", name="Send").click()
    page.wait_for_url(re.compile(r"/c/\d+/$"))
    pk = last_answer_id(page)
    wait_done(page, pk)
    return int(re.search(r"/c/(\d+)/", page.url).group(1))


def test_rename_and_search_over_titles_and_text(logged_in_page, server):
    page = logged_in_page
    start(page, server, "What is 14*3?")
    page.get_by_role("button", name="Rename conversation").click()
    page.get_by_label("New title", exact=True).fill("Fourteen threes")
    page.get_by_label("New title", exact=True).press("Enter")
    page.wait_for_function("() => document.querySelector('h1').textContent.trim() === 'Fourteen threes'")
    start(page, server, "What is 99+1?")

    search = page.get_by_label("Search conversations")
    search.fill("fourteen")
    page.wait_for_function(
        # Only the search results: the API folder (other tests' requests) has links too.
        "() => [...document.querySelectorAll('#conversation-list .conv-link')]"
        ".every(a => /Fourteen/.test(a.textContent))"
    )
    assert page.locator("#conversation-list .conv-title").all_inner_texts() == ["Fourteen threes"]
    search.fill("99+1")  # text of a prompt, not a title word
    page.wait_for_function(
        "() => [...document.querySelectorAll('#conversation-list .conv-link')]"
        ".every(a => a.textContent.includes('99+1'))"
    )
    search.fill("no-such-words-anywhere")
    page.wait_for_selector("#conversation-list >> text=Nothing matches")


def test_regenerate_edit_and_switch_branches_survive_a_reload(logged_in_page, server, screenshot):
    page = logged_in_page
    start(page, server, "What is 12*12?")
    first = last_answer_id(page)
    first_text = page.locator(f"#t{first}-c").inner_text()

    page.locator(f"#turn-{first}").get_by_role("button", name="Regenerate").click()
    page.wait_for_function(f"() => !document.getElementById('turn-{first}')")
    second = last_answer_id(page)
    wait_done(page, second)
    nav = page.locator(f"#turn-{second} .siblings")
    assert nav.locator(".sibling-pos").inner_text() == "2/2"

    nav.get_by_role("button", name="Previous branch").click()
    page.wait_for_selector(f"#turn-{first}")
    assert page.locator(f"#t{first}-c").inner_text() == first_text
    assert page.locator(f"#turn-{first} .sibling-pos").inner_text() == "1/2"

    # Edit the prompt: a new user turn beside the original, answered at once.
    user = page.locator("article.turn.user").first
    original_user = int(user.get_attribute("data-turn"))
    user.locator(".bubble").hover()
    user.get_by_role("button", name="Edit this message and run it again").click()
    page.get_by_label("Edited message").fill("What is 13*13?")
    page.get_by_role("button", name="Save & run").click()
    page.wait_for_function(f"() => !document.getElementById('turn-{original_user}')")
    edited_answer = last_answer_id(page)
    wait_done(page, edited_answer)
    assert page.locator("article.turn.user .bubble").inner_text() == "What is 13*13?"
    assert page.locator("article.turn.user .sibling-pos").inner_text() == "2/2"
    assert "169" in page.locator(f"#t{edited_answer}-c").inner_text()
    screenshot(page, "branches")

    page.reload()
    assert page.locator("article.turn.user .bubble").inner_text() == "What is 13*13?"
    assert page.locator(f"#turn-{edited_answer}").count() == 1
    # Back to the original prompt: the branch shown is the newest leaf under it, the regenerated answer.
    page.locator("article.turn.user").get_by_role("button", name="Previous branch").click()
    page.wait_for_selector(f"#turn-{second}")
    assert page.locator("article.turn.user .bubble").inner_text() == "What is 12*12?"
    page.reload()
    assert page.locator(f"#turn-{second} .sibling-pos").inner_text() == "2/2"


def test_export_markdown_and_json_then_import_and_delete(logged_in_page, server, tmp_path):
    page = logged_in_page
    conv = start(page, server, "What is 7*8?")
    pk = last_answer_id(page)
    reasoning = page.locator(f"#t{pk}-r").text_content()

    with page.expect_download() as md_download:
        page.get_by_role("link", name="Export .md").click()
    markdown = md_download.value.path().read_text(encoding="utf-8")
    assert markdown.startswith("# What is 7*8?")
    assert "**Reasoning** (thought for" in markdown and "**Answer**" in markdown and "56" in markdown

    with page.expect_download() as json_download:
        page.get_by_role("link", name="Export .json").click()
    path = tmp_path / "conversation.json"
    json_download.value.save_as(path)
    doc = json.loads(path.read_text())
    assert [t["role"] for t in doc["turns"]] == ["user", "assistant"]
    assert doc["turns"][1]["reasoning"].split()[:3] == reasoning.split()[:3]

    page.get_by_text("Import a conversation…").click()  # behind a fold in the sidebar
    page.get_by_label("A JSON file exported from this playground").set_input_files(str(path))
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(lambda url: f"/c/{conv}/" not in url and re.search(r"/c/\d+/$", url) is not None)
    assert page.locator("h1").inner_text() == "What is 7*8? (2)"  # the original keeps its title
    assert "56" in page.locator("article.turn.assistant .content").inner_text()
    assert page.locator("article.turn.assistant .thought-label").inner_text().startswith("Thought for")

    bad = tmp_path / "bad.json"
    doc["turns"][1]["parent"] = 42
    bad.write_text(json.dumps(doc))
    page.get_by_text("Import a conversation…").click()
    page.get_by_label("A JSON file exported from this playground").set_input_files(str(bad))
    page.get_by_role("button", name="Import", exact=True).click()
    assert "turn 2 parent 42 is not an earlier turn" in page.get_by_role("alert").inner_text()

    page.goto(server.url(f"/c/{conv}/"))
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Delete").click()
    page.wait_for_url(server.url("/"))
    assert page.request.get(server.url(f"/c/{conv}/")).status == 404
