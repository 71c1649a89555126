"""Issue #12: a full ledger verification runs in the background, never inside a web request: POST queues it
(202 and a Location), a worker runs it with its progress on the job, GET shows the progress and then the result;
the task is idempotent, a job whose worker died is taken over, and another tenant's key sees nothing of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services
from consent.models import LedgerVerificationJob, LedgerVerificationRun, Purpose, Source
from consent.selectors import ledger_integrity_report
from consent.tasks import run_ledger_verification, sweep_ledger_verifications
from core.models import Organization
from tests.consent.api_contract import assert_problem
from tests.factories import ConsentEventInputFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ledger(organization: Organization, source: Source, purpose: Purpose) -> Organization:
    ConsentEventInputFactory.reset_sequence()
    services.consent_record_many(organization=organization, items=ConsentEventInputFactory.build_batch(7))
    return organization


def test_a_verification_job_is_queued_run_by_the_task_and_read_back(
    ledger: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    writer = api_client_for(ledger, "consent:read", "consent:write")
    runs_before = LedgerVerificationRun.objects.count()

    queued = writer.post("/api/v1/ledger/verifications")

    assert queued.status_code == 202, queued.content
    body = queued.json()
    assert queued["Location"] == f"/api/v1/ledger/verifications/{body['id']}"
    assert (body["status"], body["events_total"], body["result"]) == ("queued", 7, None)
    assert LedgerVerificationRun.objects.count() == runs_before  # nothing verified inside the request
    job = LedgerVerificationJob.objects.get(public_id=body["id"])

    assert run_ledger_verification(job.pk) == "done"
    assert run_ledger_verification(job.pk) == "done"  # idempotent: not run twice

    done = writer.get(queued["Location"]).json()
    assert (done["status"], done["progress"], done["events_checked"]) == ("done", 1.0, 7)
    assert done["result"]["valid"] is True
    assert LedgerVerificationRun.objects.count() == runs_before + 1


def test_progress_is_reported_while_the_chains_are_walked(ledger: Organization) -> None:
    seen: list[int] = []

    report = ledger_integrity_report(organization=ledger, progress=seen.append, progress_every=2)

    assert report.is_valid
    assert seen == [2, 4, 6]


def test_a_job_whose_worker_died_is_taken_over_by_the_sweep(ledger: Organization) -> None:
    job = services.verification_job_create(organization=ledger, actor="t")
    LedgerVerificationJob.objects.filter(pk=job.pk).update(
        status="running", started_at=timezone.now() - timedelta(hours=2), created_at=timezone.now() - timedelta(hours=2)
    )
    fresh = services.verification_job_create(organization=ledger, actor="t")
    LedgerVerificationJob.objects.filter(pk=fresh.pk).update(status="running", started_at=timezone.now())

    swept = sweep_ledger_verifications()

    assert swept == {"ran": ["done"]}
    assert LedgerVerificationJob.objects.get(pk=job.pk).status == "done"
    assert LedgerVerificationJob.objects.get(pk=fresh.pk).status == "running"  # its worker is alive


def test_another_tenant_and_a_read_key_cannot_reach_or_start_a_job(
    ledger: Organization, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    job = services.verification_job_create(organization=ledger, actor="t")
    stranger = api_client_for(other_organization, "consent:read", "consent:write")
    reader = api_client_for(ledger, "consent:read")

    assert_problem(stranger.get(f"/api/v1/ledger/verifications/{job.public_id}"), 404)
    assert_problem(reader.post("/api/v1/ledger/verifications"), 403)
    assert reader.get(f"/api/v1/ledger/verifications/{job.public_id}").json()["status"] == "queued"
    assert LedgerVerificationJob.objects.count() == 1


@override_settings(PROVENANT_LEDGER_VERIFY_IN_REQUEST_MAX_EVENTS=5)
def test_a_ledger_too_large_for_a_request_is_verified_in_the_background_only(
    ledger: Organization, api_client_for: Callable[..., APIClient], client: Client, django_user_model: Any
) -> None:
    writer = api_client_for(ledger, "consent:read", "consent:write")
    runs_before = LedgerVerificationRun.objects.count()

    for response in (writer.get("/api/v1/ledger/verify"), writer.post("/api/v1/ledger/verify")):
        problem = assert_problem(response, 409, "verify-in-background")
        assert problem["verify_with"] == "/api/v1/ledger/verifications"
    staff = django_user_model.objects.create_user("counsel", password="x", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_organization", "add_ledgerverificationrun"])
    )
    client.force_login(staff)
    client.post("/admin/core/organization/", {"action": "verify_ledger", "_selected_action": [ledger.pk]})

    assert LedgerVerificationRun.objects.count() == runs_before  # nothing verified inside a request
    job = LedgerVerificationJob.objects.get(organization=ledger)
    assert (job.status, job.requested_by) == ("queued", f"user:{staff.pk}")
