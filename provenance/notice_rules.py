"""Pure rules of consent notices: which change a ledger event tells recipients of, and by when a recipient must
have stopped after an opt-out of sale or sharing (CCPA regs §7026(f): 15 business days). No ORM."""

from __future__ import annotations

import functools
from collections.abc import Container
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays

from consent.enums import Action, CollectionMethod
from core.jurisdiction_rules import jurisdiction_rules
from provenance.enums import OPT_OUT_CHANGES, ChangeType

# The ledger actions recipients are told of (``invalidate`` is a correction: no change to tell).
NOTIFIED_ACTIONS = (Action.GRANT, Action.REFUSE, Action.WITHDRAW, Action.EXPIRE)


def change_for_event(*, action: str, collection_method: str) -> str | None:
    """The change a ledger event tells recipients of; None for ``invalidate`` (a correction, no type)."""
    from_gpc = collection_method == CollectionMethod.GPC_SIGNAL
    if action == Action.GRANT:
        return ChangeType.GRANTED
    if action == Action.WITHDRAW:
        return ChangeType.GPC_OPT_OUT if from_gpc else ChangeType.WITHDRAWN
    if action == Action.REFUSE:
        return ChangeType.GPC_OPT_OUT if from_gpc else ChangeType.REFUSED
    if action == Action.EXPIRE:
        return ChangeType.EXPIRED
    return None


def add_business_days(received: date, count: int, closed: Container[date]) -> date:
    """The ``count``-th business day after ``received`` (the day of receipt is not counted);
    weekends and the days in ``closed`` are skipped."""
    day = received
    counted = 0
    while counted < count:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in closed:
            counted += 1
    return day


@functools.lru_cache(maxsize=16)
def holiday_calendar(name: str) -> Container[date]:
    """REGULATORY.md's calendar names: WEEKENDS_ONLY, US-FED (federal, with observed days), EU-<CC>, <CC>."""
    if name == "WEEKENDS_ONLY":
        return frozenset()
    country = "US" if name == "US-FED" else name.removeprefix("EU-")
    return holidays.country_holidays(country)


def optout_deadline(
    *, jurisdiction: str | None, received_at: datetime, change: str, is_sale_or_sharing: bool
) -> tuple[date | None, str]:
    """When the recipient must have stopped, for an opt-out of sale or sharing where a law sets a
    period, with the rule it comes from; ``(None, "")`` otherwise. The day of receipt, in the
    jurisdiction's time zone, is not counted."""
    if change not in OPT_OUT_CHANGES or not is_sale_or_sharing:
        return None, ""
    rule = jurisdiction_rules().rule_for(jurisdiction)
    received = received_at.astimezone(ZoneInfo(rule.dsar.time_zone)).date()
    if rule.optout_processing_business_days:
        days = rule.optout_processing_business_days
        calendar = rule.dsar.holiday_calendar
        deadline = add_business_days(received, days, holiday_calendar(calendar))
        return deadline, f"{rule.law} ({rule.code}): stop within {days} business days of receipt ({calendar} calendar)"
    if rule.optout_processing_calendar_days:
        days = rule.optout_processing_calendar_days
        return received + timedelta(days=days), f"{rule.law} ({rule.code}): stop within {days} days of receipt"
    return None, ""
