"""Security audit item 3: a mail scanner can't erase a person. Opening the verification link (GET, HEAD, as
scanners and previewers do) changes nothing; only the POST from the page, with its signed confirmation, verifies;
and a verified deletion waits for legal's approval (or a cooling-off period) and can be cancelled until it runs.
Item 4 (DSAR part): the erasure also crypto-shreds the person's earlier exports."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.checks import Error
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import Client, TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from config.celery import app as celery_app
from consent import services as consent_services
from consent.models import Purpose, Source, Subject, SuppressedIdentifier
from core.models import AuditLogEntry, Organization
from dsar import services, tasks
from dsar.checks import check_erasure_settings
from dsar.identity_links import confirmation_value, identity_link_token
from dsar.models import DataSubjectRequest, DsarExport, FulfilmentStep, RequestTransition
from dsar.problems import ErasureNotWaiting
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem
from tests.dsar.downloads import EXPORT_LINK, api_path, download_by_page

EMAIL = "ada@example.com"
CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')
JSON = {"HTTP_ACCEPT": "application/json"}


@pytest.fixture(autouse=True)
def _eager(settings: Any) -> Iterator[None]:
    """Celery runs the real tasks inline (eager), so what a worker would do happens in this test."""
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"
    settings.PROVENANT_DSAR_ERASURE_REVIEW = "legal"
    settings.PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS = "24"
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture
def ledger(organization: Organization, source: Source, purpose: Purpose) -> Subject:
    consent_services.consent_record(organization=organization, item=event_input(subject_email=EMAIL))
    return Subject.objects.get(organization=organization, external_id="cust-1")


@pytest.fixture
def deletion(organization: Organization, ledger: Subject) -> DataSubjectRequest:
    """A deletion request waiting for the requester, its link emailed (as intake leaves it)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        request = services.dsar_create(
            organization=organization,
            request_type="deletion",
            channel="web_form",
            actor="test",
            jurisdiction="DE",
            subject_external_id="cust-1",
            requester=services.Requester(email=EMAIL),
        )
    request.refresh_from_db()
    assert request.status == "identity_pending"
    return request


def link_of(request: DataSubjectRequest) -> str:
    return f"/api/v1/dsar/verify/{identity_link_token(request.public_id)}"


def state(request: DataSubjectRequest, subject: Subject) -> tuple[Any, ...]:
    request.refresh_from_db()
    subject.refresh_from_db()
    return (
        request.status,
        request.due_on,
        RequestTransition.objects.filter(request=request).count(),
        AuditLogEntry.objects.count(),
        FulfilmentStep.objects.filter(request=request).count(),
        subject.wrapped_data_key is not None,  # the subject's key: intact, not shredded
        SuppressedIdentifier.objects.count(),
        len(mail.outbox),
    )


def confirm(path: str) -> Any:
    page = Client().get(path, follow=True)
    assert page.status_code == 200
    match = CONFIRMATION.search(page.content.decode())
    assert match is not None
    with TestCase.captureOnCommitCallbacks(execute=True):
        return Client().post(path, {"confirmation": match.group(1)}, follow=True)


def erase_step(request: DataSubjectRequest) -> tuple[str, int]:
    step = FulfilmentStep.objects.get(request=request, step="erase")
    return step.status, step.attempts


# --- the link: a page, and only its POST confirms ------------------------------------------------------------------


def test_a_mail_scanner_opening_the_link_changes_nothing(deletion: DataSubjectRequest, ledger: Subject) -> None:
    path = link_of(deletion)
    before = state(deletion, ledger)

    with TestCase.captureOnCommitCallbacks(execute=True):
        page = Client().get(path, follow=True)  # a previewer: no Accept header
        browser = Client().get(path, HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8", follow=True)
        head = Client().head(path, follow=True)
        as_json = APIClient().get(path, **JSON)

    assert (page.status_code, browser.status_code, head.status_code, as_json.status_code) == (200, 200, 200, 200)
    assert state(deletion, ledger) == before
    assert as_json.json()["verified"] is False
    assert as_json.json()["confirmation"]
    html = page.content.decode()
    assert "<form" in html
    assert 'method="post"' in html
    assert "erase your personal data" in html
    assert page["Cache-Control"] == "no-store"


def test_the_page_runs_under_the_strict_csp_without_script_or_inline_style(deletion: DataSubjectRequest) -> None:
    page = Client().get(link_of(deletion), follow=True)

    html = page.content.decode().lower()
    assert "<script" not in html
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"<[^>]+\son[a-z]+=", html)
    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.parametrize("form", ["missing", "forged", "other-link", "expired"])
def test_a_post_without_the_pages_confirmation_changes_nothing(
    deletion: DataSubjectRequest, ledger: Subject, organization: Organization, form: str
) -> None:
    path = link_of(deletion)
    other = services.dsar_create(
        organization=organization, request_type="deletion", channel="api", actor="test", jurisdiction="DE"
    )
    if form == "missing":
        data: dict[str, str] = {}
    elif form == "forged":
        data = {"confirmation": confirmation_value(deletion.public_id, identity_link_token(deletion.public_id))[:-2]}
    elif form == "other-link":
        data = {"confirmation": confirmation_value(other.public_id, identity_link_token(other.public_id))}
    else:
        with mock.patch("django.core.signing.time.time", return_value=time.time() - 31 * 60):
            data = {"confirmation": confirmation_value(deletion.public_id, path.rsplit("/", 1)[1])}
    before = state(deletion, ledger)

    with TestCase.captureOnCommitCallbacks(execute=True):
        page = Client().post(path, data, follow=True)
        as_json = APIClient().post(path, data, format="json", **JSON)

    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")
    assert "Nothing was changed" in page.content.decode()
    assert_problem(as_json, 403, "verification-confirmation-invalid")
    assert state(deletion, ledger) == before


def test_a_confirmation_is_bound_to_its_link_token(deletion: DataSubjectRequest, ledger: Subject) -> None:
    """A value the page made for one link does not confirm through another link of the same request."""
    first = link_of(deletion)
    time.sleep(1.1)  # a second link, signed at another second
    second = link_of(deletion)
    assert first != second
    value = confirmation_value(deletion.public_id, first.rsplit("/", 1)[1])
    before = state(deletion, ledger)

    response = APIClient().post(second, {"confirmation": value}, format="json", **JSON)

    assert_problem(response, 403, "verification-confirmation-invalid")
    assert state(deletion, ledger) == before


def test_json_clients_confirm_with_the_value_the_get_gave_them(deletion: DataSubjectRequest) -> None:
    path = link_of(deletion)
    preview = APIClient().get(path, **JSON).json()

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = APIClient().post(path, {"confirmation": preview["confirmation"]}, format="json", **JSON)

    assert response.status_code == 200
    assert response.json()["verified"] is True
    assert response.json()["request_id"] == deletion.public_id
    deletion.refresh_from_db()
    assert deletion.transitions.filter(to_status="verified").count() == 1


# --- the erasure waits ---------------------------------------------------------------------------------------------


def test_a_verified_deletion_does_not_shred_before_legal_approves(
    deletion: DataSubjectRequest, ledger: Subject
) -> None:
    response = confirm(link_of(deletion))

    assert response.status_code == 200
    deletion.refresh_from_db()
    ledger.refresh_from_db()
    assert deletion.status == "in_progress"
    assert deletion.erasure_review == "legal"
    assert ledger.wrapped_data_key is not None, "nothing shredded"
    assert erase_step(deletion) == ("pending", 0)
    assert tasks.fulfil(deletion.pk) == {"ran": [], "waiting": "awaiting_approval"}
    assert services.dsar_erasure_sweep(now=timezone.now() + timedelta(days=365)) == {"enqueued": 0}
    assert services.dsar_fulfil_resume_stuck(now=timezone.now() + timedelta(days=1)) == {"resumed": 0}
    assert erase_step(deletion) == ("pending", 0)
    assert not SuppressedIdentifier.objects.exists()


def test_approval_runs_the_erasure_and_is_audited(deletion: DataSubjectRequest, ledger: Subject) -> None:
    confirm(link_of(deletion))
    deletion.refresh_from_db()

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.dsar_erasure_approve(request=deletion, actor="user:7")

    deletion.refresh_from_db()
    ledger.refresh_from_db()
    assert deletion.status == "completed"
    assert ledger.wrapped_data_key is None
    assert (deletion.erasure_approved_by, deletion.erasure_approved_at is not None) == ("user:7", True)
    approved = AuditLogEntry.objects.get(action="dsar.erasure_approved", object_id=deletion.public_id)
    assert approved.actor == "user:7"
    with pytest.raises(ErasureNotWaiting):
        services.dsar_erasure_approve(request=deletion, actor="user:7")


def test_cancelling_stops_the_erasure_for_good_and_keeps_the_deadline(
    deletion: DataSubjectRequest, ledger: Subject
) -> None:
    confirm(link_of(deletion))
    deletion.refresh_from_db()
    due_on = deletion.due_on

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.dsar_erasure_cancel(request=deletion, actor="user:7", reason="The requester withdrew the request.")

    deletion.refresh_from_db()
    ledger.refresh_from_db()
    assert deletion.status == "rejected"
    assert "Erasure cancelled before it ran" in deletion.rejection_reason
    assert deletion.erasure_cancelled_at is not None
    assert deletion.due_on == due_on
    assert AuditLogEntry.objects.get(action="dsar.erasure_cancelled", object_id=deletion.public_id).actor == "user:7"
    with pytest.raises(ErasureNotWaiting):
        services.dsar_erasure_approve(request=deletion, actor="user:7")
    assert tasks.fulfil(deletion.pk) == {"ran": [], "status": "rejected"}
    assert services.dsar_erasure_sweep(now=timezone.now() + timedelta(days=365)) == {"enqueued": 0}
    ledger.refresh_from_db()
    assert ledger.wrapped_data_key is not None
    assert erase_step(deletion) == ("pending", 0)
    assert "withdrew" in mail.outbox[-1].body


def test_an_erasure_already_running_cannot_be_cancelled(deletion: DataSubjectRequest, ledger: Subject) -> None:
    confirm(link_of(deletion))
    deletion.refresh_from_db()
    FulfilmentStep.objects.filter(request=deletion, step="erase").update(
        status="running", attempts=1, claimed_until=timezone.now() + timedelta(minutes=5)
    )

    with pytest.raises(ErasureNotWaiting):
        services.dsar_erasure_cancel(request=deletion, actor="user:7", reason="too late")

    deletion.refresh_from_db()
    assert (deletion.status, deletion.erasure_cancelled_at) == ("in_progress", None)


def test_review_none_waits_for_the_cooling_off_then_the_sweep_runs_it(
    deletion: DataSubjectRequest, ledger: Subject, settings: Any
) -> None:
    settings.PROVENANT_DSAR_ERASURE_REVIEW = "none"
    settings.PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS = "24"
    confirm(link_of(deletion))
    deletion.refresh_from_db()

    assert deletion.status == "in_progress"
    assert deletion.erasure_not_before is not None
    assert timedelta(hours=23) < deletion.erasure_not_before - timezone.now() <= timedelta(hours=24)
    assert tasks.fulfil(deletion.pk) == {"ran": [], "waiting": "cooling_off"}
    assert tasks.erasure_sweep(now=(timezone.now() + timedelta(hours=23)).isoformat()) == {"enqueued": 0}
    ledger.refresh_from_db()
    assert ledger.wrapped_data_key is not None

    # The countdown's message was lost (a worker crash): the sweep finds the erasure once it is due.
    DataSubjectRequest.objects.filter(pk=deletion.pk).update(erasure_not_before=timezone.now() - timedelta(seconds=1))
    assert tasks.erasure_sweep() == {"enqueued": 1}

    deletion.refresh_from_db()
    ledger.refresh_from_db()
    assert deletion.status == "completed"
    assert ledger.wrapped_data_key is None
    assert tasks.erasure_sweep() == {"enqueued": 0}


def test_review_none_without_cooling_off_runs_right_after_verification(
    deletion: DataSubjectRequest, ledger: Subject, settings: Any
) -> None:
    settings.PROVENANT_DSAR_ERASURE_REVIEW = "none"
    settings.PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS = 0

    confirm(link_of(deletion))

    deletion.refresh_from_db()
    assert deletion.status == "completed"


@pytest.mark.parametrize(
    ("review", "hours", "ids"),
    [
        ("legal", "24", []),
        ("none", "0", []),
        ("none", 1.5, []),
        ("off", "24", ["provenant.E101"]),
        ("", "24", ["provenant.E101"]),
        ("legal", "-1", ["provenant.E102"]),
        ("legal", "a day", ["provenant.E102"]),
        ("Legal", "nan", ["provenant.E101", "provenant.E102"]),
    ],
)
def test_the_erasure_settings_are_checked_at_startup(settings: Any, review: str, hours: Any, ids: list[str]) -> None:
    settings.PROVENANT_DSAR_ERASURE_REVIEW = review
    settings.PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS = hours

    errors = check_erasure_settings()

    assert [error.id for error in errors] == ids
    assert all(isinstance(error, Error) for error in errors)
    if ids:
        with pytest.raises(SystemCheckError):
            call_command("check")


# --- item 4: erasure reaches the person's earlier exports ---------------------------------------------------------


def test_erasure_shreds_the_subjects_earlier_exports_and_their_links_answer_410(
    organization: Organization, ledger: Subject, make_access: Callable[[str], DataSubjectRequest]
) -> None:
    earlier = make_access("cust-1")
    someone_else = make_access("cust-2")
    link = approved_link(earlier)
    assert download_by_page(link).status_code == 200
    deletion = services.dsar_create(
        organization=organization,
        request_type="deletion",
        channel="api",
        actor="test",
        jurisdiction="DE",
        subject_external_id="cust-1",
    )
    services.dsar_identity_verify(request=deletion, actor="legal", note="passport")
    services.dsar_fulfil_start(request=deletion, actor="legal")
    services.dsar_erasure_approve(request=deletion, actor="legal")

    services.dsar_fulfil_run(request_id=deletion.pk)

    shredded = DsarExport.objects.get(request=earlier)
    assert (bytes(shredded.sealed_archive), bytes(shredded.wrapped_data_key)) == (b"", b"")
    assert (shredded.purge_reason, shredded.purged_at is not None) == ("erasure", True)
    kept = DsarExport.objects.get(request=someone_else)
    assert kept.purged_at is None
    assert bytes(kept.wrapped_data_key)
    audit = AuditLogEntry.objects.get(action="dsar.export_shredded")
    assert (audit.object_id, audit.data["export_id"]) == (earlier.public_id, shredded.public_id)
    downloads = AuditLogEntry.objects.filter(action="dsar.export_downloaded").count()
    response = APIClient().get(api_path(link), **JSON)
    assert_problem(response, 410, "export-purged")
    assert AuditLogEntry.objects.filter(action="dsar.export_downloaded").count() == downloads
    assert FulfilmentStep.objects.get(request=deletion, step="erase").result["exports_shredded"] == 1


@pytest.fixture
def make_access(organization: Organization) -> Callable[[str], DataSubjectRequest]:
    def make(subject_id: str) -> DataSubjectRequest:
        request = services.dsar_create(
            organization=organization,
            request_type="access",
            channel="web_form",
            actor="test",
            jurisdiction="DE",
            subject_external_id=subject_id,
            requester=services.Requester(email=EMAIL),
        )
        services.dsar_identity_verify(request=request, actor="legal", note="passport")
        services.dsar_fulfil_start(request=request, actor="legal")
        services.dsar_fulfil_run(request_id=request.pk)
        request.refresh_from_db()
        assert request.status == "awaiting_review"
        return request

    return make


def approved_link(request: DataSubjectRequest) -> str:
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.dsar_transition(request=request, to_status="completed", actor="legal")
    sent = [m for m in mail.outbox if request.public_id in m.subject and "is ready" in m.subject]
    assert len(sent) == 1
    match = EXPORT_LINK.search(sent[0].body)
    assert match is not None
    return match.group(1)
