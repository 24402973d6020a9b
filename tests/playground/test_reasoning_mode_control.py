"""The page's Reasoning control offers the three modes the backend takes (separate,
inline, hidden) and shows the conversation's choice again."""

from __future__ import annotations

import re

import pytest

from playground.models import Conversation

pytestmark = pytest.mark.django_db


def selected_mode(html: str) -> str:
    select = re.search(r'<select name="reasoning_mode">(.*?)</select>', html, re.S)
    assert select, "no reasoning_mode control"
    chosen = re.findall(r'<option value="(\w*)" selected>', select.group(1))
    assert len(chosen) == 1, chosen
    return chosen[0] or "separate"  # Shown sends no value: the default mode


@pytest.mark.parametrize(
    ("mode", "stored"),
    [
        ("separate", {"show_reasoning": True}),
        ("inline", {"show_reasoning": True, "reasoning_mode": "inline"}),
        ("hidden", {"show_reasoning": False, "reasoning_mode": "hidden"}),
    ],
)
def test_each_reasoning_mode_is_stored_and_shown_again(client, owner, scripted_model, mode, stored):
    conversation = Conversation.objects.create(owner=owner, title="Modes", model=scripted_model)
    client.force_login(owner)
    controls = f"/models/{scripted_model.pk}/controls?conversation={conversation.pk}"
    html = client.get(controls).content.decode()
    assert selected_mode(html) == "separate"
    assert all(f'<option value="{m}"' in html for m in ("", "inline", "hidden"))
    # What the form sends: the hidden show_reasoning and the chosen mode.
    response = client.post(
        f"/c/{conversation.pk}/settings",
        {"model": scripted_model.pk, "show_reasoning": "1", "reasoning_mode": "" if mode == "separate" else mode},
    )
    assert response.status_code == 204
    conversation.refresh_from_db()
    assert conversation.settings == stored
    assert selected_mode(client.get(controls).content.decode()) == mode


def test_going_back_to_shown_forgets_the_earlier_mode(client, owner, scripted_model):
    conversation = Conversation.objects.create(owner=owner, title="Modes", model=scripted_model)
    client.force_login(owner)
    for mode in ("inline", ""):
        form = {"model": scripted_model.pk, "show_reasoning": "1", "reasoning_mode": mode}
        response = client.post(f"/c/{conversation.pk}/settings", form)
        assert response.status_code == 204
    conversation.refresh_from_db()
    assert conversation.settings == {"show_reasoning": True}
