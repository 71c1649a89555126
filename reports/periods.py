"""The report period from query parameters, shared by the API, the pages and the downloads."""

from __future__ import annotations

from datetime import date, timedelta

from core.problems import InvalidInput
from core.timeutil import ACCEPTED_DATE_RANGE_TEXT, is_accepted_date
from reports.selectors import Period

DEFAULT_PERIOD_DAYS = 90
MAX_PERIOD_DAYS = 731  # two years, one of them a leap year


def _parse_date(value: str | None, name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"'{name}' must be an ISO 8601 date.",
            errors=[{"pointer": f"?{name}", "detail": "expected e.g. 2026-05-01"}],
        ) from None
    if not is_accepted_date(parsed):
        # Near year 1 or 9999 the period's arithmetic (a day before, a day after) would overflow.
        raise InvalidInput(
            f"'{name}' must be {ACCEPTED_DATE_RANGE_TEXT}.",
            errors=[{"pointer": f"?{name}", "detail": f"must be {ACCEPTED_DATE_RANGE_TEXT}"}],
        )
    return parsed


def report_period(raw_from: str | None, raw_to: str | None, *, today: date) -> Period:
    """The requested period of whole UTC days; by default the last 90 days up to today."""
    end = _parse_date(raw_to, "to") or today
    start = _parse_date(raw_from, "from") or end - timedelta(days=DEFAULT_PERIOD_DAYS)
    if end < start:
        raise InvalidInput("'to' lies before 'from'.", errors=[{"pointer": "?to", "detail": "must be >= from"}])
    if (end - start).days > MAX_PERIOD_DAYS:
        raise InvalidInput(
            "The period is longer than two years.", errors=[{"pointer": "?from", "detail": "at most two years"}]
        )
    return Period(start=start, end=end)
