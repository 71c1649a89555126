"""Issue #12: incremental verification checks only what came after the last valid run (leaves, chains, tree,
checkpoints, the touched subjects' states) and still catches tampering with the new part, with the old tree, and
a rollback; it agrees with a full verification on an intact ledger; with no base it verifies everything."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consent import services
from consent.models import ConsentEvent, ConsentState, LedgerVerificationRun, Purpose, Source
from core.models import Organization
from tests.consent.owner_tampering import as_owner
from tests.factories import ConsentEventInputFactory

pytestmark = pytest.mark.django_db(transaction=True)


def record(organization: Organization, count: int, subject_id: str) -> None:
    items = ConsentEventInputFactory.build_batch(count, subject_id=subject_id)
    services.consent_record_many(organization=organization, items=items)
    services.ledger_sequence(organization)


@pytest.fixture
def verified(organization: Organization, source: Source, purpose: Purpose) -> Organization:
    """8 events verified in full (the base), then 5 more for two subjects, one of them new."""
    ConsentEventInputFactory.reset_sequence()
    record(organization, 8, "cust-1")
    base = services.ledger_integrity_check(organization=organization, actor="t")
    assert (base.is_valid, base.log_size, base.mode) == (True, 8, "full")
    record(organization, 3, "cust-1")
    record(organization, 2, "cust-2")
    return organization


def test_incremental_checks_only_the_new_events_and_agrees_with_a_full_check(verified: Organization) -> None:
    run = services.ledger_integrity_check(organization=verified, actor="t", incremental=True)
    full = services.ledger_integrity_check(organization=verified, actor="t")

    assert (run.mode, run.is_valid, run.events_checked, run.subjects_checked, run.log_size) == (
        "incremental",
        True,
        5,
        2,
        13,
    )
    assert run.ledger_root == full.ledger_root
    assert run.log_root == full.log_root


def new_event(subject_id: str, chain_index: int) -> ConsentEvent:
    return ConsentEvent.objects.get(subject__external_id=subject_id, chain_index=chain_index)


def change_a_new_event() -> None:
    as_owner(f"UPDATE consent_consentevent SET jurisdiction = 'FR' WHERE id = {new_event('cust-1', 10).pk}")


def edit_a_new_leaf() -> None:
    victim = new_event("cust-2", 1).pk
    as_owner(f"UPDATE consent_ledgerleaf SET leaf_hash = repeat('0', 64) WHERE event_id = {victim}")


def rewrite_the_verified_tree() -> None:
    as_owner("UPDATE consent_ledgertreenode SET hash = repeat('0', 64) WHERE level = 3 AND index = 0")


def roll_back() -> None:
    as_owner("UPDATE consent_ledgerloghead SET tree_size = 6")


def roll_back_a_touched_tip() -> None:
    tenth = new_event("cust-1", 10)
    as_owner(
        f"UPDATE consent_subject SET ledger_length = 10, ledger_head_hash = '{tenth.hash}' "
        f"WHERE id = {tenth.subject_id}"
    )


def flip_a_touched_state() -> None:
    ConsentState.objects.filter(subject__external_id="cust-2").update(status="refused")


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        (change_a_new_event, "changed"),
        (edit_a_new_leaf, "leaf_changed"),
        (rewrite_the_verified_tree, "log_rewritten"),
        (roll_back, "log_rolled_back"),
        (roll_back_a_touched_tip, "tip_behind"),
        (flip_a_touched_state, "state_mismatch"),
    ],
    ids=[
        "a new event changed",
        "a new leaf edited",
        "the verified tree rewritten",
        "rolled back",
        "a touched tip rolled back",
        "a state flipped",
    ],
)
def test_incremental_catches_tampering(verified: Organization, tamper: Callable[[], None], problem: str) -> None:
    tamper()

    run = services.ledger_integrity_check(organization=verified, actor="t", incremental=True)

    assert run.mode == "incremental"
    assert not run.is_valid
    assert run.first_break is not None
    assert run.first_break["problem"] == problem, run.first_break
    assert run.log_size is None  # a broken run is no base for the next


def test_without_a_base_the_check_is_full(organization: Organization, source: Source, purpose: Purpose) -> None:
    record(organization, 4, "cust-1")

    run = services.ledger_integrity_check(organization=organization, actor="t", incremental=True)

    assert (run.mode, run.is_valid, run.events_checked) == ("full", True, 4)
    assert LedgerVerificationRun.objects.filter(log_size=4).count() == 1


def test_the_incremental_ledger_root_is_the_full_one_over_many_subjects(
    organization: Organization, source: Source, purpose: Purpose
) -> None:
    """The digest computed in the database (uuid order, from the checked tips) is the one the full walk computes."""
    for n in range(30):
        record(organization, 1 + n % 3, f"person-{n}")
    services.ledger_integrity_check(organization=organization, actor="t")
    for n in range(0, 30, 7):
        record(organization, 2, f"person-{n}")
    run = services.ledger_integrity_check(organization=organization, actor="t", incremental=True)
    full = services.ledger_integrity_check(organization=organization, actor="t")
    assert (run.mode, run.is_valid, full.is_valid) == ("incremental", True, True)
    assert run.ledger_root == full.ledger_root
