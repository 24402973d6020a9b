"""The app's security boundaries, each a small function the views and consumers call.

- `secrets`: scrub known secrets from provider text on its way in; secret headers at rest.
- `sockets`: the websocket Origin check, the per-message session check, bad-message frames.
"""
