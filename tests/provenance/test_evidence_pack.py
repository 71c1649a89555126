"""Evidence packs (issue #14): stamp records name the consent events relied on and the data categories sent, and a
subject's pack (JSON with its JWS, or the signed PDF) states the consent on a date with its evidence, notices, chain,
inclusion proofs, receipts and what was sent to whom; verified with the JWKS, audited, and refused for bad input."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import PolicyVersion, Purpose, Source, Subject
from core.enums import AuditAction
from core.models import AuditLogEntry, Organization
from provenance.evidence import (
    EVIDENCE_PACK_JWS_TYPE,
    PDF_ATTACHMENT_NAME,
    chain_problems,
    evidence_pack_jws,
    verify_evidence_pack,
)
from provenance.models import StampRecord
from provenance.receipts import receipt_jws
from provenance.selectors import jwks
from provenance.services.keys import active_signing_key
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest, stamp_many
from provenance.verify import Reason, verify_stamp
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem

pytestmark = pytest.mark.django_db

NOTICE_TEXT = "We email you our offers. Withdraw at any time."
LETTER = b"%PDF-1.4 a scanned letter: please stop emailing me"


@pytest.fixture
def notice(purpose: Purpose) -> PolicyVersion:
    import hashlib

    return consent_services.policy_version_create(
        purpose=purpose,
        actor="test",
        version="2026-01",
        notice_sha256=hashlib.sha256(NOTICE_TEXT.encode()).hexdigest(),
        notice_text=NOTICE_TEXT,
        effective_at=timezone.now() - timedelta(days=60),
    )


@pytest.fixture
def crm(organization: Organization, purpose: Purpose) -> Any:
    return recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role="processor",
        purposes=[purpose.key],
        data_categories=["contact", "behavioural"],
    )


@pytest.fixture
def evidence_client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "evidence:read")


def _stamp(organization: Organization, subject_id: str = "cust-1") -> Any:
    request = StampRequest(recipient="crm", purposes=("marketing-email",), subject_id=subject_id, data={"plan": "pro"})
    return stamp_many(organization=organization, requests=[request])[0]


def _grant(organization: Organization, days_ago: int) -> Any:
    return consent_services.consent_record(
        organization=organization,
        item=event_input(
            occurred_at=timezone.now() - timedelta(days=days_ago),
            ip_address="203.0.113.7",
            user_agent="Mozilla/5.0 (evidence)",
        ),
    )


def _letter_withdrawal(organization: Organization, days_ago: int) -> Any:
    subject = Subject.objects.get(organization=organization, external_id="cust-1")
    return consent_services.consent_record_by_staff(
        subject=subject,
        purpose="marketing-email",
        action="withdraw",
        occurred_at=timezone.now() - timedelta(days=days_ago),
        received_by="letter",
        jurisdiction="DE",
        actor="user:7",
        note="Letter dated last Monday",
        document=consent_services.EvidenceDocument("letter.pdf", "application/pdf", LETTER),
    )


@pytest.fixture
def history(organization: Organization, source: Source, notice: PolicyVersion, crm: Any) -> dict[str, Any]:
    """cust-1 granted 10 days ago (with IP and user agent), was stamped to the CRM, withdrew by letter 2 days ago
    (recorded by staff), and was then refused a stamp; the log is sequenced and checkpointed."""
    granted = _grant(organization, 10)
    allowed = _stamp(organization)
    withdrawn = _letter_withdrawal(organization, 2)
    blocked = _stamp(organization)
    consent_services.ledger_sequence(organization)
    consent_services.ledger_checkpoint(organization)
    return {"granted": granted.event, "withdrawn": withdrawn.event, "allowed": allowed, "blocked": blocked}


# --- stamp records --------------------------------------------------------------------------------------------------


def test_stamp_record_names_the_consent_event_relied_on_and_the_categories_sent(history: dict[str, Any]) -> None:
    allowed = StampRecord.objects.get(stamp_id=history["allowed"].stamp_id)
    blocked = StampRecord.objects.get(stamp_id=history["blocked"].stamp_id)

    assert allowed.decision == "allow"
    assert allowed.relied_on_event_ids == [history["granted"].event_id]
    assert allowed.data_categories == ["contact", "behavioural"]
    assert blocked.decision == "block"
    assert blocked.relied_on_event_ids == [history["withdrawn"].event_id]
    assert blocked.data_categories == []  # nothing was sent


def test_batch_stamps_each_name_their_own_subjects_event(
    organization: Organization, source: Source, purpose: Purpose, crm: Any
) -> None:
    first = _grant(organization, 3).event
    second = consent_services.consent_record(organization=organization, item=event_input(subject_id="cust-2"))
    requests = [
        StampRequest(recipient="crm", purposes=("marketing-email",), subject_id=subject, data={})
        for subject in ("cust-1", "cust-2", "stranger")
    ]

    results = stamp_many(organization=organization, requests=requests)

    records = {r.subject_external_id: r for r in StampRecord.objects.filter(stamp_id__in=[x.stamp_id for x in results])}
    assert records["cust-1"].relied_on_event_ids == [first.event_id]
    assert records["cust-2"].relied_on_event_ids == [second.event.event_id]
    assert records["stranger"].relied_on_event_ids == []  # never on the ledger: no event to rest on
    assert records["stranger"].decision == "block"


def test_stamping_a_batch_reads_no_more_per_item(
    organization: Organization, source: Source, purpose: Purpose, crm: Any, django_assert_max_num_queries: Any
) -> None:
    for index in range(20):
        consent_services.consent_record(organization=organization, item=event_input(subject_id=f"s-{index}"))
    requests = [
        StampRequest(recipient="crm", purposes=("marketing-email",), subject_id=f"s-{index}", data={"i": index})
        for index in range(20)
    ]
    stamp_many(organization=organization, requests=requests[:1])  # warm the catalog and key caches

    with django_assert_max_num_queries(6):
        stamp_many(organization=organization, requests=requests)


# --- the pack -------------------------------------------------------------------------------------------------------


def test_evidence_pack_states_consent_evidence_notice_chain_proofs_receipts_and_what_was_sent(
    organization: Organization, history: dict[str, Any], evidence_client: APIClient
) -> None:
    response = evidence_client.get("/api/v1/subjects/cust-1/evidence?purposes=marketing-email")

    assert response.status_code == 200, response.content[:500]
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    jws = body.pop("jws")
    assert verify_evidence_pack(jws, jwks(organization=organization)) == body
    assert body["subject"]["id"] == "cust-1"
    assert [s["status"] for s in body["state"]] == ["withdrawn"]
    granted, withdrawn = body["events"]
    assert granted["evidence"] == {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 (evidence)"}
    assert withdrawn["collection_method"] == "admin"
    assert withdrawn["source"] == "legal_team"
    assert withdrawn["evidence"]["received_by"] == "letter"
    assert withdrawn["evidence"]["recorded_by"] == "user:7"
    assert withdrawn["evidence"]["document"]["filename"] == "letter.pdf"
    import base64

    assert base64.b64decode(withdrawn["evidence"]["document"]["content_base64"]) == LETTER
    assert granted["ledger_log"]["leaf_index"] == 0
    assert granted["ledger_log"]["checkpoint"]
    assert set(granted["receipts"]) == {"kantara-1.1", "iso27560"}
    assert granted["receipts"]["kantara-1.1"]["consentReceiptID"] == granted["event_id"]
    assert withdrawn["receipts"]["iso27560"]["event"]["entity_id"].startswith("org:")  # the controller recorded it
    assert [(n["version"], n["notice_text"], n["in_force_at_pack_date"]) for n in body["notices"]] == [
        ("2026-01", NOTICE_TEXT, True)
    ]
    assert chain_problems(body) == []
    (crm,) = body["recipients"]
    allowed, blocked = crm["stamps"]
    assert allowed["decision"] == "allow"
    assert allowed["data_categories"] == ["contact", "behavioural"]
    assert allowed["relied_on"] == [
        {
            "event_id": granted["event_id"],
            "purpose": "marketing-email",
            "action": "grant",
            "occurred_at": granted["occurred_at"],
            "in_pack": True,
        }
    ]
    assert blocked["relied_on"][0]["event_id"] == withdrawn["event_id"]


def test_evidence_pack_at_a_past_date_shows_the_consent_and_the_stamps_of_that_date(
    organization: Organization, history: dict[str, Any], evidence_client: APIClient
) -> None:
    day = (timezone.now() - timedelta(days=5)).date().isoformat()

    body = evidence_client.get(f"/api/v1/subjects/cust-1/evidence?at={day}&purposes=marketing-email").json()

    assert body["at"] == f"{day}T23:59:59.999999Z"
    assert [s["status"] for s in body["state"]] == ["given"]
    assert [e["event_id"] for e in body["events"]] == [history["granted"].event_id]
    assert body["recipients"] == []  # the stamps were made today, after that date


def test_evidence_pack_for_today_is_as_of_now(
    organization: Organization, history: dict[str, Any], evidence_client: APIClient
) -> None:
    today = timezone.now().date().isoformat()

    response = evidence_client.get(f"/api/v1/subjects/cust-1/evidence?at={today}")

    assert response.status_code == 200, response.content[:300]
    assert response.json()["at"].startswith(today)
    assert [s["status"] for s in response.json()["state"]] == ["withdrawn"]


def test_evidence_pack_is_audited_without_personal_data(
    organization: Organization, history: dict[str, Any], evidence_client: APIClient
) -> None:
    before = AuditLogEntry.objects.filter(action=AuditAction.EVIDENCE_PACK_PRODUCED).count()

    evidence_client.get("/api/v1/subjects/cust-1/evidence")

    entry = AuditLogEntry.objects.filter(action=AuditAction.EVIDENCE_PACK_PRODUCED).get()
    assert before == 0
    assert entry.actor.startswith("api_key:")
    assert entry.data["purposes"] == ["marketing-email"]
    assert entry.data["channel"] == "api"
    assert "203.0.113.7" not in str(entry.data)
    assert "cust-1" not in str(entry.data)


def test_evidence_pack_pdf_prints_and_attaches_the_same_signed_pack(
    organization: Organization, history: dict[str, Any], evidence_client: APIClient
) -> None:
    from pypdf import PdfReader

    response = evidence_client.get("/api/v1/subjects/cust-1/evidence", HTTP_ACCEPT="application/pdf")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(response.content))
    attachments = reader.attachments
    jws = attachments[PDF_ATTACHMENT_NAME][0].decode("ascii")
    pack = verify_evidence_pack(jws, jwks(organization=organization))
    assert pack is not None
    assert pack["subject"]["id"] == "cust-1"
    letter_name = f"{history['withdrawn'].event_id}-letter.pdf"
    assert attachments[letter_name][0] == LETTER
    text = "".join(page.extract_text() for page in reader.pages)
    assert "Evidence pack" in text
    assert NOTICE_TEXT in text
    assert "203.0.113.7" in text


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("at=yesterday", "?at"),
        ("at=2026-02-30", "?at"),
        ("at=2026-03-01T10:00:00", "?at"),  # no offset
        ("at=2999-01-01", "?at"),  # the future
        ("purposes=nope", "?purposes"),
        ("purposes=marketing-email,nope", "?purposes"),
    ],
)
def test_bad_at_or_purposes_is_a_problem_and_nothing_is_audited(
    organization: Organization, history: dict[str, Any], evidence_client: APIClient, query: str, pointer: str
) -> None:
    response = evidence_client.get(f"/api/v1/subjects/cust-1/evidence?{query}")

    body = assert_problem(response, 422, "validation-error")
    assert {error["pointer"] for error in body["errors"]} == {pointer}
    assert not AuditLogEntry.objects.filter(action=AuditAction.EVIDENCE_PACK_PRODUCED).exists()


def test_unknown_subject_is_404(organization: Organization, evidence_client: APIClient) -> None:
    assert_problem(evidence_client.get("/api/v1/subjects/nobody/evidence"), 404, "not-found")


def test_a_pack_never_passes_for_a_stamp_or_a_receipt_nor_they_for_a_pack(
    organization: Organization, history: dict[str, Any], evidence_client: APIClient
) -> None:
    body = evidence_client.get("/api/v1/subjects/cust-1/evidence").json()
    keys = jwks(organization=organization)
    key = active_signing_key(organization=organization)
    receipt = receipt_jws({"consentReceiptID": "x"}, private_key=key.private_key, kid=key.kid)

    assert verify_evidence_pack(receipt, keys) is None
    header, _payload, signature = body["jws"].split(".")
    as_stamp = verify_stamp({"data": {}, "privacy": {}}, f"{header}..{signature}", keys)
    assert (as_stamp.valid, as_stamp.reason) == (False, Reason.MALFORMED)  # the typ is not a stamp's
    assert EVIDENCE_PACK_JWS_TYPE not in ("privacy-stamp+jws", "consent-receipt+jws", "dsar-certificate+jws")


def test_a_tampered_pack_does_not_verify(organization: Organization) -> None:
    key = active_signing_key(organization=organization)
    jws = evidence_pack_jws({"type": "consent-evidence-pack", "state": []}, private_key=key.private_key, kid=key.kid)
    header, _, signature = jws.split(".")
    forged = evidence_pack_jws(
        {"type": "consent-evidence-pack", "state": [1]}, private_key=key.private_key, kid=key.kid
    )

    assert verify_evidence_pack(jws, jwks(organization=organization)) is not None
    assert verify_evidence_pack(f"{header}.{forged.split('.')[1]}.{signature}", jwks(organization=organization)) is None
    assert verify_evidence_pack("not.a.jws", jwks(organization=organization)) is None


@pytest.mark.parametrize("at", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_an_at_with_no_utc_instant_is_a_422_not_a_500(
    organization: Organization, source: Source, purpose: Purpose, api_client_for: Any, at: str
) -> None:
    consent_services.consent_record(organization=organization, item=event_input())
    api = api_client_for(organization, "evidence:read")

    response = api.get("/api/v1/subjects/cust-1/evidence", {"at": at})

    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
