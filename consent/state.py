"""Consent state derivation: a pure fold over ledger entries. No ORM.

Order: ``(occurred_at, rank, seq)``. At the same instant the privacy-protective action is applied
last, so it wins (a grant and a withdrawal at the same instant resolve to the withdrawal);
then the server sequence decides. Because the fold only ever looks at the previous state and the
next entry, the stored projection can be advanced one event at a time when an event sorts after
everything folded so far, and must be replayed from the history otherwise (a late offline event).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from consent.enums import (
    OPT_IN_STATUSES,
    OPT_OUT_STATUSES,
    Action,
    ConsentStatus,
)

# The statuses by their short names, as the rules below (and provenance and the unit tests) read them.
GIVEN, RENEWED, REFUSED, WITHDRAWN = (
    ConsentStatus.GIVEN,
    ConsentStatus.RENEWED,
    ConsentStatus.REFUSED,
    ConsentStatus.WITHDRAWN,
)
EXPIRED, INVALIDATED, STALE, UNKNOWN = (
    ConsentStatus.EXPIRED,
    ConsentStatus.INVALIDATED,
    ConsentStatus.STALE,
    ConsentStatus.UNKNOWN,
)

# rank 0 sorts first at the same instant; privacy-protective actions (rank 1) are applied after, and win.
ACTION_RANK: dict[str, int] = {
    Action.GRANT: 0,
    Action.REFUSE: 1,
    Action.WITHDRAW: 1,
    Action.EXPIRE: 1,
    Action.INVALIDATE: 1,
}

OrderKey = tuple[datetime, int, int]


@dataclass(frozen=True)
class LedgerEntry:
    """What derivation needs of a ConsentEvent."""

    seq: int
    event_id: str
    action: str
    occurred_at: datetime
    valid_until: datetime | None = None
    supersedes: str | None = None
    is_gpc: bool = False  # an opt-out recorded from a Global Privacy Control signal
    lifts_gpc: bool = False  # a grant that overrides an earlier GPC opt-out (decided when recorded)

    @property
    def order_key(self) -> OrderKey:
        return (self.occurred_at, ACTION_RANK[self.action], self.seq)


@dataclass(frozen=True)
class FoldedState:
    """The projection after folding entries: ``basis`` is the grant/refuse/withdraw the status rests on.

    ``gpc_conflict``: the state rests on a GPC opt-out that overrode an opt-in in force."""

    status: str
    since: datetime
    valid_until: datetime | None
    event: LedgerEntry
    basis: LedgerEntry
    last_key: OrderKey
    gpc_conflict: bool = False

    @property
    def gpc_opt_out(self) -> bool:
        """The state rests on an opt-out recorded from a GPC signal."""
        return self.basis.is_gpc and self.status in OPT_OUT_STATUSES

    @property
    def gpc_lifted(self) -> bool:
        """The state rests on a grant the person confirmed over a GPC signal."""
        return self.basis.lifts_gpc and self.status in OPT_IN_STATUSES


def _lapsed(state: FoldedState, at: datetime) -> bool:
    return state.status in OPT_IN_STATUSES and state.valid_until is not None and state.valid_until <= at


def fold(state: FoldedState | None, entry: LedgerEntry) -> FoldedState | None:
    """Apply one entry that sorts after everything already in ``state``."""
    key = entry.order_key
    if state is not None and _lapsed(state, entry.occurred_at):
        # The grant ran out before this entry, whether or not the expiry sweep has written it yet.
        assert state.valid_until is not None
        state = replace(state, status=EXPIRED, since=state.valid_until)
    action = entry.action
    if action == Action.GRANT:
        if state is not None and state.gpc_opt_out and not entry.lifts_gpc:
            # A GPC opt-out stands until the person confirms an opt-in over it where the law allows
            # (CCPA regs §7025(c)(3); CO Rule 5.09); other grants are recorded but change nothing.
            return replace(state, last_key=key)
        previous = state.status if state else None
        status = RENEWED if previous in (WITHDRAWN, EXPIRED, RENEWED) else GIVEN
        return FoldedState(status, entry.occurred_at, entry.valid_until, entry, entry, key)
    if action in (Action.REFUSE, Action.WITHDRAW):
        status = REFUSED if action == Action.REFUSE else WITHDRAWN
        conflict = False
        if entry.is_gpc and state is not None:
            # The signal prevails over an earlier opt-in, and the conflict is kept so the client may
            # offer a non-interstitial way to consent again (CCPA regs §7025(c)(3)).
            conflict = state.gpc_conflict if state.gpc_opt_out else state.status in OPT_IN_STATUSES
        return FoldedState(status, entry.occurred_at, None, entry, entry, key, gpc_conflict=conflict)
    if state is None:
        return None  # expire/invalidate with nothing to act on (cannot happen through the service)
    targets_basis = entry.supersedes == state.basis.event_id and state.basis.action == Action.GRANT
    if action == Action.EXPIRE and targets_basis and state.status in (*OPT_IN_STATUSES, EXPIRED):
        since = state.valid_until or entry.occurred_at
        return FoldedState(EXPIRED, since, state.valid_until, entry, state.basis, key, state.gpc_conflict)
    if action == Action.INVALIDATE and targets_basis and state.status in (*OPT_IN_STATUSES, EXPIRED):
        return FoldedState(INVALIDATED, entry.occurred_at, None, entry, state.basis, key, state.gpc_conflict)
    return replace(state, last_key=key)


def replay(entries: Iterable[LedgerEntry], *, at: datetime | None = None) -> FoldedState | None:
    """The state after every entry (that occurred at or before ``at``), in ledger order."""
    state: FoldedState | None = None
    for entry in sorted(entries, key=lambda e: e.order_key):
        if at is not None and entry.occurred_at > at:
            break
        state = fold(state, entry)
    return state


def sorts_after(state: FoldedState | None, entry: LedgerEntry) -> bool:
    return state is None or entry.order_key > state.last_key


def status_at(
    *,
    stored_status: str,
    valid_until: datetime | None,
    at: datetime,
    basis_policy_effective_at: datetime | None,
    material_policy_effective_at: datetime | None,
) -> str:
    """Overlay time on a folded status: a grant past ``valid_until`` is expired; a grant under a notice
    older than the purpose's current material version is stale."""
    if stored_status not in OPT_IN_STATUSES:
        return stored_status
    if valid_until is not None and valid_until <= at:
        return EXPIRED
    if material_policy_effective_at is not None and (
        basis_policy_effective_at is None or basis_policy_effective_at < material_policy_effective_at
    ):
        return STALE
    return stored_status


def is_opt_in(status: str) -> bool:
    return status in OPT_IN_STATUSES
