"""Ledger integrity: recompute every subject's hash chain and report the first broken link."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from consent import ledger
from consent.models import ConsentEvent, ConsentState, LedgerLeaf, LedgerLogHead, Subject
from consent.selectors.event_rows import CANONICAL_COLUMN_COUNT, canonical_columns, canonical_event
from consent.selectors.log_integrity import (
    STORED_STATE_COLUMNS,
    LeafCollector,
    Provenance,
    StoredState,
    folded_state,
    ledger_entry,
    mismatch_problem,
    tree_problem,
)
from consent.state import LedgerEntry
from core.db import prefetched_rows, read_snapshot
from core.models import Organization


@dataclass(frozen=True)
class LedgerIntegrityReport:
    """The outcome of recomputing hash chains: the first broken link, if any, and the root of every tip."""

    is_valid: bool
    subjects_checked: int
    events_checked: int
    ledger_root: str
    first_break: dict[str, Any] | None
    verified_at: datetime
    log_size: int | None = None  # the transparency log's size and root this report vouches for (one organization)
    log_root: str = ""
    mode: str = "full"


PROGRESS_EVERY = 10_000
_PASS_COLUMNS = (
    "subject_id",
    "pk",
    "purpose_id",
    "source_id",
    "policy_version_id",
    "ledger_leaf__leaf_index",
    "ledger_leaf__leaf_hash",
)


def _instant(text: str | None) -> datetime | None:
    """An instant read as text (see :mod:`consent.selectors.event_rows`) as an aware datetime, for folding."""
    if text is None:
        return None
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class _Walk:
    """One organization's events read once, in chain order: the chains, the leaves and the projection together."""

    organization: Organization
    tips: dict[int, tuple[str, str, int, str]]  # subject pk: (external id, uuid, stored length, stored head)
    leaves: LeafCollector
    states: Iterator[tuple[Any, ...]]  # the stored consent states, in (subject pk, purpose pk) order
    first: dict[str, Any] | None = None
    events_checked: int = 0
    heads: list[tuple[str, int, str]] = field(default_factory=list)
    seen: set[int] = field(default_factory=set)
    mismatches: list[tuple[int, int, str | None, str | None]] = field(default_factory=list)
    pending_state: tuple[Any, ...] | None = None

    def subject_done(
        self,
        subject_id: int,
        links: list[ledger.ChainLink],
        histories: dict[int, list[LedgerEntry]],
        provenance: Provenance,
    ) -> None:
        self.seen.add(subject_id)
        uuid = links[0].fields["subject"]
        self.heads.append((uuid, len(links), links[-1].hash))
        tip = self.tips.get(subject_id)
        if self.first is None:
            if tip is None:
                self.first = {
                    "subject_id": None,
                    "chain_index": links[0].chain_index,
                    "event_id": links[0].event_id,
                    "problem": "orphaned",
                    "detail": "events of a subject that no longer exists",
                }
            else:
                broken = ledger.first_break(links, expected_length=tip[2], expected_head=tip[3])
                if broken is not None:
                    self.first = {"subject_id": tip[0], "subject_uuid": tip[1], **broken.as_dict()}
        self.compare_states(subject_id, histories, provenance)

    def compare_states(
        self, subject_id: int | None, histories: dict[int, list[LedgerEntry]], provenance: Provenance
    ) -> None:
        """Merge the stored states up to this subject (None: all that are left) with what its events fold to."""
        stored: dict[int, StoredState] = {}
        while True:
            row = self.pending_state if self.pending_state is not None else next(self.states, None)
            self.pending_state = None
            if row is None:
                break
            if subject_id is not None and row[0] > subject_id:
                self.pending_state = row
                break
            if row[0] == subject_id:
                stored[row[1]] = tuple(row[2:])  # type: ignore[assignment]
            else:  # a stored state of a subject without events (before this one, or after the last)
                self.mismatches.append((row[0], row[1], row[2], None))
        if subject_id is None:
            return
        for purpose_id in sorted(histories.keys() | stored.keys()):
            expected = folded_state(histories.get(purpose_id, []), provenance)
            if stored.get(purpose_id) != expected:
                found = stored.get(purpose_id)
                self.mismatches.append(
                    (subject_id, purpose_id, found[0] if found else None, expected[0] if expected else None)
                )


def _walk(
    organization: Organization, *, progress: Callable[[int], None] | None, progress_every: int, done_before: int
) -> _Walk:
    subjects = Subject.objects.filter(organization=organization)
    tips = {
        pk: (external_id, str(uuid), length, head)
        for pk, external_id, uuid, length, head in subjects.values_list(
            "pk", "external_id", "uuid", "ledger_length", "ledger_head_hash"
        )
    }
    log_head = LedgerLogHead.objects.filter(organization=organization).first()
    states = (
        ConsentState.objects.filter(organization=organization)
        .order_by("subject_id", "purpose_id")
        .values_list("subject_id", "purpose_id", *STORED_STATE_COLUMNS)
        .iterator(chunk_size=10_000)
    )
    walk = _Walk(organization, tips, LeafCollector(log_head.tree_size if log_head else 0), iter(states))
    instants, columns = canonical_columns()
    rows = (
        ConsentEvent.objects.filter(organization=organization)
        .annotate(**instants)
        .order_by("subject_id", "chain_index")
        .values_list(*columns, *_PASS_COLUMNS, "ledger_leaf__organization_id")
    )
    organization_pk = organization.pk
    current: int | None = None
    links: list[ledger.ChainLink] = []
    histories: dict[int, list[LedgerEntry]] = defaultdict(list)
    provenance: Provenance = {}
    for row in prefetched_rows(rows, chunk_size=10_000):
        event = canonical_event(row[:CANONICAL_COLUMN_COUNT])
        subject_id, pk, purpose_id, source_id, version_id, leaf_index, leaf_hash, leaf_organization = row[
            CANONICAL_COLUMN_COUNT:
        ]
        walk.events_checked += 1
        if progress is not None and (done_before + walk.events_checked) % progress_every == 0:
            progress(done_before + walk.events_checked)
        if subject_id != current:
            if current is not None:
                walk.subject_done(current, links, histories, provenance)
            current, links, histories, provenance = subject_id, [], defaultdict(list), {}
        provenance[pk] = (source_id, version_id)
        event_hash, prev_hash = event.pop("hash"), event.pop("prev_hash")
        links.append(ledger.ChainLink(event["chain_index"], event["event_id"], event, prev_hash, event_hash))
        histories[purpose_id].append(
            ledger_entry(
                seq=pk,
                event_id=event["event_id"],
                action=event["action"],
                occurred_at=_instant(event["occurred_at"]),  # type: ignore[arg-type]
                valid_until=_instant(event["valid_until"]),
                supersedes=event["supersedes"],
                collection_method=event["collection_method"],
                lifts_gpc_opt_out=event["lifts_gpc_opt_out"],
            )
        )
        if leaf_index is not None and leaf_organization == organization_pk:
            walk.leaves.add(leaf_index, leaf_hash, event_hash, event["event_id"])
    if current is not None:
        walk.subject_done(current, links, histories, provenance)
    walk.compare_states(None, {}, {})
    if walk.first is None:
        for pk, (external_id, uuid, length, head) in tips.items():
            if pk not in walk.seen and length > 0:
                broken = ledger.first_break([], expected_length=length, expected_head=head)
                assert broken is not None
                walk.first = {"subject_id": external_id, "subject_uuid": uuid, **broken.as_dict()}
                break
    if walk.first is None:  # the chains hold: then the log, its checkpoints and the projection
        stored_leaves = LedgerLeaf.objects.filter(organization=organization).count()
        walk.first = (
            walk.leaves.problem(log_head.tree_size if log_head else 0, stored_leaves)
            or tree_problem(organization, log_head, walk.leaves.hashes())
            or mismatch_problem(walk.mismatches)
        )
    return walk


def ledger_integrity_report(
    *,
    organization: Organization | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = PROGRESS_EVERY,
) -> LedgerIntegrityReport:
    """Recompute every hash chain; report the first broken link (changed, removed or reordered rows, or a
    subject whose stored tip disagrees with its events); then, when the chains hold, the transparency log (leaves,
    tree, head, checkpoints) and the projection (every consent state is what its events fold to). One read of the
    events does all three, in one database snapshot. Reads only: it records nothing. ``progress`` is told the
    number of events checked every ``progress_every`` events (a background job shows it).

    ``ledger_root`` is computed from the events as walked (each chain's length and last hash), never from
    the tips stored on the subjects (see :func:`consent.ledger.ledger_root` for its exact input)."""
    with read_snapshot():
        organizations = [organization] if organization is not None else list(Organization.objects.order_by("pk"))
        first: dict[str, Any] | None = None
        heads: list[tuple[str, int, str]] = []
        events_checked = subjects_checked = 0
        for each in organizations:
            walk = _walk(each, progress=progress, progress_every=progress_every, done_before=events_checked)
            first = first or walk.first
            heads += walk.heads
            events_checked += walk.events_checked
            subjects_checked += len(walk.tips)
        if organization is None:
            orphans = ConsentEvent.objects.exclude(organization__in=Organization.objects.all())
            if first is None and orphans.exists():
                first = {"subject_id": None, "problem": "orphaned", "detail": "events of no organization"}
        log_head = LedgerLogHead.objects.filter(organization=organization).first() if organization else None
        return LedgerIntegrityReport(
            is_valid=first is None,
            subjects_checked=subjects_checked,
            events_checked=events_checked,
            ledger_root=ledger.ledger_root(heads),
            first_break=first,
            verified_at=timezone.now(),
            log_size=(log_head.tree_size if log_head else 0) if organization is not None else None,
            log_root=log_head.root_hash if log_head else "",
        )
