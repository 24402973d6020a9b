"""In Chromium: the composer's model follows the conversation on show (issue 21's loose
ends). An existing conversation opens on its own model (its last answer's, when it has
none of its own, as an imported one), not on the last one used elsewhere; a model that
is no longer enabled is not shown as if it were; a new chat still starts on the last
model used, or on the one chosen in Settings."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.browser

SIM = "Offline simulator"
LONG = "Offline simulator (long thoughts)"
RETIRED = "Retired thinker"

SETUP = """
import json
from django.contrib.auth import get_user_model
from playground.models import Conversation, ModelProfile, Preferences, Provider, Turn
user = get_user_model().objects.get(username={user!r})
Preferences.objects.filter(user=user).update(default_model=None)
sim = ModelProfile.objects.get(label={sim!r})
long = ModelProfile.objects.get(label={long!r})
p, _ = Provider.objects.get_or_create(name='retired-sim', defaults={{'kind': 'simulator', 'base_url': ''}})
retired, _ = ModelProfile.objects.update_or_create(provider=p, model_id='simulator',
    defaults={{'label': {retired!r}, 'reasoning': 'markup', 'markup': 'think', 'thinking_control': 'simulator',
              'enabled': False, 'position': 95}})

def conversation(title, model, answered_by):
    c = Conversation.objects.create(owner=user, title=title, model=model)
    q = Turn.objects.create(conversation=c, role='user', content='Which model are you?')
    a = Turn.objects.create(conversation=c, parent=q, role='assistant', content='This one.', status='complete',
                            model=answered_by, model_label=answered_by.label, source=answered_by.source)
    c.leaf = a
    c.save()
    return c.pk

ids = {{}}
# Oldest first: the last one written is "the last model used".
ids['imported'] = conversation('Imported, no model of its own', None, sim)
ids['retired'] = conversation('Answered by a retired model', retired, retired)
ids['sim'] = conversation('Asked the simulator', sim, sim)
ids['long'] = conversation('Asked the long thinker', long, long)
print(json.dumps(ids))
"""


@pytest.fixture
def conversations(server):
    out = server.shell(SETUP.format(user=server.user, sim=SIM, long=LONG, retired=RETIRED))
    yield json.loads(out.strip().splitlines()[-1])
    server.shell(
        "from playground.models import Conversation, Provider\n"
        "Conversation.objects.filter(title__in=['Imported, no model of its own', 'Answered by a retired model',"
        " 'Asked the simulator', 'Asked the long thinker']).delete()\n"
        "Provider.objects.filter(name='retired-sim').delete()\n"
    )


def shown_model(page) -> dict:
    """What the composer shows: the select's choice, the picker's button, whose controls."""
    return page.evaluate("""() => {
        const select = document.getElementById('model');
        return {select: select.selectedOptions[0].textContent.trim(),
                button: select.parentElement.querySelector('.model-picker .picker-current').textContent.trim(),
                controls_match: document.getElementById('controls').dataset.model === select.value};
    }""")


def test_an_open_conversation_shows_its_own_model_and_a_new_chat_the_last_used(
    logged_in_page, server, conversations
):
    page = logged_in_page
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    page.goto(server.url("/"))
    assert shown_model(page) == {"select": LONG, "button": LONG, "controls_match": True}

    page.goto(server.url(f"/c/{conversations['sim']}/"))
    assert shown_model(page) == {"select": SIM, "button": SIM, "controls_match": True}

    # No model of its own (imported): its last answer's model, not the last used elsewhere.
    page.goto(server.url(f"/c/{conversations['imported']}/"))
    assert shown_model(page) == {"select": SIM, "button": SIM, "controls_match": True}

    # Its model is switched off: the composer shows a model it can send to, with that model's controls.
    page.goto(server.url(f"/c/{conversations['retired']}/"))
    assert shown_model(page) == {"select": LONG, "button": LONG, "controls_match": True}

    # Opened from the sidebar, the same.
    page.goto(server.url(f"/c/{conversations['long']}/"))
    page.locator("#sidebar a.conv-link", has_text="Asked the simulator").click()
    page.wait_for_url(f"**/c/{conversations['sim']}/")
    assert shown_model(page) == {"select": SIM, "button": SIM, "controls_match": True}

    # A new chat: the last model used; the Settings choice when there is one.
    page.locator("a.new-chat").click()
    page.wait_for_url(server.url("/"))
    assert shown_model(page)["select"] == LONG
    server.shell(
        "from django.contrib.auth import get_user_model\n"
        "from playground.models import ModelProfile, Preferences\n"
        f"p = Preferences.of(get_user_model().objects.get(username={server.user!r}))\n"
        f"p.default_model = ModelProfile.objects.get(label={SIM!r})\n"
        "p.save()\n"
    )
    try:
        page.goto(server.url("/"))
        assert shown_model(page)["select"] == SIM
        page.goto(server.url(f"/c/{conversations['long']}/"))
        assert shown_model(page)["select"] == LONG  # the conversation's own, over Settings
    finally:
        server.shell(
            "from playground.models import Preferences\n"
            f"Preferences.objects.filter(user__username={server.user!r}).update(default_model=None)\n"
        )
    assert errors == []
