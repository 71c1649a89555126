"""Production settings: every secret must come from the environment."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

for _required in ("DJANGO_SECRET_KEY", "PROVENANT_MASTER_KEY", "PROVENANT_BLIND_INDEX_KEY", "DATABASE_URL"):
    if not os.environ.get(_required):
        raise ImproperlyConfigured(f"{_required} must be set in production")

os.environ.setdefault("DJANGO_DEBUG", "false")

from config.settings.base import *  # noqa: E402,F403

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
# Outbound calls to integration-chosen URLs reach public addresses only (SSRF guard, core.outbound).
PROVENANT_OUTBOUND_ALLOW_PRIVATE = env_bool("PROVENANT_OUTBOUND_ALLOW_PRIVATE", False)  # noqa: F405
