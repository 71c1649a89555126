"""Holiday calendars for DSAR deadlines, as sets of dates from the ``holidays`` package.

Calendar ids (REGULATORY.md §0): ``WEEKENDS_ONLY``; ``US-FED`` (5 U.S.C. 6103 with the observed-day shift);
``EU-<CC>`` for an EU Member State's national public holidays (``EU-DE`` nationwide only, no Land holidays);
``<CC>`` for any other country the package knows, and ``<CC>-<SUBDIVISION>`` for a region (``GB-ENG``,
``DE-BY``) when an organisation needs one. Pure: no ORM, no Django settings. Years are cached.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import holidays

from core.jurisdiction_rules import EU_MEMBER_STATES

WEEKENDS_ONLY = "WEEKENDS_ONLY"
US_FEDERAL = "US-FED"

_EU = re.compile(r"^EU-(?P<country>[A-Z]{2})$")
_COUNTRY = re.compile(r"^(?P<country>[A-Z]{2})(?:-(?P<subdivision>[A-Za-z0-9]+))?$")


class UnknownCalendar(ValueError):
    """The calendar id is not one the deadline engine can resolve."""


@dataclass(frozen=True)
class _Source:
    """What to ask the ``holidays`` package for: a country and, optionally, one of its subdivisions."""

    country: str | None
    subdivision: str | None = None


def _supported() -> dict[str, list[str]]:
    return holidays.list_supported_countries()


@functools.cache
def _source(calendar_id: str) -> _Source:
    if calendar_id == WEEKENDS_ONLY:
        return _Source(country=None)
    if calendar_id == US_FEDERAL:
        # The package's US public holidays are the 11 of 5 U.S.C. 6103(a) with the Saturday -> Friday and
        # Sunday -> Monday shift; closures by executive order sit in its "government" category, left out here.
        return _Source(country="US")
    supported = _supported()
    eu = _EU.match(calendar_id)
    if eu:
        country = eu["country"]
        if country not in EU_MEMBER_STATES or country not in supported:
            raise UnknownCalendar(f"{calendar_id!r}: {country} is not an EU Member State with a holiday calendar")
        # No subdivision: nationwide holidays only (EU-DE leaves out the Land holidays).
        return _Source(country=country)
    match = _COUNTRY.match(calendar_id)
    if not match or match["country"] not in supported:
        raise UnknownCalendar(
            f"{calendar_id!r} is not a calendar id (WEEKENDS_ONLY, US-FED, EU-<CC>, <CC> or <CC>-<SUBDIVISION>)"
        )
    country, subdivision = match["country"], match["subdivision"]
    if subdivision is None:
        return _Source(country=country)
    by_upper = {code.upper(): code for code in supported[country]}
    if subdivision.upper() not in by_upper:
        raise UnknownCalendar(f"{calendar_id!r}: {subdivision} is not a subdivision of {country} the calendar knows")
    return _Source(country=country, subdivision=by_upper[subdivision.upper()])


def calendar_place(calendar_id: str) -> tuple[str | None, str | None]:
    """The country and subdivision (in the package's spelling) whose holidays a canonical calendar id names;
    (None, None) for WEEKENDS_ONLY. Raises UnknownCalendar."""
    source = _source(calendar_id)
    return source.country, source.subdivision


def normalize_calendar_id(calendar_id: str) -> str:
    """Validate a calendar id and return it in canonical form. Raises UnknownCalendar."""
    if not isinstance(calendar_id, str):
        raise UnknownCalendar(f"{calendar_id!r} is not a calendar id")
    canonical = calendar_id.strip().upper()
    _source(canonical)
    return canonical


@functools.lru_cache(maxsize=4096)
def holidays_in_year(calendar_id: str, year: int) -> frozenset[date]:
    """The public holidays of one calendar in one year (observed days included where the package has them)."""
    source = _source(normalize_calendar_id(calendar_id))
    if source.country is None:
        return frozenset()
    # Default categories: public holidays only (no bank, school, half-day or government-closure days).
    table = holidays.country_holidays(source.country, subdiv=source.subdivision, years=year)
    return frozenset(day for day in table if day.year == year)


@dataclass(frozen=True)
class HolidayCalendar:
    """A calendar id plus an organisation's extra closed days; ``day in calendar`` asks whether it is a holiday."""

    calendar_id: str
    extra_holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        object.__setattr__(self, "calendar_id", normalize_calendar_id(self.calendar_id))
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))

    def __contains__(self, day: object) -> bool:
        if not isinstance(day, date):
            return False
        return day in self.extra_holidays or day in holidays_in_year(self.calendar_id, day.year)

    def is_business_day(self, day: date) -> bool:
        """A weekday that is no holiday of this calendar."""
        return day.weekday() < 5 and day not in self

    def holidays_between(self, start: date, end: date) -> list[date]:
        """The holidays (calendar and extra) from ``start`` to ``end`` inclusive, in order."""
        years: Iterable[int] = range(start.year, end.year + 1)
        found = {day for year in years for day in holidays_in_year(self.calendar_id, year)} | self.extra_holidays
        return sorted(day for day in found if start <= day <= end)


def holiday_calendar(calendar_id: str, extra_holidays: Iterable[date] = ()) -> HolidayCalendar:
    return HolidayCalendar(calendar_id, frozenset(extra_holidays))


def roll(day: date, calendar: HolidayCalendar) -> date:
    """Reg. 1182/71 Art. 3(4); EDPB 01/2022 §161: a last day on a weekend or a holiday moves to the next working day."""
    while not calendar.is_business_day(day):
        day += timedelta(days=1)
    return day


def business_days_after(day: date, count: int, calendar: HolidayCalendar) -> date:
    """The ``count``-th business day after ``day``; ``day`` itself is not counted (REGULATORY.md §0 bdays_after)."""
    if count < 0:
        raise ValueError("count must not be negative")
    counted = 0
    while counted < count:
        day += timedelta(days=1)
        if calendar.is_business_day(day):
            counted += 1
    return day
