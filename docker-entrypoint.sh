#!/bin/sh
# Before the server starts: migrate and bootstrap (the offline simulator, the built-in
# prompts, a first admin when there is no user; printed once in the log). With several
# replicas, set SETUP_ON_START=false on all but one and upgrade with a single replica
# (docs/operating.md, "Upgrades"): concurrent migrations must never run.
set -eu
case "${SETUP_ON_START:-true}" in
  true|1|yes|on)
    python manage.py migrate --noinput
    python manage.py bootstrap
    ;;
esac
exec "$@"
