"""Calendar arithmetic shared by consent validity and DSAR deadlines. Pure functions, no ORM."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

MAX_MONTHS = 1200  # 100 years: longer is a typo, and would overflow date arithmetic

# Every date and instant the service accepts lies between these (inclusive). Outside them a date is a
# typo, and arithmetic near year 1 or 9999 (deadlines, periods, validity) would overflow.
EARLIEST_ACCEPTED_DATE = date(1970, 1, 1)
LATEST_ACCEPTED_DATE = date(2200, 12, 31)
ACCEPTED_DATE_RANGE_TEXT = f"between {EARLIEST_ACCEPTED_DATE.isoformat()} and {LATEST_ACCEPTED_DATE.isoformat()}"


def is_accepted_date(value: date | datetime) -> bool:
    """Whether ``value`` (a date, or an instant's calendar date in its own offset) is in the accepted range."""
    day = value.date() if isinstance(value, datetime) else value
    return EARLIEST_ACCEPTED_DATE <= day <= LATEST_ACCEPTED_DATE


_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True)
class CalendarDuration:
    """An ISO 8601 duration split into calendar months and an exact remainder."""

    months: int
    exact: timedelta

    @property
    def is_zero(self) -> bool:
        return self.months == 0 and not self.exact


@lru_cache(maxsize=256)
def parse_iso_duration(text: str) -> CalendarDuration:
    """Parse ``PnYnMnWnDTnHnMnS`` (integers only). Raises ValueError on anything else. (Cached: a purpose's
    validity is parsed for every grant; the result is immutable.)"""
    match = _DURATION.match(text.strip()) if text else None
    if not match:
        raise ValueError(f"'{text}' is not an ISO 8601 duration such as P6M, P1Y or P30D")
    parts = {name: int(value) for name, value in match.groupdict().items() if value}
    if any(len(str(value)) > 9 for value in parts.values()):
        raise ValueError("a validity duration may be at most 100 years")
    duration = CalendarDuration(
        months=parts.get("years", 0) * 12 + parts.get("months", 0),
        exact=timedelta(
            weeks=parts.get("weeks", 0),
            days=parts.get("days", 0),
            hours=parts.get("hours", 0),
            minutes=parts.get("minutes", 0),
            seconds=parts.get("seconds", 0),
        ),
    )
    if duration.is_zero:
        raise ValueError("a validity duration must be longer than zero")
    if duration.months > MAX_MONTHS or duration.exact > timedelta(days=MAX_MONTHS * 31):
        raise ValueError("a validity duration may be at most 100 years")
    return duration


def add_months(d: date, n: int) -> date:
    """Same day number n months later, clamped to the month's last day (Reg. 1182/71 Art. 3(2)(c))."""
    y, m = divmod(d.month - 1 + n, 12)
    y += d.year
    m += 1
    return d.replace(year=y, month=m, day=min(d.day, calendar.monthrange(y, m)[1]))


def add_duration(moment: datetime, duration: CalendarDuration) -> datetime:
    """Add months by calendar (clamping month ends), then the exact part."""
    if duration.months:
        moment = add_months(moment, duration.months)  # type: ignore[assignment]
    return moment + duration.exact
