"""Settings that arrive as URLs (``EMAIL_URL``, ``CACHE_URL``) and the checks production settings run on them.

Plain functions of their arguments: the settings modules read the environment (so the README's configuration
reference, checked by a test, names every variable) and pass the values in.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# Backends that never deliver a message: refused under production settings.
NON_DELIVERING_EMAIL_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    }
)
_EMAIL_SCHEMES: dict[str, tuple[str, int, bool, bool]] = {
    # scheme: backend, default port, STARTTLS, implicit TLS
    "smtp": (SMTP_BACKEND, 25, False, False),
    "smtp+tls": (SMTP_BACKEND, 587, True, False),
    "submission": (SMTP_BACKEND, 587, True, False),
    "smtp+ssl": (SMTP_BACKEND, 465, False, True),
    "smtps": (SMTP_BACKEND, 465, False, True),
}
_LOCAL_EMAIL_SCHEMES = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
    "dummy": "django.core.mail.backends.dummy.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
}


def parse_email_url(url: str) -> dict[str, Any]:
    """Django's EMAIL_* settings for ``url``: ``smtp+tls://user:pass@host:587`` (STARTTLS), ``smtp+ssl://``
    or ``smtps://`` (implicit TLS, 465), ``smtp://`` (plain, 25), ``console://``, ``locmem://``, ``dummy://``,
    ``file:///path``. User and password are percent-decoded; ``?timeout=10`` sets EMAIL_TIMEOUT."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme in _LOCAL_EMAIL_SCHEMES:
        settings: dict[str, Any] = {"EMAIL_BACKEND": _LOCAL_EMAIL_SCHEMES[scheme]}
        if scheme == "file":
            if not parts.path:
                raise ImproperlyConfigured("EMAIL_URL file:// needs a directory: file:///var/mail/provenant")
            settings["EMAIL_FILE_PATH"] = unquote(parts.path)
        return settings
    if scheme not in _EMAIL_SCHEMES:
        known = ", ".join(sorted([*_EMAIL_SCHEMES, *_LOCAL_EMAIL_SCHEMES]))
        raise ImproperlyConfigured(f"EMAIL_URL has an unknown scheme {scheme!r} (known: {known})")
    backend, default_port, use_tls, use_ssl = _EMAIL_SCHEMES[scheme]
    if not parts.hostname:
        raise ImproperlyConfigured("EMAIL_URL names no host (smtp+tls://user:password@host:587)")
    try:
        port = parts.port or default_port
    except ValueError as error:
        raise ImproperlyConfigured("EMAIL_URL has an invalid port") from error
    settings = {
        "EMAIL_BACKEND": backend,
        "EMAIL_HOST": parts.hostname,
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_TLS": use_tls,
        "EMAIL_USE_SSL": use_ssl,
    }
    timeout = parse_qs(parts.query).get("timeout")
    if timeout:
        try:
            settings["EMAIL_TIMEOUT"] = float(timeout[-1])
        except ValueError as error:
            raise ImproperlyConfigured("EMAIL_URL's timeout must be a number of seconds") from error
    return settings


def email_settings(
    *,
    url: str,
    backend: str,
    host: str,
    port: str,
    user: str,
    password: str,
    use_tls: bool,
    use_ssl: bool,
    timeout: str,
) -> dict[str, Any]:
    """EMAIL_URL if set; else the explicit variables (SMTP when EMAIL_HOST is set); else EMAIL_BACKEND."""
    if url:
        settings = parse_email_url(url)
    elif host:
        if use_tls and use_ssl:
            raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other: set one")
        settings = {
            "EMAIL_BACKEND": backend or SMTP_BACKEND,
            "EMAIL_HOST": host,
            "EMAIL_PORT": int(port) if port else (465 if use_ssl else 587 if use_tls else 25),
            "EMAIL_HOST_USER": user,
            "EMAIL_HOST_PASSWORD": password,
            "EMAIL_USE_TLS": use_tls,
            "EMAIL_USE_SSL": use_ssl,
        }
    else:
        settings = {"EMAIL_BACKEND": backend or _LOCAL_EMAIL_SCHEMES["console"]}
    if timeout and "EMAIL_TIMEOUT" not in settings:
        settings["EMAIL_TIMEOUT"] = float(timeout)
    return settings


def cache_settings(url: str, *, key_prefix: str) -> dict[str, Any]:
    """The default cache for ``url``: Django's RedisCache for ``redis://``/``rediss://``, ``locmem://`` (one
    process) when empty, ``dummy://`` for none."""
    scheme = urlsplit(url).scheme.lower() if url else "locmem"
    if scheme in {"redis", "rediss"}:
        return {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url, "KEY_PREFIX": key_prefix}
    if scheme == "locmem":
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "KEY_PREFIX": key_prefix}
    if scheme == "dummy":
        return {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}
    raise ImproperlyConfigured(f"CACHE_URL has an unknown scheme {scheme!r} (redis://, rediss://, locmem://, dummy://)")


def is_shared_redis_url(url: str) -> bool:
    return bool(url) and urlsplit(url).scheme.lower() in {"redis", "rediss"}


def public_base_url_problem(url: str) -> str | None:
    """Why ``url`` can't be the public base URL of links sent to people (None if it can): it must be https on
    a host others can reach, not a loopback or unspecified address."""
    if not url:
        return "PROVENANT_PUBLIC_BASE_URL must be set in production (https://privacy.example.com)"
    parts = urlsplit(url)
    if parts.scheme != "https":
        return f"PROVENANT_PUBLIC_BASE_URL must be an https:// URL in production, not {parts.scheme or 'no'} scheme"
    host = (parts.hostname or "").lower()
    if not host:
        return "PROVENANT_PUBLIC_BASE_URL names no host"
    if host == "localhost" or host.endswith(".localhost"):
        return "PROVENANT_PUBLIC_BASE_URL points to localhost: people's links would lead nowhere"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_loopback or address.is_unspecified:
        return f"PROVENANT_PUBLIC_BASE_URL points to {host}: people's links would lead nowhere"
    return None


def production_problems(
    *, email_backend: str, public_base_url: str, cache_url: str, throttle_storage_uri: str
) -> list[str]:
    """Everything production settings refuse, one sentence each (empty: nothing)."""
    problems = []
    if email_backend in NON_DELIVERING_EMAIL_BACKENDS:
        name = email_backend.rsplit(".", 2)[-2]
        problems.append(
            f"email would not be delivered (the {name} backend): set EMAIL_URL (smtp+tls://user:password@host:587) "
            "or EMAIL_HOST and its companions"
        )
    base_url_problem = public_base_url_problem(public_base_url)
    if base_url_problem:
        problems.append(base_url_problem)
    if not is_shared_redis_url(cache_url):
        problems.append(
            "CACHE_URL (or REDIS_URL) must name a Redis server (redis://host:6379/1) in production: throttles, "
            "sign-in counts and rate limits are shared by every process through it"
        )
    if not is_shared_redis_url(throttle_storage_uri):
        problems.append("PROVENANT_THROTTLE_STORAGE_URI must be a Redis URL in production (or unset: the cache's)")
    return problems
