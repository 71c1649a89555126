"""Erasure by crypto-shredding (subject_erase): PII becomes unreadable, the ledger still verifies."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pytest

from consent import services
from consent.models import ConsentEvent, ConsentState, Purpose, Source, Subject
from consent.selectors import consent_state_for_subject, event_evidence, ledger_integrity_report, subject_email
from core.crypto import CryptoError, blind_index, normalize_email, unseal, unwrap_data_key
from core.models import AuditLogEntry, Organization
from tests.conftest import event_input

EMAIL = "Ana.Lopez@Example.org"
IP = "203.0.113.7"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64)"


@dataclass
class Recorded:
    subject: Subject
    with_evidence: ConsentEvent
    without_evidence: ConsentEvent


def record(organization: Organization, **overrides: Any) -> ConsentEvent:
    return services.consent_record(organization=organization, item=event_input(**overrides)).event


@pytest.fixture
def recorded(organization: Organization, source: Source, purpose: Purpose) -> Recorded:
    with_evidence = record(
        organization,
        occurred_at="2026-07-01T10:00:00Z",
        subject_email=EMAIL,
        ip_address=IP,
        user_agent=USER_AGENT,
    )
    without_evidence = record(organization, action="withdraw", occurred_at="2026-07-02T10:00:00Z")
    record(organization, subject_id="bystander", occurred_at="2026-07-01T10:00:00Z", ip_address="198.51.100.1")
    subject = Subject.objects.get(organization=organization, external_id="cust-1")
    return Recorded(subject, with_evidence, without_evidence)


def fresh(event: ConsentEvent) -> ConsentEvent:
    return ConsentEvent.objects.select_related("subject").get(pk=event.pk)


def test_before_erasure_evidence_and_email_are_readable_but_stored_sealed(recorded: Recorded) -> None:
    event = fresh(recorded.with_evidence)

    assert event_evidence(event) == {"ip_address": IP, "user_agent": USER_AGENT}
    assert subject_email(recorded.subject) == normalize_email(EMAIL)
    assert IP not in event.evidence_sealed
    assert "ana" not in recorded.subject.email_sealed.lower()
    # Keyed per organization (issue #11, item 4): the tenant is part of the index.
    assert recorded.subject.email_index == blind_index(
        normalize_email(EMAIL), namespace="email", tenant=str(recorded.subject.organization_id)
    )
    assert event_evidence(fresh(recorded.without_evidence)) is None


def test_erasure_makes_evidence_and_email_unreadable(recorded: Recorded) -> None:
    sealed_evidence = recorded.with_evidence.evidence_sealed
    sealed_email = recorded.subject.email_sealed

    erased = services.subject_erase(subject=recorded.subject, actor="test")

    assert erased.is_erased
    assert erased.wrapped_data_key is None
    assert (erased.email_sealed, erased.email_index) == ("", "")
    assert event_evidence(fresh(recorded.with_evidence)) is None
    assert subject_email(erased) is None
    with pytest.raises(CryptoError):
        unwrap_data_key(erased.wrapped_data_key)
    # The ciphertext stays in the append-only row, but no key opens it any more.
    assert fresh(recorded.with_evidence).evidence_sealed == sealed_evidence
    for _ in range(3):
        with pytest.raises(CryptoError):
            unseal(os.urandom(32), sealed_evidence, context=f"evidence:{recorded.with_evidence.event_id}")
        with pytest.raises(CryptoError):
            unseal(os.urandom(32), sealed_email, context=f"email:{erased.uuid}")


def test_erasure_leaves_other_subjects_readable(organization: Organization, recorded: Recorded) -> None:
    services.subject_erase(subject=recorded.subject, actor="test")

    bystander = ConsentEvent.objects.select_related("subject").get(subject__external_id="bystander")
    assert event_evidence(bystander) == {"ip_address": "198.51.100.1"}


def test_ledger_still_verifies_after_erasure(recorded: Recorded) -> None:
    before = ledger_integrity_report()

    services.subject_erase(subject=recorded.subject, actor="test")

    after = ledger_integrity_report()
    assert after.is_valid
    assert after.first_break is None
    assert after.events_checked == before.events_checked
    assert after.ledger_root == before.ledger_root


def test_consent_state_survives_erasure(organization: Organization, recorded: Recorded) -> None:
    before = consent_state_for_subject(organization=organization, subject=recorded.subject)

    services.subject_erase(subject=recorded.subject, actor="test")

    assert consent_state_for_subject(organization=organization, subject=recorded.subject) == before
    assert before[0].status == "withdrawn"


def test_events_without_personal_data_still_append_after_erasure(
    organization: Organization, recorded: Recorded
) -> None:
    services.subject_erase(subject=recorded.subject, actor="test")

    event = record(organization, occurred_at="2026-07-03T10:00:00Z")

    assert event.chain_index == 3
    assert event.evidence_sealed == ""
    assert event.prev_hash == recorded.without_evidence.hash
    assert ledger_integrity_report().is_valid
    [state] = consent_state_for_subject(organization=organization, subject=recorded.subject)
    assert state.status == "renewed"


@pytest.mark.parametrize(
    "personal_data",
    [{"ip_address": IP}, {"user_agent": USER_AGENT}, {"subject_email": "new@example.org"}],
)
def test_event_with_personal_data_for_an_erased_subject_is_refused(
    organization: Organization, recorded: Recorded, personal_data: dict[str, str]
) -> None:
    services.subject_erase(subject=recorded.subject, actor="test")
    events = ConsentEvent.objects.count()
    states = list(ConsentState.objects.values())

    with pytest.raises(services.SubjectErased):
        record(organization, occurred_at="2026-07-03T10:00:00Z", **personal_data)

    assert ConsentEvent.objects.count() == events
    assert list(ConsentState.objects.values()) == states
    subject = Subject.objects.get(pk=recorded.subject.pk)
    assert (subject.ledger_length, subject.email_sealed, subject.email_index) == (2, "", "")


def test_batch_with_one_event_for_an_erased_subject_writes_nothing(
    organization: Organization, recorded: Recorded
) -> None:
    services.subject_erase(subject=recorded.subject, actor="test")
    events = ConsentEvent.objects.count()

    with pytest.raises(services.SubjectErased):
        services.consent_record_many(
            organization=organization,
            items=[
                event_input(subject_id="someone-else", occurred_at="2026-07-03T10:00:00Z", ip_address=IP),
                event_input(occurred_at="2026-07-03T10:00:00Z", ip_address=IP, pointer="/events/1"),
            ],
        )

    assert ConsentEvent.objects.count() == events
    assert not Subject.objects.filter(external_id="someone-else").exists()


def test_erasing_twice_is_idempotent_and_audited_once(recorded: Recorded) -> None:
    first = services.subject_erase(subject=recorded.subject, actor="test")
    second = services.subject_erase(subject=recorded.subject, actor="test")

    assert second.data_key_destroyed_at == first.data_key_destroyed_at
    entries = AuditLogEntry.objects.filter(action="subject.erased", object_id=str(recorded.subject.pk))
    assert entries.count() == 1
    assert entries.get().data == {"subject_uuid": str(recorded.subject.uuid)}
    assert EMAIL.lower() not in json.dumps(entries.get().data).lower()
