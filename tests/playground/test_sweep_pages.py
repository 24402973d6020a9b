"""The sweep pages: set up from a chat turn, the result (chart, table, runs), exports,
the thought diff, and only the owner sees them."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from playground.models import Conversation, Turn
from playground.sweeps.models import Sweep

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def swept(owner, simulator_model):
    call_command("sweep", "What is 17*23?", "--model", simulator_model.label, "--levels", "low,medium,off",
                 "--repeats", "2", "--expect-number", "391", "--user", owner.username, "--json",
                 stdout=io.StringIO())
    return Sweep.objects.get()


def test_the_result_page_has_one_point_per_level_the_table_and_every_run(client, owner, swept):
    client.force_login(owner)
    page = client.get(swept.get_absolute_url()).content.decode()

    tokens_chart = page[page.index('data-x="reasoning_tokens"'):page.index("</svg>")]
    assert len(re.findall(r'<g class="point series-0', tokens_chart)) == 3
    assert set(re.findall(r'data-level="([^"]+)"', tokens_chart)) == {"low", "medium", "off"}
    assert page.count('<tr data-level="') == 3
    for run in swept.runs.all():
        assert f'href="/c/{run.conversation_id}/#turn-{run.turn_id}"' in page
    assert "hx-trigger" not in page  # done: no polling
    assert "★ pick" in page  # the simulator answers right at every level: the cheapest wins
    pick = page[page.index('class="pick"') - 40:page.index('class="pick"') + 200]
    assert 'data-level="off"' in pick  # no reasoning tokens at all: the cheapest


def test_exports(client, owner, swept):
    client.force_login(owner)
    body = json.loads(client.get(reverse("sweep_export_json", args=[swept.pk])).content)
    assert [p["level"] for p in body["points"]] == ["low", "medium", "off"]
    assert len(body["runs"]) == 6 and body["points"][0]["score"] == 1.0
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("sweep_export_csv", args=[swept.pk])).content.decode())))
    assert [r["level"] for r in rows] == ["low", "medium", "off"] and rows[2]["reasoning_tokens"] == "0.0"
    runs = list(csv.DictReader(io.StringIO(client.get(
        reverse("sweep_export_csv", args=[swept.pk]) + "?runs=1").content.decode())))
    assert len(runs) == 6 and {r["state"] for r in runs} == {"done"}


def test_the_thought_diff_of_two_levels(client, owner, swept):
    client.force_login(owner)
    page = client.get(reverse("sweep_thought_diff", args=[swept.pk])).content.decode()
    # low vs off by default: every step of low's reasoning faces an empty cell
    assert "thinking off" in page and "only in" in page
    assert page.count('class="step right empty"') >= 2


def test_only_the_owner_sees_a_sweep(client, stranger, swept):
    client.force_login(stranger)
    for name in ("sweep_detail", "sweep_progress", "sweep_export_json", "sweep_export_csv", "sweep_thought_diff"):
        assert client.get(reverse(name, args=[swept.pk])).status_code == 404


def test_sweep_efforts_from_a_chat_turn(client, owner, simulator_model):
    conversation = Conversation.objects.create(owner=owner, model=simulator_model)
    prompt = Turn.objects.create(conversation=conversation, role="user", content="What is 6*7?")
    answer = Turn.objects.create(conversation=conversation, parent=prompt, role="assistant", model=simulator_model,
                                 content="42")
    client.force_login(owner)
    chat = client.get(f"/c/{conversation.pk}/").content.decode()
    assert f'href="/sweeps/new/?turn={answer.pk}"' in chat
    form = client.get(f"/sweeps/new/?turn={answer.pk}").content.decode()
    assert "What is 6*7?" in form and f'value="{simulator_model.pk}" selected' in form
    assert 'name="levels" value="off"' in form and 'name="levels" value="high"' in form

    refused = client.post("/sweeps/new/", {"model": simulator_model.pk, "prompt": "What is 6*7?",
                                           "levels": ["low", "budget:999"], "grader": "number", "expected": "42"})
    assert refused.status_code == 400 and "budget" in refused.content.decode()
    assert not Sweep.objects.exists()

    started = client.post("/sweeps/new/", {"model": simulator_model.pk, "prompt": "What is 6*7?", "turn": answer.pk,
                                           "levels": ["low", "high"], "repeats": "2", "grader": "number",
                                           "expected": "42", "tolerance": "0"})
    sweep = Sweep.objects.get()
    assert started.status_code == 302 and started["Location"] == sweep.get_absolute_url()
    assert sweep.source_turn_id == answer.pk and sweep.runs.count() == 4
    assert sweep.grader == {"kind": "number", "expected": 42.0, "tolerance": 0.0}


def test_sweep_runs_stay_out_of_the_chat_list(client, owner, swept):
    client.force_login(owner)
    page = client.get("/").content.decode()
    assert "sweep low #1" not in page


def test_two_sweeps_on_one_chart_and_the_progress_fragment_while_running(client, owner, swept, simulator_model):
    call_command("sweep", "What is 17*23?", "--model", "Offline simulator (long thoughts)", "--levels", "low,high",
                 "--repeats", "1", "--expect-number", "391", "--user", owner.username, "--json",
                 stdout=io.StringIO())
    other = Sweep.objects.exclude(pk=swept.pk).get()
    client.force_login(owner)
    page = client.get(f"{swept.get_absolute_url()}?with={other.pk}").content.decode()
    chart = page[page.index('data-x="reasoning_tokens"'):page.index("</svg>")]
    assert chart.count('<g class="point series-0') == 3 and chart.count('<g class="point series-1') == 2
    assert "Offline simulator (long thoughts) (sweep" in chart  # the legend names both

    Sweep.objects.filter(pk=other.pk).update(status=Sweep.Status.RUNNING, heartbeat_at=timezone.now())
    fragment = client.get(reverse("sweep_progress", args=[other.pk])).content.decode()
    assert fragment.startswith('<section class="sweep-results"') and 'hx-trigger="every 1s"' in fragment
    assert ">Stop</button>" in fragment
