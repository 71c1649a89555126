"""/healthz and /readyz (issue #15): the probe of life checks nothing; the probe of readiness names each
dependency and, when one fails, answers 503 problem+json naming it. (The database's outage, with a cluster the
test stops, is tests/integration/test_db_outage.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.integration.postgres_cluster import free_port


@pytest.mark.django_db
def test_readyz_names_each_check_when_all_answer() -> None:
    response = Client().get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "broker", "cache"}
    assert all(check["status"] == "ok" for check in body["checks"].values())


@pytest.mark.django_db
def test_readyz_names_an_unreachable_broker_and_healthz_does_not_care(settings: Any) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"] == str(settings.PROVENANT_RETRY_AFTER_SECONDS)
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["type"].endswith("/dependency-unavailable")
    assert "broker" in body["detail"]
    assert body["checks"]["database"]["status"] == "ok"
    assert Client().get("/healthz").status_code == 200


def test_healthz_answers_without_touching_the_database() -> None:
    # No django_db mark: any query would fail the test.
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
