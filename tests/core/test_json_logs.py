"""Structured logs (issue #15): one JSON access line per request with time, level, logger, request id,
organization, route (the pattern), status and latency; and no email, token, API key or subject id reaches
any log line, whatever the request carried."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from consent.models import Purpose, Source
from core.logging import JsonFormatter, RequestIdFilter
from core.models import Organization
from core.services import api_key_create
from tests.conftest import event_body

ROOT = Path(__file__).resolve().parents[2]
EMAIL = "alice.logwatch@example.com"
SUBJECT = "subject-logwatch-4711"
TOKEN = "eyJzZWNyZXQiOiJsb2d3YXRjaCJ9.c2lnbmF0dXJlLWxvZ3dhdGNo"


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """Every record of every logger (access lines included), as the JSON console handler writes it."""
    captured = io.StringIO()
    handler = logging.StreamHandler(captured)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    quiet = logging.getLogger("django.db.backends")
    quiet_level = quiet.level
    quiet.setLevel(logging.DEBUG)  # the SQL too: parameters are where a subject id would leak
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        quiet.setLevel(quiet_level)


def lines(captured: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in captured.getvalue().splitlines() if line.strip()]


@pytest.mark.django_db
def test_each_request_logs_one_json_access_line(
    json_log: io.StringIO, organization: Organization, source: Source, purpose: Purpose, client_rw: APIClient
) -> None:
    response = client_rw.post(
        "/api/v1/consent-events", event_body(subject_id="cust-9"), format="json", HTTP_X_REQUEST_ID="req-json-1"
    )
    assert response.status_code == 201
    Client().get("/healthz", HTTP_X_REQUEST_ID="req-json-2")

    records = lines(json_log)
    access = [record for record in records if record["logger"] == "provenant.access"]
    assert [record["request_id"] for record in access] == ["req-json-1", "req-json-2"]
    consent, health = access
    assert consent["route"] == "/api/v1/consent-events"
    assert consent["status"] == 201
    assert consent["method"] == "POST"
    assert consent["organization"] == "acme"
    assert isinstance(consent["latency_ms"], int | float)
    assert consent["latency_ms"] >= 0
    assert consent["level"] == "INFO"
    assert consent["time"].startswith("20")
    assert "T" in consent["time"]
    assert health["organization"] == "-"
    assert health["route"] == "/healthz"
    assert health["status"] == 200
    for record in records:
        assert {"time", "level", "logger", "message", "request_id"} <= record.keys()


@pytest.mark.django_db
def test_no_email_token_key_or_subject_id_reaches_a_log_line(
    json_log: io.StringIO,
    organization: Organization,
    source: Source,
    purpose: Purpose,
    api_client_for: Callable[..., APIClient],
) -> None:
    _, secret = api_key_create(
        organization=organization, name="logs", scopes=["consent:read", "consent:write"], actor="t"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    client.post("/api/v1/consent-events", event_body(subject_id=SUBJECT), format="json")
    client.post("/api/v1/consent-events", event_body(subject_id=EMAIL), format="json")
    client.get(f"/api/v1/subjects/{EMAIL}/consent?email={EMAIL}")
    client.get(f"/api/v1/subjects/{SUBJECT}/consent", HTTP_REFERER=f"https://x.test/{TOKEN}")
    client.get(f"/api/v1/dsar/verify/{TOKEN}")
    client.post(f"/api/v1/dsar/verify/{TOKEN}", {}, format="json")
    APIClient().get("/api/v1/sources", HTTP_AUTHORIZATION=f"Bearer {secret}x")  # a wrong key: refused
    APIClient().get("/api/v1/sources", HTTP_X_API_KEY=secret)
    Client().get(f"/privacy/acme/verify/{TOKEN}")
    Client().get(f"/nothing/{EMAIL}/{TOKEN}")  # Django's "Not Found: <path>" warning

    output = json_log.getvalue()
    records = lines(json_log)
    assert sum(record["logger"] == "provenant.access" for record in records) == 10
    assert "/api/v1/subjects/{subject_id}/consent" in output
    assert "/api/v1/dsar/verify/{token}" in output
    for secret_value in (EMAIL, SUBJECT, TOKEN, secret, secret[:16]):
        assert secret_value not in output, secret_value


def test_the_format_is_chosen_by_the_environment_and_production_defaults_to_json() -> None:
    def formatter(settings_module: str, **env: str) -> str:
        code = "import django, logging; django.setup(); print(type(logging.getLogger().handlers[0].formatter).__name__)"
        inherited = {name: value for name, value in os.environ.items() if name != "PROVENANT_LOG_FORMAT"}
        environment = {**inherited, "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONPATH": str(ROOT), **env}
        result = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    secrets = {
        "DJANGO_SECRET_KEY": "x" * 50,
        "PROVENANT_MASTER_KEY": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        "PROVENANT_BLIND_INDEX_KEY": "MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTIzNDU2Nzg5MDE=",
        # What production refuses to start without (tests/core/test_config_production.py).
        "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
        "PROVENANT_PUBLIC_BASE_URL": "https://privacy.example.com",
        "REDIS_URL": "redis://127.0.0.1:6379/1",
    }
    assert formatter("config.settings.test") == "RedactingFormatter"
    assert formatter("config.settings.test", PROVENANT_LOG_FORMAT="json") == "JsonFormatter"
    assert formatter("config.settings.production", **secrets) == "JsonFormatter"
    assert formatter("config.settings.production", PROVENANT_LOG_FORMAT="text", **secrets) == "RedactingFormatter"
