"""Things said once (issue 19.8): the enabled-models query and the secs/usd filters."""

from __future__ import annotations

from pathlib import Path

import pytest

from playground.models import ModelProfile, Provider
from playground.templatetags import compare_tags
from playground.templatetags import playground as chat_tags
from playground.turns.services import enabled_models

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_compare_pages_format_durations_and_costs_with_the_chat_filters():
    assert compare_tags.register.filters["secs"] is chat_tags.secs
    assert compare_tags.register.filters["usd"] is chat_tags.usd
    assert [chat_tags.secs(ms) for ms in (None, 310, 12_400, 185_000)] == ["—", "0.31 s", "12.4 s", "3 min 5 s"]


def test_the_enabled_models_query_is_written_once():
    sites = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "playground").rglob("*.py")
        if "provider__enabled=True" in path.read_text()
    ]
    assert sites == ["playground/turns/services.py"]


@pytest.mark.django_db
def test_enabled_models_leave_out_a_disabled_model_and_a_disabled_provider():
    on = Provider.objects.create(name="on", kind="simulator")
    off = Provider.objects.create(name="off", kind="simulator", enabled=False)
    kept = ModelProfile.objects.create(provider=on, label="kept", model_id="m")
    ModelProfile.objects.create(provider=on, label="disabled", model_id="m2", enabled=False)
    ModelProfile.objects.create(provider=off, label="of a disabled provider", model_id="m3")
    assert [m.label for m in enabled_models()] == [kept.label]
