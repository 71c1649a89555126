"""The clock of a request: dates in the deadline time zone and the identity-verification pauses (GDPR)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from dsar.deadlines.types import ID_RECEIVED, ID_REQUESTED, ClockEvent, DeadlineError


def local_date(value: date, zone: ZoneInfo) -> date:
    """A date as given, or an aware datetime's date in the deadline time zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise DeadlineError("a datetime must be timezone-aware")
        return value.astimezone(zone).date()
    return value


# --- identity-verification pauses (GDPR) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Pause:
    requested: date
    resumed: date | None  # None: the subject has not answered yet


def identity_pauses(events: Sequence[ClockEvent]) -> list[Pause]:
    """Pair each identity request with the next answer; a second request while one is open changes nothing."""
    found: list[Pause] = []
    open_since: date | None = None
    for event in events:
        if event.type == ID_REQUESTED and open_since is None:
            open_since = event.date
        elif event.type == ID_RECEIVED and open_since is not None:
            found.append(Pause(open_since, event.date))
            open_since = None
    if open_since is not None:
        found.append(Pause(open_since, None))
    return found
