"""What ledger verification checks beyond the hash chains (issue #12).

The transparency log: every leaf is the RFC 9162 leaf hash of its event's hash, the leaves are numbered without a
gap up to the head's size, the stored tree nodes and the head's root are what the leaves give, and every signed
checkpoint kept in the database states the root of its size and carries a valid signature of the organization.
The projection: every subject's consent state is what folding its events gives (a flipped state row would change
what stamping decides while every hash still verifies).

Each check answers the first problem as a ``first_break`` entry (``problem``, ``detail`` and what it concerns), or
None. Reads only.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from django.db import connection

from consent import checkpoints, merkle
from consent.enums import CollectionMethod
from consent.models import (
    ConsentEvent,
    ConsentState,
    LedgerCheckpoint,
    LedgerLeaf,
    LedgerLogHead,
    LedgerTreeNode,
    Purpose,
    Subject,
)
from consent.state import LedgerEntry, replay
from core.models import Organization

CheckpointKeys = Callable[[Organization], list[tuple[str, bytes]]]
_key_providers: list[CheckpointKeys] = []


def register_checkpoint_keys(provider: CheckpointKeys) -> None:
    """Called at start-up by the app that holds the signing keys: (name, raw Ed25519 key) pairs that may have
    signed an organization's checkpoints (revoked keys left out)."""
    if provider not in _key_providers:
        _key_providers.append(provider)


def checkpoint_keys(organization: Organization) -> list[tuple[str, bytes]]:
    return [key for provider in _key_providers for key in provider(organization)]


def _problem(problem: str, detail: str, **concerns: Any) -> dict[str, Any]:
    return {"problem": problem, "detail": detail, **concerns}


class LeafCollector:
    """The leaves of one organization's log as a verification pass meets them (in any order): each is checked to be
    the leaf hash of its event's hash and put in its place, so :meth:`problem` finds gaps, doubles and a size that
    differs from the head's, in leaf order."""

    def __init__(self, size: int) -> None:
        self.slots: list[bytes | None] = [None] * size
        self.beyond: dict[int, bytes] = {}  # leaves numbered past the head's size
        self.changed: list[tuple[int, str]] = []
        self.doubled: list[int] = []
        self.count = 0

    def add(self, index: int, stored: str, event_hash: str, event_id: str) -> None:
        self.count += 1
        if stored != merkle.leaf_hash(bytes.fromhex(event_hash)).hex():
            self.changed.append((index, event_id))
        try:
            value = bytes.fromhex(stored)
        except ValueError:  # not even hex: it cannot be the leaf hash, which `changed` already says
            value = b""
        if 0 <= index < len(self.slots):
            if self.slots[index] is not None:
                self.doubled.append(index)
            self.slots[index] = value
        elif index in self.beyond or index < 0:
            self.doubled.append(index)
        else:
            self.beyond[index] = value

    def problem(self, size: int, stored_count: int) -> dict[str, Any] | None:
        """The first thing wrong with the leaves (in leaf order), given how many rows the leaf table holds."""
        last = (
            max(self.beyond) if self.beyond else max((i for i, v in enumerate(self.slots) if v is not None), default=-1)
        )
        gap = next((i for i, value in enumerate(self.slots) if value is None and i < last), None)
        if gap is None and self.beyond:
            gap = next((i for i in range(size, last) if i not in self.beyond), None)
        changed = min(self.changed) if self.changed else None
        if self.doubled:
            index = min(self.doubled)
            if (gap is None or index < gap) and (changed is None or index < changed[0]):
                return _problem("log_gap", f"leaf {index} is stored more than once", leaf_index=index)
        if gap is not None and (changed is None or gap < changed[0]):
            following = next(i for i in range(gap + 1, last + 1) if self.slot(i) is not None)
            return _problem("log_gap", f"leaf {gap} is missing; the next is {following}", leaf_index=gap)
        if changed is not None:
            return _problem(
                "leaf_changed",
                f"leaf {changed[0]} is not the leaf hash of its event's hash",
                leaf_index=changed[0],
                event_id=changed[1],
            )
        if stored_count != self.count:
            return _problem(
                "leaf_changed", f"{stored_count - self.count} leaf row(s) of the log name no event of the organization"
            )
        if self.count != size:
            return _problem("log_size", f"the log's head says {size} leaves; {self.count} are stored")
        return None

    def slot(self, index: int) -> bytes | None:
        return self.slots[index] if index < len(self.slots) else self.beyond.get(index)

    def hashes(self) -> list[bytes]:
        """The leaf hashes in order (only once :meth:`problem` found nothing)."""
        return [value for value in self.slots if value is not None]


def log_problem(organization: Organization) -> dict[str, Any] | None:
    """The first thing wrong with the organization's transparency log, or None."""
    head = LedgerLogHead.objects.filter(organization=organization).first()
    size = head.tree_size if head is not None else 0
    collector = LeafCollector(size)
    leaves = LedgerLeaf.objects.filter(organization=organization)
    for index, stored, event_hash, event_id in leaves.values_list(
        "leaf_index", "leaf_hash", "event__hash", "event__event_id"
    ).iterator(chunk_size=10_000):
        collector.add(index, stored, event_hash, event_id)
    return collector.problem(size, leaves.count()) or tree_problem(organization, head, collector.hashes())


def tree_problem(organization: Organization, head: LedgerLogHead | None, hashes: list[bytes]) -> dict[str, Any] | None:
    """The stored tree nodes and the head's root against the leaves, then every stored checkpoint."""
    levels = merkle.perfect_levels(hashes)
    if not _stored_levels_match(organization, levels):
        nodes = merkle.perfect_nodes_of(hashes)
        stored_nodes = {
            merkle.NodeKey(level, index): bytes.fromhex(value)
            for level, index, value in LedgerTreeNode.objects.filter(organization=organization).values_list(
                "level", "index", "hash"
            )
        }
        if stored_nodes != nodes:
            changed = sorted(
                key for key in nodes.keys() | stored_nodes.keys() if nodes.get(key) != stored_nodes.get(key)
            )
            return _problem("tree_changed", f"the stored tree node {tuple(changed[0])} is not what the leaves give")
    view = merkle.LevelNodes(levels)
    root = merkle.range_hash(0, len(hashes), view)
    if head is not None and head.root_hash != root.hex():
        return _problem("root_changed", "the log head's root is not the root of its leaves")
    return checkpoint_problem(organization, len(hashes), view)


def _stored_levels_match(organization: Organization, levels: list[list[bytes]]) -> bool:
    """Whether the stored tree nodes are exactly ``levels``, compared a level at a time by digest in the database
    (PostgreSQL; a million nodes never cross the wire). False elsewhere or on any difference: the caller then
    compares node by node to name the first that differs."""
    if connection.vendor != "postgresql":
        return False
    table = connection.ops.quote_name(LedgerTreeNode._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT "level", count(*), min("index"), max("index"), '  # noqa: S608 (the table name is ours)
            f"sha256(string_agg(decode(\"hash\", 'hex'), ''::bytea ORDER BY \"index\")) "
            f'FROM {table} WHERE "organization_id" = %s GROUP BY "level" ORDER BY "level"',
            [organization.pk],
        )
        stored = cursor.fetchall()
    expected = [
        (level, len(values), 0, len(values) - 1, hashlib.sha256(b"".join(values)).digest())
        for level, values in enumerate(levels)
    ]
    return [(level, count, low, high, bytes(digest)) for level, count, low, high, digest in stored] == expected


def checkpoint_problem(
    organization: Organization, size: int, nodes: Mapping[merkle.NodeKey, bytes], *, since: int = 0
) -> dict[str, Any] | None:
    """Every stored checkpoint: signed by a key of the organization, and stating the root of its size (computed
    from the perfect subtrees of the leaves: O(log n) a checkpoint)."""
    keys = checkpoint_keys(organization)
    for tree_size, root_hash, note in LedgerCheckpoint.objects.filter(
        organization=organization, tree_size__gt=since
    ).values_list("tree_size", "root_hash", "note"):
        try:
            checkpoint, _ = checkpoints.verify_checkpoint(note, keys)
        except checkpoints.NoteError as exc:
            return _problem("checkpoint_forged", f"the checkpoint of size {tree_size} does not verify: {exc}")
        if (checkpoint.tree_size, checkpoint.root_hash.hex()) != (tree_size, root_hash):
            return _problem("checkpoint_forged", f"the checkpoint row of size {tree_size} is not what its note signs")
        if tree_size > size:
            return _problem("log_rolled_back", f"a signed checkpoint covers {tree_size} leaves; the log holds {size}")
        if merkle.range_hash(0, tree_size, nodes).hex() != root_hash:
            return _problem(
                "log_rewritten", f"the first {tree_size} leaves no longer have the root signed at that size"
            )
    return None


# status, event, basis event (their row ids, as the state stores them: a state naming an event that is not in the
# ledger, or not the one its pair folds to, differs; states carry no foreign-key constraints), gpc conflict, and the
# source and policy version the state reports (its basis event's: compared, so a dangling or altered one differs)
StoredState = tuple[str, int, int, bool, int, int | None]
STORED_STATE_COLUMNS = ("status", "event_id", "basis_event_id", "gpc_conflict", "source_id", "policy_version_id")
# An event's row id: the source and policy version it was recorded under.
Provenance = dict[int, tuple[int, int | None]]


def ledger_entry(
    *,
    seq: int,
    event_id: str,
    action: str,
    occurred_at: datetime,
    valid_until: datetime | None,
    supersedes: str | None,
    collection_method: str,
    lifts_gpc_opt_out: bool,
) -> LedgerEntry:
    """What folding needs of one event."""
    return LedgerEntry(
        seq=seq,
        event_id=event_id,
        action=action,
        occurred_at=occurred_at,
        valid_until=valid_until,
        supersedes=supersedes,
        is_gpc=collection_method == CollectionMethod.GPC_SIGNAL,
        lifts_gpc=lifts_gpc_opt_out,
    )


def folded_state(entries: list[LedgerEntry], provenance: Provenance) -> StoredState | None:
    """What the stored consent state of one (subject, purpose) must be, as :data:`STORED_STATE_COLUMNS` reads it
    (``provenance``: of the entries' events)."""
    folded = replay(entries)
    if folded is None:
        return None
    source_id, version_id = provenance[folded.basis.seq]
    return (folded.status, folded.event.seq, folded.basis.seq, folded.gpc_conflict, source_id, version_id)


def projection_mismatches(
    organization: Organization, *, subject_ids: list[int] | None = None
) -> list[tuple[int, int, str | None, str | None]]:
    """Every (subject pk, purpose pk, stored status, folded status) whose stored consent state is not what folding
    its events gives (``subject_ids``: only those subjects)."""
    events = ConsentEvent.objects.filter(organization=organization)
    states = ConsentState.objects.filter(organization=organization)
    if subject_ids is not None:
        events, states = events.filter(subject_id__in=subject_ids), states.filter(subject_id__in=subject_ids)
    histories: dict[tuple[int, int], list[LedgerEntry]] = defaultdict(list)
    provenance: Provenance = {}
    for row in events.values_list(
        "subject_id",
        "purpose_id",
        "pk",
        "event_id",
        "action",
        "occurred_at",
        "valid_until",
        "supersedes__event_id",
        "collection_method",
        "lifts_gpc_opt_out",
        "source_id",
        "policy_version_id",
    ).iterator(chunk_size=5000):
        subject_id, purpose_id, pk, event_id, action, occurred_at, valid_until, supersedes, method, lifts = row[:10]
        provenance[pk] = row[10:]
        histories[(subject_id, purpose_id)].append(
            ledger_entry(
                seq=pk,
                event_id=event_id,
                action=action,
                occurred_at=occurred_at,
                valid_until=valid_until,
                supersedes=supersedes,
                collection_method=method,
                lifts_gpc_opt_out=lifts,
            )
        )
    stored: dict[tuple[int, int], StoredState] = {
        (subject_id, purpose_id): tuple(state)  # type: ignore[misc]
        for subject_id, purpose_id, *state in states.values_list("subject_id", "purpose_id", *STORED_STATE_COLUMNS)
    }
    found = []
    for pair in sorted(histories.keys() | stored.keys()):
        expected = folded_state(histories.get(pair, []), provenance)
        if stored.get(pair) != expected:
            found.append((pair[0], pair[1], (stored.get(pair) or (None,))[0], expected[0] if expected else None))
    return found


def projection_problem(organization: Organization) -> dict[str, Any] | None:
    """The first (subject, purpose) whose stored consent state is not what folding its events gives."""
    return projection_problem_for(organization, None)


def projection_problem_for(organization: Organization, subject_ids: list[int] | None) -> dict[str, Any] | None:
    """The same, for some subjects only (``None``: all)."""
    if subject_ids == []:
        return None
    return mismatch_problem(projection_mismatches(organization, subject_ids=subject_ids))


def mismatch_problem(mismatches: list[tuple[int, int, str | None, str | None]]) -> dict[str, Any] | None:
    """The ``state_mismatch`` entry for the first of these (subject pk, purpose pk, stored, folded), or None."""
    if not mismatches:
        return None
    subject_pk, purpose_pk, stored_status, folded_status = mismatches[0]
    subject = Subject.objects.filter(pk=subject_pk).values_list("external_id", "uuid").first() or ("", "")
    return _problem(
        "state_mismatch",
        f"the stored consent state is not what the subject's events give ({len(mismatches)} in all)",
        subject_id=subject[0],
        subject_uuid=str(subject[1]),
        purpose=Purpose.objects.filter(pk=purpose_pk).values_list("key", flat=True).first(),
        stored_status=stored_status,
        folded_status=folded_status,
        mismatches=len(mismatches),
    )
