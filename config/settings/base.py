"""Settings read from environment variables, with safe defaults for local development.

Every variable is listed in the README's table. Production deployments use
``config.settings.production``, which refuses to start without real secrets.
"""

from __future__ import annotations

import copy
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF

from config.environment import cache_settings, email_settings, is_shared_redis_url
from core.secrets import development_secret

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("PROVENANT_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or development_secret(VAR_DIR, "django-secret-key")
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our static files: no CDN, works offline
    "core",
    "consent",
    "provenance",
    "dsar",
    "reports",
    "axes",  # admin sign-in lockout (see "Limits" below)
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    # Health, metrics, logs (issue #15): every request measured and logged once; outages answered 503.
    "core.middleware.AccessLogMiddleware",
    "core.middleware.MetricsMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
    "core.middleware.ApiGuardMiddleware",
    "consent.middleware.GpcMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.RateLimitMiddleware",  # rate-limit headers on API answers; per-address public limits
    "axes.middleware.AxesMiddleware",  # last, as django-axes asks
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Database: DATABASE_URL selects it; a SQLite file under var/ by default (make run).
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'provenant.sqlite3'}"),
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # The same backend, with a health check that reads the connection's state instead of sending SELECT 1
    # before every request (issue #16); a restarted database is still reconnected to (core/dbbackend).
    DATABASES["default"]["ENGINE"] = "core.dbbackend"
# The hottest reads (the state read) are prepared once per connection on PostgreSQL (issue #16). Behind a pooler
# in transaction mode that cannot carry prepared statements (PgBouncer before 1.21, or without
# max_prepared_statements), set false.
PROVENANT_DB_PREPARED_STATEMENTS = env_bool("PROVENANT_DB_PREPARED_STATEMENTS", True)

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server and the Celery worker share the file; IMMEDIATE makes every
    # write transaction take the write lock up front, so chains are serialised as on PostgreSQL.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # Covering indexes (INCLUDE columns) are a PostgreSQL optimisation; SQLite builds them as plain indexes.
    SILENCED_SYSTEM_CHECKS = ["models.W040"]

# Reports (issue #16) read through the ``reports`` alias: a read replica when REPORTS_DATABASE_URL names one, else
# the primary itself (the alias then opens no second connection: PROVENANT_REPORTS_DATABASE is "default").
# Under tests the alias mirrors the test database.
_reports_database_url = os.environ.get("REPORTS_DATABASE_URL", "")
DATABASES["reports"] = (
    dj_database_url.parse(
        _reports_database_url,
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
    if _reports_database_url
    else copy.deepcopy(DATABASES["default"])
)
DATABASES["reports"]["TEST"] = {"MIRROR": "default"}
PROVENANT_REPORTS_DATABASE = "reports" if _reports_database_url else "default"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Client users sign in to read their organization's report (reports/); staff use the admin's own login.
LOGIN_URL = "reports:login"
LOGIN_REDIRECT_URL = "reports:home"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Dates and times on staff pages: ISO dates, times with seconds and the zone (core/formats/en/formats.py).
FORMAT_MODULE_PATH = ["core.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
WHITENOISE_AUTOREFRESH = DEBUG
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Largest request body accepted by the API (bulk of 1,000 events fits in well under 4 MiB).
PROVENANT_MAX_BODY_BYTES = int(os.environ.get("PROVENANT_MAX_BODY_BYTES", str(4 * 1024 * 1024)))
DATA_UPLOAD_MAX_MEMORY_SIZE = PROVENANT_MAX_BODY_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["core.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["core.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["core.api.renderers.ApiJSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.problems.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["core.rate_limits.ApiRateThrottle"],
    "UNAUTHENTICATED_USER": None,
}

# Content-Security-Policy on every page (admin, sign-in, reports, API docs): only our own scripts, styles
# and images; nothing inline, no framing, forms post only to us. django-csp sets the header.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Provenant API",
    "DESCRIPTION": (
        "Consent ledger, provenance and data-subject requests. Authenticate with "
        "`Authorization: Bearer <api key>`; each operation lists the scope it needs. "
        "Errors are RFC 9457 `application/problem+json`."
    ),
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer", "description": "Provenant API key"}}
    },
    # RateLimit-* / X-RateLimit-* headers and the 429 answer on every operation (core.rate_limits).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.rate_limits.rate_limit_schema_hook",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ConsentActionEnum": "consent.enums.Action.choices",
        "ClientConsentActionEnum": "consent.enums.CLIENT_ACTION_CHOICES",
        "LawfulBasisEnum": "consent.enums.LawfulBasis.choices",
    },
}

# Crypto: PROVENANT_MASTER_KEY wraps every per-subject data key (base64, 32 bytes).
# Older keys stay usable for unwrapping through PROVENANT_PREVIOUS_MASTER_KEYS (comma-separated).
PROVENANT_MASTER_KEY = os.environ.get("PROVENANT_MASTER_KEY") or development_secret(
    VAR_DIR, "master-key", kind="aes256"
)
PROVENANT_PREVIOUS_MASTER_KEYS = env_list("PROVENANT_PREVIOUS_MASTER_KEYS")
PROVENANT_BLIND_INDEX_KEY = os.environ.get("PROVENANT_BLIND_INDEX_KEY") or development_secret(
    VAR_DIR, "blind-index-key", kind="aes256"
)
# Earlier blind-index keys (comma-separated), still matched on look-up after a rotation: suppression entries of
# erased people can't be re-indexed (their plaintext is gone), so a key stays here while any row uses it
# (manage.py reindex_blind_indexes --check tells).
PROVENANT_PREVIOUS_BLIND_INDEX_KEYS = env_list("PROVENANT_PREVIOUS_BLIND_INDEX_KEYS")
# Clients may send occurred_at at most this many seconds ahead of the server clock.
PROVENANT_ALLOWED_CLOCK_SKEW_SECONDS = int(os.environ.get("PROVENANT_ALLOWED_CLOCK_SKEW_SECONDS", "300"))
PROVENANT_BULK_MAX_EVENTS = 1000
# lastUpdate of /.well-known/gpc.json for hosts no organization claims (RFC 3339 date); default: the
# jurisdiction rule table's date. Checked by `manage.py check`.
PROVENANT_GPC_LAST_UPDATE = os.environ.get("PROVENANT_GPC_LAST_UPDATE") or None

# Deliveries and consent notices: retries with exponential backoff and full jitter, up to 24 h.
PROVENANT_RETRY_BASE_SECONDS = float(os.environ.get("PROVENANT_RETRY_BASE_SECONDS", "30"))
PROVENANT_RETRY_CAP_SECONDS = float(os.environ.get("PROVENANT_RETRY_CAP_SECONDS", "3600"))
PROVENANT_OUTBOUND_TIMEOUT_SECONDS = float(os.environ.get("PROVENANT_OUTBOUND_TIMEOUT_SECONDS", "10"))
# Deliveries, webhooks and DSAR connectors may reach private, loopback and link-local addresses (core.outbound).
# True here for the local demo, whose receivers run on 127.0.0.1; production settings default it to False.
PROVENANT_OUTBOUND_ALLOW_PRIVATE = env_bool("PROVENANT_OUTBOUND_ALLOW_PRIVATE", True)
# Access/portability exports are deleted (crypto-shredded) this many days after they were built: time for
# legal's review and the requester's 7-day download link, not a copy of the person's data kept for ever.
PROVENANT_EXPORT_RETENTION_DAYS = int(os.environ.get("PROVENANT_EXPORT_RETENTION_DAYS", "30"))
PROVENANT_SWEEP_GRACE_SECONDS = int(os.environ.get("PROVENANT_SWEEP_GRACE_SECONDS", "60"))
PROVENANT_NOTICE_SCAN_SECONDS = int(os.environ.get("PROVENANT_NOTICE_SCAN_SECONDS", "5"))
# The transparency log (issue #12): how often the sequencer appends newly committed events, and at most how
# many leaves one run appends per organization (the rest follow in the next run).
PROVENANT_LEDGER_SEQUENCE_SECONDS = int(os.environ.get("PROVENANT_LEDGER_SEQUENCE_SECONDS", "10"))
PROVENANT_LEDGER_SEQUENCE_BATCH = int(os.environ.get("PROVENANT_LEDGER_SEQUENCE_BATCH", "50000"))
# GET/POST /ledger/verify verify inside the request only up to this many events; larger ledgers are verified by a
# worker (POST /ledger/verifications), never inside a web request.
PROVENANT_LEDGER_VERIFY_IN_REQUEST_MAX_EVENTS = int(
    os.environ.get("PROVENANT_LEDGER_VERIFY_IN_REQUEST_MAX_EVENTS", "50000")
)
# A background ledger verification whose worker died is taken over after this lease.
PROVENANT_LEDGER_VERIFICATION_LEASE_SECONDS = int(os.environ.get("PROVENANT_LEDGER_VERIFICATION_LEASE_SECONDS", "1800"))
# Checkpoints pushed to witnesses: attempts before a push is given up, and the backoff's base and cap (seconds).
PROVENANT_WITNESS_PUSH_ATTEMPTS = int(os.environ.get("PROVENANT_WITNESS_PUSH_ATTEMPTS", "8"))
PROVENANT_WITNESS_RETRY_BASE_SECONDS = float(os.environ.get("PROVENANT_WITNESS_RETRY_BASE_SECONDS", "30"))
PROVENANT_WITNESS_RETRY_CAP_SECONDS = float(os.environ.get("PROVENANT_WITNESS_RETRY_CAP_SECONDS", "3600"))
# After a webhook secret is rotated, notices are signed with the new and the previous secret for this many
# hours (Standard Webhooks: several signatures in one header), so receivers can switch without a gap.
PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS = float(os.environ.get("PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS", "24"))

# DSAR identity verification: requester reminders on these days after the identity request (A3 adds day 14),
# signed links valid this many hours, and the public address the links point to.
PROVENANT_DSAR_REMINDER_DAYS = os.environ.get("PROVENANT_DSAR_REMINDER_DAYS", "2,5,14")
PROVENANT_DSAR_VERIFICATION_LINK_HOURS = int(os.environ.get("PROVENANT_DSAR_VERIFICATION_LINK_HOURS", "72"))
PROVENANT_PUBLIC_BASE_URL = os.environ.get("PROVENANT_PUBLIC_BASE_URL", "http://127.0.0.1:8000")

# DSAR fulfilment: a step's lease (a worker that dies holding it is replaced after this) and when a
# request with unfinished steps counts as stuck and is re-enqueued by beat (dsar-resume-stuck, every
# PROVENANT_DSAR_RESUME_SWEEP_SECONDS). A worker killed mid-step: its lease runs out after at most 120 s, the
# request is stuck once quiet for 2 min (counted from the last step's start, so at the lease's end at the latest),
# the next sweep (<= 60 s later) enqueues it: resumed within 120 + 60 s = 3 min, done within 5 min (issue #15).
# A step that outlives its lease (a connector slower than 3 attempts x PROVENANT_OUTBOUND_TIMEOUT_SECONDS) may be
# taken over and redone whole; it is still done once (the first run's commit is refused).
PROVENANT_DSAR_STEP_LEASE_SECONDS = int(os.environ.get("PROVENANT_DSAR_STEP_LEASE_SECONDS", "120"))
PROVENANT_DSAR_RESUME_SWEEP_SECONDS = int(os.environ.get("PROVENANT_DSAR_RESUME_SWEEP_SECONDS", "60"))
# The identity sweep (lost links, reminders, unverifiable closures; a rerun sends nothing) runs this often.
PROVENANT_DSAR_IDENTITY_SWEEP_SECONDS = int(os.environ.get("PROVENANT_DSAR_IDENTITY_SWEEP_SECONDS", "60"))
# Messages to requesters: a sender that dies mid-send holds its claim this long before the sweep sends again.
PROVENANT_DSAR_MESSAGE_LEASE_SECONDS = int(os.environ.get("PROVENANT_DSAR_MESSAGE_LEASE_SECONDS", "300"))
# Messages to requesters (receipts, notices) are sent by a worker after the step commits, never in the web request
# that queued them (issue #16: no SMTP conversation in an API call); with the broker down, the messages sweep sends
# them. Off: sent in the process that queued them, right after commit (the unit tests' in-memory mailbox).
PROVENANT_DSAR_MESSAGES_IN_WORKER = env_bool("PROVENANT_DSAR_MESSAGES_IN_WORKER", True)
PROVENANT_DSAR_FULFIL_STUCK_MINUTES = float(os.environ.get("PROVENANT_DSAR_FULFIL_STUCK_MINUTES", "2"))
# Calls to HTTP connectors during collection and erasure: attempts and jittered backoff base.
PROVENANT_DSAR_CONNECTOR_ATTEMPTS = int(os.environ.get("PROVENANT_DSAR_CONNECTOR_ATTEMPTS", "3"))
PROVENANT_DSAR_CONNECTOR_RETRY_SECONDS = float(os.environ.get("PROVENANT_DSAR_CONNECTOR_RETRY_SECONDS", "1"))
# DSAR erasure (issue #11): a verified deletion request stops before the crypto-shredding. "legal" (default): it
# waits until staff approve it in the admin; "none": it runs by itself after the cooling-off period (hours, 0 allowed).
# Either way staff can cancel it until it runs. dsar.checks refuses other values at startup.
PROVENANT_DSAR_ERASURE_REVIEW = os.environ.get("PROVENANT_DSAR_ERASURE_REVIEW", "legal")
PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS = os.environ.get("PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS", "24")

# Celery: a broker that needs no server unless CELERY_BROKER_URL is set.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery-broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # kombu writes its exchange tables here (by default ./control, relative to the working directory).
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or None

# Faults (issue #15). Redis redelivers a message a dead worker held (acks_late) after the visibility timeout; kept
# at Redis's one hour, longer than the countdowns the outboxes use, so a waiting message is not copied. Recovery
# from a killed worker does not wait for it: the DSAR stuck sweep (above) and the outbox sweeps (every minute)
# enqueue the work again. Publishing while the broker is down gives up after about a second (the row written in
# the request's transaction is the outbox the sweeps read), so an API call never waits on a dead broker.
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT_SECONDS", "3600")),
        "socket_connect_timeout": 1,
        "socket_timeout": 5,
    }
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}

# --- Shared cache (issue #15) ---------------------------------------------------------------------------------
# Django's cache: Redis (RedisCache) when CACHE_URL or REDIS_URL is set, shared by every web and worker process
# (throttles, sign-in counts, rate limits); one process's memory otherwise (make run). Required in production.
CACHE_URL = os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL") or ""
CACHE_KEY_PREFIX = os.environ.get("CACHE_KEY_PREFIX", "provenant")
CACHES = {"default": cache_settings(CACHE_URL, key_prefix=CACHE_KEY_PREFIX)}

# The privacy center (issue #13). Public forms are throttled per client address and per email; the counts live
# in Redis (the cache's, else the broker's) so every web process shares them, in memory without Redis (make run).
PROVENANT_THROTTLE_STORAGE_URI = os.environ.get("PROVENANT_THROTTLE_STORAGE_URI") or next(
    (url for url in (CACHE_URL, CELERY_BROKER_URL) if is_shared_redis_url(url)), "memory://"
)
PROVENANT_THROTTLE_KEY_PREFIX = os.environ.get("PROVENANT_THROTTLE_KEY_PREFIX", "provenant-throttle")
PROVENANT_PRIVACY_CENTER_THROTTLE_PER_ADDRESS = os.environ.get(
    "PROVENANT_PRIVACY_CENTER_THROTTLE_PER_ADDRESS", "30/hour"
)
PROVENANT_PRIVACY_CENTER_THROTTLE_PER_EMAIL = os.environ.get("PROVENANT_PRIVACY_CENTER_THROTTLE_PER_EMAIL", "5/hour")
# ---------------------------------------------------------------------------------------------------------------
# Limits (issue #15): API rate limits, per-address limits of the public pages, sign-in lockouts.
# Counts live in PROVENANT_THROTTLE_STORAGE_URI (Redis: shared by every worker; memory without Redis).
# ---------------------------------------------------------------------------------------------------------------
# Requests per minute of one API key (an API key's own "rate limit per minute" in the admin overrides it).
PROVENANT_API_RATE_LIMIT_PER_MINUTE = int(os.environ.get("PROVENANT_API_RATE_LIMIT_PER_MINUTE", "600"))
# A busy budget (400 a minute or more) is counted in batches (core.rate_batches): a process sends up to this many of
# a key's requests to Redis in one hit (and at most 1/200 of the budget), at least every FLUSH_SECONDS, and counts
# the last quarter of every budget request by request. 1: every request is its own round trip.
PROVENANT_API_RATE_COUNT_BATCH = int(os.environ.get("PROVENANT_API_RATE_COUNT_BATCH", "16"))
PROVENANT_API_RATE_COUNT_FLUSH_SECONDS = float(os.environ.get("PROVENANT_API_RATE_COUNT_FLUSH_SECONDS", "1"))
# The change feed's long polls (GET /api/v1/consent-events?wait=) that one web process lets wait at once; each holds
# a server thread, so by default half of gunicorn's threads (GUNICORN_THREADS); the others answer at once.
PROVENANT_FEED_LONG_POLLS_PER_PROCESS = int(
    os.environ.get(
        "PROVENANT_FEED_LONG_POLLS_PER_PROCESS", str(max(1, int(os.environ.get("GUNICORN_THREADS", "4")) // 2))
    )
)
# An API key found by its secret is reused by a process for this long (issue #16); revocation reaches every
# process within it (0: read the key on every request).
PROVENANT_API_KEY_CACHE_SECONDS = float(os.environ.get("PROVENANT_API_KEY_CACHE_SECONDS", "5"))
# Expensive operations (ledger verification and export, report rendering, the evidence pack, DSAR certificates):
# their own, lower budget per key and minute, on top of the key's general one.
PROVENANT_API_EXPENSIVE_RATE_LIMIT_PER_MINUTE = int(
    os.environ.get("PROVENANT_API_EXPENSIVE_RATE_LIMIT_PER_MINUTE", "10")
)
# Requests per minute from one client address to unauthenticated endpoints: API calls without a valid key, the
# privacy center, verification links, export downloads, /.well-known/ files, the sign-in pages.
PROVENANT_PUBLIC_RATE_LIMIT_PER_MINUTE = int(os.environ.get("PROVENANT_PUBLIC_RATE_LIMIT_PER_MINUTE", "120"))
# Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or CIDRs, e.g. "10.0.0.0/8").
# Empty: the client address is REMOTE_ADDR. Otherwise, when REMOTE_ADDR is one of them, the client address is the
# right-most X-Forwarded-For entry that is not a trusted proxy (a client cannot forge its way past the proxy).
PROVENANT_TRUSTED_PROXIES = env_list("PROVENANT_TRUSTED_PROXIES")
# Sign-in failure counts and lockouts live in Django's cache (the shared Redis of CACHE_URL/REDIS_URL above).
# Admin sign-in (django-axes): after PROVENANT_ADMIN_LOGIN_FAILURE_LIMIT failures for one user name from one
# client address, that pair is refused (429 with Retry-After) for PROVENANT_ADMIN_LOGIN_LOCKOUT_MINUTES; a
# success resets the count. Keyed by name and address together, so one address cannot lock everyone out.
AUTHENTICATION_BACKENDS = [
    "core.rate_limits.AdminSignInBackend",  # django-axes' AxesStandaloneBackend
    "django.contrib.auth.backends.ModelBackend",
]
AXES_HANDLER = "core.rate_limits.AdminSignInHandler"  # axes' cache handler: hashed counts, no name at rest
AXES_ONLY_ADMIN_SITE = True  # client users' sign-in has its own counter (reports.signin)
AXES_ENABLE_ADMIN = False
AXES_FAILURE_LIMIT = int(os.environ.get("PROVENANT_ADMIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("PROVENANT_ADMIN_LOGIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.throttling.client_address"
AXES_LOCKOUT_CALLABLE = "core.rate_limits.admin_lockout_response"
AXES_VERBOSE = False  # its log lines name the user and the address
# Client users' sign-in (reports/): failures per user name and client address before a lockout, and for how long.
PROVENANT_CLIENT_LOGIN_FAILURE_LIMIT = int(os.environ.get("PROVENANT_CLIENT_LOGIN_FAILURE_LIMIT", "5"))
PROVENANT_CLIENT_LOGIN_LOCKOUT_MINUTES = int(os.environ.get("PROVENANT_CLIENT_LOGIN_LOCKOUT_MINUTES", "15"))
# ---------------------------------------------------------------------------------------------------------------
# The preference center's magic link is valid this many minutes (and once); the session it opens this many.
PROVENANT_PRIVACY_CENTER_LINK_MINUTES = int(os.environ.get("PROVENANT_PRIVACY_CENTER_LINK_MINUTES", "30"))
PROVENANT_PRIVACY_CENTER_SESSION_MINUTES = int(os.environ.get("PROVENANT_PRIVACY_CENTER_SESSION_MINUTES", "30"))
# Unsubscribe links recipients put in their emails stay valid this many days.
PROVENANT_UNSUBSCRIBE_LINK_DAYS = int(os.environ.get("PROVENANT_UNSUBSCRIBE_LINK_DAYS", "365"))
# The queue every message goes to (core.tasks.enqueue reads it at send time; workers consume it with -Q).
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_TASK_DEFAULT_QUEUE", "celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    # Every committed consent event becomes a leaf of its organization's transparency log (issue #12).
    "consent-ledger-sequence": {
        "task": "consent.tasks.sequence_ledgers",
        "schedule": timedelta(seconds=PROVENANT_LEDGER_SEQUENCE_SECONDS),
        "options": {"expires": max(PROVENANT_LEDGER_SEQUENCE_SECONDS * 3, 30)},
    },
    "consent-ledger-verification-sweep": {
        "task": "consent.tasks.sweep_ledger_verifications",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 5 * 60},
    },
    # Checkpoint pushes to witnesses whose message was lost, or whose retry is due.
    "consent-witness-sweep": {
        "task": "consent.tasks.sweep_witness_pushes",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    # Uploaded imports (POST /api/v1/imports) whose task was lost: sent again (a rerun resumes, records nothing twice).
    "consent-import-sweep": {
        "task": "consent.api.tasks.sweep_consent_imports",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "consent-expire-grants": {
        "task": "consent.tasks.expire_lapsed_grants",
        "schedule": timedelta(minutes=int(os.environ.get("PROVENANT_EXPIRY_SWEEP_MINUTES", "5"))),
    },
    # The privacy center's magic links past their expiry: deleted with the emails they seal.
    "consent-purge-preference-links": {
        "task": "consent.tasks.purge_preference_links",
        "schedule": timedelta(hours=1),
        "options": {"expires": 60 * 60},
    },
    "ledger-verify-nightly": {
        "task": "consent.tasks.verify_all_ledgers",
        "schedule": crontab(hour=3, minute=17),
    },
    # Consent changes reach recipients' webhooks within a few seconds; a missed run only delays them.
    "provenance-scan-consent-changes": {
        "task": "provenance.tasks.scan_consent_changes",
        "schedule": timedelta(seconds=PROVENANT_NOTICE_SCAN_SECONDS),
        "options": {"expires": 30},
    },
    "provenance-sweep-due": {
        "task": "provenance.tasks.sweep_due",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "provenance-notices-overdue": {
        "task": "provenance.tasks.alert_overdue_notices",
        "schedule": timedelta(minutes=15),
        "options": {"expires": 15 * 60},
    },
    # DSAR: deadline reminders to legal and overdue escalation; requester reminders and unverifiable closures.
    "dsar-deadline-sweep": {
        "task": "dsar.tasks.deadline_sweep",
        "schedule": timedelta(hours=1),
        "options": {"expires": 60 * 60},
    },
    # Every minute (issue #15): a link whose message was lost with the broker goes out within a minute of its return.
    "dsar-identity-sweep": {
        "task": "dsar.tasks.identity_sweep",
        "schedule": timedelta(seconds=PROVENANT_DSAR_IDENTITY_SWEEP_SECONDS),
        "options": {"expires": PROVENANT_DSAR_IDENTITY_SWEEP_SECONDS},
    },
    # Messages to requesters whose delivery after commit was lost or failed, or whose sender died mid-send.
    "dsar-messages-sweep": {
        "task": "dsar.tasks.messages_sweep",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 60},
    },
    "dsar-purge-exports": {
        "task": "dsar.tasks.purge_exports",
        "schedule": crontab(hour=4, minute=7),
        "options": {"expires": 60 * 60},
    },
    # DSAR erasures whose review or cooling-off period ended: run (a lost countdown or a dead worker delays them).
    "dsar-erasure-sweep": {
        "task": "dsar.tasks.erasure_sweep",
        "schedule": timedelta(minutes=5),
        "options": {"expires": 5 * 60},
    },
    # DSAR fulfilment whose message was lost or whose worker died: enqueued again (steps are idempotent).
    "dsar-resume-stuck": {
        "task": "dsar.tasks.resume_stuck",
        "schedule": timedelta(seconds=PROVENANT_DSAR_RESUME_SWEEP_SECONDS),
        "options": {"expires": PROVENANT_DSAR_RESUME_SWEEP_SECONDS},
    },
}

# --- Health, metrics, logs (issue #15; engineer G) -------------------------------------------------------
# Log lines as JSON objects (time, level, logger, message, request_id, task_id; the access line adds
# organization, method, route, status, latency_ms) or as text. Production defaults to json.
PROVENANT_LOG_FORMAT = os.environ.get("PROVENANT_LOG_FORMAT", "text").strip().lower()
if PROVENANT_LOG_FORMAT not in {"json", "text"}:
    raise ValueError("PROVENANT_LOG_FORMAT must be json or text")
# /metrics answers only to "Authorization: Bearer <this token>"; unset, the endpoint does not exist (404).
# Under gunicorn set PROMETHEUS_MULTIPROC_DIR to an empty directory shared by its workers (README).
PROVENANT_METRICS_TOKEN = os.environ.get("PROVENANT_METRICS_TOKEN", "")
# Celery queues whose depth and oldest message age /metrics reports, besides CELERY_TASK_DEFAULT_QUEUE.
PROVENANT_METRICS_QUEUES = env_list("PROVENANT_METRICS_QUEUES")
# The domain figures on /metrics (DSARs open, due and overdue, dead letters, ledger counts, verification age) are
# computed at most once per this many seconds in each web process; scrapes in between reuse them (0: every scrape).
PROVENANT_METRICS_CACHE_SECONDS = int(os.environ.get("PROVENANT_METRICS_CACHE_SECONDS", "30"))
# Retry-After (seconds) on the 503 answered while the database (or, on /readyz, a dependency) is unavailable.
PROVENANT_RETRY_AFTER_SECONDS = int(os.environ.get("PROVENANT_RETRY_AFTER_SECONDS", "5"))
# /api/docs/: every operation with a body gets a working example for the demo organization (config.api_examples).
_hooks: list[str] = list(
    SPECTACULAR_SETTINGS.get("POSTPROCESSING_HOOKS") or ["drf_spectacular.hooks.postprocess_schema_enums"]
)  # type: ignore[call-overload]
SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"] = [*_hooks, "config.api_examples.add_examples"]
# --- end of health, metrics, logs ----------------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "core.logging.RequestIdFilter"},
    },
    "formatters": {
        "plain": {
            "()": "core.logging.RedactingFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s",
        },
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if PROVENANT_LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # WeasyPrint logs every rendering step at INFO (the PDF report); fontTools subsets fonts chattily.
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Email (issue #15) ------------------------------------------------------------------------------------------
# EMAIL_URL (smtp+tls://user:password@host:587, smtp+ssl://, smtp://, console://, locmem://) or the explicit
# variables (EMAIL_HOST and companions); the console without either. Production settings refuse a backend that
# delivers nothing (config.environment.production_problems).
_email = email_settings(
    url=os.environ.get("EMAIL_URL", ""),
    backend=os.environ.get("EMAIL_BACKEND", ""),
    host=os.environ.get("EMAIL_HOST", ""),
    port=os.environ.get("EMAIL_PORT", ""),
    user=os.environ.get("EMAIL_HOST_USER", ""),
    password=os.environ.get("EMAIL_HOST_PASSWORD", ""),
    use_tls=env_bool("EMAIL_USE_TLS", False),
    use_ssl=env_bool("EMAIL_USE_SSL", False),
    timeout=os.environ.get("EMAIL_TIMEOUT", "30"),
)
EMAIL_BACKEND: str = _email["EMAIL_BACKEND"]
EMAIL_HOST: str = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT: int = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER: str = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD: str = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS: bool = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL: bool = _email.get("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT: float | None = _email.get("EMAIL_TIMEOUT")
if "EMAIL_FILE_PATH" in _email:
    EMAIL_FILE_PATH: str = _email["EMAIL_FILE_PATH"]
del _email
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "privacy@provenant.local")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
