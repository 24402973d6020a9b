"""The README's pictures of the Providers page and of a model's capabilities, drawn from
a seeded playground (four providers as a first hour leaves them, one model with an
override), and of the model picker and of a search opened at its match (five providers
and a few conversations as a week of use leaves them). Skipped unless SCREENSHOTS=1,
which writes them into docs/screenshots/; `python docs/screenshots/make.py` runs this
and every other test that draws a README screenshot."""

from __future__ import annotations

import json
import os
import re

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


# The picker as a week of use leaves it: a few more providers, an aggregator that serves
# other makers' models, and two models starred.
PICKER_PROVIDERS = {
    "OpenAI": ("openai", "https://api.openai.com/v1", ["gpt-5.1", "gpt-5-mini", "o4-mini"]),
    "Anthropic": ("anthropic", "https://api.anthropic.com",
                  ["claude-opus-4-7", "claude-sonnet-4-5", "claude-haiku-4-5"]),
    "Google Gemini": ("gemini", "https://generativelanguage.googleapis.com", ["gemini-2.5-pro", "gemini-2.5-flash"]),
    "OpenRouter": ("openai", "https://openrouter.ai/api/v1",
                   ["anthropic/claude-sonnet-4.5", "deepseek/deepseek-r1", "qwen/qwen3-235b-a22b"]),
    "vLLM on the lab box": ("openai", "http://10.0.0.7:8000/v1", ["Qwen/Qwen3-32B"]),
}
STARRED = ["claude-opus-4-7", "anthropic/claude-sonnet-4.5", "gpt-5.1"]


@pytest.fixture
def picker_seeded(server):
    server.shell(
        "from playground.models import ModelProfile, Preferences, Provider\n"
        "from playground.provider_setup import add_profiles\n"
        "from django.contrib.auth import get_user_model\n"
        f"for name, (kind, url, listed) in {PICKER_PROVIDERS!r}.items():\n"
        "    p, _ = Provider.objects.get_or_create(name=name, defaults={'kind': kind, 'base_url': url})\n"
        "    p.set_api_key('sk-readme-' + kind + '-0000000000000000'); p.save()\n"
        "    p.models.all().delete()\n"
        "    add_profiles(p, listed)\n"
        f"user = get_user_model().objects.get(username={server.user!r})\n"
        "prefs, _ = Preferences.objects.get_or_create(user=user)\n"
        f"prefs.favourite_models = [ModelProfile.objects.get(model_id=m).pk for m in {STARRED!r}]\n"
        "prefs.save()\n"
    )
    yield
    server.shell(
        "from playground.models import Preferences, Provider\n"
        f"Provider.objects.filter(name__in={list(PICKER_PROVIDERS)!r}).delete()\n"
        f"Preferences.objects.filter(user__username={server.user!r}).update(favourite_models=[])\n"
    )


def test_the_readme_screenshot_of_the_model_picker(logged_in_page, server, conversations):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.emulate_media(color_scheme="light")
    page.goto(server.url("/"))
    page.locator("#model").select_option(label="gpt-5.1")  # the model in use, under the open list
    page.get_by_role("button", name=re.compile(r"^Model: ")).click()
    search = page.get_by_role("combobox", name="Search by name, provider or family")
    search.press_sequentially("claude")
    box = page.locator("#model + .model-picker")
    assert box.locator(".picker-group-label").all_text_contents()[0] == "Favourites"
    assert box.locator(".favourites [role=option] .picker-label").all_text_contents() == [
        "claude-opus-4-7", "anthropic/claude-sonnet-4.5"]
    screenshot(page, "model-picker")
    assert errors == []


# A week's conversations, three of which talk about the word searched for; the one opened
# has it in the second turn's thinking first.
SEARCHED = "write-back"
CONVERSATIONS = [
    ("Sourdough starter schedule", [
        ("My starter doubles in 5 hours at 24 °C. When should I feed it for a 9 am bake?",
         "", "Feed it at 10 pm at 1:5:5; at 21–22 °C overnight it will peak around 8 am."),
    ]),
    ("Postgres VACUUM and bloat", [
        ("Why does our orders table keep growing after deletes?", "The user deletes rows but the table does not "
         "shrink. Dead tuples stay until VACUUM marks them reusable; the file only shrinks with VACUUM FULL. "
         "Autovacuum may be falling behind on a busy table.",
         "Deleted rows leave dead tuples. Autovacuum makes their space reusable but does not give it back to the "
         "OS; check `n_dead_tup` in `pg_stat_user_tables` and lower `autovacuum_vacuum_scale_factor` for it."),
    ]),
    ("Cache for the embeddings store", [
        ("We compute embeddings for about 2 million documents, 1536 floats each. Should the cache sit in front of "
         "Postgres or beside it?", "Two million vectors of 1536 float32 is about 12 GB. A read-through cache in "
         "front keeps the code simple; beside it means the app writes to both.",
         "In front, as a read-through cache: misses go to Postgres and fill the cache, so the application has one "
         "place to ask. At 12 GB of vectors keep only the hot set (say the last 30 days) in Redis."),
        ("And when a document is re-embedded, how do we keep the cache from serving the old vector?",
         "The question is about invalidation on update. Options:\n\n"
         "1. Write-through: update Postgres and the cache in the same request. Simple, but a failed cache write "
         "leaves them out of step unless we retry.\n"
         "2. A write-back cache would take the write first and flush it to Postgres later. Faster writes, but a "
         "crash loses the vectors not yet flushed, and re-embedding is expensive to redo, so write-back is the "
         "wrong trade here.\n"
         "3. Delete the key on update and let the next read fill it (cache-aside). A reader can race the writer "
         "and put the old vector back; a version number in the key avoids that.\n\n"
         "Re-embeds are rare next to reads, so the write cost does not matter much. Deleting the key with a "
         "versioned key is the safest; mention why not write-back.",
         "Delete the cached vector when the document is re-embedded, and put a version in the key "
         "(`emb:{doc_id}:{version}`), so a slow reader can never put the old vector back.\n\n"
         "Avoid a write-back cache here: it would hold new vectors that Postgres does not have yet, and a crash "
         "would lose embeddings that cost money to compute again."),
    ]),
    ("Reading list for distributed systems", [
        ("Five papers to start with?", "", "Lamport's clocks paper, the Dynamo paper, Raft, Spanner, and "
         "the CAP critique by Kleppmann; the Dynamo paper also covers hinted hand-off and write-back of "
         "replicas."),
    ]),
]


def add_conversations(server) -> dict[str, int]:
    out = server.shell(
        "import json\n"
        "from django.contrib.auth import get_user_model\n"
        "from playground.models import Conversation, ModelProfile, Turn\n"
        f"owner = get_user_model().objects.get(username={server.user!r})\n"
        "model = ModelProfile.objects.filter(provider__name='Anthropic', model_id='claude-sonnet-4-5').first()\n"
        "pks = {}\n"
        f"for title, exchanges in {CONVERSATIONS!r}:\n"
        "    conv = Conversation.objects.create(owner=owner, title=title)\n"
        "    parent = None\n"
        "    for prompt, reasoning, answer in exchanges:\n"
        "        user = Turn.objects.create(conversation=conv, parent=parent, role='user', content=prompt)\n"
        "        parent = Turn.objects.create(\n"
        "            conversation=conv, parent=user, role='assistant', content=answer, reasoning=reasoning,\n"
        "            model=model, model_label='claude-sonnet-4-5', source='anthropic:claude-sonnet-4-5',\n"
        "            prompt_tokens=180 + 40 * len(prompt) // 10, completion_tokens=90 + len(answer) // 4,\n"
        "            reasoning_tokens=len(reasoning) // 4 or None, thinking_ms=(len(reasoning) * 9) or None,\n"
        "            first_content_ms=len(reasoning) * 9 + 400, duration_ms=len(reasoning) * 9 + 3100)\n"
        "    conv.leaf = parent\n"
        "    conv.save()\n"
        "    pks[title] = conv.pk\n"
        "print(json.dumps(pks))\n"
    )
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture
def conversations(server, picker_seeded):
    yield add_conversations(server)
    server.shell(
        "from playground.models import Conversation\n"
        f"Conversation.objects.filter(title__in={[t for t, _ in CONVERSATIONS]!r}).delete()\n"
    )


def test_the_readme_screenshot_of_a_search_opened_at_its_match(logged_in_page, server, conversations):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1440, "height": 900})
    page.emulate_media(color_scheme="light")
    page.goto(server.url("/"))
    page.get_by_label("Search conversations").fill(SEARCHED)
    page.wait_for_function("() => document.querySelectorAll('#conversation-list > li.result').length === 2")
    page.locator("#conversation-list > li.result > a", has_text="Cache for the embeddings store").click()
    page.wait_for_selector("#turns mark.search-hit.current")
    hit = page.locator("#turns mark.search-hit.current")
    assert hit.evaluate("m => !!m.closest('.reasoning')")  # the thought was opened at the match
    assert page.locator("#match-pos").inner_text().startswith("Match 1 of ")
    screenshot(page, "search-match")
    assert errors == []
