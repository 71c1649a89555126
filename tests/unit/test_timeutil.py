"""Calendar arithmetic (core/timeutil.py): ISO 8601 durations and month addition."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.timeutil import CalendarDuration, add_duration, add_months, parse_iso_duration


@pytest.mark.parametrize(
    ("text", "months", "exact"),
    [
        ("P6M", 6, timedelta()),
        ("P1Y", 12, timedelta()),
        ("P1Y6M", 18, timedelta()),
        ("P30D", 0, timedelta(days=30)),
        ("P2W", 0, timedelta(weeks=2)),
        ("PT12H", 0, timedelta(hours=12)),
        ("PT90M", 0, timedelta(minutes=90)),
        ("PT45S", 0, timedelta(seconds=45)),
        ("P1Y2M3W4DT5H6M7S", 14, timedelta(weeks=3, days=4, hours=5, minutes=6, seconds=7)),
        (" P6M ", 6, timedelta()),
    ],
)
def test_valid_durations_split_into_calendar_months_and_exact_time(text: str, months: int, exact: timedelta) -> None:
    assert parse_iso_duration(text) == CalendarDuration(months=months, exact=exact)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "P",
        "PT",
        "P1DT",
        "6M",
        "P-1M",
        "P1.5M",
        "P1M2Y",
        "PT1D",
        "P 6M",
        "six months",
        "P0D",
        "PT0S",
        "P0Y0M",
    ],
)
def test_invalid_or_zero_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_iso_duration(text)


def test_minutes_and_months_are_told_apart_by_the_time_designator() -> None:
    assert parse_iso_duration("P1M").months == 1
    assert parse_iso_duration("PT1M").months == 0
    assert parse_iso_duration("PT1M").exact == timedelta(minutes=1)


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2025, 8, 31), 6, date(2026, 2, 28)),
        (date(2023, 8, 31), 6, date(2024, 2, 29)),
        (date(2025, 12, 31), 2, date(2026, 2, 28)),
        (date(2025, 11, 15), 3, date(2026, 2, 15)),
        (date(2025, 1, 30), 1, date(2025, 2, 28)),
        (date(2025, 1, 28), 1, date(2025, 2, 28)),
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
        (date(2025, 1, 15), -1, date(2024, 12, 15)),
        (date(2025, 5, 17), 0, date(2025, 5, 17)),
    ],
)
def test_add_months_keeps_the_day_or_clamps_to_the_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@given(start=st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)), months=st.integers(-240, 240))
def test_add_months_lands_in_the_target_month_on_the_same_or_last_day(start: date, months: int) -> None:
    result = add_months(start, months)

    year, month_index = divmod(start.year * 12 + start.month - 1 + months, 12)
    assert (result.year, result.month) == (year, month_index + 1)
    assert result.day == min(start.day, calendar.monthrange(result.year, result.month)[1])


def test_add_months_keeps_the_time_and_zone_of_a_datetime() -> None:
    moment = datetime(2025, 8, 31, 10, 30, tzinfo=UTC)

    assert add_months(moment, 6) == datetime(2026, 2, 28, 10, 30, tzinfo=UTC)


def test_add_duration_adds_calendar_months_then_the_exact_part() -> None:
    moment = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)

    assert add_duration(moment, parse_iso_duration("P1M1D")) == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert add_duration(moment, parse_iso_duration("P6M")) == datetime(2025, 7, 31, 9, 0, tzinfo=UTC)
    assert add_duration(moment, parse_iso_duration("PT36H")) == datetime(2025, 2, 1, 21, 0, tzinfo=UTC)
    assert add_duration(datetime(2025, 8, 31, 23, 59, tzinfo=UTC), parse_iso_duration("P6M")) == datetime(
        2026, 2, 28, 23, 59, tzinfo=UTC
    )
