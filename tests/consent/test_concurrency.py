"""Concurrent writers on PostgreSQL: 32 threads, each on its own connection, record events for an
overlapping set of subjects, alone and in batches listing subjects in different orders."""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from consent import services
from consent.models import ConsentEvent, ConsentState, Purpose, Source, Subject
from consent.selectors import ledger_integrity_report
from consent.state import LedgerEntry, replay
from core.models import Organization
from tests.conftest import event_input

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 32
CALLS_PER_THREAD = 6
SUBJECTS = [f"shared-{n}" for n in range(8)]
BASE = datetime(2026, 2, 1, 8, 0, tzinfo=UTC)

Batch = list[services.ConsentEventInput]


def plan_for(thread: int, purposes: list[str]) -> list[Batch]:
    """Single events and batches of 2-4; a batch lists its subjects in its own shuffled order and
    events often share an instant, so ties and late arrivals are common."""
    rng = random.Random(1000 + thread)
    calls: list[Batch] = []
    for call in range(CALLS_PER_THREAD):
        subjects = rng.sample(SUBJECTS, k=1 if call % 2 == 0 else rng.randint(2, 4))
        if rng.random() < 0.5:
            subjects.reverse()
        calls.append(
            [
                event_input(
                    subject_id=subject,
                    purpose=rng.choice(purposes),
                    action=rng.choice(["grant", "grant", "withdraw", "refuse"]),
                    occurred_at=BASE + timedelta(minutes=rng.randint(0, 30)),
                    ip_address="203.0.113.9" if rng.random() < 0.3 else None,
                    pointer=f"/thread/{thread}/call/{call}",
                )
                for subject in subjects
            ]
        )
    return calls


@dataclass
class Outcome:
    submitted: int
    recorded: int
    errors: list[BaseException]
    hung: bool


def run_writers(organization: Organization, purposes: list[str]) -> Outcome:
    """Start every writer at once (each thread gets its own connection) and wait for all."""
    plans = [plan_for(thread, purposes) for thread in range(THREADS)]
    recorded = [0] * THREADS
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS, timeout=60)

    def writer(thread: int) -> None:
        try:
            start.wait()
            for batch in plans[thread]:
                if len(batch) == 1:
                    services.consent_record(organization=organization, item=batch[0])
                else:
                    services.consent_record_many(organization=organization, items=batch)
                recorded[thread] += len(batch)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,), name=f"writer-{n}") for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    return Outcome(
        submitted=sum(len(batch) for plan in plans for batch in plan),
        recorded=sum(recorded),
        errors=errors,
        hung=any(thread.is_alive() for thread in threads),
    )


@pytest.fixture
def purposes(organization: Organization, source: Source, purpose: Purpose) -> list[str]:
    analytics = services.purpose_create(organization=organization, actor="test", key="analytics", name="Analytics")
    return [purpose.key, analytics.key]


def test_concurrent_writers_lose_no_event_and_keep_every_chain_and_state_consistent(
    organization: Organization, purposes: list[str]
) -> None:
    outcome = run_writers(organization, purposes)

    assert not outcome.hung, "a writer hung"
    assert outcome.errors == []
    assert outcome.recorded == outcome.submitted
    submitted = outcome.submitted

    # No lost or duplicated event.
    assert ConsentEvent.objects.filter(organization=organization).count() == submitted

    # Every subject's chain is contiguous and its tip is the last event.
    for subject in Subject.objects.filter(organization=organization):
        chain = list(subject.events.order_by("chain_index").values_list("chain_index", "prev_hash", "hash"))
        assert [index for index, _, _ in chain] == list(range(1, len(chain) + 1)), subject.external_id
        assert subject.ledger_length == len(chain)
        assert subject.ledger_head_hash == chain[-1][2]
        assert all(chain[i][1] == chain[i - 1][2] for i in range(1, len(chain)))
    assert set(Subject.objects.filter(organization=organization).values_list("external_id", flat=True)) <= set(SUBJECTS)

    verification = ledger_integrity_report(organization=organization)
    assert verification.is_valid, verification.first_break
    assert verification.events_checked == submitted

    # Every projection row equals a replay of its history.
    history: dict[tuple[int, int], list[LedgerEntry]] = defaultdict(list)
    for event in ConsentEvent.objects.filter(organization=organization):
        history[(event.subject_id, event.purpose_id)].append(
            LedgerEntry(event.pk, event.event_id, event.action, event.occurred_at, event.valid_until, None)
        )
    states = {(s.subject_id, s.purpose_id): s for s in ConsentState.objects.filter(organization=organization)}
    assert set(states) == set(history)
    for pair, entries in history.items():
        expected = replay(entries)
        assert expected is not None
        row = states[pair]
        assert (row.status, row.since, row.event_id, row.basis_event_id) == (
            expected.status,
            expected.since,
            expected.event.seq,
            expected.basis.seq,
        ), pair
        assert (row.last_occurred_at, row.last_rank, row.last_seq) == expected.last_key, pair


def test_concurrent_writers_creating_the_same_new_subjects_never_deadlock(
    organization: Organization, purposes: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Subjects are locked in one global order, so writers queue instead of deadlocking: the
    service never has to retry a batch after PostgreSQL broke a deadlock (40P01)."""
    caplog.set_level(logging.INFO, logger="consent.services")

    outcome = run_writers(organization, purposes)

    assert outcome.errors == []
    retries = [r.getMessage() for r in caplog.records if "retried after OperationalError" in r.getMessage()]
    assert retries == []
