"""Full verification reads the ledger once, in one database snapshot (issue #12).

- While writers commit events and the sequencer appends leaves, every full verification answers valid: the tips,
  events, leaves, tree and consent states it compares are read in one REPEATABLE READ snapshot, so a write that lands
  between two of its reads never looks like a break (before, the tips were read first and a chain that grew meanwhile
  read as ``tip_behind``).
- The instants PostgreSQL formats for the bulk read are byte for byte what :func:`consent.ledger.format_instant`
  gives, at the start of the accepted range and at the edges of the microsecond.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from django.db import connection

from consent import ledger, selectors, services
from consent.models import ConsentEvent, Purpose, Source
from consent.selectors.event_rows import canonical_columns
from core.models import Organization
from tests.conftest import event_input
from tests.factories import ConsentEventInputFactory

WRITERS = 4
SECONDS = 4.0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_full_verification_while_writers_commit_is_valid(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    # a ledger to walk: enough that each verification overlaps several commits
    services.consent_record_many(
        organization=organization,
        items=[ConsentEventInputFactory.build(subject_id=f"seed-{n % 50}") for n in range(1500)],
    )
    stop = threading.Event()
    errors: list[BaseException] = []
    committed = [0]

    def writer(number: int) -> None:
        try:
            sequence = 0
            while not stop.is_set():
                # the writers extend chains the verification is walking, and start new ones
                subject = f"seed-{sequence % 50}" if sequence % 3 else f"new-{number}-{sequence}"
                services.consent_record_many(
                    organization=organization, items=[ConsentEventInputFactory.build(subject_id=subject)]
                )
                committed[0] += 1
                sequence += 1
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    def sequencer() -> None:
        try:
            while not stop.is_set():
                services.ledger_sequence(organization)
                services.ledger_checkpoint(organization)
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    threads.append(threading.Thread(target=sequencer))
    for thread in threads:
        thread.start()
    reports = []
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline:
            reports.append(selectors.ledger_integrity_report(organization=organization))
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not errors, errors[:3]
    assert committed[0] > 20  # the writers did write during the verifications
    assert len(reports) >= 2
    assert [report.first_break for report in reports] == [None] * len(reports)
    assert len({report.events_checked for report in reports}) > 1  # each saw the ledger as it was then
    services.ledger_sequence(organization)
    final = selectors.ledger_integrity_report(organization=organization)
    assert final.is_valid
    assert final.events_checked == ConsentEvent.objects.filter(organization=organization).count()


@pytest.mark.django_db
def test_postgresql_instant_text_is_format_instant(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    moments = [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2024, 2, 29, 12, 0, 0, 1, tzinfo=UTC),
        datetime(2025, 6, 30, 23, 59, 59, 500_000, tzinfo=UTC),
    ]
    for n, moment in enumerate(moments):
        services.consent_record(organization=organization, item=event_input(subject_id=f"edge-{n}", occurred_at=moment))
    instants, _ = canonical_columns()
    rows = ConsentEvent.objects.filter(organization=organization).annotate(**instants)
    read = list(
        rows.values_list(
            "occurred_at", "canonical_occurred_at", "recorded_at", "canonical_recorded_at", "canonical_valid_until"
        )
    )
    assert {ledger.format_instant(row[0]) for row in read} == {ledger.format_instant(m) for m in moments}
    for occurred, occurred_text, recorded, recorded_text, valid_text in read:
        assert occurred_text == ledger.format_instant(occurred)
        assert recorded_text == ledger.format_instant(recorded)
        assert valid_text is None
        assert ledger.instant_text(occurred_text) == occurred_text
    assert selectors.ledger_integrity_report(organization=organization).is_valid
