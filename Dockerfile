# The playground's container image (docs/operating.md, "Containers").
# Build: docker build -t reasoning-playground .   Run: see compose.yaml.
# Not built on the machine this was written on (it has no container engine): the RUN
# steps are run in a fresh virtualenv by tests/test_containers.py; see README "Containers".
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DATA_DIR=/data \
    STATIC_ROOT=/app/staticfiles \
    PORT=8000

# pg_dump and psql for `manage.py backup`/`restore` on PostgreSQL (Debian 12's 15:
# compose.yaml runs PostgreSQL 15, and pg_dump must be at least the server's version).
RUN apt-get update \
 && apt-get install --yes --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/*

# A user of its own: the server never runs as root.
RUN groupadd --system --gid 10001 playground \
 && useradd --system --uid 10001 --gid playground --home-dir /app --shell /usr/sbin/nologin playground \
 && mkdir -p /data \
 && chown playground:playground /data

WORKDIR /app

# Dependencies first (their layer stays cached while the code changes). The project
# itself is not pip-installed: it runs from /app, where templates/ and static/ live.
COPY pyproject.toml ./
RUN python -m venv /opt/venv \
 && python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install --requirement /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY manage.py ./
COPY reasoning ./reasoning
COPY playground ./playground
COPY templates ./templates
COPY static ./static
COPY docker-entrypoint.sh ./

# Static files collected at build (hashed names, .gz and .br copies), outside the data
# volume. A throwaway DATA_DIR and keys: collectstatic needs settings, not secrets.
RUN DATA_DIR=/tmp/build-data SECRET_KEY=build-only-not-a-secret \
    python manage.py collectstatic --noinput --verbosity 0 \
 && rm -rf /tmp/build-data \
 && python -m compileall -q reasoning playground

USER playground
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "playground.healthcheck"]

ENTRYPOINT ["/app/docker-entrypoint.sh"]
# The production server: daphne with uvloop, permessage-deflate and the tuned GC.
CMD ["python", "-m", "playground.server", "-b", "0.0.0.0", "-p", "8000", "playground.asgi:application"]
