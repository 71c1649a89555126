"""The legal team's consent facts and evidence packs in the admin (issue #14): recording a withdrawal received by
letter (sealed document, collection method admin, the staff user as actor, audited, permission-checked, scoped to the
user's organizations), and the subject page's "Evidence pack" form (POST, its own permission, audited)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from consent import services as consent_services
from consent.enums import CollectionMethod
from consent.models import ConsentEvent, EvidenceDocument, Purpose, Source, Subject
from consent.selectors import consent_state_for_subject, event_evidence, evidence_document_content
from core.enums import AuditAction
from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from core.staff_roles import AUDITOR, PRIVACY_COUNSEL
from dsar.selectors.subject_data import subject_tables
from provenance.evidence import PDF_ATTACHMENT_NAME, verify_evidence_pack
from provenance.selectors import jwks
from tests.conftest import event_input

pytestmark = pytest.mark.django_db

LETTER = b"%PDF-1.4 Please stop emailing me. Ada"


@pytest.fixture
def subject(organization: Organization, source: Source, purpose: Purpose) -> Subject:
    consent_services.consent_record(
        organization=organization, item=event_input(occurred_at=timezone.now() - timedelta(days=3))
    )
    return Subject.objects.get(organization=organization, external_id="cust-1")


def login(client: Client, django_user_model: Any, *, groups: tuple[str, ...] = (), perms: tuple[str, ...] = ()) -> Any:
    user = django_user_model.objects.create_user(username="staff", password="x", is_staff=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client.force_login(user)
    return user


def letter_form(**overrides: Any) -> dict[str, Any]:
    form: dict[str, Any] = {
        "purpose": "marketing-email",
        "action": "withdraw",
        "occurred_at": (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        "received_by": "letter",
        "jurisdiction": "DE",
        "note": "Letter of 1 March",
        "document": SimpleUploadedFile("../../scan of letter.pdf", LETTER, content_type="application/pdf"),
    }
    form.update(overrides)
    return form


# --- recording a letter ---------------------------------------------------------------------------------------------


def test_counsel_records_a_withdrawal_received_by_letter_with_the_document_sealed(
    client: Client, django_user_model: Any, subject: Subject
) -> None:
    user = login(client, django_user_model, groups=(PRIVACY_COUNSEL,))
    page = client.get(f"/admin/consent/subject/{subject.pk}/change/")
    assert 'id="subject-record-consent-link"' in page.content.decode()

    response = client.post(f"/admin/consent/subject/{subject.pk}/record-consent/", letter_form())

    assert response.status_code == 302, response.content[:2000]
    event = ConsentEvent.objects.filter(subject=subject).order_by("-chain_index").first()
    assert event is not None
    assert (event.action, event.collection_method, event.source.key) == (
        "withdraw",
        CollectionMethod.ADMIN,
        "legal_team",
    )
    assert LETTER not in event.evidence_sealed.encode()
    assert base64.b64encode(LETTER).decode() not in event.evidence_sealed
    evidence = event_evidence(event)
    assert evidence is not None
    assert evidence["recorded_by"] == f"user:{user.pk}"
    assert evidence["received_by"] == "letter"
    assert evidence["document"] == {
        "filename": "scan_of_letter.pdf",
        "content_type": "application/pdf",
        "size": len(LETTER),
        "sha256": hashlib.sha256(LETTER).hexdigest(),
    }
    # The chain covers the digest; the document is kept apart, sealed under the subject's key and bound to the event.
    kept = EvidenceDocument.objects.get(event_id=event.event_id)
    assert base64.b64encode(LETTER).decode() not in kept.content_sealed
    assert evidence_document_content(event, evidence["document"]) == LETTER
    audit = AuditLogEntry.objects.get(action=AuditAction.CONSENT_RECORDED_BY_STAFF)
    assert (audit.actor, audit.object_id) == (f"user:{user.pk}", event.event_id)
    assert "Ada" not in json.dumps(audit.data)
    (marketing,) = consent_state_for_subject(organization=subject.organization, subject=subject)
    assert (marketing.status, marketing.permitted) == ("withdrawn", False)


def test_the_ledger_api_and_the_requesters_export_name_the_letter_but_never_carry_it_or_the_staff_note(
    client: Client, django_user_model: Any, subject: Subject, api_client_for: Any
) -> None:
    login(client, django_user_model, groups=(PRIVACY_COUNSEL,))
    client.post(f"/admin/consent/subject/{subject.pk}/record-consent/", letter_form())
    event = ConsentEvent.objects.filter(subject=subject).order_by("-chain_index").first()
    assert event is not None
    api = api_client_for(subject.organization, "consent:read")

    detail = api.get(f"/api/v1/consent-events/{event.event_id}").json()
    history = api.get(f"/api/v1/subjects/{subject.external_id}/consent-events").json()
    tables = subject_tables(organization=subject.organization, subject=subject)
    export_events = next(table.rows for table in tables if table.name == "consent_history")

    for evidence in (
        detail["evidence"],
        next(e for e in history["results"] if e["event_id"] == event.event_id)["evidence"],
        next(e for e in export_events if e["event_id"] == event.event_id)["evidence"],
    ):
        assert evidence["received_by"] == "letter"
        assert evidence["document"]["sha256"] == hashlib.sha256(LETTER).hexdigest()
        assert "content_base64" not in evidence["document"]
        assert "note" not in evidence
        assert "recorded_by" not in evidence
    assert LETTER not in json.dumps(detail).encode()


def test_without_the_permission_nothing_is_recorded(client: Client, django_user_model: Any, subject: Subject) -> None:
    login(client, django_user_model, groups=(AUDITOR,))
    before = ConsentEvent.objects.count()

    page = client.get(f"/admin/consent/subject/{subject.pk}/change/")
    response = client.post(f"/admin/consent/subject/{subject.pk}/record-consent/", letter_form())

    assert 'id="subject-record-consent-link"' not in page.content.decode()
    assert response.status_code == 403
    assert ConsentEvent.objects.count() == before
    assert not AuditLogEntry.objects.filter(action=AuditAction.CONSENT_RECORDED_BY_STAFF).exists()


def test_staff_of_another_organization_cannot_record_for_this_subject(
    client: Client, django_user_model: Any, subject: Subject, other_organization: Organization
) -> None:
    user = login(client, django_user_model, groups=(PRIVACY_COUNSEL,))
    StaffOrganizationScope.objects.create(user=user).organizations.add(other_organization)
    before = ConsentEvent.objects.count()

    response = client.post(f"/admin/consent/subject/{subject.pk}/record-consent/", letter_form())

    assert response.status_code == 404
    assert ConsentEvent.objects.count() == before


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"action": "grant"}, "Select a valid choice"),
        ({"occurred_at": (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")}, "Not in the future"),
        (
            {"document": SimpleUploadedFile("x.exe", b"MZ", content_type="application/x-msdownload"), "note": ""},
            "A PDF, an image",
        ),
        ({"document": "", "note": ""}, "Attach the document"),
        ({"purpose": "nope"}, "Select a valid choice"),
    ],
)
def test_a_bad_letter_form_records_nothing(
    client: Client, django_user_model: Any, subject: Subject, overrides: dict[str, Any], problem: str
) -> None:
    login(client, django_user_model, groups=(PRIVACY_COUNSEL,))
    before = ConsentEvent.objects.count()

    response = client.post(f"/admin/consent/subject/{subject.pk}/record-consent/", letter_form(**overrides))

    assert response.status_code == 200
    assert problem in response.content.decode()
    assert ConsentEvent.objects.count() == before


def test_the_service_refuses_a_grant_on_the_persons_behalf(subject: Subject) -> None:
    from core.problems import InvalidInput

    with pytest.raises(InvalidInput):
        consent_services.consent_record_by_staff(
            subject=subject,
            purpose="marketing-email",
            action="grant",
            occurred_at=timezone.now(),
            received_by="phone",
            jurisdiction="DE",
            actor="user:1",
            note="said yes",
        )
    assert not ConsentEvent.objects.filter(collection_method=CollectionMethod.ADMIN).exists()


def test_an_erased_subject_gets_no_new_evidence(subject: Subject) -> None:
    consent_services.subject_erase(subject=subject, actor="test")
    subject.refresh_from_db()

    with pytest.raises(consent_services.SubjectErased):
        consent_services.consent_record_by_staff(
            subject=subject,
            purpose="marketing-email",
            action="withdraw",
            occurred_at=timezone.now(),
            received_by="letter",
            jurisdiction="DE",
            actor="user:1",
            document=consent_services.EvidenceDocument("l.pdf", "application/pdf", LETTER),
        )


# --- the evidence pack form -----------------------------------------------------------------------------------------


def test_counsel_downloads_a_signed_pdf_pack_showing_the_letter_and_it_is_audited(
    client: Client, django_user_model: Any, subject: Subject
) -> None:
    from pypdf import PdfReader

    user = login(client, django_user_model, groups=(PRIVACY_COUNSEL,))
    client.post(f"/admin/consent/subject/{subject.pk}/record-consent/", letter_form())
    page = client.get(f"/admin/consent/subject/{subject.pk}/change/")
    assert 'id="subject-evidence-pack-link"' in page.content.decode()
    form = client.get(f"/admin/provenance/stamprecord/evidence-pack/{subject.pk}/")
    assert form.status_code == 200
    assert not AuditLogEntry.objects.filter(
        action=AuditAction.EVIDENCE_PACK_PRODUCED
    ).exists()  # a GET decrypts nothing

    response = client.post(
        f"/admin/provenance/stamprecord/evidence-pack/{subject.pk}/",
        {"at": timezone.now().date().isoformat(), "purposes": ["marketing-email"], "format": "pdf"},
    )

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    pack = verify_evidence_pack(
        reader.attachments[PDF_ATTACHMENT_NAME][0].decode(), jwks(organization=subject.organization)
    )
    assert pack is not None
    document = pack["events"][-1]["evidence"]["document"]
    assert base64.b64decode(document["content_base64"]) == LETTER
    assert any(name.endswith("scan_of_letter.pdf") for name in reader.attachments)
    audit = AuditLogEntry.objects.get(action=AuditAction.EVIDENCE_PACK_PRODUCED)
    assert (audit.actor, audit.data["channel"]) == (f"user:{user.pk}", "admin")


def test_json_pack_from_the_admin_carries_its_jws(client: Client, django_user_model: Any, subject: Subject) -> None:
    login(client, django_user_model, groups=(PRIVACY_COUNSEL,))

    response = client.post(
        f"/admin/provenance/stamprecord/evidence-pack/{subject.pk}/",
        {"at": timezone.now().date().isoformat(), "purposes": ["marketing-email"], "format": "json"},
    )

    body = json.loads(response.content)
    jws = body.pop("jws")
    assert verify_evidence_pack(jws, jwks(organization=subject.organization)) == body
    assert body["events"][0]["evidence"] is None  # the seed event carried none


def test_evidence_pack_needs_its_own_permission(client: Client, django_user_model: Any, subject: Subject) -> None:
    login(client, django_user_model, groups=(AUDITOR,))

    page = client.get(f"/admin/consent/subject/{subject.pk}/change/")
    response = client.post(
        f"/admin/provenance/stamprecord/evidence-pack/{subject.pk}/",
        {"at": timezone.now().date().isoformat(), "purposes": ["marketing-email"], "format": "json"},
    )

    assert 'id="subject-evidence-pack-link"' not in page.content.decode()
    assert response.status_code == 403
    assert not AuditLogEntry.objects.filter(action=AuditAction.EVIDENCE_PACK_PRODUCED).exists()


def test_evidence_pack_of_another_organizations_subject_is_404(
    client: Client, django_user_model: Any, subject: Subject, other_organization: Organization
) -> None:
    user = login(client, django_user_model, groups=(PRIVACY_COUNSEL,))
    StaffOrganizationScope.objects.create(user=user).organizations.add(other_organization)

    response = client.post(
        f"/admin/provenance/stamprecord/evidence-pack/{subject.pk}/",
        {"at": timezone.now().date().isoformat(), "purposes": ["marketing-email"], "format": "json"},
    )

    assert response.status_code == 404
    assert not AuditLogEntry.objects.filter(action=AuditAction.EVIDENCE_PACK_PRODUCED).exists()


def test_evidence_pack_form_refuses_a_future_date(client: Client, django_user_model: Any, subject: Subject) -> None:
    login(client, django_user_model, groups=(PRIVACY_COUNSEL,))

    response = client.post(
        f"/admin/provenance/stamprecord/evidence-pack/{subject.pk}/",
        {"at": (timezone.now() + timedelta(days=3)).date().isoformat(), "purposes": ["marketing-email"]},
    )

    assert response.status_code == 200
    assert "Not in the future" in response.content.decode()
    assert not AuditLogEntry.objects.filter(action=AuditAction.EVIDENCE_PACK_PRODUCED).exists()
