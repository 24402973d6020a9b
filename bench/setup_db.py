"""Seed a bench server's database: a user with a live session, an "openai" provider
pointing at the fake upstream, one model and a pool of empty conversations.

    DATA_DIR=... python -m bench.setup_db --upstream http://127.0.0.1:PORT --conversations 300

Prints JSON: {"session": key, "model": pk, "conversations": [pk, ...]}.
"""

from __future__ import annotations

import argparse
import json
import os


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--conversations", type=int, default=10)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from playground.models import Conversation, ModelProfile, Provider

    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username="bench")
    user.set_password("bench-password-not-secret")
    user.save()
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    # The backend that can load the user (axes, first in the list, only checks logins).
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.set_expiry(24 * 3600)
    session.create()

    provider, _ = Provider.objects.update_or_create(
        name="bench-fake", defaults={"kind": "openai", "base_url": args.upstream.rstrip("/") + "/v1"}
    )
    provider.set_api_key("sk-bench-not-a-key")
    provider.save()
    model, _ = ModelProfile.objects.update_or_create(
        provider=provider,
        model_id="bench-model",
        defaults={"label": "Bench fake model", "reasoning": "native", "thinking_control": "none"},
    )
    have = list(Conversation.objects.filter(owner=user).values_list("pk", flat=True))
    missing = args.conversations - len(have)
    if missing > 0:
        Conversation.objects.bulk_create(
            [Conversation(owner=user, model=model, title=f"bench {i}") for i in range(missing)]
        )
    pks = list(Conversation.objects.filter(owner=user).order_by("pk").values_list("pk", flat=True))
    print(json.dumps({"session": session.session_key, "model": model.pk, "conversations": pks}))


if __name__ == "__main__":
    main()
