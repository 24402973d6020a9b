from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.utils.module_loading import import_string


def test_every_middleware_is_async_capable():
    # One sync-only middleware makes Django run async views in a throwaway event
    # loop in a worker thread; a run started there (views.new_conversation) would
    # die with that loop instead of living on the server's loop.
    sync_only = [m for m in settings.MIDDLEWARE if not getattr(import_string(m), "async_capable", False)]
    assert sync_only == []


def layer_backend(**env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "REDIS_LAYER"}}
    env.update(env_vars, DJANGO_SETTINGS_MODULE="playground.settings")
    code = "from django.conf import settings; print(settings.CHANNEL_LAYERS['default']['BACKEND'])"
    root = Path(__file__).resolve().parents[2]
    return subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("env_vars", "backend"),
    [
        ({}, "playground.streaming.layers.InMemoryChannelLayer"),
        ({"REDIS_URL": "redis://127.0.0.1:6379"}, "channels_redis.pubsub.RedisPubSubChannelLayer"),
        ({"REDIS_URL": "redis://127.0.0.1:6379", "REDIS_LAYER": "lists"}, "channels_redis.core.RedisChannelLayer"),
    ],
)
def test_redis_url_selects_the_layer(env_vars, backend):
    done = layer_backend(**env_vars)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == backend


def test_an_unknown_redis_layer_is_refused_by_name():
    done = layer_backend(REDIS_URL="redis://127.0.0.1:6379", REDIS_LAYER="streams")
    assert done.returncode != 0
    assert 'REDIS_LAYER must be "pubsub" or "lists"' in done.stderr
