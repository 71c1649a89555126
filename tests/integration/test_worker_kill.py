"""A worker SIGKILLed mid-DSAR (issue #15): the request completes, each step and each connector call recorded
once, with nothing faked: a real connector on 127.0.0.1 holds the call, the worker is killed while it waits, a
second worker and Celery beat's stuck sweep carry the request on.

With the default settings (config/settings/base.py) the request is resumed within 5 minutes of the kill: the dead
worker's step lease ends at most PROVENANT_DSAR_STEP_LEASE_SECONDS = 120 s after its claim; the request then counts
as stuck (quiet for PROVENANT_DSAR_FULFIL_STUCK_MINUTES = 2 min since the claim, the last thing done); beat's
dsar-resume-stuck runs every PROVENANT_DSAR_RESUME_SWEEP_SECONDS = 60 s: 120 + 60 = 180 s until it is enqueued
again, leaving 120 s for the run. ``test_default_settings_resume_a_killed_worker_within_five_minutes`` checks
that sum; the end-to-end test runs the same path with the periods scaled down to seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source
from core.models import Organization
from dsar import services
from dsar.models import ConnectorCall, DataSubjectRequest, DsarExport, FulfilmentStep
from tests.conftest import event_input
from tests.integration.conftest import CeleryWorker, mail_dir, wait_until
from tests.integration.faults import CeleryBeat, process_env
from tests.integration.http_receiver import HttpReceiver

FIVE_MINUTES = timedelta(minutes=5)
RUN_ALLOWANCE = timedelta(minutes=2)  # the resumed run itself: an export with its connectors' answers


def test_default_settings_resume_a_killed_worker_within_five_minutes() -> None:
    from config.settings import base

    lease = timedelta(seconds=base.PROVENANT_DSAR_STEP_LEASE_SECONDS)
    quiet = timedelta(minutes=base.PROVENANT_DSAR_FULFIL_STUCK_MINUTES)
    sweep = timedelta(seconds=base.PROVENANT_DSAR_RESUME_SWEEP_SECONDS)
    assert base.CELERY_BEAT_SCHEDULE["dsar-resume-stuck"]["schedule"] == sweep
    # Stuck once the lease is over and the request has been quiet long enough (both counted from the claim).
    assert max(lease, quiet) + sweep + RUN_ALLOWANCE <= FIVE_MINUTES


@pytest.fixture
def held_connector() -> Iterator[HttpReceiver]:
    """A connector that holds its first call for a minute (the worker dies waiting), then answers at once."""
    with HttpReceiver(slow_times=1, slow_seconds=60) as connector:
        yield connector


@pytest.mark.django_db(transaction=True)
def test_worker_sigkilled_mid_dsar_is_replaced_and_each_step_runs_once(
    celery_worker_factory: Callable[[], CeleryWorker],
    task_queue: str,
    held_connector: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
    settings: Any,
    organization: Organization,
    source: Source,
    purpose: Purpose,
    api_client_for: Callable[..., APIClient],
    tmp_path: Path,
) -> None:
    # The defaults scaled from minutes to seconds (lease 120 s -> 4 s, stuck 2 min -> 3 s, sweep 60 s -> 1 s).
    monkeypatch.setenv("PROVENANT_DSAR_STEP_LEASE_SECONDS", "4")
    monkeypatch.setenv("PROVENANT_DSAR_FULFIL_STUCK_MINUTES", "0.05")
    consent_services.consent_record(organization=organization, item=event_input(subject_email="ada@example.com"))
    services.connector_create(organization=organization, key="crm", name="CRM", url=held_connector.url, actor="test")
    client = api_client_for(organization, "dsar:read", "dsar:write")
    response = client.post(
        "/api/v1/dsar",
        {"type": "access", "jurisdiction": "DE", "subject_id": "cust-1", "requester": {"email": "ada@example.com"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    request = DataSubjectRequest.objects.get(public_id=response.json()["id"])
    services.dsar_identity_verify(request=request, actor="user:legal", note="ID checked by phone")

    # Given a worker inside the export step, waiting on the connector,
    doomed = celery_worker_factory().start()
    held_connector.wait_arrived(1)
    assert list(FulfilmentStep.objects.filter(request=request).values_list("step", "status")) == [
        ("export", "running"),
        ("review", "pending"),
    ]
    # when it is SIGKILLed (no warm shutdown, its message unacknowledged),
    doomed.kill()

    # then another worker and beat's stuck sweep carry the request to review.
    env = process_env(broker_url=settings.CELERY_BROKER_URL, queue=task_queue, mail_dir=mail_dir(tmp_path))
    beat = CeleryBeat(tmp_path, {**env, "PROVENANT_DSAR_RESUME_SWEEP_SECONDS": "1"}).start()
    try:
        celery_worker_factory().start()

        def reviewed() -> bool:
            request.refresh_from_db()
            return request.status == "awaiting_review"

        wait_until(reviewed, timeout=90, interval=0.5)
    finally:
        beat.stop()

    steps = list(FulfilmentStep.objects.filter(request=request).values_list("step", "status", "attempts"))
    assert steps == [("export", "done", 2), ("review", "done", 1)]  # the export redone whole once, after the kill
    assert ConnectorCall.objects.filter(request=request).count() == 1
    assert DsarExport.objects.filter(request=request).count() == 1
    assert request.transitions.filter(to_status="awaiting_review").count() == 1
    # The connector was asked twice: the killed attempt (still held) and the rerun, whose answer was recorded.
    assert held_connector.arrived == 2
