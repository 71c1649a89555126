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

from collections import defaultdict
from collections.abc import Callable
from typing import Any

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


def log_problem(organization: Organization) -> dict[str, Any] | None:
    """The first thing wrong with the organization's transparency log, or None."""
    head = LedgerLogHead.objects.filter(organization=organization).first()
    size = head.tree_size if head is not None else 0
    leaves = list(
        LedgerLeaf.objects.filter(organization=organization)
        .order_by("leaf_index")
        .values_list("leaf_index", "leaf_hash", "event__hash", "event__event_id")
    )
    hashes: list[bytes] = []
    for expected, (index, stored, event_hash, event_id) in enumerate(leaves):
        if index != expected:
            return _problem("log_gap", f"leaf {expected} is missing; the next is {index}", leaf_index=expected)
        if stored != merkle.leaf_hash(bytes.fromhex(event_hash)).hex():
            return _problem(
                "leaf_changed",
                f"leaf {index} is not the leaf hash of its event's hash",
                leaf_index=index,
                event_id=event_id,
            )
        hashes.append(bytes.fromhex(stored))
    if len(hashes) != size:
        return _problem("log_size", f"the log's head says {size} leaves; {len(hashes)} are stored")
    nodes = merkle.perfect_nodes_of(hashes)
    stored_nodes = {
        merkle.NodeKey(level, index): bytes.fromhex(value)
        for level, index, value in LedgerTreeNode.objects.filter(organization=organization).values_list(
            "level", "index", "hash"
        )
    }
    if stored_nodes != nodes:
        changed = sorted(key for key in nodes.keys() | stored_nodes.keys() if nodes.get(key) != stored_nodes.get(key))
        return _problem("tree_changed", f"the stored tree node {tuple(changed[0])} is not what the leaves give")
    root = merkle.range_hash(0, len(hashes), nodes)
    if head is not None and head.root_hash != root.hex():
        return _problem("root_changed", "the log head's root is not the root of its leaves")
    return checkpoint_problem(organization, len(hashes), nodes)


def checkpoint_problem(
    organization: Organization, size: int, nodes: dict[merkle.NodeKey, bytes], *, since: int = 0
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
    ).iterator(chunk_size=5000):
        subject_id, purpose_id, pk, event_id, action, occurred_at, valid_until, supersedes, method, lifts = row
        histories[(subject_id, purpose_id)].append(
            LedgerEntry(
                seq=pk,
                event_id=event_id,
                action=action,
                occurred_at=occurred_at,
                valid_until=valid_until,
                supersedes=supersedes,
                is_gpc=method == CollectionMethod.GPC_SIGNAL,
                lifts_gpc=lifts,
            )
        )
    stored = {
        (subject_id, purpose_id): (status, event_id, basis_id, conflict)
        for subject_id, purpose_id, status, event_id, basis_id, conflict in states.values_list(
            "subject_id", "purpose_id", "status", "event__event_id", "basis_event__event_id", "gpc_conflict"
        )
    }
    found = []
    for pair in sorted(histories.keys() | stored.keys()):
        folded = replay(histories.get(pair, []))
        expected = (
            (folded.status, folded.event.event_id, folded.basis.event_id, folded.gpc_conflict) if folded else None
        )
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
    mismatches = projection_mismatches(organization, subject_ids=subject_ids)
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
