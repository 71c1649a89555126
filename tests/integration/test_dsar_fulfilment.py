"""DSAR fulfilment with a real Celery worker (subprocess, Redis): API intake, the verification link, collection,
the sealed export downloaded over its signed link, erasure, opt-out, and a worker SIGKILLed mid-step whose
request still completes with nothing done twice."""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import ConsentEvent, Purpose, Source, Subject, SuppressedIdentifier
from consent.selectors import event_evidence, ledger_integrity_report
from core.models import AuditLogEntry, Organization
from dsar import services, tasks
from dsar.models import DataSubjectRequest, DsarExport, FulfilmentStep
from tests.conftest import event_input
from tests.integration.conftest import CeleryWorker, wait_until, worker_mail
from tests.integration.http_receiver import HttpReceiver

EMAIL = "ada@example.com"
LINK = re.compile(r"https?://[^/\s]+(/api/v1/dsar/verify/\S+)")
CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')
EXPORT_LINK = re.compile(r"https?://[^/\s]+(/api/v1/dsar/exports/\S+)")


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"


def open_and_confirm(path: str) -> None:
    """What the requester does with the link: open it (a page; nothing changes), then press its button (POST)."""
    page = APIClient().get(path)
    assert page.status_code == 200
    confirmation = CONFIRMATION.search(page.content.decode())
    assert confirmation is not None
    assert APIClient().post(path, {"confirmation": confirmation.group(1)}, format="multipart").status_code == 200


def approved_link(request: DataSubjectRequest) -> str:
    """Legal approves the reviewed export: its one download link is signed and emailed to the requester."""
    services.dsar_transition(request=request, to_status="completed", actor="user:legal")
    sent = [m for m in mail.outbox if request.public_id in m.subject and "is ready" in m.subject]
    assert len(sent) == 1
    match = EXPORT_LINK.search(sent[0].body)
    assert match is not None
    return match.group(1)


@pytest.fixture
def ledger(organization: Organization, source: Source, purpose: Purpose) -> Subject:
    consent_services.consent_record(
        organization=organization,
        item=event_input(subject_email=EMAIL, ip_address="203.0.113.7", user_agent="Firefox/130"),
    )
    return Subject.objects.get(organization=organization, external_id="cust-1")


@pytest.fixture
def dsar_client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "dsar:read", "dsar:write")


def intake_and_verify(
    client: APIClient, request_type: str, tmp_path: Path, *, via_link: bool = True
) -> DataSubjectRequest:
    """POST the request (intake has the worker email the link), open the link from that email: the request
    is verified and its fulfilment started (the worker may already be carrying it out). An opt-out starts at
    intake. ``via_link=False``: legal verifies by hand instead (no worker needed yet)."""
    response = client.post(
        "/api/v1/dsar",
        {"type": request_type, "jurisdiction": "DE", "subject_id": "cust-1", "requester": {"email": EMAIL}},
        format="json",
    )
    assert response.status_code == 201, response.content
    request = DataSubjectRequest.objects.get(public_id=response.json()["id"])
    if request_type == "opt_out_of_sale":  # CCPA §7026: no verification, started at intake
        assert request.status == "in_progress"
        assert not request.transitions.filter(to_status="verified").exists()
        return request
    if via_link:
        emails = wait_until(lambda: worker_mail(tmp_path))
        assert len(emails) == 1
        match = LINK.search(emails[0])
        assert match is not None
        open_and_confirm(match.group(1))
    else:
        services.dsar_identity_verify(request=request, actor="user:legal", note="ID checked by phone")
    request.refresh_from_db()
    assert request.transitions.filter(to_status="verified").exists()
    assert request.status in ("in_progress", "awaiting_review", "completed")
    return request


def settled(request: DataSubjectRequest, status: str, timeout: float = 60.0) -> DataSubjectRequest:
    def reached() -> DataSubjectRequest | None:
        request.refresh_from_db()
        return request if request.status == status else None

    return wait_until(reached, timeout=timeout)


def step_rows(request: DataSubjectRequest) -> list[tuple[str, str, int]]:
    return list(FulfilmentStep.objects.filter(request=request).values_list("step", "status", "attempts"))


@pytest.mark.django_db(transaction=True)
def test_access_request_end_to_end_from_intake_to_audited_download(
    celery_worker: CeleryWorker, ledger: Subject, dsar_client: APIClient, tmp_path: Path
) -> None:
    request = intake_and_verify(dsar_client, "access", tmp_path)

    request = settled(request, "awaiting_review")

    response = APIClient().get(approved_link(request))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    history = json.loads(archive.read("consent_history.json"))
    assert [(e["purpose"], e["action"]) for e in history] == [("marketing-email", "grant")]
    assert history[0]["evidence"] == {"ip_address": "203.0.113.7", "user_agent": "Firefox/130"}
    assert archive.read("consent_history.csv").decode().splitlines()[0].startswith("event_id,chain_index,purpose")
    assert EMAIL.encode() not in bytes(DsarExport.objects.get(request=request).sealed_archive)
    actions = list(
        AuditLogEntry.objects.filter(object_id=request.public_id).order_by("id").values_list("action", flat=True)
    )
    assert actions[0] == "dsar.received"
    assert "dsar.verified" in actions
    assert actions[-7:] == [
        "dsar.fulfilment_step_done",
        "dsar.transitioned",
        "dsar.fulfilment_step_done",
        "dsar.transitioned",  # legal approves: completed
        "dsar.export_link_issued",  # the one link, signed at approval
        "dsar.message_sent",  # the completion message carrying it
        "dsar.export_downloaded",
    ]
    assert step_rows(request) == [("export", "done", 1), ("review", "done", 1)]


@pytest.mark.django_db(transaction=True)
def test_deletion_end_to_end_shreds_the_evidence_and_the_ledger_still_verifies(
    celery_worker: CeleryWorker, ledger: Subject, organization: Organization, dsar_client: APIClient, tmp_path: Path
) -> None:
    request = intake_and_verify(dsar_client, "deletion", tmp_path)
    # The worker runs the fulfilment up to the erasure, which waits for legal (PROVENANT_DSAR_ERASURE_REVIEW).
    wait_until(
        lambda: any("'waiting': 'awaiting_approval'" in line for line in celery_worker.results("dsar.tasks.fulfil"))
    )
    request.refresh_from_db()
    ledger.refresh_from_db()
    assert request.status == "in_progress"
    assert ledger.wrapped_data_key is not None, "nothing is shredded before approval"
    assert step_rows(request) == [("erase", "pending", 0), ("complete", "pending", 0)]

    services.dsar_erasure_approve(request=request, actor="user:legal")  # the admin's "Approve erasure"
    settled(request, "completed")

    assert ledger_integrity_report(organization=organization).is_valid
    event = ConsentEvent.objects.select_related("subject").get(subject=ledger)
    assert event.evidence_sealed
    assert event_evidence(event) is None
    assert SuppressedIdentifier.objects.filter(organization=organization).count() == 2
    assert step_rows(request) == [("erase", "done", 1), ("complete", "done", 1)]


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_export_is_recovered_and_nothing_is_done_twice(
    celery_worker_factory: Callable[[], CeleryWorker],
    ledger: Subject,
    organization: Organization,
    dsar_client: APIClient,
    tmp_path: Path,
) -> None:
    # A connector that answers only after 30 s: the worker is killed while it waits inside the export step.
    with HttpReceiver(slow_times=1_000, slow_seconds=30) as crm:
        services.connector_create(organization=organization, key="crm", name="CRM", url=crm.url, actor="test")
        crashing = celery_worker_factory().start()
        request = intake_and_verify(dsar_client, "access", tmp_path)

        wait_until(lambda: step_rows(request) == [("export", "running", 1), ("review", "pending", 0)])
        crm.wait_arrived(1)
        crashing.kill()

        assert not DsarExport.objects.exists()
        request.refresh_from_db()
        assert request.status == "in_progress"
        assert services.dsar_fulfil_resume_stuck() == {"resumed": 0}, "its claim is still live"

        # The lease and the quiet period run out (minutes in production).
        FulfilmentStep.objects.filter(request=request, step="export").update(
            claimed_until=timezone.now() - timedelta(seconds=1)
        )
        DataSubjectRequest.objects.filter(pk=request.pk).update(updated_at=timezone.now() - timedelta(hours=1))
        crm.slow_times = 0  # the connector answers at once from now on
        recovering = celery_worker_factory().start()
        assert services.dsar_fulfil_resume_stuck() == {"resumed": 1}
        settled(request, "awaiting_review")

    assert DsarExport.objects.filter(request=request).count() == 1
    assert step_rows(request) == [("export", "done", 2), ("review", "done", 1)]
    assert request.transitions.filter(to_status="awaiting_review").count() == 1
    assert AuditLogEntry.objects.filter(object_id=request.public_id, action="dsar.fulfilment_step_done").count() == 2
    # A late duplicate message (a redelivery) changes nothing.
    tasks.fulfil.apply_async(args=(request.pk,), queue=recovering.queue)
    wait_until(lambda: len(recovering.results("dsar.tasks.fulfil")) == 2)
    assert step_rows(request) == [("export", "done", 2), ("review", "done", 1)]
    assert DsarExport.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("request_type", ["deletion", "opt_out_of_sale"])
def test_an_interrupted_step_and_duplicate_messages_write_each_effect_once(
    celery_worker_factory: Callable[[], CeleryWorker],
    ledger: Subject,
    organization: Organization,
    dsar_client: APIClient,
    tmp_path: Path,
    request_type: str,
    settings: Any,
) -> None:
    settings.PROVENANT_DSAR_ERASURE_REVIEW = "none"  # the erasure runs at once: this test is about the crash
    settings.PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS = 0
    consent_services.purpose_create(
        organization=organization, actor="test", key="data-sale", name="Sale", is_sale_or_sharing=True
    )
    consent_services.purpose_create(
        organization=organization, actor="test", key="ads", name="Ads", is_targeted_advertising=True
    )
    request = intake_and_verify(dsar_client, request_type, tmp_path, via_link=False)
    events_before = ConsentEvent.objects.count()
    worker = celery_worker_factory()
    # Opening the link started the fulfilment: enqueued, nobody consumes yet.
    first = FulfilmentStep.objects.get(request=request, position=0)
    # As a worker SIGKILLed inside the step leaves it: claimed, its transaction rolled back, its lease run out.
    FulfilmentStep.objects.filter(pk=first.pk).update(
        status="running", attempts=1, claimed_until=timezone.now() - timedelta(seconds=1)
    )
    DataSubjectRequest.objects.filter(pk=request.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert services.dsar_fulfil_resume_stuck() == {"resumed": 1}  # a second message for the same request

    worker.start()
    settled(request, "completed")
    wait_until(lambda: len(worker.results("dsar.tasks.fulfil")) == 2)

    assert step_rows(request) == [(first.step, "done", 2), ("complete", "done", 1)]
    assert request.transitions.filter(to_status="completed").count() == 1
    if request_type == "deletion":
        assert SuppressedIdentifier.objects.filter(organization=organization).count() == 2
        assert ConsentEvent.objects.count() == events_before
    else:
        written = ConsentEvent.objects.filter(source__key="provenant")
        assert sorted(written.values_list("purpose__key", "action")) == [("ads", "refuse"), ("data-sale", "refuse")]
        assert ConsentEvent.objects.count() == events_before + 2
