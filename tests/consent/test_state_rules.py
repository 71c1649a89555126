"""Consent state rules through the service and selectors: renewal, ties, late events, staleness,
invalidation and the state at a past instant."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from consent import services
from consent.models import ConsentEvent, ConsentState, PolicyVersion, Purpose, Source, Subject
from consent.selectors import PurposeConsent, consent_state_for_subject
from core.models import Organization
from core.problems import InvalidInput
from tests.conftest import event_input, instant


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


def version(purpose: Purpose, label: str, effective_at: datetime, *, is_material: bool = False) -> PolicyVersion:
    return services.policy_version_create(
        purpose=purpose,
        actor="test",
        version=label,
        notice_sha256=f"{len(label):x}".rjust(64, "a"),
        notice_url="https://example.org/notice",
        effective_at=effective_at,
        is_material=is_material,
    )


# --------------------------------------------------------------------------------------------
# Basic transitions
# --------------------------------------------------------------------------------------------


def test_subject_without_events_for_a_purpose_reads_unknown(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    services.purpose_create(organization=organization, actor="test", key="analytics", name="Analytics")
    record(organization)

    state = read(organization, purpose_key="analytics")

    assert state.status == "unknown"
    assert not state.opt_in
    assert state.dpv_status == "https://w3id.org/dpv#ConsentUnknown"


def test_withdrawal_after_grant_withdraws(organization: Organization, source: Source, purpose: Purpose) -> None:
    record(organization, occurred_at="2026-01-01T10:00:00Z")
    withdrawal = record(organization, action="withdraw", occurred_at="2026-01-02T10:00:00Z")

    state = read(organization)

    assert state.status == "withdrawn"
    assert state.since == withdrawal.occurred_at
    assert state.event_id == withdrawal.event_id
    assert not state.opt_in


def test_grant_after_withdrawal_is_renewed(organization: Organization, source: Source, purpose: Purpose) -> None:
    record(organization, occurred_at="2026-01-01T10:00:00Z")
    record(organization, action="withdraw", occurred_at="2026-01-02T10:00:00Z")
    record(organization, occurred_at="2026-01-03T10:00:00Z")

    assert read(organization).status == "renewed"


def test_refusal_then_grant_is_given_not_renewed(organization: Organization, source: Source, purpose: Purpose) -> None:
    record(organization, action="refuse", occurred_at="2026-01-01T10:00:00Z")
    assert read(organization).status == "refused"

    record(organization, occurred_at="2026-01-02T10:00:00Z")

    assert read(organization).status == "given"


def test_state_shows_the_basis_grant_facts(organization: Organization, source: Source, purpose: Purpose) -> None:
    grant = record(organization, jurisdiction="US-CA", gpc=False, occurred_at="2026-01-01T10:00:00Z")

    state = read(organization)

    assert (state.source, state.jurisdiction, state.event_id) == ("web-signup", "US-CA", grant.event_id)


# --------------------------------------------------------------------------------------------
# Ordering: ties and late events
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("arrival", [("grant", "withdraw"), ("withdraw", "grant")])
def test_same_instant_grant_and_withdrawal_resolve_to_withdrawn_in_any_arrival_order(
    organization: Organization, source: Source, purpose: Purpose, arrival: tuple[str, str]
) -> None:
    moment = "2026-02-01T09:00:00Z"
    for action in arrival:
        record(organization, action=action, occurred_at=moment)

    assert read(organization).status == "withdrawn"
    assert read(organization, at=instant(moment)).status == "withdrawn"


def test_same_instant_grant_and_withdrawal_in_one_batch_resolve_to_withdrawn(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    moment = "2026-02-01T09:00:00Z"
    services.consent_record_many(
        organization=organization,
        items=[
            event_input(action="withdraw", occurred_at=moment),
            event_input(action="grant", occurred_at=moment),
        ],
    )

    assert read(organization).status == "withdrawn"


def test_late_offline_grant_older_than_the_withdrawal_does_not_overwrite_it(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    """Given a withdrawal at 10:00, when a paper grant signed at 09:00 is imported afterwards,
    then the subject stays withdrawn, and the grant still shows in the state at 09:30."""
    withdrawal = record(organization, action="withdraw", occurred_at="2026-03-01T10:00:00Z")

    late = record(organization, occurred_at="2026-03-01T09:00:00Z", collection_method="paper")

    state = read(organization)
    assert state.status == "withdrawn"
    assert state.event_id == withdrawal.event_id
    row = ConsentState.objects.get(subject=withdrawal.subject)
    assert (row.last_occurred_at, row.last_seq) == (withdrawal.occurred_at, withdrawal.pk)
    assert read(organization, at=instant("2026-03-01T09:30:00Z")).event_id == late.event_id


def test_late_withdrawal_older_than_a_renewal_does_not_cancel_the_renewal(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    record(organization, occurred_at="2026-03-01T08:00:00Z")
    record(organization, occurred_at="2026-03-01T12:00:00Z")

    record(organization, action="withdraw", occurred_at="2026-03-01T10:00:00Z")

    assert read(organization).status == "renewed"


# --------------------------------------------------------------------------------------------
# Staleness after a material policy change
# --------------------------------------------------------------------------------------------


def test_material_policy_version_makes_earlier_grants_stale(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    now = timezone.now()
    version(purpose, "v1", now - timedelta(days=10))
    grant = record(organization, occurred_at=now - timedelta(days=1))
    assert grant.policy_version is not None
    assert grant.policy_version.version == "v1"
    assert read(organization).status == "given"

    version(purpose, "v2", timezone.now(), is_material=True)

    state = read(organization)
    assert state.status == "stale"
    assert not state.opt_in
    assert state.policy_version == "v1"
    assert state.dpv_status == "https://w3id.org/dpv#ConsentInvalidated"
    assert ConsentState.objects.get(subject=grant.subject).status == "given"  # stored; staleness applied on read
    assert read(organization, at=now - timedelta(minutes=1)).status == "given"


def test_non_material_policy_version_keeps_earlier_grants_valid(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    now = timezone.now()
    version(purpose, "v1", now - timedelta(days=10))
    record(organization, occurred_at=now - timedelta(days=1))

    version(purpose, "v1.1", timezone.now(), is_material=False)

    assert read(organization).status == "given"


def test_grant_without_any_policy_version_is_stale_after_a_material_one(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    grant = record(organization, occurred_at=timezone.now() - timedelta(days=1))
    assert grant.policy_version is None

    version(purpose, "v1", timezone.now(), is_material=True)

    assert read(organization).status == "stale"


def test_grant_under_the_material_version_is_not_stale(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    version(purpose, "v1", timezone.now() - timedelta(days=10))
    record(organization, occurred_at=timezone.now() - timedelta(days=1))
    material = version(purpose, "v2", timezone.now(), is_material=True)

    regrant = record(organization, occurred_at=timezone.now())

    assert regrant.policy_version_id == material.pk
    state = read(organization)
    assert state.status == "given"
    assert state.policy_version == "v2"


def test_stale_does_not_hide_a_withdrawal(organization: Organization, source: Source, purpose: Purpose) -> None:
    record(organization, occurred_at=timezone.now() - timedelta(days=2))
    record(organization, action="withdraw", occurred_at=timezone.now() - timedelta(days=1))

    version(purpose, "v1", timezone.now(), is_material=True)

    assert read(organization).status == "withdrawn"


# --------------------------------------------------------------------------------------------
# Invalidation
# --------------------------------------------------------------------------------------------


def test_invalidating_the_current_grant_invalidates(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    grant = record(organization, occurred_at="2026-04-01T10:00:00Z")

    invalidation = record(
        organization, action="invalidate", supersedes=grant.event_id, occurred_at="2026-04-02T10:00:00Z"
    )

    state = read(organization)
    assert state.status == "invalidated"
    assert not state.opt_in
    assert state.since == invalidation.occurred_at
    assert state.event_id == invalidation.event_id
    assert state.dpv_status == "https://w3id.org/dpv#ConsentInvalidated"
    assert invalidation.supersedes_id == grant.pk


def test_invalidating_an_older_grant_does_not_change_the_state(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    old = record(organization, occurred_at="2026-04-01T10:00:00Z")
    current = record(organization, occurred_at="2026-04-05T10:00:00Z")
    before = read(organization)

    record(organization, action="invalidate", supersedes=old.event_id, occurred_at="2026-04-06T10:00:00Z")

    after = read(organization)
    assert after.status == before.status == "given"
    assert after.since == current.occurred_at
    assert ConsentState.objects.get(subject=current.subject).basis_event_id == current.pk


def test_grant_after_invalidation_gives_consent_again(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    grant = record(organization, occurred_at="2026-04-01T10:00:00Z")
    record(organization, action="invalidate", supersedes=grant.event_id, occurred_at="2026-04-02T10:00:00Z")

    record(organization, occurred_at="2026-04-03T10:00:00Z")

    assert read(organization).opt_in


@pytest.mark.parametrize("case", ["unknown", "other-subject", "not-a-grant", "later-grant", "missing"])
def test_invalidate_must_name_an_earlier_grant_of_the_same_subject_and_purpose(
    organization: Organization, source: Source, purpose: Purpose, case: str
) -> None:
    grant = record(organization, occurred_at="2026-04-01T10:00:00Z")
    other = record(organization, subject_id="cust-2", occurred_at="2026-04-01T10:00:00Z")
    refusal = record(organization, subject_id="cust-1", action="refuse", occurred_at="2026-04-01T11:00:00Z")
    supersedes = {
        "unknown": "01J00000000000000000000000",
        "other-subject": other.event_id,
        "not-a-grant": refusal.event_id,
        "later-grant": grant.event_id,
        "missing": None,
    }[case]
    occurred_at = "2026-03-31T10:00:00Z" if case == "later-grant" else "2026-04-02T10:00:00Z"
    count = ConsentEvent.objects.count()

    with pytest.raises(InvalidInput):
        record(organization, action="invalidate", supersedes=supersedes, occurred_at=occurred_at)

    assert ConsentEvent.objects.count() == count
    assert read(organization).status == "refused"


# --------------------------------------------------------------------------------------------
# State at a past instant
# --------------------------------------------------------------------------------------------


def test_state_at_a_past_instant_is_replayed_from_the_ledger(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    grant = record(organization, occurred_at="2026-05-01T10:00:00Z")
    withdrawal = record(organization, action="withdraw", occurred_at="2026-05-10T10:00:00Z")
    renewal = record(organization, occurred_at="2026-05-20T10:00:00Z")

    assert read(organization, at=instant("2026-05-01T09:59:59Z")).status == "unknown"
    at_grant = read(organization, at=instant("2026-05-01T10:00:00Z"))
    assert (at_grant.status, at_grant.event_id, at_grant.since) == (
        "given",
        grant.event_id,
        grant.occurred_at,
    )
    between = read(organization, at=instant("2026-05-15T00:00:00Z"))
    assert (between.status, between.event_id) == ("withdrawn", withdrawal.event_id)
    later = read(organization, at=instant("2026-06-01T00:00:00Z"))
    assert (later.status, later.event_id) == ("renewed", renewal.event_id)
    assert read(organization) == later


def test_state_at_a_past_instant_ignores_events_recorded_later_but_occurring_after_it(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    record(organization, occurred_at="2026-05-01T10:00:00Z")
    record(organization, action="withdraw", occurred_at="2026-05-03T10:00:00Z")
    late = record(organization, action="refuse", occurred_at="2026-05-02T10:00:00Z")

    assert read(organization, at=instant("2026-05-02T12:00:00Z")).event_id == late.event_id
    assert read(organization, at=instant("2026-05-02T12:00:00Z")).status == "refused"
    assert read(organization).status == "withdrawn"
