"""Property: whatever order events arrive in, one by one or in a batch, the stored consent state and
what the selectors read equal a replay of the sorted history (REGULATORY 2.2: events that arrive
out of order are handled)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent import services
from consent.models import ConsentEvent, ConsentState, Purpose, Source, Subject
from consent.selectors import consent_state_for_subject
from consent.state import UNKNOWN, FoldedState, LedgerEntry, replay, status_at
from core.models import Organization
from tests.conftest import event_input

BASE = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
VALIDITY_MINUTES = 3  # short enough that generated grants lapse between events


@dataclass(frozen=True)
class Step:
    action: str
    minute: int
    target: int | None  # the step index of the grant an invalidate/expire names


@dataclass(frozen=True)
class Catalog:
    organization: Organization
    purposes: tuple[Purpose, ...]


@pytest.fixture
def catalog(organization: Organization, source: Source, purpose: Purpose) -> Catalog:
    timed = services.purpose_create(
        organization=organization,
        actor="test",
        key="cookies-analytics",
        name="Analytics cookies",
        validity=f"PT{VALIDITY_MINUTES}M",
    )
    services.system_source(organization)
    return Catalog(organization, (purpose, timed))


@st.composite
def histories(draw: st.DrawFn) -> list[Step]:
    """Actions at a few distinct minutes, so same-instant ties are frequent; invalidate/expire name a
    grant that occurred at or before them."""
    size = draw(st.integers(min_value=1, max_value=10))
    steps: list[Step] = []
    for _ in range(size):
        minute = draw(st.integers(min_value=0, max_value=8))
        grants = [i for i, s in enumerate(steps) if s.action == "grant" and s.minute <= minute]
        action = draw(st.sampled_from(["grant", "refuse", "withdraw"] + (["invalidate", "expire"] if grants else [])))
        target = draw(st.sampled_from(grants)) if action in ("invalidate", "expire") else None
        steps.append(Step(action, minute, target))
    return steps


def arrival_order(steps: list[Step], shuffled: list[int]) -> list[int]:
    """A shuffled order in which every grant arrives before what supersedes it."""
    order: list[int] = []
    pending = list(shuffled)
    while pending:
        for position, index in enumerate(pending):
            target = steps[index].target
            if target is None or target in order:
                order.append(pending.pop(position))
                break
    return order


def item_for(
    step: Step, subject_id: str, purpose: Purpose, recorded: dict[int, ConsentEvent]
) -> services.ConsentEventInput:
    system = step.action == "expire"
    return event_input(
        subject_id=subject_id,
        purpose=purpose.key,
        action=step.action,
        occurred_at=BASE + timedelta(minutes=step.minute),
        source=services.SYSTEM_SOURCE_KEY if system else "web-signup",
        collection_method="system" if system else "web_form",
        supersedes=recorded[step.target].event_id if step.target is not None else None,
    )


def record_one_by_one(
    catalog: Catalog, steps: list[Step], order: list[int], subject_id: str, purpose: Purpose
) -> dict[int, ConsentEvent]:
    recorded: dict[int, ConsentEvent] = {}
    for index in order:
        [result] = services.consent_record_many(
            organization=catalog.organization,
            items=[item_for(steps[index], subject_id, purpose, recorded)],
            allow_system_actions=True,
        )
        recorded[index] = result.event
    return recorded


def record_in_batches(
    catalog: Catalog, steps: list[Step], order: list[int], subject_id: str, purpose: Purpose
) -> dict[int, ConsentEvent]:
    """One batch in arrival order; what supersedes an event follows in a second batch, since a
    batch can only name events already in the ledger."""
    recorded: dict[int, ConsentEvent] = {}
    for wave in ([i for i in order if steps[i].target is None], [i for i in order if steps[i].target is not None]):
        if not wave:
            continue
        results = services.consent_record_many(
            organization=catalog.organization,
            items=[item_for(steps[i], subject_id, purpose, recorded) for i in wave],
            allow_system_actions=True,
        )
        recorded.update({i: r.event for i, r in zip(wave, results, strict=True)})
    return recorded


def model_entries(steps: list[Step], recorded: dict[int, ConsentEvent], purpose: Purpose) -> list[LedgerEntry]:
    """The history as the pure model sees it; the server sequence is the row id the ledger gave."""
    entries = []
    for index, step in enumerate(steps):
        occurred_at = BASE + timedelta(minutes=step.minute)
        valid_until = None
        if step.action == "grant" and purpose.validity:
            valid_until = occurred_at + timedelta(minutes=VALIDITY_MINUTES)
        entries.append(
            LedgerEntry(
                seq=recorded[index].pk,
                event_id=recorded[index].event_id,
                action=step.action,
                occurred_at=occurred_at,
                valid_until=valid_until,
                supersedes=recorded[step.target].event_id if step.target is not None else None,
            )
        )
    return entries


def ledger_entries(subject: Subject) -> list[LedgerEntry]:
    return [
        LedgerEntry(
            e.pk, e.event_id, e.action, e.occurred_at, e.valid_until, e.supersedes.event_id if e.supersedes else None
        )
        for e in ConsentEvent.objects.filter(subject=subject).select_related("supersedes")
    ]


def read_status(state: FoldedState | None, at: datetime) -> str:
    if state is None:
        return UNKNOWN
    return status_at(
        stored_status=state.status,
        valid_until=state.valid_until,
        at=at,
        basis_policy_effective_at=None,
        material_policy_effective_at=None,
    )


def assert_state_matches_replay(
    catalog: Catalog, steps: list[Step], recorded: dict[int, ConsentEvent], subject_id: str, purpose: Purpose
) -> None:
    subject = Subject.objects.get(organization=catalog.organization, external_id=subject_id)
    entries = model_entries(steps, recorded, purpose)
    assert sorted(ledger_entries(subject), key=lambda e: e.seq) == sorted(entries, key=lambda e: e.seq)
    expected = replay(entries)
    assert expected is not None

    row = ConsentState.objects.get(subject=subject, purpose=purpose)
    assert (row.status, row.since, row.valid_until) == (expected.status, expected.since, expected.valid_until)
    assert (row.event_id, row.basis_event_id) == (expected.event.seq, expected.basis.seq)
    assert (row.last_occurred_at, row.last_rank, row.last_seq) == expected.last_key

    now = timezone.now()
    [projected] = consent_state_for_subject(organization=catalog.organization, subject=subject, purpose_key=purpose.key)
    [replayed] = consent_state_for_subject(
        organization=catalog.organization, subject=subject, purpose_key=purpose.key, at=now
    )
    assert projected == replayed
    assert projected.status == read_status(expected, now)
    assert projected.event_id == expected.event.event_id

    for minute in sorted({s.minute for s in steps} | {-1, 9}):
        moment = BASE + timedelta(minutes=minute)
        [at_moment] = consent_state_for_subject(
            organization=catalog.organization, subject=subject, purpose_key=purpose.key, at=moment
        )
        assert at_moment.status == read_status(replay(entries, at=moment), moment), f"at minute {minute}"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_state_recorded_in_any_arrival_order_equals_the_replay_of_the_history(
    catalog: Catalog, data: st.DataObject
) -> None:
    steps = data.draw(histories(), label="history")
    purpose = data.draw(st.sampled_from(catalog.purposes), label="purpose")
    order = arrival_order(steps, data.draw(st.permutations(range(len(steps))), label="arrival"))

    for record in (record_one_by_one, record_in_batches):
        subject_id = f"prop-{uuid.uuid4().hex}"  # the test transaction spans every example
        recorded = record(catalog, steps, order, subject_id, purpose)
        assert_state_matches_replay(catalog, steps, recorded, subject_id, purpose)
