"""The sequencer: every committed consent event becomes the next leaf of its organization's log (issue #12).

One run per organization at a time (the log head's row lock). A run reads the events committed since the
feed position the last run read up to (``consent.feed``: PostgreSQL snapshots, exact whatever order
transactions commit in and however long one stays open) and appends them. Every event a run appends committed
before the run began, and every event it leaves committed after: runs follow commit order, and an event is
never skipped or sequenced twice (a leaf is unique per event). Within one run the leaves follow insertion order,
and a subject's events always follow its chain. A run appends at most ``PROVENANT_LEDGER_SEQUENCE_BATCH`` leaves
and then keeps its feed position, so the next run reads the same window again (what it appended is skipped).
SQLite (``make run``) has no snapshots: every event not yet sequenced, in insertion order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from consent import merkle, selectors
from consent.feed import events_recorded_between, feed_is_exact, ledger_position
from consent.models import ConsentEvent, LedgerLeaf, LedgerLogHead, LedgerTreeNode
from core.models import Organization


@dataclass(frozen=True)
class SequencingReport:
    organization_id: int
    appended: int
    tree_size: int
    root_hash: str
    complete: bool  # False: the batch limit was reached and more events wait


def _head_for_update(organization: Organization) -> LedgerLogHead:
    LedgerLogHead.objects.get_or_create(organization=organization, defaults={"root_hash": merkle.EMPTY_ROOT.hex()})
    return LedgerLogHead.objects.select_for_update().get(organization=organization)


def _chain_ordered(rows: Sequence[tuple[int, int, int, str]]) -> list[tuple[int, str]]:
    """(event id, event hash) in insertion order, except that each subject's events take its slots in chain
    order (a multi-row insert need not number rows in chain order)."""
    slots: dict[int, list[int]] = defaultdict(list)
    by_subject: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for position, (event_id, subject_id, chain_index, event_hash) in enumerate(rows):
        slots[subject_id].append(position)
        by_subject[subject_id].append((chain_index, event_id, event_hash))
    ordered: list[tuple[int, str]] = [(0, "")] * len(rows)
    for subject_id, positions in slots.items():
        for position, (_, event_id, event_hash) in zip(positions, sorted(by_subject[subject_id]), strict=True):
            ordered[position] = (event_id, event_hash)
    return ordered


def ledger_sequence(organization: Organization) -> SequencingReport:
    """Append the organization's newly committed events to its log; the head's new size and root."""
    batch: int = settings.PROVENANT_LEDGER_SEQUENCE_BATCH
    with transaction.atomic():
        head = _head_for_update(organization)
        candidates = ConsentEvent.objects.filter(organization=organization, ledger_leaf__isnull=True)
        until = ""
        if feed_is_exact():
            until = ledger_position()
            if head.feed_position:
                candidates = events_recorded_between(candidates, since=head.feed_position, until=until)
        rows = list(candidates.order_by("id").values_list("id", "subject_id", "chain_index", "hash")[: batch + 1])
        complete = len(rows) <= batch
        ordered = _chain_ordered(rows[:batch])
        if not ordered:
            if until and complete and head.feed_position != until:
                LedgerLogHead.objects.filter(pk=head.pk).update(feed_position=until)
            return SequencingReport(organization.pk, 0, head.tree_size, head.root_hash, complete)

        first = head.tree_size
        hashes = [merkle.leaf_hash(bytes.fromhex(event_hash)) for _, event_hash in ordered]
        frontier = selectors.stored_nodes(organization, set(merkle.perfect_parts(0, first)))
        made = merkle.new_perfect_nodes(first, hashes, frontier.__getitem__)
        size = first + len(hashes)
        root = merkle.range_hash(0, size, {**frontier, **made}).hex()
        now = timezone.now()
        LedgerLeaf.objects.bulk_create(
            LedgerLeaf(
                organization=organization,
                leaf_index=first + offset,
                event_id=event_id,
                leaf_hash=hashes[offset].hex(),
                sequenced_at=now,
            )
            for offset, (event_id, _) in enumerate(ordered)
        )
        LedgerTreeNode.objects.bulk_create(
            LedgerTreeNode(organization=organization, level=key.level, index=key.offset, hash=value.hex())
            for key, value in made.items()
        )
        LedgerLogHead.objects.filter(pk=head.pk).update(
            tree_size=size,
            root_hash=root,
            feed_position=until if complete else head.feed_position,
            sequenced_at=now,
        )
    return SequencingReport(organization.pk, len(ordered), size, root, complete)


def ledger_sequence_all() -> list[SequencingReport]:
    """One run for every organization that has events (beat, every PROVENANT_LEDGER_SEQUENCE_SECONDS)."""
    reports = []
    for organization in Organization.objects.order_by("pk"):
        reports.append(ledger_sequence(organization))
    return reports
