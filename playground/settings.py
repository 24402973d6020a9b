"""Settings, all from the environment, with safe local defaults.

The embedded default needs nothing installed: SQLite in WAL mode and the
in-memory channel layer. `DATABASE_URL` (postgres://…) switches to PostgreSQL (or
sqlite:///path names the SQLite file, as dj-database-url reads it) and
`REDIS_URL` (redis://…) to the channels-redis layer, for several daphne workers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

from playground import envfile

BASE_DIR = Path(__file__).resolve().parent.parent

# ---- Configuration in one place (docs/operating.md, "Configuration") ----
# The `.env` file (or ENV_FILE's) fills in what the real environment does not set;
# .env.example lists every setting below with its default (tests/playground/test_envfile.py).
# Only the names are kept here: DEBUG pages list settings, and a value may be a password.
ENV_FILE_NAMES = sorted(envfile.load())


def env(name: str, default: str = "") -> str:
    """A setting from the environment, or from the file named by NAME_FILE."""
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = env(name, "")
    if value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envfloat(name: str, default: float) -> float:
    value = env(name, "")
    try:
        return float(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from None


def envint(name: str, default: int) -> int:
    value = env(name, "")
    try:
        return int(value) if value else default
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def private_secret(path: Path, make: Callable[[], str]) -> str:
    """Read a generated secret, creating it once (mode 0600) when absent."""
    if not path.exists():
        # Written aside and linked into place: processes starting together (test
        # workers, server workers) never read a half-written file, and the first
        # link wins; the others read it.
        path.parent.mkdir(parents=True, exist_ok=True)
        aside = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(aside)
    return path.read_text().strip()


DATA_DIR = Path(env("DATA_DIR", str(BASE_DIR / "data")))
DEBUG = envbool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY") or private_secret(
    DATA_DIR / "secret_key", lambda: secrets.token_urlsafe(50)
)
# Fernet key for provider API keys at rest; never the same as SECRET_KEY.
FIELD_ENCRYPTION_KEY = env("FIELD_ENCRYPTION_KEY")
FIELD_ENCRYPTION_KEY_PATH = DATA_DIR / "field_encryption_key"

ALLOWED_HOSTS = [h for h in env("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in env("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "axes",
    "playground",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # Log lines of a request name its user (playground.operations.context).
    "playground.operations.context.RequestContextMiddleware",
    "playground.security.csp.PagePolicyMiddleware",
    # Last, as django-axes asks: it turns a lockout into the page that says so.
    "axes.middleware.AxesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "playground.urls"
ASGI_APPLICATION = "playground.asgi.application"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "chat"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "playground.conversations.sidebar_context.sidebar",
            ],
        },
    },
]


def sqlite_database(path: str) -> dict[str, object]:
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # Kept open: every database_sync_to_async call (a run's checkpoint once a
        # second) would otherwise reconnect and re-run the PRAGMAs (bench/README.md).
        "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60),
        # WAL lets the page read while a run checkpoints; IMMEDIATE avoids
        # "database is locked" upgrades from read to write transactions.
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        },
    }


def database_from_url(url: str) -> dict[str, object]:
    parts = urlparse(url)
    if parts.scheme == "sqlite":
        # As dj-database-url reads it: sqlite:///relative.db, sqlite:////absolute.db,
        # sqlite:// (or sqlite://:memory:) for an in-memory database.
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        return sqlite_database(path or ":memory:")
    if parts.scheme not in {"postgres", "postgresql", "pgsql"}:
        raise ImproperlyConfigured(f"DATABASE_URL must be postgres://… or sqlite:///path, not {parts.scheme}://")
    options = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")) or "postgres",
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": envint("DB_CONN_MAX_AGE", 60),
        "OPTIONS": options,
        "TEST": {"NAME": env("DATABASE_TEST_NAME") or None},
    }


if DATABASE_URL := env("DATABASE_URL"):
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATABASES = {"default": sqlite_database(env("SQLITE_PATH", str(DATA_DIR / "playground.sqlite3")))}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_LAYER = env("REDIS_LAYER", "pubsub")
if REDIS_LAYER not in ("pubsub", "lists"):
    raise ImproperlyConfigured(f'REDIS_LAYER must be "pubsub" or "lists", not {REDIS_LAYER!r}')
# Pub/sub by default: Redis pushes each group message to the workers subscribed to it.
# The list-based layer pops a process's messages one at a time (a Lua script and a
# BZPOPMIN round trip each, under one lock); at 50 streams of 25 frames/s its backlog
# grew to ~6 s and frames past its capacity were dropped (bench/README.md, "Redis").
# Nothing here needs the list layer's queued delivery: a watcher that misses a frame
# asks the run for the gap, and the consumer's watchdog catches a lost "turn.done".
if (REDIS_URL := env("REDIS_URL")) and REDIS_LAYER == "pubsub":
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL}], "prefix": env("REDIS_PREFIX", "asgi")},
        }
    }
elif REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # REDIS_PREFIX keeps several playgrounds (or test runs) on one Redis apart.
            # redis-py >= 6 times socket reads out after 5 s by default, exactly the
            # 5 s channels-redis blocks in BZPOPMIN: an idle receive then raises
            # TimeoutError and kills the consumer (bench/README.md, "Redis").
            "CONFIG": {
                "hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                "capacity": 1000,
                "expiry": 60,
                "prefix": env("REDIS_PREFIX", "asgi"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "playground.streaming.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}}
    }

# Login throttling (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one
# username from one address, that pair is locked out for AXES_COOLOFF_MINUTES, even
# with the right password. `manage.py axes_reset` lifts every lockout.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=envfloat("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Behind TRUSTED_PROXY_COUNT proxies the client's address is read from X-Forwarded-For;
# with none, from the socket only (a forged header must not dodge the lockout).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
AXES_IPWARE_PROXY_COUNT = TRUSTED_PROXY_COUNT or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if TRUSTED_PROXY_COUNT else ["REMOTE_ADDR"]
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The container image collects them at build into /app/staticfiles, outside the data volume.
STATIC_ROOT = Path(env("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
# Hashed names and .gz/.br copies once `collectstatic` ran (`make run` does); before, plain names.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "playground.staticfiles.StaticStorage"},
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# HTTPS, usually behind a TLS proxy (docs/security.md, "Running for a team"). Off by
# default: a local playground is plain http on the loopback.
if proxy_header := env("SECURE_PROXY_SSL_HEADER"):  # e.g. "X-Forwarded-Proto: https"
    name, _, value = proxy_header.partition(":")
    if not value.strip():
        raise ImproperlyConfigured('SECURE_PROXY_SSL_HEADER must look like "X-Forwarded-Proto: https"')
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + name.strip().upper().replace("-", "_"), value.strip())
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
# /health answers over plain http too, for the proxy's or the orchestrator's probe.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Model output is untrusted: nothing on a page may load from or talk to another host
# (security.csp adds this site's websocket, and https: images for a user who opts in).
# Styles may be inline: htmx and the templates set style attributes; CSS cannot run
# script, and its url() loads fall under img-src/font-src.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Limits per user, so one person (or a script with their session) cannot run up
# the provider bill or starve the others. Refusals are clear messages; nothing is stored.
MAX_CONCURRENT_RUNS = envint("MAX_CONCURRENT_RUNS", 12)  # answers generating at once
RUNS_PER_MINUTE = envint("RUNS_PER_MINUTE", 60)  # answers started in any minute
MAX_PROMPT_CHARS = envint("MAX_PROMPT_CHARS", 100_000)  # a prompt or system prompt
MAX_TURN_CHARS = envint("MAX_TURN_CHARS", 2_000_000)  # reasoning and answer of one turn (as an import's limit)

# HTTP requests' synchronous work (database, templates) runs on this many kept
# threads, each with its kept-open connection, not on a thread made per request
# (playground.db_threads: that churn grew the process's heap, issue 23.4).
REQUEST_THREADS = envint("REQUEST_THREADS", 4)

# Streaming: how often frames go to the browser and checkpoints to the database.
FRAME_INTERVAL = envfloat("FRAME_INTERVAL", 0.04)
CHECKPOINT_INTERVAL = envfloat("CHECKPOINT_INTERVAL", 1.0)
# A "streaming" turn not checkpointed for this long belongs to a dead process and
# is marked interrupted (0: max(10 s, 5 checkpoint intervals)); see turns.stale_after.
STREAM_STALE_AFTER = envfloat("STREAM_STALE_AFTER", 0.0)
# A browser that has not read its socket's 64 KiB buffer for this long is disconnected
# (frames are dropped meanwhile, so memory stays bounded either way).
WS_SLOW_CLIENT_TIMEOUT = envfloat("WS_SLOW_CLIENT_TIMEOUT", 30.0)
WS_BACKPRESSURE = envbool("WS_BACKPRESSURE", True)  # off only to measure what it saves
# Reasoning models may think silently for minutes before the first byte.
UPSTREAM_READ_TIMEOUT = envfloat("UPSTREAM_READ_TIMEOUT", 600.0)
UPSTREAM_CONNECT_TIMEOUT = envfloat("UPSTREAM_CONNECT_TIMEOUT", 10.0)
# Waiting for a free pooled connection when UPSTREAM_MAX_CONNECTIONS are all streaming.
UPSTREAM_POOL_TIMEOUT = envfloat("UPSTREAM_POOL_TIMEOUT", 30.0)
UPSTREAM_MAX_CONNECTIONS = envint("UPSTREAM_MAX_CONNECTIONS", 1000)
# What moves the upstream bytes under the same httpx client API, timeouts, pool and
# error mapping: "aiohttp" (reasoning.transport, aiohttp's C parser: less CPU per
# streamed read, bench/README.md) or "httpx" (httpx's own transport).
UPSTREAM_HTTP = env("UPSTREAM_HTTP", "aiohttp")
if UPSTREAM_HTTP not in ("aiohttp", "httpx"):
    raise ImproperlyConfigured(f'UPSTREAM_HTTP must be "aiohttp" or "httpx", not {UPSTREAM_HTTP!r}')
# The OpenAI-compatible API (/v1/): a streamed answer waits at most this long for its
# first text before the response head goes out (a failure within it is the HTTP
# status), then sends an SSE comment after each such silence so proxies keep the
# connection.
API_HEARTBEAT_INTERVAL = envfloat("API_HEARTBEAT_INTERVAL", 10.0)
# How long /v1 keeps a tool-call step's replay data (signatures, encrypted items) for the
# client's next request of the loop (playground.api.replay_store), in seconds.
GATEWAY_REPLAY_TTL = envfloat("GATEWAY_REPLAY_TTL", 24 * 3600.0)

# --- Sign-in: local accounts and OpenID Connect (docs/operating.md, "Sign-in") ---
# LOCAL_LOGIN=false turns username/password sign-in off (the form disappears and the
# password backend is removed); with OIDC_ISSUER set, the login page offers the IdP.
LOCAL_LOGIN = envbool("LOCAL_LOGIN", True)
OIDC_ISSUER = env("OIDC_ISSUER").rstrip("/")  # e.g. https://idp.example.com/realms/team
OIDC_RP_CLIENT_ID = env("OIDC_CLIENT_ID")
OIDC_RP_CLIENT_SECRET = env("OIDC_CLIENT_SECRET")
OIDC_RP_SCOPES = env("OIDC_SCOPES", "openid email profile")
OIDC_RP_SIGN_ALGO = env("OIDC_SIGN_ALGO", "RS256")
OIDC_PROVIDER_NAME = env("OIDC_PROVIDER_NAME", "single sign-on")  # the button says "Sign in with …"
OIDC_ALLOWED_DOMAINS = [d.strip() for d in env("OIDC_ALLOWED_DOMAINS").split(",") if d.strip()]
OIDC_GROUPS_CLAIM = env("OIDC_GROUPS_CLAIM", "groups")
OIDC_REQUIRED_GROUP = env("OIDC_REQUIRED_GROUP")  # empty: anyone the IdP signs in
OIDC_ADMIN_GROUP = env("OIDC_ADMIN_GROUP")  # empty: the admin flag is never changed by sign-in
OIDC_TIMEOUT = envfloat("OIDC_TIMEOUT", 10.0)
OIDC_VERIFY_SSL = envbool("OIDC_VERIFY_SSL", True)
OIDC_USE_PKCE = True
OIDC_USE_NONCE = True
OIDC_STORE_ID_TOKEN = True  # the hint for logout at the IdP
OIDC_OP_LOGOUT_URL_METHOD = "playground.accounts.oidc.provider_logout_url"
OIDC_AUTHENTICATION_CALLBACK_URL = "oidc_callback"
LOGIN_REDIRECT_URL_FAILURE = "/login/?signin=failed"
if OIDC_ISSUER and not OIDC_RP_CLIENT_ID:
    raise ImproperlyConfigured("OIDC_ISSUER is set but OIDC_CLIENT_ID is not")
if not LOCAL_LOGIN:
    # Passwords no longer sign anyone in; permissions still come from the database.
    AUTHENTICATION_BACKENDS[AUTHENTICATION_BACKENDS.index("django.contrib.auth.backends.ModelBackend")] = (
        "playground.accounts.signin.PermissionsOnlyBackend"
    )
if OIDC_ISSUER:
    AUTHENTICATION_BACKENDS.append("playground.accounts.oidc.Backend")
    # Logout is a form POST answered by a redirect to the IdP: CSP form-action covers it.
    _issuer = urlparse(OIDC_ISSUER)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(f"{_issuer.scheme}://{_issuer.netloc}")
# --- end of sign-in ---

# --- Per-user provider keys (docs/operating.md, "Per-user provider keys") ---
# off: every turn runs on the admin's keys; optional: a user may add their own key per
# provider, used for their turns only; required: users must bring their own.
USER_PROVIDER_KEYS = env("USER_PROVIDER_KEYS", "off")
if USER_PROVIDER_KEYS not in ("off", "optional", "required"):
    raise ImproperlyConfigured(
        f'USER_PROVIDER_KEYS must be "off", "optional" or "required", not {USER_PROVIDER_KEYS!r}'
    )
# --- end of per-user provider keys ---

# ---- Operating: health, logs, metrics, worker heartbeats (docs/operating.md) ----
# /ready gives each dependency (database, Redis) this long to answer.
READY_TIMEOUT = envfloat("READY_TIMEOUT", 2.0)
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; unset, it is off (404).
METRICS_TOKEN = env("METRICS_TOKEN")
# Where the workers of this host write their counters for /metrics to add up
# (prometheus_client's multiprocess mode, read from the environment at its import).
METRICS_DIR = env("METRICS_DIR", str(DATA_DIR / "metrics"))
if METRICS_TOKEN:
    Path(METRICS_DIR).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", METRICS_DIR)
# Each worker beats every WORKER_HEARTBEAT_INTERVAL seconds (0: off) and sweeps: the
# streaming turns of a worker silent for WORKER_LOST_AFTER seconds (0: 6 intervals)
# are marked interrupted (playground.operations.heartbeat).
WORKER_HEARTBEAT_INTERVAL = envfloat("WORKER_HEARTBEAT_INTERVAL", 5.0)
WORKER_LOST_AFTER = envfloat("WORKER_LOST_AFTER", 0.0)
# "text" (readable lines) or "json" (one JSON object per line, for a log collector).
LOG_FORMAT = env("LOG_FORMAT", "text")
if LOG_FORMAT not in ("text", "json"):
    raise ImproperlyConfigured(f'LOG_FORMAT must be "text" or "json", not {LOG_FORMAT!r}')
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "playground.operations.logs.TextFormatter"},
        "json": {"()": "playground.operations.logs.JsonFormatter"},
    },
    "filters": {"context": {"()": "playground.operations.logs.ContextFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"}, "daphne": {"level": "WARNING"}, "axes": {"level": "WARNING"},
        # The access log, when playground.server sends it through logging (LOG_FORMAT=json).
        "daphne.access": {"level": "INFO"},
        # Django's own console handler (DEBUG only) would print its lines a second
        # time, unscrubbed and never as JSON: they go through the root's console only.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
    },
}
