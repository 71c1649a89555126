"""The privacy center's request side below the pages: the rights each regime grants, the form's intake through
the API's own services, the status link's view, and the export link's preview and confirmed download."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import TestCase
from django.utils import timezone

from config.celery import app as celery_app
from consent.models import Purpose, Source, Subject
from consent.services import consent_record
from core.models import AuditLogEntry, Organization
from core.problems import InvalidInput
from dsar import selectors, services
from dsar.enums import DsarRegime, RequestType
from dsar.export_links import download_confirmation
from dsar.models import DataSubjectRequest, DsarExport, RequestTransition
from dsar.problems import (
    DownloadConfirmationInvalid,
    ExportLinkExpired,
    ExportLinkInvalid,
    ExportPurged,
    RightNotGranted,
    StatusLinkInvalid,
)
from dsar.rights import RIGHTS_BY_REGIME, form_jurisdiction, form_jurisdictions, rights_of_regime
from dsar.status_links import status_link_token
from tests.conftest import event_input

EMAIL = "ada@example.com"
EXPORT_LINK = re.compile(r"http://testserver/privacy/acme/download/(\S+)")


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"


@pytest.fixture(autouse=True)
def _inline_tasks() -> Iterator[None]:
    """Celery runs the real tasks inline (eager), so what a worker would do happens in this test."""
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def row_counts() -> tuple[int, int, int, int]:
    return (
        DataSubjectRequest.objects.count(),
        RequestTransition.objects.count(),
        AuditLogEntry.objects.count(),
        DsarExport.objects.filter(link_issued_at__isnull=False).count(),
    )


# --- rights ------------------------------------------------------------------------------------------------------


def test_every_regime_has_its_rights_and_only_california_grants_limiting_sensitive_data() -> None:
    assert set(RIGHTS_BY_REGIME) == set(DsarRegime.values)
    limiting = {regime for regime, rights in RIGHTS_BY_REGIME.items() if RequestType.LIMIT_SENSITIVE in rights}
    assert limiting == {DsarRegime.CCPA}
    assert RequestType.OPT_OUT_OF_SALE not in rights_of_regime(DsarRegime.GDPR)
    assert {RequestType.RESTRICT, RequestType.OBJECT} <= set(rights_of_regime(DsarRegime.GDPR))
    assert RequestType.CORRECTION not in rights_of_regime(DsarRegime.UCPA)
    assert RequestType.CORRECTION not in rights_of_regime(DsarRegime.ICDPA)
    assert rights_of_regime("none") == ()


def test_the_form_offers_every_place_with_a_law_and_nothing_else() -> None:
    codes = {place.code for place in form_jurisdictions()}
    assert {"DE", "GB", "CH", "US-CA", "US-VA", "US-NE"} <= codes
    assert "US" not in codes
    assert "*" not in codes
    germany = form_jurisdiction("de")
    assert germany is not None
    assert germany.regime == "gdpr"
    assert form_jurisdiction("JP") is None


# --- intake --------------------------------------------------------------------------------------------------------


def file(organization: Organization, **overrides: Any) -> DataSubjectRequest:
    values: dict[str, Any] = {
        "organization": organization,
        "jurisdiction": "DE",
        "request_type": "access",
        "email": EMAIL,
        "name": "Ada Lovelace",
        "language": "de",
    }
    values.update(overrides)
    return services.dsar_file_from_privacy_center(**values)


def test_a_filed_request_takes_the_apis_path_records_the_language_and_emails_the_privacy_center_link(
    organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = file(organization, email="  Ada@Example.com ")

    request.refresh_from_db()
    assert (request.type, request.regime, request.jurisdiction, request.channel) == ("access", "gdpr", "DE", "web_form")
    assert request.language == "de"
    assert request.status == "identity_pending"
    assert selectors.dsar_requester_email(request) == EMAIL
    assert EMAIL not in request.requester_email_sealed
    received = AuditLogEntry.objects.get(action="dsar.received", object_id=request.public_id)
    assert received.actor == services.PRIVACY_CENTER_ACTOR
    assert received.data["channel"] == "web_form"
    assert {tuple(message.to) for message in mail.outbox} == {(EMAIL,)}
    links = [m for m in mail.outbox if re.search(r"http://testserver/privacy/acme/verify/\S+", str(m.body))]
    assert len(links) == 1, [m.subject for m in mail.outbox]
    assert "/api/v1/" not in str(links[0].body)


def test_an_opt_out_needs_no_verification_and_starts_at_once(
    organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = file(organization, jurisdiction="US-CA", request_type="opt_out_of_sale", language="en")

    request.refresh_from_db()
    assert request.regime == "ccpa"
    # Carried out inline (no verification step on the way); the ledger knows no subject of this email, so nothing
    # was recorded and the request waits for legal instead of closing as done (issue #14).
    assert request.status == "awaiting_review"
    assert request.transitions.filter(to_status="in_progress").exists()
    assert not request.transitions.filter(to_status="verified").exists()
    assert not [m for m in mail.outbox if "confirm" in m.subject.lower()]


@pytest.mark.parametrize(
    ("overrides", "slug", "pointer"),
    [
        ({"jurisdiction": "JP"}, "validation-error", "/jurisdiction"),
        ({"jurisdiction": "US"}, "validation-error", "/jurisdiction"),
        ({"jurisdiction": "DE", "request_type": "opt_out_of_sale"}, "right-not-granted", "/type"),
        ({"jurisdiction": "US-UT", "request_type": "correction"}, "right-not-granted", "/type"),
        ({"jurisdiction": "US-CA", "request_type": "restrict"}, "right-not-granted", "/type"),
        ({"request_type": "anything"}, "right-not-granted", "/type"),
        ({"email": "not-an-email"}, "validation-error", "/email"),
        ({"email": ("a" * 250) + "@example.com"}, "validation-error", "/email"),
        ({"name": "x" * 201}, "validation-error", "/name"),
    ],
)
def test_refused_input_changes_nothing(
    organization: Organization, overrides: dict[str, Any], slug: str, pointer: str
) -> None:
    before = row_counts()

    with pytest.raises(InvalidInput) as refused:
        file(organization, **overrides)

    assert refused.value.slug == slug
    assert refused.value.extra["errors"][0]["pointer"] == pointer
    assert row_counts() == before
    assert isinstance(refused.value, RightNotGranted) == (slug == "right-not-granted")


def test_the_subject_is_linked_by_email_only_when_exactly_one_has_it(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    consent_record(organization=organization, item=event_input(subject_id="cust-1", subject_email=EMAIL))
    consent_record(organization=organization, item=event_input(subject_id="cust-2", subject_email="bob@example.com"))
    consent_record(organization=organization, item=event_input(subject_id="cust-3", subject_email="bob@example.com"))

    known = file(organization, email="ADA@example.com")
    shared = file(organization, email="bob@example.com")
    unknown = file(organization, email="nobody@example.com")

    assert known.subject_external_id == "cust-1"
    assert shared.subject_external_id == ""
    assert unknown.subject_external_id == ""
    assert Subject.objects.count() == 3


# --- status --------------------------------------------------------------------------------------------------------


def test_the_status_view_follows_the_request_and_shows_no_contact(
    organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = file(organization)
    request.refresh_from_db()
    token = status_link_token(request.public_id)

    pending = selectors.request_status_of_link(token)
    services.dsar_identity_verify(request=request, actor="legal", note="checked")
    verified = selectors.request_status_of_link(token)

    berlin = ZoneInfo("Europe/Berlin")  # Germany's GDPR deadlines are counted in its zone, and so are these days
    assert (pending.status, pending.is_verified, pending.verified_on) == ("identity_pending", False, None)
    assert pending.received_on == timezone.localdate(request.received_at, berlin)
    assert pending.due_on == request.due_on
    assert verified.is_verified
    assert verified.verified_on == timezone.localdate(timezone.now(), berlin)
    assert verified.organization == organization
    assert EMAIL not in repr(verified)
    assert "Ada" not in repr(verified)


@pytest.mark.parametrize("token", ["not-a-token", "x" + "A" * 40])
def test_a_status_link_not_signed_by_us_is_refused(db: Any, token: str) -> None:
    with pytest.raises(StatusLinkInvalid):
        selectors.request_status_of_link(token)


def test_a_status_link_for_a_request_that_does_not_exist_is_refused(db: Any) -> None:
    with pytest.raises(StatusLinkInvalid):
        selectors.request_status_of_link(status_link_token("01HZZZZZZZZZZZZZZZZZZZZZZZ"))


# --- the export link -------------------------------------------------------------------------------------------------


@pytest.fixture
def approved_token(organization: Organization, source: Source, purpose: Purpose) -> str:
    """An access request verified, carried out and approved: the token of the link emailed to the requester."""
    consent_record(organization=organization, item=event_input(subject_id="cust-1", subject_email=EMAIL))
    request = file(organization)
    services.dsar_identity_verify(request=request, actor="legal", note="checked")
    services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.dsar_transition(request=request, to_status="completed", actor="legal")
    found = [match.group(1) for m in mail.outbox if (match := EXPORT_LINK.search(str(m.body)))]
    assert len(found) == 1, "the one link is emailed once"
    return found[0]


def test_the_preview_writes_nothing_and_only_its_confirmation_downloads(approved_token: str) -> None:
    before = row_counts()
    preview = selectors.export_link_preview(approved_token)
    selectors.export_link_preview(approved_token)
    assert row_counts() == before
    export = DsarExport.objects.get(public_id=preview.export_public_id)
    assert preview.expires_at == export.link_expires_at
    assert "subject.json" in preview.files

    for forged in (None, "", "garbage", download_confirmation(preview.export_public_id, approved_token + "x")):
        with pytest.raises(DownloadConfirmationInvalid):
            services.dsar_export_download(token=approved_token, confirmation=forged)
    assert row_counts() == before

    download = services.dsar_export_download(token=approved_token, confirmation=preview.confirmation)

    assert download.content.startswith(b"PK")
    assert AuditLogEntry.objects.filter(action="dsar.export_downloaded").count() == 1


def test_expired_purged_and_tampered_links_are_refused_by_the_preview(approved_token: str) -> None:
    export = DsarExport.objects.get()
    with pytest.raises(ExportLinkInvalid):
        selectors.export_link_preview(approved_token[:-2] + "zz")
    expired_at = export.link_expires_at
    assert expired_at is not None
    with pytest.raises(ExportLinkExpired):
        selectors.export_link_preview(approved_token, now=expired_at + timedelta(seconds=1))
    services.dsar_exports_purge(now=timezone.now() + timedelta(days=400))
    with pytest.raises(ExportPurged):
        selectors.export_link_preview(approved_token)
    assert selectors.export_link_organization(approved_token).slug == "acme"
