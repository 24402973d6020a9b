"""Running the playground for a team: configuration, readiness, logs, metrics,
worker heartbeats (docs/operating.md)."""
