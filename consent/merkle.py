"""The Merkle tree of a transparency log, as RFC 9162 (Certificate Transparency 2.0) §2.1 defines it.

Pure: no ORM, no settings. A tree over ``n`` leaves splits at ``k``, the largest power of two below ``n``;
a leaf hashes as ``SHA-256(0x00 || data)``, an interior node as ``SHA-256(0x01 || left || right)``, the
empty tree as ``SHA-256()``. Every left part of that split is a *perfect* subtree (2**level leaves starting
at a multiple of 2**level), so a stored log keeps only the hashes of its perfect subtrees (``NodeKey``)
and computes any range, root or proof from O(log² n) of them. Proofs are first planned as the ranges they
need (``inclusion_ranges``, ``consistency_ranges``), so a caller fetches every node in one query, then
computed (``range_hash``). The verifiers follow RFC 9162 §2.1.3.2 and §2.1.4.2 step by step.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import NamedTuple

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()


class NodeKey(NamedTuple):
    """A perfect subtree: the ``offset``-th run of 2**``level`` leaves (level 0: the leaf itself)."""

    level: int
    offset: int


class ProofError(ValueError):
    """A proof was asked for outside the tree (an index past its size, sizes out of order)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def split_point(size: int) -> int:
    """``k``: the largest power of two smaller than ``size`` (size >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


# --- whole trees (for tests, small trees and the offline auditor) --------------------------------------------------


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over leaf hashes (already hashed with ``leaf_hash``), computed bottom-up in O(n)."""
    if not leaf_hashes:
        return EMPTY_ROOT
    level = list(leaf_hashes)
    # Bottom-up: pairing left to right and carrying an odd last node up unchanged builds exactly the RFC's
    # left-balanced tree (the carried node joins its sibling at the level where their sizes meet).
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


# --- planning: which ranges a proof needs ---------------------------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """PATH(index, D[size]) as the leaf ranges [start, end) whose hashes form it, in proof order."""
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start = start + k
    ranges.reverse()  # the recursion appends on the way out: innermost sibling first
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """PROOF(old_size, D[new_size]) (RFC 9162 §2.1.4.1) as leaf ranges, in proof order."""
    if not 0 < old_size <= new_size:
        raise ProofError(f"no consistency proof from {old_size} to {new_size}")
    ranges: list[tuple[int, int]] = []
    m, start, end, whole = old_size, 0, new_size, True
    while True:
        if m == end - start:
            if not whole:
                ranges.append((start, end))
            break
        k = split_point(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            m, start, whole = m - k, start + k, False
    ranges.reverse()
    return ranges


def perfect_parts(start: int, end: int) -> list[NodeKey]:
    """The perfect subtrees a range [start, end) of an RFC 9162 tree is built from, left to right."""
    parts: list[NodeKey] = []
    while start < end:
        size = end - start
        if size & (size - 1) == 0 and start % size == 0:
            parts.append(NodeKey(size.bit_length() - 1, start >> (size.bit_length() - 1)))
            break
        k = split_point(size)
        parts.append(NodeKey(k.bit_length() - 1, start >> (k.bit_length() - 1)))
        start += k
    return parts


def nodes_needed(ranges: Iterable[tuple[int, int]]) -> set[NodeKey]:
    return {part for start, end in ranges for part in perfect_parts(start, end)}


def range_hash(start: int, end: int, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[start:end]) from the hashes of its perfect parts. The right-most part joins first."""
    if start == end:
        return EMPTY_ROOT
    parts = [nodes[part] for part in perfect_parts(start, end)]
    value = parts[-1]
    for left in reversed(parts[:-1]):
        value = node_hash(left, value)
    return value


def perfect_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every perfect subtree hash of a list of leaf hashes, level by level: ``levels[k][i]`` is ``NodeKey(k, i)``."""
    if not leaf_hashes:
        return []
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


class LevelNodes(Mapping[NodeKey, bytes]):
    """:func:`perfect_levels` read as a mapping of :class:`NodeKey` (what :func:`range_hash` takes), without a
    dictionary of a million keys."""

    def __init__(self, levels: list[list[bytes]]) -> None:
        self.levels = levels

    def __getitem__(self, key: NodeKey) -> bytes:
        level, offset = key
        if 0 <= level < len(self.levels) and 0 <= offset < len(self.levels[level]):
            return self.levels[level][offset]
        raise KeyError(key)

    def __iter__(self) -> Iterator[NodeKey]:
        return (NodeKey(level, i) for level, values in enumerate(self.levels) for i in range(len(values)))

    def __len__(self) -> int:
        return sum(len(values) for values in self.levels)


def perfect_nodes_of(leaf_hashes: Sequence[bytes]) -> dict[NodeKey, bytes]:
    """Every perfect subtree hash of a list of leaf hashes (for tests and the offline auditor)."""
    return dict(LevelNodes(perfect_levels(leaf_hashes)).items())


def new_perfect_nodes(
    first_index: int, leaf_hashes: Sequence[bytes], lookup: Callable[[NodeKey], bytes]
) -> dict[NodeKey, bytes]:
    """The perfect subtrees completed by appending ``leaf_hashes`` at ``first_index``: the leaves themselves and
    every node whose last leaf is among them. ``lookup`` gives an older node (a left sibling on the log's
    right edge); it is asked only for nodes that existed before the append."""
    made: dict[NodeKey, bytes] = {}

    def get(key: NodeKey) -> bytes:
        return made[key] if key in made else lookup(key)

    for offset, value in enumerate(leaf_hashes):
        index = first_index + offset
        made[NodeKey(0, index)] = value
        level, position = 0, index
        while position % 2 == 1:  # a right child: its parent is complete now
            parent = NodeKey(level + 1, position // 2)
            made[parent] = node_hash(get(NodeKey(level, position - 1)), get(NodeKey(level, position)))
            level, position = level + 1, position // 2
    return made


# --- verification (RFC 9162 §2.1.3.2, §2.1.4.2) -------------------------------------------------------------------


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in the tree of ``size`` with ``root``."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """Whether ``proof`` shows the tree of ``new_size`` with ``new_root`` extends the one of ``old_size``."""
    if old_size < 0 or new_size < old_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT  # every tree extends the empty one
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node of the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == new_root
