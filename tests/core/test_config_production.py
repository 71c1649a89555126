"""Production settings refuse to start with a setting missing or unsafe: each case loads
config.settings.production in its own interpreter with a crafted environment."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_KEY = base64.b64encode(bytes(32)).decode()
GOOD_ENVIRONMENT = {
    "DJANGO_SECRET_KEY": "a-production-secret-key-for-the-settings-test-only",
    "PROVENANT_MASTER_KEY": _KEY,
    "PROVENANT_BLIND_INDEX_KEY": _KEY,
    "DATABASE_URL": "postgres://provenant_app:secret@db.internal:5432/provenant",
    "CELERY_BROKER_URL": "redis://redis.internal:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:p%40ss@smtp.example.com:587",
    "PROVENANT_PUBLIC_BASE_URL": "https://privacy.example.com",
    "REDIS_URL": "redis://redis.internal:6379/1",
}
_PRINT_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "EMAIL_BACKEND": settings.EMAIL_BACKEND, "EMAIL_HOST": settings.EMAIL_HOST, "EMAIL_PORT": settings.EMAIL_PORT,
    "EMAIL_HOST_PASSWORD": settings.EMAIL_HOST_PASSWORD, "EMAIL_USE_TLS": settings.EMAIL_USE_TLS,
    "CACHE": settings.CACHES["default"], "THROTTLE": settings.PROVENANT_THROTTLE_STORAGE_URI,
    "DEBUG": settings.DEBUG,
}))
"""


def load_production(environment: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "PROVENANT_VAR_DIR": str(tmp_path / "var"),
        **environment,
    }
    return subprocess.run(
        [sys.executable, "-c", _PRINT_SETTINGS], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_production_settings_start_with_every_setting_safe(tmp_path: Path) -> None:
    result = load_production(GOOD_ENVIRONMENT, tmp_path)

    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert (loaded["EMAIL_HOST"], loaded["EMAIL_PORT"], loaded["EMAIL_USE_TLS"]) == ("smtp.example.com", 587, True)
    assert loaded["EMAIL_HOST_PASSWORD"] == "p@ss"
    assert loaded["CACHE"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert loaded["CACHE"]["LOCATION"] == "redis://redis.internal:6379/1"
    # Throttle counts go to the shared cache's Redis, not to one process's memory.
    assert loaded["THROTTLE"] == "redis://redis.internal:6379/1"
    assert loaded["DEBUG"] is False


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"DJANGO_SECRET_KEY": None}, "DJANGO_SECRET_KEY must be set"),
        ({"PROVENANT_MASTER_KEY": None}, "PROVENANT_MASTER_KEY must be set"),
        ({"PROVENANT_BLIND_INDEX_KEY": None}, "PROVENANT_BLIND_INDEX_KEY must be set"),
        ({"DATABASE_URL": None}, "DATABASE_URL must be set"),
        ({"EMAIL_URL": None}, "the console backend"),
        ({"EMAIL_URL": "console://"}, "the console backend"),
        ({"EMAIL_URL": "locmem://"}, "the locmem backend"),
        ({"EMAIL_URL": "dummy://"}, "the dummy backend"),
        ({"EMAIL_URL": "file:///tmp/mail"}, "the filebased backend"),
        (
            {"EMAIL_URL": None, "EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"},
            "the console backend",
        ),
        ({"EMAIL_URL": "carrier-pigeon://coop"}, "EMAIL_URL has an unknown scheme"),
        ({"PROVENANT_PUBLIC_BASE_URL": None}, "PROVENANT_PUBLIC_BASE_URL must be set"),
        ({"PROVENANT_PUBLIC_BASE_URL": "http://privacy.example.com"}, "must be an https:// URL"),
        ({"PROVENANT_PUBLIC_BASE_URL": "https://127.0.0.1:8000"}, "points to 127.0.0.1"),
        ({"PROVENANT_PUBLIC_BASE_URL": "https://localhost"}, "points to localhost"),
        ({"PROVENANT_PUBLIC_BASE_URL": "https://[::1]/"}, "points to ::1"),
        ({"REDIS_URL": None}, "CACHE_URL (or REDIS_URL) must name a Redis server"),
        ({"REDIS_URL": None, "CACHE_URL": "locmem://"}, "CACHE_URL (or REDIS_URL) must name a Redis server"),
        ({"PROVENANT_THROTTLE_STORAGE_URI": "memory://"}, "PROVENANT_THROTTLE_STORAGE_URI must be a Redis URL"),
    ],
    ids=lambda value: str(value) if isinstance(value, str) else None,
)
def test_production_settings_refuse_a_missing_or_unsafe_setting(
    change: dict[str, str | None], named: str, tmp_path: Path
) -> None:
    environment = {**GOOD_ENVIRONMENT, **{k: v for k, v in change.items() if v is not None}}
    for name in [k for k, v in change.items() if v is None]:
        del environment[name]

    result = load_production(environment, tmp_path)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert named in result.stderr
    # The refusal names the problem, never a secret.
    assert "p@ss" not in result.stderr
    assert "p%40ss" not in result.stderr


def test_production_settings_name_every_problem_at_once(tmp_path: Path) -> None:
    environment = {k: v for k, v in GOOD_ENVIRONMENT.items() if k not in {"EMAIL_URL", "REDIS_URL"}}
    environment["PROVENANT_PUBLIC_BASE_URL"] = "http://127.0.0.1:8000"

    result = load_production(environment, tmp_path)

    assert result.returncode != 0
    for named in ("the console backend", "PROVENANT_PUBLIC_BASE_URL", "CACHE_URL (or REDIS_URL)"):
        assert named in result.stderr
