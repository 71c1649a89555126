"""Fulfilment of verified requests without a worker: the export ZIP, sealing at rest, the signed download link,
erasure with suppression, opt-out events, correction hand-off, idempotent reruns and recovery of stuck runs."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.db import connections
from django.test import Client, TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app as celery_app
from consent import services as consent_services
from consent.models import ConsentEvent, Purpose, Source, Subject, SuppressedIdentifier
from consent.selectors import event_evidence, ledger_integrity_report
from core.crypto import CryptoError, unseal, unwrap_data_key
from core.models import AuditLogEntry, Organization
from dsar import export_archive, export_links, services, tasks
from dsar.models import DataSubjectRequest, DsarExport, FulfilmentStep
from provenance.enums import RecipientRole
from provenance.models import StampRecord
from provenance.services.recipients import recipient_create
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem
from tests.dsar.downloads import EXPORT_LINK, JSON, api_path, download_by_page
from tests.integration.conftest import wait_until
from tests.integration.http_receiver import HttpReceiver

EMAIL = "ada@example.com"


@pytest.fixture
def inline_tasks() -> Any:
    """Celery runs the real tasks inline (eager), so what a worker would do happens in this test."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"


@pytest.fixture
def ledger(organization: Organization, source: Source, purpose: Purpose) -> Subject:
    """cust-1 granted marketing email with evidence, and one stamping decision about them."""
    consent_services.consent_record(
        organization=organization,
        item=event_input(subject_email=EMAIL, ip_address="203.0.113.7", user_agent="Firefox/130"),
    )
    subject = Subject.objects.get(organization=organization, external_id="cust-1")
    recipient = recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role=RecipientRole.PROCESSOR,
        purposes=[purpose.key],
    )
    StampRecord.objects.create(
        stamp_id="01HZZZZZZZZZZZZZZZZZZZZZZZ",
        organization=organization,
        recipient=recipient,
        subject=subject,
        subject_external_id="cust-1",
        purposes=[purpose.key],
        decision="allow",
        data_digest="0" * 64,
    )
    return subject


@pytest.fixture
def make_request(organization: Organization) -> Callable[..., DataSubjectRequest]:
    def make(request_type: str = "access", subject_id: str = "cust-1", verified: bool = True) -> DataSubjectRequest:
        request = services.dsar_create(
            organization=organization,
            request_type=request_type,
            channel="web_form",
            actor="test",
            jurisdiction="DE" if request_type != "opt_out_of_sale" else "US-CA",
            subject_external_id=subject_id,
            requester=services.Requester(email=EMAIL, name="Ada Lovelace"),
        )
        if verified:
            services.dsar_identity_verify(request=request, actor="legal", note="passport checked")
        return request

    return make


def fulfilled(request: DataSubjectRequest, **kw: Any) -> DataSubjectRequest:
    services.dsar_fulfil_start(request=request, actor="legal", **kw)
    if request.type == "deletion":
        services.dsar_erasure_approve(request=request, actor="legal")  # the erasure waits for it (legal review)
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    return request


def approved_link(request: DataSubjectRequest) -> str:
    """Legal approves the reviewed export: its one download link is signed and emailed to the requester."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.dsar_transition(request=request, to_status="completed", actor="legal")
    return issued_link(request)


def issued_link(request: DataSubjectRequest) -> str:
    sent = [m for m in mail.outbox if request.public_id in m.subject and "is ready" in m.subject]
    assert len(sent) == 1, "the link is emailed once"
    match = EXPORT_LINK.search(sent[0].body)
    assert match is not None
    return match.group(1)


def snapshot(request: DataSubjectRequest) -> tuple[Any, ...]:
    request.refresh_from_db()
    return (
        request.status,
        list(FulfilmentStep.objects.filter(request=request).values_list("step", "status", "attempts", "result")),
        DsarExport.objects.count(),
        SuppressedIdentifier.objects.count(),
        ConsentEvent.objects.count(),
        AuditLogEntry.objects.count(),
        request.transitions.count(),
    )


def download(request: DataSubjectRequest) -> bytes:
    request.refresh_from_db()
    url = issued_link(request) if request.status == "completed" else approved_link(request)
    response = download_by_page(url)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/zip"
    assert response["Cache-Control"] == "no-store"
    return bytes(response.content)


# --- access / portability ------------------------------------------------------------------------------------------


def test_access_export_zip_holds_history_with_evidence_state_stamps_and_sources_as_json_and_csv(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = fulfilled(make_request("access"))

    assert request.status == "awaiting_review"
    archive = zipfile.ZipFile(io.BytesIO(download(request)))
    names = set(archive.namelist())
    for table in ("subject", "consent_history", "consent_state", "stamp_log", "sources"):
        assert {f"{table}.json", f"{table}.csv"} <= names
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["request_id"] == request.public_id
    assert manifest["counts"] == {"subject": 1, "consent_history": 1, "consent_state": 1, "stamp_log": 1, "sources": 1}
    history = json.loads(archive.read("consent_history.json"))
    assert history[0]["action"] == "grant"
    assert history[0]["evidence"] == {"ip_address": "203.0.113.7", "user_agent": "Firefox/130"}
    assert json.loads(archive.read("subject.json"))[0]["email"] == EMAIL
    assert json.loads(archive.read("consent_state.json"))[0]["status"] == "given"
    stamps = json.loads(archive.read("stamp_log.json"))
    assert stamps[0]["decision"] == "allow"
    assert "data_digest" not in stamps[0]
    assert json.loads(archive.read("sources.json"))[0]["key"] == "web-signup"
    rows = list(csv.DictReader(io.StringIO(archive.read("consent_history.csv").decode())))
    assert rows[0]["event_id"] == history[0]["event_id"]
    assert json.loads(rows[0]["evidence"]) == history[0]["evidence"]


def test_portability_without_a_known_subject_exports_empty_tables(
    db: Any, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = fulfilled(make_request("portability", subject_id="nobody"))

    archive = zipfile.ZipFile(io.BytesIO(download(request)))
    assert json.loads(archive.read("consent_history.json")) == []
    assert archive.read("consent_history.csv").decode().startswith("event_id,chain_index,")


def test_export_is_sealed_at_rest_and_never_holds_the_email_in_clear(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = fulfilled(make_request("access"))
    export = DsarExport.objects.get(request=request)

    raw = bytes(export.sealed_archive)
    assert EMAIL.encode() not in raw
    assert b"PK\x03\x04" not in raw[:64]
    opened = export_archive.open_archive(raw, export.wrapped_data_key, export_public_id=export.public_id)
    assert EMAIL.encode() in zipfile.ZipFile(io.BytesIO(opened)).read("subject.json")
    with pytest.raises(CryptoError):
        export_archive.open_archive(raw, export.wrapped_data_key, export_public_id="another-export")


def test_every_download_is_audited(ledger: Subject, make_request: Callable[..., DataSubjectRequest]) -> None:
    request = fulfilled(make_request("access"))

    download(request)
    download(request)

    rows = AuditLogEntry.objects.filter(action="dsar.export_downloaded", object_id=request.public_id)
    assert rows.count() == 2
    assert {row.actor for row in rows} == {"requester:export-link"}
    assert EMAIL not in json.dumps(list(rows.values_list("data", flat=True)))


def test_expired_download_link_is_refused_with_410_and_audits_nothing(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = fulfilled(make_request("access"))
    link = approved_link(request)
    export = DsarExport.objects.get(request=request)
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 7 * 86400 - 60):
        old_token = export_links.download_token(export.public_id, export.link_issued_at)
    # The expiry stored at approval decides, whatever the token says.
    DsarExport.objects.filter(pk=export.pk).update(link_expires_at=timezone.now() - timedelta(seconds=1))
    before = AuditLogEntry.objects.count()

    response = APIClient().get(api_path(link), **JSON)
    signed_long_ago = APIClient().get(f"/api/v1/dsar/exports/{old_token}", **JSON)
    page = Client().get(link)
    posted = Client().post(link, {"confirmation": "x"})

    assert_problem(response, 410, "export-link-expired")
    assert_problem(signed_long_ago, 410, "export-link-expired")
    assert (page.status_code, posted.status_code) == (410, 410)
    assert "This download link has expired" in page.content.decode()
    assert AuditLogEntry.objects.count() == before


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: "x" + token,
        lambda token: "not-a-token",
    ],
    ids=["signature", "payload", "garbage"],
)
def test_tampered_download_link_is_refused_with_400(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest], mangle: Callable[[str], str]
) -> None:
    request = fulfilled(make_request("access"))
    token = approved_link(request).rsplit("/", 1)[1]
    before = AuditLogEntry.objects.count()

    response = APIClient().get(f"/api/v1/dsar/exports/{mangle(token)}", **JSON)
    page = Client().get(f"/privacy/acme/download/{mangle(token)}")

    assert_problem(response, 400, "export-link-invalid")
    assert page.status_code == 400
    assert "This link does not work" in page.content.decode()
    assert AuditLogEntry.objects.count() == before


def test_a_verification_token_does_not_open_an_export(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest]
) -> None:
    from dsar.identity_links import identity_link_token

    request = fulfilled(make_request("access"))
    export = DsarExport.objects.get(request=request)

    response = APIClient().get(f"/api/v1/dsar/exports/{identity_link_token(export.public_id)}", **JSON)

    assert_problem(response, 400, "export-link-invalid")


def test_download_route_is_not_in_the_openapi_document(db: Any) -> None:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert not [path for path in response.json()["paths"] if "exports" in path]


# --- the run -------------------------------------------------------------------------------------------------------


def test_unverified_access_request_cannot_start(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request("access", verified=False)
    before = snapshot(request)

    with pytest.raises(services.FulfilmentNotReady):
        services.dsar_fulfil_start(request=request, actor="legal")

    assert snapshot(request) == before


def test_start_enqueues_the_run_only_after_commit(
    ledger: Subject,
    make_request: Callable[..., DataSubjectRequest],
    django_capture_on_commit_callbacks: Any,
    inline_tasks: None,
) -> None:
    request = make_request("access")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.dsar_fulfil_start(request=request, actor="legal")

    # Before the commit nothing ran: the steps wait.
    assert request.status == "in_progress"
    assert list(FulfilmentStep.objects.filter(request=request).values_list("step", "status")) == [
        ("export", "pending"),
        ("review", "pending"),
    ]
    assert len(callbacks) == 1
    callbacks[0]()  # the commit: the task is sent (Celery runs it inline here)

    assert list(FulfilmentStep.objects.filter(request=request).values_list("step", "status")) == [
        ("export", "done"),
        ("review", "done"),
    ]


@pytest.mark.parametrize("request_type", ["access", "deletion", "opt_out_of_sale", "correction"])
def test_the_task_run_twice_changes_nothing_the_second_time(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest], request_type: str
) -> None:
    from dsar import tasks

    request = fulfilled(make_request(request_type))
    before = snapshot(request)

    assert tasks.fulfil(request.pk) == {"ran": [], "status": request.status}

    assert snapshot(request) == before
    assert set(FulfilmentStep.objects.filter(request=request).values_list("status", "attempts")) == {("done", 1)}


def test_a_step_a_dead_worker_left_running_is_redone_once_its_lease_ran_out(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request("access")
    services.dsar_fulfil_start(request=request, actor="legal")
    step = FulfilmentStep.objects.get(request=request, step="export")
    FulfilmentStep.objects.filter(pk=step.pk).update(
        status="running", attempts=1, claimed_until=timezone.now() + timedelta(minutes=5)
    )

    assert services.dsar_fulfil_run(request_id=request.pk) == {"ran": [], "busy": "export"}
    FulfilmentStep.objects.filter(pk=step.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert services.dsar_fulfil_run(request_id=request.pk) == {"ran": ["export", "review"]}

    step.refresh_from_db()
    assert (step.status, step.attempts) == ("done", 2)
    assert DsarExport.objects.filter(request=request).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_lease_was_taken_over_commits_nothing(
    ledger: Subject, organization: Organization, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = make_request("access")  # verified and committed: fulfilment started after the commit
    request.refresh_from_db()
    assert request.status == "in_progress"
    outcome: dict[str, Any] = {}

    def slow_worker() -> None:
        try:
            outcome.update(services.dsar_fulfil_run(request_id=request.pk))
        finally:
            connections.close_all()

    # A connector that answers after 2 s: the slow worker waits for it inside the export step.
    with HttpReceiver(slow_times=1, slow_seconds=2) as crm:
        services.connector_create(organization=organization, key="crm", name="CRM", url=crm.url, actor="test")
        worker = threading.Thread(target=slow_worker)
        worker.start()
        # While it waits, another worker takes the step over (its lease ran out, a new claim was made).
        wait_until(lambda: FulfilmentStep.objects.filter(request=request, step="export", status="running").exists())
        FulfilmentStep.objects.filter(request=request, step="export").update(attempts=7)
        worker.join(timeout=30)

    assert outcome == {"ran": [], "lost": "export"}
    assert not DsarExport.objects.exists()


# --- deletion, opt-out, correction ---------------------------------------------------------------------------------


def test_deletion_crypto_shreds_keeps_a_suppression_entry_and_completes(
    ledger: Subject, organization: Organization, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = fulfilled(make_request("deletion"))

    assert request.status == "completed"
    ledger.refresh_from_db()
    assert ledger.wrapped_data_key is None
    assert event_evidence(ConsentEvent.objects.select_related("subject").get(subject=ledger)) is None
    assert ledger_integrity_report(organization=organization).is_valid
    entries = SuppressedIdentifier.objects.filter(organization=organization)
    assert set(entries.values_list("kind", flat=True)) == {"external_id", "email"}
    assert entries.count() == 2
    assert not [e for e in entries if EMAIL in e.identifier_index or "cust-1" in e.identifier_index]
    erase_result = {
        "subject_found": True,
        "erased": True,
        "suppressed": 2,
        "exports_shredded": 0,
        "provenance_records_renamed": 1,  # the stamp record about cust-1
    }
    assert ("erase", erase_result) in list(FulfilmentStep.objects.filter(request=request).values_list("step", "result"))
    # Erasure reaches the provenance records: the stamp list no longer names the person.
    assert list(StampRecord.objects.values_list("subject_external_id", flat=True)) == [ledger.external_id]
    assert ledger.external_id.startswith("erased-")


def test_opt_out_records_one_event_per_sale_purpose_through_the_system_source(
    organization: Organization, source: Source, make_request: Callable[..., DataSubjectRequest]
) -> None:
    for key, flags in (
        ("ads", {"is_targeted_advertising": True}),
        ("data-sale", {"is_sale_or_sharing": True}),
        ("newsletter", {}),
    ):
        consent_services.purpose_create(organization=organization, actor="test", key=key, name=key, **flags)
    consent_services.consent_record(organization=organization, item=event_input(purpose="ads", jurisdiction="US-CA"))
    request = make_request("opt_out_of_sale", verified=False)  # needs no verification

    request = fulfilled(request)

    assert request.status == "completed"
    written = ConsentEvent.objects.filter(source__key="provenant").order_by("purpose__key")
    assert [(e.purpose.key, e.action, e.collection_method) for e in written] == [
        ("ads", "withdraw", "system"),
        ("data-sale", "refuse", "system"),
    ]


def test_correction_waits_for_legal_with_the_requested_change_sealed(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest]
) -> None:
    request = fulfilled(make_request("correction"), requested_change="My email is ada@new.example")

    assert request.status == "awaiting_review"
    result = FulfilmentStep.objects.get(request=request, step="review").result
    assert "ada@new.example" not in json.dumps(result)
    key = unwrap_data_key(request.wrapped_data_key, owner=f"dsar_datasubjectrequest/{request.public_id}/data-key")
    sealed = result["requested_change_sealed"]
    assert unseal(key, sealed, context=f"dsar:{request.public_id}:correction") == "My email is ada@new.example"


# --- recovery ------------------------------------------------------------------------------------------------------


def test_resume_stuck_enqueues_only_quiet_requests_with_unfinished_steps_and_no_live_claim(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest], inline_tasks: None
) -> None:
    lost, held, fresh, finished = (make_request("access") for _ in range(4))
    for request in (lost, held, fresh, finished):
        services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=finished.pk)
    FulfilmentStep.objects.filter(request=held, step="export").update(
        status="running", attempts=1, claimed_until=timezone.now() + timedelta(minutes=5)
    )
    long_ago = timezone.now() - timedelta(hours=1)
    DataSubjectRequest.objects.filter(pk__in=[lost.pk, held.pk, finished.pk]).update(updated_at=long_ago)
    FulfilmentStep.objects.filter(request=finished).update(completed_at=long_ago)

    assert services.dsar_fulfil_resume_stuck() == {"resumed": 1}  # Celery runs the resumed one inline

    lost.refresh_from_db()
    held.refresh_from_db()
    assert lost.status == "awaiting_review", "the lost request was resumed and ran"
    assert held.status == "in_progress", "a request whose step is still leased is left alone"


def test_the_admin_request_page_shows_where_the_link_stands_and_never_signs_one(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest], admin_client: Any
) -> None:
    """Issue #11 item 4: viewing the page used to sign a fresh download link on every view."""
    request = fulfilled(make_request("access"))
    page_url = f"/admin/dsar/datasubjectrequest/{request.pk}/change/"
    before = AuditLogEntry.objects.count()

    reviewing = admin_client.get(page_url).content.decode()
    admin_client.get(page_url)

    assert "not issued" in reviewing
    assert "/api/v1/dsar/exports/" not in reviewing
    assert AuditLogEntry.objects.count() == before
    assert DsarExport.objects.get(request=request).link_issued_at is None

    link = approved_link(request)
    approved = admin_client.get(page_url).content.decode()
    admin_client.get(page_url)

    export = DsarExport.objects.get(request=request)
    assert export.link_expires_at == export.link_issued_at + timedelta(days=7)
    assert "valid until" in approved
    assert link.rsplit("/", 1)[1] not in approved
    assert "/api/v1/dsar/exports/" not in approved
    issued = AuditLogEntry.objects.filter(action="dsar.export_link_issued", object_id=request.public_id)
    assert issued.count() == 1, "signed once, at approval"
    assert issued.get().data["export_id"] == export.public_id


def test_exports_past_their_retention_are_deleted_once_and_their_links_answer_410(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest], settings: Any
) -> None:
    settings.PROVENANT_EXPORT_RETENTION_DAYS = 30
    old = fulfilled(make_request())
    recent = fulfilled(make_request())
    old_link = approved_link(old)
    DsarExport.objects.filter(request=old).update(created_at=timezone.now() - timedelta(days=31))
    evidence = DsarExport.objects.values("sha256", "size_bytes", "files").get(request=old)

    first = services.dsar_exports_purge()
    second = services.dsar_exports_purge()
    response = APIClient().get(api_path(old_link), **JSON)
    page = Client().get(old_link)

    assert (first, second) == ({"purged": 1}, {"purged": 0})
    assert page.status_code == 410
    assert "This copy of your data was deleted" in page.content.decode()
    purged = DsarExport.objects.get(request=old)
    assert (bytes(purged.sealed_archive), bytes(purged.wrapped_data_key)) == (b"", b"")
    assert purged.purged_at is not None
    assert DsarExport.objects.values("sha256", "size_bytes", "files").get(request=old) == evidence
    assert response.status_code == 410
    assert response.json()["type"].endswith("/export-purged")
    assert AuditLogEntry.objects.filter(action="dsar.export_purged", object_id=old.public_id).count() == 1
    assert not AuditLogEntry.objects.filter(action="dsar.export_downloaded", object_id=old.public_id).exists()
    assert zipfile.ZipFile(io.BytesIO(download(recent))).namelist()  # within retention: still served


def test_the_purge_task_runs_as_of_a_given_instant(
    ledger: Subject, make_request: Callable[..., DataSubjectRequest], settings: Any
) -> None:
    settings.PROVENANT_EXPORT_RETENTION_DAYS = 30
    fulfilled(make_request())
    later = (timezone.now() + timedelta(days=31)).isoformat()

    assert tasks.purge_exports(now=later) == {"purged": 1}
    assert tasks.purge_exports(now=later) == {"purged": 0}
