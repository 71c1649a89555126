"""Consent validity per purpose and the expiry sweep (consent_expire_lapsed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from consent import services
from consent.enums import SourceKind
from consent.models import Action, CollectionMethod, ConsentEvent, ConsentState, Purpose, Source, Subject
from consent.selectors import PurposeConsent, consent_state_for_subject, ledger_integrity_report
from consent.tasks import expire_lapsed_grants
from core.models import Organization
from core.problems import InvalidInput
from core.services import organization_create
from tests.conftest import event_input


@pytest.fixture
def six_month_purpose(purpose: Purpose) -> Purpose:
    return services.purpose_update(purpose=purpose, actor="test", validity="P6M")


def record(organization: Organization, **overrides: Any) -> ConsentEvent:
    return services.consent_record(organization=organization, item=event_input(**overrides)).event


def read(
    organization: Organization,
    subject_id: str = "cust-1",
    purpose_key: str = "marketing-email",
    at: datetime | None = None,
) -> PurposeConsent:
    subject = Subject.objects.get(organization=organization, external_id=subject_id)
    [state] = consent_state_for_subject(organization=organization, subject=subject, at=at, purpose_key=purpose_key)
    return state


def expire_events() -> list[ConsentEvent]:
    return list(ConsentEvent.objects.filter(action=Action.EXPIRE).select_related("supersedes", "source"))


# --------------------------------------------------------------------------------------------
# Validity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granted_at", "expected_valid_until"),
    [
        ("2025-08-31T10:00:00Z", datetime(2026, 2, 28, 10, 0, tzinfo=UTC)),
        ("2023-08-31T10:00:00Z", datetime(2024, 2, 29, 10, 0, tzinfo=UTC)),  # leap year
        ("2026-03-15T08:30:00Z", datetime(2026, 9, 15, 8, 30, tzinfo=UTC)),
    ],
)
def test_grant_is_valid_for_the_purpose_validity_clamped_to_the_month_end(
    organization: Organization,
    source: Source,
    six_month_purpose: Purpose,
    granted_at: str,
    expected_valid_until: datetime,
) -> None:
    event = record(organization, occurred_at=granted_at)

    assert event.valid_until == expected_valid_until
    assert ConsentState.objects.get(subject=event.subject).valid_until == expected_valid_until


def test_purpose_without_validity_grants_without_end(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    event = record(organization, occurred_at="2020-01-31T00:00:00Z")

    assert event.valid_until is None
    assert read(organization).status == "given"


def test_only_grants_carry_a_validity(organization: Organization, source: Source, six_month_purpose: Purpose) -> None:
    record(organization, occurred_at="2026-05-01T00:00:00Z")
    withdrawal = record(organization, action="withdraw", occurred_at="2026-05-02T00:00:00Z")

    assert withdrawal.valid_until is None
    assert read(organization).valid_until is None


def test_lapsed_grant_reads_expired_before_the_sweep_writes_anything(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    """Given a grant seven months old under P6M, when read with no sweep run, then it is expired."""
    granted_at = timezone.now() - timedelta(days=215)
    event = record(organization, occurred_at=granted_at)

    state = read(organization)

    assert state.status == "expired"
    assert not state.opt_in
    assert state.since == event.valid_until
    assert state.dpv_status == "https://w3id.org/dpv#ConsentExpired"
    assert expire_events() == []
    assert ConsentState.objects.get(subject=event.subject).status == "given"  # stored; time is applied on read


def test_grant_within_validity_reads_given(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    record(organization, occurred_at=timezone.now() - timedelta(days=30))

    state = read(organization)

    assert state.status == "given"
    assert state.opt_in


def test_state_at_an_instant_before_and_after_valid_until(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    record(organization, occurred_at="2025-08-31T10:00:00Z")

    assert read(organization, at=datetime(2026, 2, 28, 9, 59, 59, tzinfo=UTC)).status == "given"
    assert read(organization, at=datetime(2026, 2, 28, 10, 0, tzinfo=UTC)).status == "expired"


# --------------------------------------------------------------------------------------------
# The sweep
# --------------------------------------------------------------------------------------------


def test_sweep_writes_exactly_one_expire_event_per_lapsed_grant_and_a_rerun_writes_nothing(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    now = timezone.now()
    analytics = services.purpose_create(
        organization=organization, actor="test", key="analytics", name="Analytics", validity="P30D"
    )
    lapsed = [
        record(organization, subject_id="lapsed-1", occurred_at=now - timedelta(days=200)),
        record(organization, subject_id="lapsed-2", occurred_at=now - timedelta(days=190)),
        record(organization, subject_id="lapsed-2", purpose=analytics.key, occurred_at=now - timedelta(days=31)),
    ]
    record(organization, subject_id="current", occurred_at=now - timedelta(days=10))
    record(organization, subject_id="withdrawn", occurred_at=now - timedelta(days=200))
    record(organization, subject_id="withdrawn", action="withdraw", occurred_at=now - timedelta(days=199))
    other = organization_create(slug="initech", name="Initech", actor="test")
    services.source_create(organization=other, actor="test", key="web-signup", name="Form", kind=SourceKind.WEB_FORM)
    services.purpose_create(organization=other, actor="test", key="marketing-email", name="M", validity="P1M")
    lapsed.append(record(other, subject_id="elsewhere", occurred_at=now - timedelta(days=40)))

    written = services.consent_expire_lapsed(now=now)

    assert written == 4
    events = expire_events()
    assert sorted(e.supersedes.event_id for e in events) == sorted(g.event_id for g in lapsed)
    for expire in events:
        grant = expire.supersedes
        assert expire.subject_id == grant.subject_id
        assert expire.purpose_id == grant.purpose_id
        assert expire.occurred_at == grant.valid_until
        assert expire.source.key == services.SYSTEM_SOURCE_KEY
        assert expire.collection_method == CollectionMethod.SYSTEM
        assert expire.organization_id == grant.organization_id
        state = ConsentState.objects.get(subject_id=grant.subject_id, purpose_id=grant.purpose_id)
        assert state.status == "expired"
        assert state.since == grant.valid_until
        assert state.basis_event_id == grant.pk
    assert read(organization, subject_id="current").status == "given"
    assert read(organization, subject_id="withdrawn").status == "withdrawn"

    assert services.consent_expire_lapsed(now=now) == 0
    assert services.consent_expire_lapsed(now=now + timedelta(minutes=5)) == 0
    assert len(expire_events()) == 4
    assert ledger_integrity_report().is_valid


def test_expiry_task_run_twice_expires_once(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    record(organization, occurred_at=timezone.now() - timedelta(days=200))

    assert expire_lapsed_grants() == {"expired": 1}
    assert expire_lapsed_grants() == {"expired": 0}
    assert len(expire_events()) == 1


def test_sweep_does_not_touch_grants_still_valid(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    record(organization, occurred_at=timezone.now() - timedelta(days=30))

    assert services.consent_expire_lapsed() == 0
    assert expire_events() == []


def test_grant_after_the_sweep_expired_the_previous_one_is_renewed(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    now = timezone.now()
    record(organization, occurred_at=now - timedelta(days=200))
    services.consent_expire_lapsed(now=now)
    assert read(organization).status == "expired"

    regrant = record(organization, occurred_at=now - timedelta(minutes=1))

    state = read(organization)
    assert state.status == "renewed"
    assert state.opt_in
    assert state.event_id == regrant.event_id
    assert state.dpv_status == "https://w3id.org/dpv#RenewedConsentGiven"


def test_grant_after_a_lapse_the_sweep_never_recorded_is_renewed(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    now = timezone.now()
    record(organization, occurred_at=now - timedelta(days=200))

    record(organization, occurred_at=now - timedelta(minutes=1))

    assert read(organization).status == "renewed"
    assert expire_events() == []


def test_late_expire_of_a_grant_that_was_renewed_meanwhile_changes_nothing(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    """Given a lapsed grant renewed before the sweep ran, the sweep has nothing to expire."""
    now = timezone.now()
    record(organization, occurred_at=now - timedelta(days=200))
    renewal = record(organization, occurred_at=now - timedelta(days=5))

    assert services.consent_expire_lapsed(now=now) == 0
    state = read(organization)
    assert state.status == "renewed"
    assert state.event_id == renewal.event_id


def test_clients_cannot_record_expire_events(
    organization: Organization, source: Source, six_month_purpose: Purpose
) -> None:
    grant = record(organization, occurred_at=timezone.now() - timedelta(days=200))
    services.system_source(organization)

    with pytest.raises(InvalidInput):
        record(organization, action="expire", supersedes=grant.event_id)
    with pytest.raises(InvalidInput):
        services.consent_record_many(
            organization=organization,
            items=[
                event_input(
                    action="expire",
                    source=services.SYSTEM_SOURCE_KEY,
                    supersedes=grant.event_id,
                    collection_method="system",
                )
            ],
        )
    assert expire_events() == []
