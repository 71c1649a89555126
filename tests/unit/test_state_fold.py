"""The pure consent fold (consent/state.py): ordering, precedence, renewal, lapse and the read overlay."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consent.state import (
    EXPIRED,
    GIVEN,
    INVALIDATED,
    REFUSED,
    RENEWED,
    STALE,
    UNKNOWN,
    WITHDRAWN,
    FoldedState,
    LedgerEntry,
    fold,
    is_opt_in,
    replay,
    sorts_after,
    status_at,
)

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def entry(
    seq: int,
    action: str,
    minutes: float,
    *,
    valid_for: float | None = None,
    supersedes: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        seq=seq,
        event_id=f"ev{seq}",
        action=action,
        occurred_at=at(minutes),
        valid_until=at(minutes + valid_for) if valid_for is not None else None,
        supersedes=supersedes,
    )


def fold_in_arrival_order(arrivals: list[LedgerEntry]) -> FoldedState | None:
    """What the service does: step when the entry sorts after the state, else replay all arrived so far."""
    state: FoldedState | None = None
    arrived: list[LedgerEntry] = []
    for item in arrivals:
        arrived.append(item)
        state = fold(state, item) if sorts_after(state, item) else replay(arrived)
    return state


def status_of(state: FoldedState | None) -> str:
    return state.status if state else UNKNOWN


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------


def test_grant_gives_consent() -> None:
    grant = entry(1, "grant", 0)

    state = replay([grant])

    assert state is not None
    assert state.status == GIVEN
    assert state.since == grant.occurred_at
    assert state.basis == grant
    assert state.event == grant
    assert is_opt_in(state.status)


def test_no_events_is_no_state_and_absence_is_not_consent() -> None:
    assert replay([]) is None
    assert not is_opt_in(UNKNOWN)


def test_withdrawal_after_grant_withdraws() -> None:
    state = replay([entry(1, "grant", 0), entry(2, "withdraw", 5)])

    assert state is not None
    assert state.status == WITHDRAWN
    assert state.since == at(5)
    assert state.valid_until is None
    assert not is_opt_in(state.status)


def test_refusal_refuses_and_a_later_grant_is_a_first_grant() -> None:
    refused = replay([entry(1, "refuse", 0)])
    granted = replay([entry(1, "refuse", 0), entry(2, "grant", 5)])

    assert refused is not None
    assert refused.status == REFUSED
    assert granted is not None
    assert granted.status == GIVEN


def test_grant_after_withdrawal_is_renewed() -> None:
    state = replay([entry(1, "grant", 0), entry(2, "withdraw", 5), entry(3, "grant", 10)])

    assert state is not None
    assert state.status == RENEWED
    assert state.since == at(10)
    assert is_opt_in(state.status)


def test_grant_after_expire_event_is_renewed() -> None:
    history = [
        entry(1, "grant", 0, valid_for=5),
        entry(2, "expire", 5, supersedes="ev1"),
        entry(3, "grant", 10),
    ]

    assert status_of(replay(history[:2])) == EXPIRED
    assert status_of(replay(history)) == RENEWED


def test_grant_after_unrecorded_lapse_is_renewed() -> None:
    """The grant ran out before the next grant although the sweep never wrote an expire event."""
    state = replay([entry(1, "grant", 0, valid_for=5), entry(2, "grant", 6)])

    assert state is not None
    assert state.status == RENEWED


def test_grant_before_lapse_is_not_renewal() -> None:
    state = replay([entry(1, "grant", 0, valid_for=5), entry(2, "grant", 4)])

    assert state is not None
    assert state.status == GIVEN


def test_expire_of_current_grant_expires_since_valid_until() -> None:
    state = replay([entry(1, "grant", 0, valid_for=5), entry(2, "expire", 5, supersedes="ev1")])

    assert state is not None
    assert state.status == EXPIRED
    assert state.since == at(5)
    assert state.basis.event_id == "ev1"
    assert state.event.event_id == "ev2"


def test_no_op_event_after_lapse_records_the_grant_as_expired() -> None:
    """An entry that changes nothing, folded after the grant ran out, leaves the state expired."""
    state = replay(
        [
            entry(1, "grant", 0),
            entry(2, "grant", 1, valid_for=5),
            entry(3, "invalidate", 20, supersedes="ev1"),
        ]
    )

    assert state is not None
    assert state.status == EXPIRED
    assert state.since == at(6)
    assert state.basis.event_id == "ev2"
    assert state.last_key == (at(20), 1, 3)


def test_grant_after_refusal_that_followed_a_lapse_is_a_first_grant() -> None:
    state = replay([entry(1, "grant", 0, valid_for=5), entry(2, "refuse", 20), entry(3, "grant", 30)])

    assert state is not None
    assert state.status == GIVEN


def test_invalidating_the_current_grant_invalidates() -> None:
    state = replay([entry(1, "grant", 0), entry(2, "invalidate", 5, supersedes="ev1")])

    assert state is not None
    assert state.status == INVALIDATED
    assert state.since == at(5)
    assert state.valid_until is None
    assert state.basis.event_id == "ev1"
    assert not is_opt_in(state.status)


def test_invalidating_an_older_grant_does_not_change_the_state() -> None:
    before = replay([entry(1, "grant", 0), entry(2, "grant", 5)])
    after = replay([entry(1, "grant", 0), entry(2, "grant", 5), entry(3, "invalidate", 10, supersedes="ev1")])

    assert before is not None
    assert after is not None
    assert after.status == before.status == GIVEN
    assert after.basis == before.basis
    assert after.since == before.since
    assert after.last_key == (at(10), 1, 3)


def test_invalidate_after_withdrawal_does_not_change_the_state() -> None:
    state = replay([entry(1, "grant", 0), entry(2, "withdraw", 5), entry(3, "invalidate", 10, supersedes="ev1")])

    assert state is not None
    assert state.status == WITHDRAWN


def test_expire_of_an_older_grant_does_not_change_the_state() -> None:
    state = replay(
        [
            entry(1, "grant", 0, valid_for=5),
            entry(2, "grant", 3, valid_for=60),
            entry(3, "expire", 5, supersedes="ev1"),
        ]
    )

    assert state is not None
    assert state.status == GIVEN
    assert state.basis.event_id == "ev2"


# --------------------------------------------------------------------------------------------
# Ordering
# --------------------------------------------------------------------------------------------


def test_same_instant_grant_and_withdrawal_resolve_to_withdrawn_in_either_arrival_order() -> None:
    """REGULATORY A14: the privacy-protective action wins a tie, whatever the server sequence."""
    grant_first = [entry(1, "grant", 0), entry(2, "withdraw", 0)]
    withdraw_first = [entry(1, "withdraw", 0), entry(2, "grant", 0)]

    for history in (grant_first, withdraw_first):
        assert status_of(replay(history)) == WITHDRAWN
        assert status_of(fold_in_arrival_order(history)) == WITHDRAWN


def test_same_instant_grant_and_refusal_resolve_to_refused() -> None:
    assert status_of(replay([entry(1, "refuse", 0), entry(2, "grant", 0)])) == REFUSED


def test_same_instant_grants_are_ordered_by_server_sequence() -> None:
    state = replay([entry(2, "grant", 0), entry(1, "grant", 0)])

    assert state is not None
    assert state.basis.seq == 2


def test_late_offline_event_older_than_current_decision_does_not_overwrite_it() -> None:
    """Given a withdrawal at 13:00, when an offline grant from 12:00 arrives later, it stays withdrawn."""
    withdrawal = entry(1, "withdraw", 60)
    late_grant = entry(2, "grant", 0)
    state = fold(None, withdrawal)

    assert not sorts_after(state, late_grant)
    replayed = fold_in_arrival_order([withdrawal, late_grant])

    assert replayed is not None
    assert replayed.status == WITHDRAWN
    assert replayed.since == at(60)
    assert replayed.last_key == withdrawal.order_key


def test_late_offline_grant_between_events_is_placed_in_time() -> None:
    """A grant that arrives last but happened before a withdrawal and after a refusal."""
    arrivals = [entry(1, "refuse", 0), entry(2, "withdraw", 20), entry(3, "grant", 10)]

    state = fold_in_arrival_order(arrivals)

    assert state == replay(arrivals)
    assert state is not None
    assert state.status == WITHDRAWN


def test_sorts_after_compares_time_then_precedence_then_sequence() -> None:
    state = fold(None, entry(5, "grant", 0))

    assert sorts_after(None, entry(1, "grant", 0))
    assert sorts_after(state, entry(6, "grant", 0))
    assert not sorts_after(state, entry(4, "grant", 0))
    assert sorts_after(state, entry(1, "withdraw", 0))  # same instant, higher precedence
    assert sorts_after(state, entry(1, "grant", 1))
    assert not sorts_after(state, entry(9, "withdraw", -1))


def test_replay_at_an_instant_ignores_later_events() -> None:
    history = [entry(1, "grant", 0), entry(2, "withdraw", 10), entry(3, "grant", 20)]

    assert replay(history, at=at(-1)) is None
    assert status_of(replay(history, at=at(0))) == GIVEN
    assert status_of(replay(history, at=at(15))) == WITHDRAWN
    assert status_of(replay(history, at=at(20))) == RENEWED


# --------------------------------------------------------------------------------------------
# Read overlay
# --------------------------------------------------------------------------------------------


def overlay(
    stored: str,
    *,
    valid_until: datetime | None = None,
    read_at: datetime = T0,
    basis_policy: datetime | None = None,
    material_policy: datetime | None = None,
) -> str:
    return status_at(
        stored_status=stored,
        valid_until=valid_until,
        at=read_at,
        basis_policy_effective_at=basis_policy,
        material_policy_effective_at=material_policy,
    )


def test_grant_read_past_valid_until_is_expired() -> None:
    assert overlay(GIVEN, valid_until=at(5), read_at=at(4)) == GIVEN
    assert overlay(GIVEN, valid_until=at(5), read_at=at(5)) == EXPIRED
    assert overlay(RENEWED, valid_until=at(5), read_at=at(6)) == EXPIRED


def test_grant_under_older_notice_than_material_policy_is_stale() -> None:
    assert overlay(GIVEN, basis_policy=at(-10), material_policy=at(-5)) == STALE
    assert overlay(RENEWED, basis_policy=None, material_policy=at(-5)) == STALE


def test_grant_under_the_material_policy_or_newer_is_not_stale() -> None:
    assert overlay(GIVEN, basis_policy=at(-5), material_policy=at(-5)) == GIVEN
    assert overlay(GIVEN, basis_policy=at(-1), material_policy=at(-5)) == GIVEN
    assert overlay(GIVEN, basis_policy=at(-10), material_policy=None) == GIVEN


def test_expiry_takes_precedence_over_staleness() -> None:
    assert overlay(GIVEN, valid_until=at(-1), basis_policy=at(-10), material_policy=at(-5)) == EXPIRED


def test_overlay_leaves_non_consent_statuses_alone() -> None:
    for stored in (WITHDRAWN, REFUSED, EXPIRED, INVALIDATED, UNKNOWN):
        assert overlay(stored, valid_until=at(-1), basis_policy=at(-10), material_policy=at(-5)) == stored


# --------------------------------------------------------------------------------------------
# Property: incremental folding in any arrival order equals the replay of the sorted history
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    action: str
    minute: int
    valid_for: int | None
    target: int | None  # index of an earlier (in time) grant, for invalidate/expire


@st.composite
def histories(draw: st.DrawFn) -> list[Spec]:
    """Random actions at few distinct minutes (so ties are common); invalidate/expire name a grant
    that occurred at or before them."""
    size = draw(st.integers(min_value=1, max_value=12))
    specs: list[Spec] = []
    for _ in range(size):
        minute = draw(st.integers(min_value=0, max_value=8))
        grants = [i for i, s in enumerate(specs) if s.action == "grant" and s.minute <= minute]
        actions = ["grant", "refuse", "withdraw"] + (["invalidate", "expire"] if grants else [])
        action = draw(st.sampled_from(actions))
        if action == "grant":
            valid_for = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=4)))
            specs.append(Spec(action, minute, valid_for, None))
        elif action in ("invalidate", "expire"):
            specs.append(Spec(action, minute, None, draw(st.sampled_from(grants))))
        else:
            specs.append(Spec(action, minute, None, None))
    return specs


def arrival_order(specs: list[Spec], shuffled: list[int]) -> list[int]:
    """A random arrival order in which a grant always arrives before what supersedes it
    (the service refuses to supersede an event it does not hold)."""
    order: list[int] = []
    pending = list(shuffled)
    while pending:
        for position, index in enumerate(pending):
            target = specs[index].target
            if target is None or target in order:
                order.append(pending.pop(position))
                break
    return order


def entries_for(specs: list[Spec], order: list[int]) -> list[LedgerEntry]:
    """Entries in arrival order; the server sequence is the arrival position; ids name the spec."""
    return [
        LedgerEntry(
            seq=position + 1,
            event_id=f"spec{index}",
            action=specs[index].action,
            occurred_at=at(specs[index].minute),
            valid_until=at(specs[index].minute + specs[index].valid_for)
            if specs[index].valid_for is not None
            else None,
            supersedes=f"spec{specs[index].target}" if specs[index].target is not None else None,
        )
        for position, index in enumerate(order)
    ]


@settings(max_examples=400, deadline=None)
@given(data=st.data())
def test_incremental_fold_in_any_arrival_order_equals_replay_of_sorted_history(data: st.DataObject) -> None:
    specs = data.draw(histories())
    shuffled = data.draw(st.permutations(range(len(specs))))
    arrivals = entries_for(specs, arrival_order(specs, shuffled))

    incremental = fold_in_arrival_order(arrivals)
    expected = replay(sorted(arrivals, key=lambda e: e.order_key))

    assert incremental == expected
    assert expected is not None  # every generated history starts (in time) with a decision


@settings(max_examples=200, deadline=None)
@given(specs=histories())
def test_replay_does_not_depend_on_the_order_entries_are_listed(specs: list[Spec]) -> None:
    arrivals = entries_for(specs, list(range(len(specs))))

    expected = replay(arrivals)
    for permutation in itertools.islice(itertools.permutations(arrivals), 24):
        assert replay(permutation) == expected
