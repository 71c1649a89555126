"""The leaves of a log met in any order (a verification pass walks events in chain order): each problem is the one
a walk in leaf order finds first, and a clean log gives back its leaf hashes in order."""

from __future__ import annotations

import hashlib
import random

from consent import merkle
from consent.selectors.log_integrity import LeafCollector


def event_hash(n: int) -> str:
    return hashlib.sha256(f"event-{n}".encode()).hexdigest()


def leaf(n: int) -> str:
    return merkle.leaf_hash(bytes.fromhex(event_hash(n))).hex()


def collect(size: int, indexes: list[int], *, changed: set[int] = frozenset()) -> LeafCollector:  # type: ignore[assignment]
    collector = LeafCollector(size)
    order = list(indexes)
    random.Random(size).shuffle(order)
    for index in order:
        stored = "00" * 32 if index in changed else leaf(index)
        collector.add(index, stored, event_hash(index), f"event-{index}")
    return collector


def test_a_clean_log_in_any_order_gives_its_leaves_in_order() -> None:
    collector = collect(9, list(range(9)))
    assert collector.problem(9, 9) is None
    assert collector.hashes() == [bytes.fromhex(leaf(n)) for n in range(9)]


def test_a_missing_leaf_is_a_gap_naming_the_next() -> None:
    problem = collect(6, [0, 1, 3, 4, 5]).problem(6, 5)
    assert problem is not None
    assert (problem["problem"], problem["leaf_index"]) == ("log_gap", 2)
    assert "the next is 3" in problem["detail"]


def test_the_lower_of_a_gap_and_a_changed_leaf_comes_first() -> None:
    changed_first = collect(6, [0, 1, 2, 4, 5], changed={1}).problem(6, 5)
    assert changed_first is not None
    assert changed_first["problem"] == "leaf_changed"
    assert (changed_first["leaf_index"], changed_first["event_id"]) == (1, "event-1")
    gap_first = collect(6, [0, 2, 3, 4, 5], changed={4}).problem(6, 5)
    assert gap_first is not None
    assert (gap_first["problem"], gap_first["leaf_index"]) == ("log_gap", 1)


def test_a_leaf_stored_twice_is_reported() -> None:
    collector = collect(4, [0, 1, 2, 3])
    collector.add(2, leaf(2), event_hash(2), "event-2")
    problem = collector.problem(4, 5)
    assert problem is not None
    assert (problem["problem"], problem["leaf_index"]) == ("log_gap", 2)
    assert "more than once" in problem["detail"]


def test_sizes_that_differ_from_the_head() -> None:
    short = collect(5, [0, 1, 2]).problem(5, 3)  # the last leaves gone: no gap, a size the head does not say
    assert short is not None
    assert short["problem"] == "log_size"
    long = collect(3, [0, 1, 2, 3, 4]).problem(3, 5)  # leaves past the head's size
    assert long is not None
    assert long["problem"] == "log_size"
    gap_past_head = collect(3, [0, 1, 2, 4]).problem(3, 4)
    assert gap_past_head is not None
    assert (gap_past_head["problem"], gap_past_head["leaf_index"]) == ("log_gap", 3)


def test_leaf_rows_that_name_no_event_of_the_organization() -> None:
    problem = collect(4, [0, 1, 2, 3]).problem(4, 6)
    assert problem is not None
    assert problem["problem"] == "leaf_changed"
    assert problem["detail"].startswith("2 leaf row(s)")


def test_a_leaf_hash_that_is_not_hex_is_a_changed_leaf() -> None:
    collector = LeafCollector(2)
    collector.add(0, leaf(0), event_hash(0), "event-0")
    collector.add(1, "not hex", event_hash(1), "event-1")
    problem = collector.problem(2, 2)
    assert problem is not None
    assert (problem["problem"], problem["leaf_index"]) == ("leaf_changed", 1)


def test_level_nodes_are_the_perfect_subtrees() -> None:
    hashes = [bytes.fromhex(leaf(n)) for n in range(13)]
    levels = merkle.perfect_levels(hashes)
    view = merkle.LevelNodes(levels)
    nodes = merkle.perfect_nodes_of(hashes)
    assert dict(view.items()) == nodes
    assert len(view) == len(nodes)
    for size in range(1, 14):
        assert merkle.range_hash(0, size, view) == merkle.root_of(hashes[:size])
    assert merkle.perfect_levels([]) == []
    assert merkle.NodeKey(4, 0) not in view
