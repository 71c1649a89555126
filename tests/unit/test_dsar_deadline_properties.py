"""Properties of the DSAR deadline engine that must hold for every receipt instant, regime and policy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from dsar.calendars import WEEKENDS_ONLY, HolidayCalendar
from dsar.deadlines import (
    DATE_KEYS,
    ClockEvent,
    DeadlinePolicy,
    DeadlineResult,
    ExtensionNotice,
    compute_deadlines,
)

# (regime, calendar, time zone); None takes the rule table's default.
WHERE = [
    ("gdpr", "EU-DE", "Europe/Berlin"),
    ("gdpr", "EU-IE", "Europe/Dublin"),
    ("gdpr", "EU-FR", "Europe/Paris"),
    ("uk_gdpr", None, None),
    ("ccpa", None, None),
    ("vcdpa", None, None),
    ("ocpa", None, None),
    ("cpa", None, None),
]
REQUEST_TYPES = ["access", "deletion", "correction", "portability", "opt_out_of_sale", "limit_sensitive", "object"]
BUSINESS_DAY_KEYS = ("confirm_legal_due", "optout_legal_due")
SLA_KEYS = ("confirm_sla_due", "optout_sla_due")
ROLLED_GDPR_KEYS = ("initial_due", "extended_due", "alt_extended_due", "extension_notice_due")

instants = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31, 23, 59), timezones=st.just(UTC)
)
extra_holidays = st.frozensets(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)), max_size=5)
policies = st.builds(
    DeadlinePolicy,
    gdpr_extension_mode=st.sampled_from(["chain", "anchored"]),
    gdpr_id_request_grace_days=st.integers(0, 10),
    ccpa_internal_sla_offset=st.integers(-30, 0),
    ccpa_roll_calendar_days=st.booleans(),
    extra_holidays=extra_holidays,
)


def _compute(
    where: tuple[str, str | None, str | None],
    request_type: str,
    received_at: datetime,
    policy: DeadlinePolicy,
    **kwargs: Any,
) -> DeadlineResult:
    regime, calendar, tz = where
    return compute_deadlines(
        regime=regime,
        request_type=request_type,
        received_at=received_at,
        tz=tz,
        calendar=calendar,
        policy=policy,
        **kwargs,
    )


def _dates(result: DeadlineResult) -> dict[str, date]:
    return {key: value for key in DATE_KEYS if (value := getattr(result, key)) is not None}


@st.composite
def pauses(draw: st.DrawFn) -> tuple[int, int]:
    """An identity request ``delay`` days after receipt, answered ``length`` days later."""
    return draw(st.integers(0, 12)), draw(st.integers(0, 60))


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(WHERE),
    request_type=st.sampled_from(REQUEST_TYPES),
    received_at=instants,
    policy=policies,
    pause=st.none() | pauses(),
)
def test_no_due_date_falls_before_the_receipt_date(
    where: tuple[str, str | None, str | None],
    request_type: str,
    received_at: datetime,
    policy: DeadlinePolicy,
    pause: tuple[int, int] | None,
) -> None:
    receipt = _compute(where, request_type, received_at, policy).receipt_date
    events = []
    if pause is not None:
        delay, length = pause
        events = [
            ClockEvent("id_requested", receipt + timedelta(days=delay)),
            ClockEvent("id_received", receipt + timedelta(days=delay + length)),
        ]

    result = _compute(where, request_type, received_at, policy, events=events)

    for key, value in _dates(result).items():
        assert value >= result.receipt_date, key
    assert result.enforced_due > result.receipt_date


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(WHERE),
    request_type=st.sampled_from(REQUEST_TYPES),
    first=instants,
    later_by=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=400)),
    policy=policies,
    extended=st.booleans(),
)
def test_a_later_receipt_never_gives_an_earlier_due_date(
    where: tuple[str, str | None, str | None],
    request_type: str,
    first: datetime,
    later_by: timedelta,
    policy: DeadlinePolicy,
    extended: bool,
) -> None:
    def result_for(received_at: datetime) -> DeadlineResult:
        plain = _compute(where, request_type, received_at, policy)
        if not extended or plain.extension_notice_due is None:
            return plain
        notice = ExtensionNotice(notice_sent_on=plain.receipt_date, reason_code="complexity")
        return _compute(where, request_type, received_at, policy, extension=notice)

    earlier, later = result_for(first), result_for(first + later_by)

    assert later.enforced_due >= earlier.enforced_due
    earlier_dates, later_dates = _dates(earlier), _dates(later)
    for key in earlier_dates.keys() & later_dates.keys():
        assert later_dates[key] >= earlier_dates[key], key


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(WHERE),
    request_type=st.sampled_from(REQUEST_TYPES),
    received_at=instants,
    policy=policies,
    notice_day=st.integers(0, 60),
)
def test_extending_never_shortens(
    where: tuple[str, str | None, str | None],
    request_type: str,
    received_at: datetime,
    policy: DeadlinePolicy,
    notice_day: int,
) -> None:
    plain = _compute(where, request_type, received_at, policy)
    if plain.extension_notice_due is None:  # opt-outs with their own period have no extension
        return
    notice_on = min(plain.receipt_date + timedelta(days=notice_day), plain.extension_notice_due)

    extended = _compute(
        where,
        request_type,
        received_at,
        policy,
        extension=ExtensionNotice(notice_sent_on=notice_on, reason_code="volume"),
    )

    assert extended.enforced_due >= plain.enforced_due
    assert extended.extended_due is not None
    for key in ("initial_due", "response_due"):
        first = getattr(plain, key)
        if first is not None:
            assert extended.extended_due >= first
            if extended.alt_extended_due is not None:
                assert extended.alt_extended_due >= first
    if plain.max_extended_due is not None and plain.response_due is not None:
        assert plain.max_extended_due >= plain.response_due


@settings(max_examples=200, deadline=None)
@given(
    where=st.sampled_from([w for w in WHERE if w[0] in ("gdpr", "uk_gdpr")]),
    received_at=instants,
    policy=policies,
    pause=pauses(),
)
def test_an_identity_pause_never_shortens_the_gdpr_month(
    where: tuple[str, str | None, str | None],
    received_at: datetime,
    policy: DeadlinePolicy,
    pause: tuple[int, int],
) -> None:
    plain = _compute(where, "access", received_at, policy)
    delay, length = pause
    events = [
        ClockEvent("id_requested", plain.receipt_date + timedelta(days=delay)),
        ClockEvent("id_received", plain.receipt_date + timedelta(days=delay + length)),
    ]

    paused = _compute(where, "access", received_at, policy, events=events)

    assert paused.enforced_due >= plain.enforced_due
    assert paused.pause_applied == (delay <= policy.gdpr_id_request_grace_days)
    assert paused.paused_days == (length if paused.pause_applied else 0)


@settings(max_examples=200, deadline=None)
@given(
    regime=st.sampled_from(["ccpa", "vcdpa", "cpa"]),
    request_type=st.sampled_from(REQUEST_TYPES),
    received_at=instants,
    pause=pauses(),
)
def test_us_deadlines_ignore_identity_verification(
    regime: str, request_type: str, received_at: datetime, pause: tuple[int, int]
) -> None:
    plain = compute_deadlines(regime=regime, request_type=request_type, received_at=received_at)
    delay, length = pause
    events = [
        ClockEvent("id_requested", plain.receipt_date + timedelta(days=delay)),
        ClockEvent("id_received", plain.receipt_date + timedelta(days=delay + length)),
    ]

    verified = compute_deadlines(regime=regime, request_type=request_type, received_at=received_at, events=events)

    assert _dates(verified) == _dates(plain)
    assert verified.paused_days == 0
    assert not verified.pause_applied


@settings(max_examples=300, deadline=None)
@given(
    where=st.sampled_from(WHERE),
    request_type=st.sampled_from(REQUEST_TYPES),
    received_at=instants,
    policy=policies,
    extended=st.booleans(),
)
def test_business_day_results_never_fall_on_a_weekend_or_a_holiday_of_their_calendar(
    where: tuple[str, str | None, str | None],
    request_type: str,
    received_at: datetime,
    policy: DeadlinePolicy,
    extended: bool,
) -> None:
    result = _compute(where, request_type, received_at, policy)
    if extended and result.extension_notice_due is not None:
        notice = ExtensionNotice(notice_sent_on=result.receipt_date, reason_code="redaction")
        result = _compute(where, request_type, received_at, policy, extension=notice)
    legal = HolidayCalendar(result.calendar, policy.extra_holidays)
    weekends = HolidayCalendar(WEEKENDS_ONLY)

    is_gdpr = result.regime in ("gdpr", "uk_gdpr")
    business_day_counts = result.regime == "ccpa"  # §7021(a) and §7026 count business days; the others count days
    rolled_keys: tuple[str, ...] = ROLLED_GDPR_KEYS if is_gdpr else BUSINESS_DAY_KEYS if business_day_counts else ()
    if policy.ccpa_roll_calendar_days and not is_gdpr:
        rolled_keys += ("response_due", "max_extended_due", "extended_due", "extension_notice_due")
        if not business_day_counts:
            rolled_keys += ("optout_legal_due",)  # Oregon's 15 calendar days
    for key in rolled_keys:
        value = getattr(result, key)
        assert value is None or legal.is_business_day(value), (key, value)
    for key in SLA_KEYS if business_day_counts else ():
        value = getattr(result, key)
        assert value is None or weekends.is_business_day(value), (key, value)
