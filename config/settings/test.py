"""Test settings: PostgreSQL and Redis, the real things."""

from __future__ import annotations

import base64
import os

os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant")
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
# Fresh keys for every test run: nothing secret is read from disk or the repo.
os.environ.setdefault("PROVENANT_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
os.environ.setdefault("PROVENANT_BLIND_INDEX_KEY", base64.b64encode(os.urandom(32)).decode())
os.environ.setdefault("DJANGO_SECRET_KEY", base64.b64encode(os.urandom(48)).decode())

from config.settings.base import *  # noqa: F403

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; tests own their users
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"] = {**LOGGING["root"], "level": "WARNING"}  # type: ignore[dict-item]  # noqa: F405
WHITENOISE_AUTOREFRESH = True  # tests do not run collectstatic
PROVENANT_OUTBOUND_ALLOW_PRIVATE = True  # the receivers of the test suite listen on 127.0.0.1
# Lets the test runner TRUNCATE between transactional tests (see consent migration 0003).
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c provenant.allow_truncate=on"  # noqa: F405
# Each pytest-xdist worker counts its own throttles (the tests reset them).
PROVENANT_THROTTLE_KEY_PREFIX = f"provenant-throttle-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
# Limits (issue #15): generous budgets so the suite is never throttled (tests/core/test_rate_limits.py sets its own);
# the cache in process memory so tests that clear it clear nothing shared (the limit tests override CACHES to Redis).
PROVENANT_API_RATE_LIMIT_PER_MINUTE = 1_000_000
PROVENANT_API_EXPENSIVE_RATE_LIMIT_PER_MINUTE = 1_000_000
PROVENANT_PUBLIC_RATE_LIMIT_PER_MINUTE = 1_000_000
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Unit tests read requester messages from the in-memory mailbox right after the call; processes started by the
# integration tests (tests/integration/worker_settings.py) send them from the worker, as production does.
PROVENANT_DSAR_MESSAGES_IN_WORKER = env_bool("PROVENANT_DSAR_MESSAGES_IN_WORKER", False)  # noqa: F405
