"""Reads of an organization's transparency log (issue #12): its head, roots at any size, inclusion and consistency
proofs. Every node a proof needs is fetched in one query per tree level (``consent.merkle`` plans them)."""

from __future__ import annotations

import base64
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Q

from consent import merkle
from consent.models import (
    ConsentEvent,
    LedgerCheckpoint,
    LedgerLeaf,
    LedgerLogHead,
    LedgerTreeNode,
    LedgerVerificationJob,
)
from core.models import Organization


@dataclass(frozen=True)
class InclusionProof:
    event_id: str
    leaf_index: int
    leaf_hash: bytes
    tree_size: int
    root_hash: bytes
    proof: list[bytes]

    def to_dict(self) -> dict[str, object]:
        return {
            "event_id": self.event_id,
            "leaf_index": self.leaf_index,
            "leaf_hash": b64(self.leaf_hash),
            "tree_size": self.tree_size,
            "root_hash": b64(self.root_hash),
            "proof": [b64(node) for node in self.proof],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]

    def to_dict(self) -> dict[str, object]:
        return {
            "from": self.old_size,
            "to": self.new_size,
            "from_root_hash": b64(self.old_root),
            "to_root_hash": b64(self.new_root),
            "proof": [b64(node) for node in self.proof],
        }


class LogRangeError(ValueError):
    """A size or an event the log does not (yet) hold."""


def b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def log_head(organization: Organization) -> LedgerLogHead | None:
    return LedgerLogHead.objects.filter(organization=organization).first()


def log_size(organization: Organization) -> int:
    head = log_head(organization)
    return head.tree_size if head is not None else 0


def stored_nodes(organization: Organization, keys: set[merkle.NodeKey]) -> dict[merkle.NodeKey, bytes]:
    """The stored hashes of these perfect subtrees, in one query."""
    if not keys:
        return {}
    by_level: dict[int, list[int]] = defaultdict(list)
    for key in keys:
        by_level[key.level].append(key.offset)
    wanted = Q()
    for level, offsets in by_level.items():
        low, high = min(offsets), max(offsets)
        if high - low + 1 == len(offsets):  # a run (the nodes an append made): a range, not thousands of values
            wanted |= Q(level=level, index__gte=low, index__lte=high)
        else:
            wanted |= Q(level=level, index__in=offsets)
    rows = LedgerTreeNode.objects.filter(wanted, organization=organization).values_list("level", "index", "hash")
    found = {merkle.NodeKey(level, index): bytes.fromhex(value) for level, index, value in rows}
    missing = keys - found.keys()
    if missing:
        raise LogRangeError(f"the log lacks {len(missing)} node(s) it should hold, e.g. {min(missing)}")
    return found


def _checked_size(organization: Organization, tree_size: int | None) -> int:
    size = log_size(organization)
    if tree_size is None:
        return size
    if not 0 <= tree_size <= size:
        raise LogRangeError(f"tree_size {tree_size} is beyond the log's {size} leaves")
    return tree_size


def tree_root(organization: Organization, tree_size: int) -> bytes:
    nodes = stored_nodes(organization, set(merkle.perfect_parts(0, tree_size)))
    return merkle.range_hash(0, tree_size, nodes)


def inclusion_proof(organization: Organization, *, event_id: str, tree_size: int | None = None) -> InclusionProof:
    """The event's leaf and the proof that the tree of ``tree_size`` (default: the log's size) includes it.
    Raises ConsentEvent.DoesNotExist for an unknown event, LedgerLeaf.DoesNotExist before it is sequenced,
    LogRangeError for a size the log does not hold or that does not include the leaf."""
    leaf = (
        LedgerLeaf.objects.filter(organization=organization, event__event_id=event_id)
        .only("leaf_index", "leaf_hash")
        .first()
    )
    if leaf is None:
        if not ConsentEvent.objects.filter(organization=organization, event_id=event_id).exists():
            raise ConsentEvent.DoesNotExist(event_id)
        raise LedgerLeaf.DoesNotExist(event_id)
    size = _checked_size(organization, tree_size)
    if leaf.leaf_index >= size:
        raise LogRangeError(f"leaf {leaf.leaf_index} is not in a tree of {size}; ask for a larger tree_size")
    ranges = merkle.inclusion_ranges(leaf.leaf_index, size)
    nodes = stored_nodes(organization, merkle.nodes_needed([*ranges, (0, size)]))
    return InclusionProof(
        event_id=event_id,
        leaf_index=leaf.leaf_index,
        leaf_hash=bytes.fromhex(leaf.leaf_hash),
        tree_size=size,
        root_hash=merkle.range_hash(0, size, nodes),
        proof=[merkle.range_hash(start, end, nodes) for start, end in ranges],
    )


def consistency_proof(organization: Organization, *, old_size: int, new_size: int | None = None) -> ConsistencyProof:
    """The proof that the tree of ``new_size`` (default: the log's size) extends the tree of ``old_size``."""
    size = _checked_size(organization, new_size)
    if not 0 < old_size <= size:
        raise LogRangeError(f"from must be between 1 and to ({size})")
    ranges = merkle.consistency_ranges(old_size, size)
    nodes = stored_nodes(organization, merkle.nodes_needed([*ranges, (0, old_size), (0, size)]))
    return ConsistencyProof(
        old_size=old_size,
        new_size=size,
        old_root=merkle.range_hash(0, old_size, nodes),
        new_root=merkle.range_hash(0, size, nodes),
        proof=[merkle.range_hash(start, end, nodes) for start, end in ranges],
    )


def ledger_checkpoint_at(organization: Organization, tree_size: int | None = None) -> LedgerCheckpoint | None:
    """The latest signed checkpoint, or the one of exactly ``tree_size``."""
    checkpoints = LedgerCheckpoint.objects.filter(organization=organization)
    if tree_size is not None:
        return checkpoints.filter(tree_size=tree_size).first()
    return checkpoints.order_by("-tree_size").first()


@dataclass(frozen=True)
class EventPlacement:
    """Where an event stands in its organization's log, with the proof of it against the latest checkpoint that
    covers it (or, before one is signed, against the log's current size)."""

    inclusion: InclusionProof
    checkpoint: str | None  # the signed note, when one covers the event

    def to_dict(self) -> dict[str, object]:
        return {**self.inclusion.to_dict(), "checkpoint": self.checkpoint}


def event_placement(organization: Organization, *, event: ConsentEvent) -> EventPlacement | None:
    """None until the sequencer has given the event its leaf."""
    leaf = LedgerLeaf.objects.filter(event=event).only("leaf_index").first()
    if leaf is None:
        return None
    covering = (
        LedgerCheckpoint.objects.filter(organization=organization, tree_size__gt=leaf.leaf_index)
        .order_by("-tree_size")
        .only("tree_size", "note")
        .first()
    )
    size = covering.tree_size if covering is not None else None
    proof = inclusion_proof(organization, event_id=event.event_id, tree_size=size)
    return EventPlacement(proof, covering.note if covering is not None else None)


def verification_job(organization: Organization, *, public_id: str) -> LedgerVerificationJob | None:
    return (
        LedgerVerificationJob.objects.filter(organization=organization, public_id=public_id)
        .select_related("run")
        .first()
    )


def ledger_event_count(organization: Organization) -> int:
    return ConsentEvent.objects.filter(organization=organization).count()
