"""Issue #12: 32 writers commit consent events for 30 seconds while the sequencer runs. Every committed event gets
exactly one leaf; each writer's events (committed one after another) get increasing leaves; each subject's leaves
follow its chain; the root is RFC 9162's over the leaves; a consistency proof links every run's checkpoint to the
last. Real commits on PostgreSQL, one connection per thread."""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from dataclasses import replace

import pytest
from django.db import connection
from django.utils import timezone

from consent import merkle, selectors, services
from consent.models import ConsentEvent, LedgerLeaf, Purpose, Source
from core.models import Organization
from tests.factories import ACTIONS, ConsentEventInputFactory

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.integration]

WRITERS = 32
SECONDS = float(os.environ.get("PROVENANT_TEST_SEQUENCER_SECONDS", "30"))


def test_32_writers_for_30_seconds_while_the_sequencer_runs(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    stop = threading.Event()
    written: dict[int, list[str]] = defaultdict(list)  # writer -> event ids in its commit order
    errors: list[BaseException] = []
    checkpoints: list[tuple[int, str]] = []

    template = ConsentEventInputFactory.build()

    def writer(number: int) -> None:
        try:
            sequence = 0
            while not stop.is_set():
                # half the writers share four subjects, so chains are contended; the others own one each
                subject = f"shared-{sequence % 4}" if number % 2 else f"own-{number}"
                # Dated now, not by the factory's hourly sequence: thousands of events would carry it past the
                # present (refused as in the future) and leave it there for the worker's later tests.
                item = replace(template, subject_id=subject, occurred_at=timezone.now(), action=ACTIONS[sequence % 4])
                recorded = services.consent_record_many(organization=organization, items=[item])
                written[number].extend(r.event.event_id for r in recorded)
                sequence += 1
        except BaseException as exc:  # reported below, never swallowed
            errors.append(exc)
        finally:
            connection.close()

    def sequencer() -> None:
        try:
            while not stop.is_set():
                report = services.ledger_sequence(organization)
                checkpoints.append((report.tree_size, report.root_hash))
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    threads.append(threading.Thread(target=sequencer))
    for thread in threads:
        thread.start()
    time.sleep(SECONDS)
    stop.set()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors[:3]
    final = services.ledger_sequence(organization)

    committed = ConsentEvent.objects.filter(organization=organization).count()
    leaves = list(
        LedgerLeaf.objects.filter(organization=organization)
        .order_by("leaf_index")
        .values_list("leaf_index", "leaf_hash", "event__event_id", "event__subject__external_id", "event__chain_index")
    )
    assert committed == sum(len(ids) for ids in written.values()) > WRITERS
    assert len(leaves) == committed == final.tree_size  # every committed event exactly once (unique per event)
    assert [leaf[0] for leaf in leaves] == list(range(committed))
    position = {event_id: index for index, _, event_id, _, _ in leaves}
    for ids in written.values():  # a writer's events committed one after another: their leaves increase
        indexes = [position[event_id] for event_id in ids]
        assert indexes == sorted(indexes)
    chains: dict[str, list[int]] = defaultdict(list)
    for _, _, _, subject, chain_index in leaves:
        chains[subject].append(chain_index)
    assert all(chain == sorted(chain) for chain in chains.values())
    root = merkle.root_of([bytes.fromhex(leaf[1]) for leaf in leaves])
    assert final.root_hash == root.hex()
    assert len(checkpoints) > 10
    for size, root_hash in checkpoints:  # every head the sequencer published is a prefix of the final log
        if size:
            proof = selectors.consistency_proof(organization, old_size=size)
            assert merkle.verify_consistency(size, committed, bytes.fromhex(root_hash), root, proof.proof)
