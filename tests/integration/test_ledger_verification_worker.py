"""Issue #12: the background ledger verification on a real Celery worker: POST, then poll until it is done."""

from __future__ import annotations

from collections.abc import Callable

from rest_framework.test import APIClient

from consent import services
from consent.models import Purpose, Source
from core.models import Organization
from tests.factories import ConsentEventInputFactory
from tests.integration.conftest import CeleryWorker, wait_until


def test_a_worker_runs_the_verification_the_api_queued(
    organization: Organization,
    source: Source,
    purpose: Purpose,
    api_client_for: Callable[..., APIClient],
    celery_worker: CeleryWorker,
) -> None:
    services.consent_record_many(organization=organization, items=ConsentEventInputFactory.build_batch(25))
    client = api_client_for(organization, "consent:read", "consent:write")

    location = client.post("/api/v1/ledger/verifications")["Location"]
    done = wait_until(lambda: (body := client.get(location).json())["status"] == "done" and body, timeout=60)

    assert done["result"]["valid"] is True
    assert done["result"]["events_checked"] == 25
