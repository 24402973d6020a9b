from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


def test_every_middleware_is_async_capable():
    # One sync-only middleware makes Django run async views in a throwaway event
    # loop in a worker thread; a run started there (views.new_conversation) would
    # die with that loop instead of living on the server's loop.
    sync_only = [m for m in settings.MIDDLEWARE if not getattr(import_string(m), "async_capable", False)]
    assert sync_only == []
