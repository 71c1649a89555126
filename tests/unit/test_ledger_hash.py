"""Canonical hashing and chain verification of the ledger (consent/ledger.py), without a database."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from consent import ledger
from consent.ledger import (
    GENESIS_HASH,
    ChainLink,
    canonical_fields,
    event_hash,
    first_break,
    format_instant,
    instant_text,
)

SUBJECT = "6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"


def fields(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "event_id": "01JABCDEFGHJKMNPQRSTVWXYZ0",
        "subject_uuid": SUBJECT,
        "chain_index": 1,
        "purpose": "marketing-email",
        "action": "grant",
        "occurred_at": datetime(2025, 3, 1, 12, 0, 0, 123456, tzinfo=UTC),
        "recorded_at": datetime(2025, 3, 1, 12, 0, 5, tzinfo=UTC),
        "valid_until": None,
        "source": "web-signup",
        "collection_method": "web_form",
        "policy_version": "v1",
        "jurisdiction": "DE",
        "gpc": False,
        "explicit_confirmation": False,
        "lifts_gpc_opt_out": False,
        "evidence_sealed": "",
        "supersedes": None,
    }
    values.update(overrides)
    return canonical_fields(**values)


def chain(length: int) -> list[ChainLink]:
    links: list[ChainLink] = []
    previous = GENESIS_HASH
    for index in range(1, length + 1):
        content = fields(event_id=f"EV{index:024d}", chain_index=index, action="grant" if index % 2 else "withdraw")
        digest = event_hash(content, previous)
        links.append(ChainLink(index, f"EV{index:024d}", content, previous, digest))
        previous = digest
    return links


# --------------------------------------------------------------------------------------------
# Canonical form
# --------------------------------------------------------------------------------------------


def test_instants_are_formatted_in_utc_with_microseconds_and_z() -> None:
    plus_two = timezone(timedelta(hours=2))

    assert format_instant(datetime(2025, 3, 1, 14, 0, tzinfo=plus_two)) == "2025-03-01T12:00:00.000000Z"
    assert format_instant(datetime(2025, 3, 1, 12, 0, 0, 42, tzinfo=UTC)) == "2025-03-01T12:00:00.000042Z"
    assert format_instant(None) is None


def test_the_same_instant_in_another_offset_hashes_the_same() -> None:
    utc = fields(occurred_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC))
    berlin = fields(occurred_at=datetime(2025, 3, 1, 13, 0, tzinfo=timezone(timedelta(hours=1))))

    assert event_hash(utc, GENESIS_HASH) == event_hash(berlin, GENESIS_HASH)


def test_empty_evidence_is_hashed_as_null() -> None:
    assert fields(evidence_sealed="")["evidence_sealed"] is None
    assert fields(evidence_sealed="c2VhbGVk")["evidence_sealed"] == "c2VhbGVk"


def test_hash_is_sha256_of_sorted_compact_json_including_prev_hash() -> None:
    """Pinned vector: anyone holding the history can recompute it; changing the canonical form
    would break verification of every ledger already written."""
    canonical = (
        '{"action":"grant","chain_index":1,"collection_method":"web_form","event_id":"01JABCDEFGHJKMNPQRSTVWXYZ0",'
        '"evidence_sealed":null,"explicit_confirmation":false,"gpc":false,"jurisdiction":"DE",'
        '"lifts_gpc_opt_out":false,"occurred_at":"2025-03-01T12:00:00.123456Z",'
        '"policy_version":"v1","prev_hash":"' + GENESIS_HASH + '","purpose":"marketing-email",'
        '"recorded_at":"2025-03-01T12:00:05.000000Z","source":"web-signup",'
        '"subject":"6f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f","supersedes":null,"v":1,"valid_until":null}'
    )

    assert event_hash(fields(), GENESIS_HASH) == hashlib.sha256(canonical.encode()).hexdigest()
    assert event_hash(fields(), GENESIS_HASH) == "6b9c35d7e2d35abdda09a0735b97b421bbcb44938b8ba62fbe270bec758dd904"


def test_hash_does_not_depend_on_field_insertion_order() -> None:
    original = fields()
    reversed_order = dict(reversed(list(original.items())))

    assert event_hash(reversed_order, GENESIS_HASH) == event_hash(original, GENESIS_HASH)


@pytest.mark.parametrize(
    "change",
    [
        {"event_id": "01JABCDEFGHJKMNPQRSTVWXYZ1"},
        {"subject_uuid": "00000000-0000-4000-8000-000000000000"},
        {"chain_index": 2},
        {"purpose": "analytics"},
        {"action": "withdraw"},
        {"occurred_at": datetime(2025, 3, 1, 12, 0, 0, 123457, tzinfo=UTC)},
        {"recorded_at": datetime(2025, 3, 1, 12, 0, 6, tzinfo=UTC)},
        {"valid_until": datetime(2025, 9, 1, 12, 0, tzinfo=UTC)},
        {"source": "partner-feed"},
        {"collection_method": "paper"},
        {"policy_version": None},
        {"jurisdiction": "US-CA"},
        {"gpc": True},
        {"evidence_sealed": "c2VhbGVk"},
        {"supersedes": "01JABCDEFGHJKMNPQRSTVWXYZ9"},
    ],
)
def test_changing_any_hashed_field_changes_the_hash(change: dict[str, Any]) -> None:
    assert event_hash(fields(**change), GENESIS_HASH) != event_hash(fields(), GENESIS_HASH)


def test_changing_prev_hash_changes_the_hash() -> None:
    assert event_hash(fields(), "1" * 64) != event_hash(fields(), GENESIS_HASH)


# --------------------------------------------------------------------------------------------
# Chain verification
# --------------------------------------------------------------------------------------------


def test_intact_chain_has_no_break() -> None:
    links = chain(4)

    assert first_break(links, expected_length=4, expected_head=links[-1].hash) is None


def test_empty_chain_of_subject_without_events_is_intact() -> None:
    assert first_break([], expected_length=0, expected_head=GENESIS_HASH) is None


def test_altered_content_is_reported_as_changed_at_that_link() -> None:
    links = chain(4)
    tampered = links[2]
    links[2] = ChainLink(
        tampered.chain_index,
        tampered.event_id,
        {**tampered.fields, "action": "grant" if tampered.fields["action"] != "grant" else "withdraw"},
        tampered.prev_hash,
        tampered.hash,
    )

    broken = first_break(links, expected_length=4, expected_head=links[-1].hash)

    assert broken is not None
    assert (broken.chain_index, broken.event_id, broken.problem) == (3, links[2].event_id, "changed")


def test_removed_middle_link_is_reported_missing() -> None:
    links = chain(4)
    del links[1]

    broken = first_break(links, expected_length=4, expected_head=links[-1].hash)

    assert broken is not None
    assert (broken.chain_index, broken.problem) == (2, "missing")


def test_removed_link_with_renumbered_successor_is_reported_relinked() -> None:
    links = chain(4)
    successor = links[2]
    links[1:3] = [ChainLink(2, successor.event_id, successor.fields, successor.prev_hash, successor.hash)]

    broken = first_break(links, expected_length=4, expected_head=links[-1].hash)

    assert broken is not None
    assert (broken.chain_index, broken.event_id, broken.problem) == (2, successor.event_id, "relinked")


def test_removed_last_link_is_reported_truncated() -> None:
    links = chain(4)
    head = links[-1].hash

    broken = first_break(links[:-1], expected_length=4, expected_head=head)

    assert broken is not None
    assert (broken.chain_index, broken.event_id, broken.problem) == (4, None, "truncated")


def test_chain_whose_head_differs_from_the_recorded_tip_is_truncated() -> None:
    links = chain(3)

    broken = first_break(links, expected_length=3, expected_head="f" * 64)

    assert broken is not None
    assert broken.problem == "truncated"


def test_reordered_links_are_reported_relinked_at_the_first_moved_position() -> None:
    links = chain(4)
    first, second = links[0], links[1]
    swapped = [
        ChainLink(1, second.event_id, second.fields, second.prev_hash, second.hash),
        ChainLink(2, first.event_id, first.fields, first.prev_hash, first.hash),
        *links[2:],
    ]

    broken = first_break(swapped, expected_length=4, expected_head=links[-1].hash)

    assert broken is not None
    assert (broken.chain_index, broken.event_id, broken.problem) == (1, second.event_id, "relinked")


def test_break_as_dict_names_position_event_and_problem() -> None:
    links = chain(2)
    broken = first_break(links[:1], expected_length=2, expected_head=links[-1].hash)

    assert broken is not None
    assert broken.as_dict() == {
        "chain_index": 2,
        "event_id": None,
        "problem": "truncated",
        "detail": broken.detail,
    }


def test_ledger_root_digests_tips_in_any_order_and_changes_with_any_tip() -> None:
    tips = [("b-uuid", 2, "1" * 64), ("a-uuid", 1, "2" * 64)]

    assert ledger.ledger_root(tips) == ledger.ledger_root(list(reversed(tips)))
    assert ledger.ledger_root(tips) != ledger.ledger_root([("b-uuid", 3, "1" * 64), ("a-uuid", 1, "2" * 64)])
    assert ledger.ledger_root(tips) != ledger.ledger_root(tips[:1])


def test_instant_text_takes_every_form_the_database_hands_back() -> None:
    moment = datetime(2025, 3, 1, 9, 30, 15, 120, tzinfo=UTC)
    canonical = format_instant(moment)
    assert canonical == "2025-03-01T09:30:15.000120Z"
    assert instant_text(moment) == canonical
    assert instant_text(canonical) == canonical  # PostgreSQL's to_char, taken as is
    assert instant_text("2025-03-01 09:30:15.000120") == canonical  # SQLite's stored text, naive UTC
    assert instant_text("2025-03-01 09:30:15") == "2025-03-01T09:30:15.000000Z"  # SQLite drops zero microseconds
    assert instant_text("2025-03-01T10:30:15.000120+01:00") == canonical
    assert instant_text(None) is None
    # a year below 1000 is formatted the way the hash was written (strftime), never taken from the padded text
    early = datetime(999, 1, 1, tzinfo=UTC)
    assert instant_text("0999-01-01T00:00:00.000000Z") == format_instant(early)
    # text no datetime can hold (a row edited by hand) stays as it is: it cannot match the event's hash
    assert instant_text("-0001-01-01T00:00:00.000000Z") == "-0001-01-01T00:00:00.000000Z"
