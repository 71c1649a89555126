"""Production settings: every secret must come from the environment."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from config.environment import production_problems

for _required in ("DJANGO_SECRET_KEY", "PROVENANT_MASTER_KEY", "PROVENANT_BLIND_INDEX_KEY", "DATABASE_URL"):
    if not os.environ.get(_required):
        raise ImproperlyConfigured(f"{_required} must be set in production")

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault("PROVENANT_LOG_FORMAT", "json")  # issue #15 (engineer G): structured logs in production

from config.settings.base import *  # noqa: E402,F403

DEBUG = False
# HTTPS is decided by gunicorn, not by a header any client can send: gunicorn sets the request's scheme
# from X-Forwarded-Proto only when the peer is a proxy listed in GUNICORN_FORWARDED_ALLOW_IPS (the proxy
# contract in the README's deployment section). SECURE_PROXY_SSL_HEADER stays unset on purpose: Django
# would trust that header from every client.
SECURE_PROXY_SSL_HEADER = None
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)  # noqa: F405
# The orchestrator's probes and the Prometheus scraper speak plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)  # noqa: F405
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)  # noqa: F405  # a commitment: opt in
# Outbound calls to integration-chosen URLs reach public addresses only (SSRF guard, core.outbound).
PROVENANT_OUTBOUND_ALLOW_PRIVATE = env_bool("PROVENANT_OUTBOUND_ALLOW_PRIVATE", False)  # noqa: F405

# --- Refusals (issue #15) ---------------------------------------------------------------------------------------
# A deployment that would print emails to a console, send people links to 127.0.0.1 or count throttles per
# process does not start: every problem is named at once.
_problems = production_problems(
    email_backend=EMAIL_BACKEND,  # noqa: F405
    public_base_url=os.environ.get("PROVENANT_PUBLIC_BASE_URL", ""),
    cache_url=CACHE_URL,  # noqa: F405
    throttle_storage_uri=PROVENANT_THROTTLE_STORAGE_URI,  # noqa: F405
)
if _problems:
    raise ImproperlyConfigured("production settings refused: " + "; ".join(_problems))
