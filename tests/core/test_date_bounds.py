"""Security audit item 9 (the shared part): dates outside 1970-2200 are a clear 4xx, never an overflow."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from rest_framework import serializers

from core.api.fields import AwareDateTimeField, BoundedDateField
from core.api.views import parse_instant_param
from core.problems import InvalidInput
from core.timeutil import is_accepted_date


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        (date(1969, 12, 31), False),
        (date(1970, 1, 1), True),
        (date(2200, 12, 31), True),
        (date(2201, 1, 1), False),
        (datetime(1, 1, 1, tzinfo=UTC), False),
        (datetime(9999, 12, 31, tzinfo=UTC), False),
    ],
)
def test_accepted_range(value: date, accepted: bool) -> None:
    assert is_accepted_date(value) is accepted


@pytest.mark.parametrize(
    "raw", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00", "1969-12-31T23:59:59Z"]
)
def test_instants_near_the_ends_of_the_calendar_are_refused(raw: str) -> None:
    with pytest.raises(serializers.ValidationError):
        AwareDateTimeField().run_validation(raw)
    with pytest.raises(InvalidInput):
        parse_instant_param(raw, "since")


@pytest.mark.parametrize("raw", ["0001-01-01", "9999-12-31", "2201-01-01"])
def test_dates_near_the_ends_of_the_calendar_are_refused(raw: str) -> None:
    with pytest.raises(serializers.ValidationError, match="between 1970-01-01 and 2200-12-31"):
        BoundedDateField().run_validation(raw)


def test_dates_in_range_pass() -> None:
    assert BoundedDateField().run_validation("2026-05-01") == date(2026, 5, 1)
    assert parse_instant_param("2026-05-01T12:00:00Z", "since") == datetime(2026, 5, 1, 12, tzinfo=UTC)


class _DrfOnly(AwareDateTimeField):
    """The field with its fast path for the common form turned off: DRF's parsing alone."""

    def to_internal_value(self, value: object) -> datetime:
        return serializers.DateTimeField.to_internal_value(self, value)


@pytest.mark.parametrize(
    "value",
    [
        "2025-01-01T00:00:00Z",
        "2025-01-01T00:00:00.5Z",
        "2025-01-01T00:00:00.123456+02:00",
        "2025-01-01T00:00:00-00:00",
        "2025-01-01T00:00:00+14:59",
        "2025-13-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "2025-01-01T24:00:00Z",
        "2025-01-01T00:00:00+24:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "1969-12-31T23:59:59Z",
        "2201-01-01T00:00:00Z",
    ],
)
def test_the_fast_path_reads_an_instant_as_drf_does(value: str) -> None:
    """Issue #16: the common RFC 3339 form is parsed without DRF's per-call time zone lookups; each value gives the
    same instant in the same zone, or a refusal with the same code, as the field's checks on DRF's own parse."""
    field, reference = AwareDateTimeField(), _DrfOnly()

    def outcome(parse: Callable[[str], datetime]) -> tuple[str, str]:
        try:
            parsed = parse(value)
        except serializers.ValidationError as exc:
            return "refused", exc.detail[0].code
        if not is_accepted_date(parsed):
            return "refused", "out_of_range"
        return parsed.isoformat(), str(parsed.tzinfo)

    assert outcome(field.to_internal_value) == outcome(reference.to_internal_value)
