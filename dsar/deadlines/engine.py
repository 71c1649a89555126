"""The deadline engine: every deadline of a request under its regime (REGULATORY.md §4's reference algorithms)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from core.jurisdiction_rules import RuleTable, jurisdiction_rules
from core.timeutil import ACCEPTED_DATE_RANGE_TEXT, add_months, is_accepted_date
from dsar.calendars import (
    WEEKENDS_ONLY,
    HolidayCalendar,
    business_days_after,
    roll,
)
from dsar.deadlines.clock import Pause, identity_pauses, local_date
from dsar.deadlines.regimes import Regime, regime_spec
from dsar.deadlines.types import (
    DEFAULT_POLICY,
    EVENT_ORDER,
    GDPR_ONLY_REQUEST_TYPES,
    ID_RECEIVED,
    ID_REQUESTED,
    IDENTITY_REMINDER_DAY,
    OPT_OUT_REQUEST_TYPES,
    REQUEST_TYPES,
    RESPONSE_SENT,
    ClockEvent,
    DeadlineError,
    DeadlinePolicy,
    DeadlineResult,
    ExtensionNotAvailable,
    ExtensionNotice,
    ExtensionNoticeLate,
    checked_zone,
)
from dsar.deadlines.zone_resolution import SettingLayer, resolve_zone_and_calendar

# --- the engine --------------------------------------------------------------------------------------------------


def compute_deadlines(
    *,
    regime: str,
    request_type: str,
    received_at: datetime,
    tz: str | None = None,
    calendar: str | None = None,
    events: Iterable[ClockEvent] = (),
    extension: ExtensionNotice | None = None,
    as_of: date | None = None,
    policy: DeadlinePolicy = DEFAULT_POLICY,
    table: RuleTable | None = None,
    settings: Sequence[SettingLayer] = (),
) -> DeadlineResult:
    """Every deadline of one request under one regime, each with its rule, and its status on ``as_of``.

    ``tz`` and ``calendar`` are what the request names; ``settings`` are the places consulted after it, in order
    (the organization's, the jurisdiction's): ``dsar.deadlines.zone_resolution`` says how the pair is completed.

    Raises ExtensionNoticeLate when the extension notice went out too late, DeadlineError for bad input.
    """
    spec = regime_spec(regime, table if table is not None else jurisdiction_rules())
    if request_type not in REQUEST_TYPES:
        raise DeadlineError(f"request_type {request_type!r} is not one of {', '.join(sorted(REQUEST_TYPES))}")
    if not isinstance(received_at, datetime) or received_at.tzinfo is None or received_at.utcoffset() is None:
        raise DeadlineError("received_at must be a timezone-aware datetime")
    events = list(events)  # read twice: checked, then sorted
    _check_accepted_dates(received_at, events, extension, as_of)

    place = resolve_zone_and_calendar(spec, tz=tz, calendar=calendar, layers=settings, policy=policy)
    zone_name, calendar_id = place.time_zone, place.calendar
    zone = checked_zone(zone_name)

    receipt = received_at.astimezone(zone).date()
    utc_date = received_at.astimezone(dt.UTC).date()
    warnings: list[str] = []
    if receipt != utc_date:
        warnings.append(
            f"the receipt date is {receipt.isoformat()} in {zone_name}, not the UTC date {utc_date.isoformat()}"
        )
    as_of_date = local_date(as_of, zone) if as_of is not None else None
    clock = sorted(
        (ClockEvent(event.type, local_date(event.date, zone)) for event in events),
        key=lambda event: (event.date, EVENT_ORDER[event.type]),
    )
    if any(event.date < receipt for event in clock):
        raise DeadlineError("a clock event is dated before the receipt date")
    if as_of_date is not None:
        clock = [event for event in clock if event.date <= as_of_date]  # the state as it stood on as_of
    notice = None
    if extension is not None:
        notice = ExtensionNotice(local_date(extension.notice_sent_on, zone), extension.reason_code)
        if notice.notice_sent_on < receipt:
            raise DeadlineError("the extension notice is dated before the receipt date")

    context = _Context(
        spec=spec,
        request_type=request_type,
        zone_name=zone_name,
        calendar_id=calendar_id,
        tz_source=place.tz_source,
        calendar_source=place.calendar_source,
        receipt=receipt,
        clock=clock,
        notice=notice,
        as_of=as_of_date,
        policy=policy,
        warnings=warnings,
    )
    if spec.response.months:
        return _months_regime(context)
    return _days_regime(context)


def _check_accepted_dates(
    received_at: datetime, events: Iterable[ClockEvent], extension: ExtensionNotice | None, as_of: date | None
) -> None:
    """Every input date lies in the accepted range: arithmetic on a date near year 1 or 9999 (months added,
    days rolled) would overflow, and such a date is a typo anyway."""
    named: list[tuple[str, date]] = [("received_at", received_at)]
    named += [(f"the {event.type} event", event.date) for event in events]
    if extension is not None:
        named.append(("the extension notice", extension.notice_sent_on))
    if as_of is not None:
        named.append(("as_of", as_of))
    for name, value in named:
        if not is_accepted_date(value):
            raise DeadlineError(f"{name} must be {ACCEPTED_DATE_RANGE_TEXT}")


@dataclass
class _Context:
    spec: Regime
    request_type: str
    zone_name: str
    calendar_id: str
    tz_source: str
    calendar_source: str
    receipt: date
    clock: list[ClockEvent]
    notice: ExtensionNotice | None
    as_of: date | None
    policy: DeadlinePolicy
    warnings: list[str]

    def first_response(self) -> date | None:
        return next((event.date for event in self.clock if event.type == RESPONSE_SENT), None)


def _months_regime(c: _Context) -> DeadlineResult:
    """GDPR / UK GDPR: one month by Reg. 1182/71, two further months by extension, identity pauses (A2-A4)."""
    spec, policy, receipt = c.spec, c.policy, c.receipt
    cite = spec.citations
    holidays = HolidayCalendar(c.calendar_id, policy.extra_holidays)
    if spec.key == "gdpr":
        count_rule, computation = "Reg. 1182/71 Art. 3(1), 3(2)(c)", "Reg. 1182/71 Art. 3(2)(c), 3(4)"
    else:  # the ICO counts the same way: the corresponding date, else the month's last day, next working day
        count_rule = "ICO: the corresponding calendar date, else the last day of the month"
        computation = count_rule + "; next working day"
    where = f"calendar {c.calendar_id}" + (" + organisation holidays" if policy.extra_holidays else "")
    rules: dict[str, str] = {
        "receipt_date": f"EDPB Guidelines 01/2022 §159; the date in {c.zone_name}, the controller's Member State "
        "(Reg. 1182/71 Art. 2(1))",
    }
    months = spec.response.months

    # A3: a suspension, counted in calendar days, only for an identity request sent within the grace days.
    pauses = identity_pauses(c.clock)
    grace = policy.gdpr_id_request_grace_days
    paused_days = 0
    applied: list[Pause] = []
    open_pause = pauses[-1] if pauses and pauses[-1].resumed is None else None
    identity_cutoff = add_months(open_pause.requested, 1) if open_pause else None
    for pause in pauses:
        delay = (pause.requested - receipt).days
        if delay > grace:
            c.warnings.append(
                f"the identity request of {pause.requested.isoformat()} went out {delay} days after receipt, "
                f"later than the {grace}-day grace: no suspension (EDPB Guidelines 01/2022 §159: only for an identity "
                "request sent without undue delay)"
            )
            continue
        applied.append(pause)
        if pause.resumed is not None:
            paused_days += (pause.resumed - pause.requested).days
        elif c.as_of is not None:
            assert identity_cutoff is not None
            paused_days += (min(c.as_of, identity_cutoff) - pause.requested).days
            c.warnings.append(
                "the identity request is unanswered: the deadline moves with every day it stays so "
                "(EDPB Guidelines 01/2022 §159)"
            )
        else:
            c.warnings.append(
                "the identity request is unanswered and no as_of date was given: no days counted "
                "(EDPB Guidelines 01/2022 §159)"
            )
    # A3, A4 of the ambiguity register: the grace, and the paused days added after the month count, before the roll.
    pause_rule = (
        f"{cite.pause}: for an identity request sent within {grace} days of receipt; the paused days are added "
        "after the month is counted, before a weekend or holiday moves the date"
    )
    rules["paused_days"] = rules["pause_applied"] = pause_rule

    # A4: month arithmetic first, then the paused days, then the roll.
    base = add_months(receipt, months)
    unrolled = base + timedelta(days=paused_days)
    initial_due = roll(unrolled, holidays)
    paused_note = f" + {paused_days} paused days" if paused_days else ""
    rules["initial_due_unrolled"] = f"{cite.response}; {count_rule}{paused_note}"
    rules["initial_due"] = f"{cite.response}; {computation}{paused_note}; {where}"

    notice_within = spec.notice_within or spec.response
    extension_notice_due = roll(add_months(receipt, notice_within.months) + timedelta(days=paused_days), holidays)
    rules["extension_notice_due"] = f"{cite.notice}; {computation}{paused_note}"

    result: dict[str, Any] = {
        "initial_due_unrolled": unrolled,
        "initial_due": initial_due,
        "extension_notice_due": extension_notice_due,
        "paused_days": paused_days,
        "pause_applied": bool(applied),
    }
    enforced_key = "initial_due"

    if applied and open_pause is None:
        # A3 alternatives, reported only: the UK-style inclusive count and a restart from the answer.
        inclusive = unrolled + timedelta(days=len(applied))
        result["alt_due_inclusive_pause"] = roll(inclusive, holidays)
        rules["alt_due_inclusive_pause"] = "another reading: both ends of each pause excluded (DPA 2018 s.54 style)"
        restart_from = max(pause.resumed for pause in applied if pause.resumed is not None)
        result["alt_due_restart"] = roll(add_months(restart_from, months), holidays)
        rules["alt_due_restart"] = "another reading: the month restarts on the day the identity answer arrived"
    if open_pause is not None and identity_cutoff is not None:
        result["identity_reminder_due"] = open_pause.requested + timedelta(days=IDENTITY_REMINDER_DAY)
        rules["identity_reminder_due"] = "EDPB Guidelines 01/2022 §159 (suspension): a reminder on day 14 of the pause"
        result["identity_cutoff"] = identity_cutoff
        rules["identity_cutoff"] = (
            "EDPB Guidelines 01/2022 §159 (suspension): no answer within a month of the identity request -> "
            "Art. 12(4) notice"
        )

    if c.notice is not None:
        if spec.extension is None:
            raise ExtensionNotAvailable(f"regime {spec.key!r} has no extension")
        if c.notice.notice_sent_on > extension_notice_due:
            raise ExtensionNoticeLate(extension_notice_due)
        extra = spec.extension.months
        # A2: chain (two months from the end of the first, unrolled) or anchored (three months from receipt).
        chain = roll(add_months(base, extra) + timedelta(days=paused_days), holidays)
        anchored = roll(add_months(receipt, months + extra) + timedelta(days=paused_days), holidays)
        chain_rule = (
            f"{cite.extension}; chained: {extra} further months from the end of the first "
            f"(add_months(add_months(receipt, {months}), {extra})){paused_note}; "
            f"{computation}"
        )
        anchored_rule = (
            f"{cite.extension}; anchored: {months + extra} months from receipt (add_months(receipt, {months + extra}))"
            f"{paused_note}; {computation}"
        )
        if policy.gdpr_extension_mode == "chain":
            result.update(extended_due=chain, alt_extended_due=anchored)
            rules.update(extended_due=chain_rule, alt_extended_due=anchored_rule)
        else:
            result.update(extended_due=anchored, alt_extended_due=chain)
            rules.update(extended_due=anchored_rule, alt_extended_due=chain_rule)
        rules["extended_due"] += f" (reason: {c.notice.reason_code})"
        enforced_key = "extended_due"

    due: date = result[enforced_key]
    status, status_rule = _status(c, due, enforced_key)
    if status is None and c.as_of is not None:
        if open_pause is not None and identity_cutoff is not None and c.as_of > identity_cutoff:
            status, status_rule = "closed_unable_to_identify", rules["identity_cutoff"] + "; GDPR Art. 12(2), 12(4)"
        elif c.as_of > due:
            status, status_rule = "overdue", f"no response by {enforced_key}"
        else:
            status, status_rule = "open", f"on or before {enforced_key}"
    return _result(c, result, rules, enforced_key, status, status_rule)


def _days_regime(c: _Context) -> DeadlineResult:
    """US laws (CCPA and the state laws of the rule table), FADP: calendar days, not paused; CCPA business days."""
    spec, policy, receipt = c.spec, c.policy, c.receipt
    cite = spec.citations
    legal = HolidayCalendar(c.calendar_id, policy.extra_holidays)
    weekends = HolidayCalendar(WEEKENDS_ONLY)
    offset = policy.ccpa_internal_sla_offset
    rolled = policy.ccpa_roll_calendar_days
    where = f"{c.calendar_id}" + (" + organisation holidays" if policy.extra_holidays else "")
    count_rule = (
        f"receipt day excluded (Cal. Gov. Code §6800); rolled past weekends and {where} holidays "
        "(Cal. Gov. Code §6800, CCP §12, by the organization's choice)"
        if rolled
        else "receipt day excluded (Cal. Gov. Code §6800); not rolled past a weekend or holiday (no rule moves it)"
    )

    def calendar_days(days: int) -> date:
        end = receipt + timedelta(days=days)
        return roll(end, legal) if rolled else end

    def sla_days(days: int) -> date:
        # A5: the internal SLA ends ``offset`` days before the legal date, never before the receipt date.
        return receipt + timedelta(days=max(days + offset, 0))

    rules: dict[str, str] = {
        "receipt_date": f"the date in {c.zone_name}, the business's deadline time zone",
        "paused_days": cite.pause or f"{cite.response}: identity verification does not stop the clock",
    }
    rules["pause_applied"] = rules["paused_days"]
    if any(event.type in (ID_REQUESTED, ID_RECEIVED) for event in c.clock):
        c.warnings.append(f"{spec.law}: identity verification does not pause the deadline")
    result: dict[str, Any] = {}
    is_opt_out = c.request_type in OPT_OUT_REQUEST_TYPES
    has_optout_period = spec.optout_business_days is not None or spec.optout_calendar_days is not None

    if is_opt_out and has_optout_period:
        # CCPA §7026 / §7027: act on the opt-out within 15 business days; no confirmation, no extension (A7).
        optout_cite = cite.limit if c.request_type == "limit_sensitive" and cite.limit else cite.optout
        optout_cite = optout_cite or f"{cite.response} (opt-out)"
        if spec.optout_business_days is not None:
            count = spec.optout_business_days
            result["optout_legal_due"] = business_days_after(receipt, count, legal)
            result["optout_sla_due"] = business_days_after(receipt, count, weekends)
            rules["optout_legal_due"] = f"{optout_cite}; business days skip weekends and {where} holidays"
            rules["optout_sla_due"] = f"{optout_cite}; internal target: business days skip weekends only"
        else:
            assert spec.optout_calendar_days is not None
            count = spec.optout_calendar_days
            result["optout_legal_due"] = calendar_days(count)
            result["optout_sla_due"] = sla_days(count)
            rules["optout_legal_due"] = f"{optout_cite}: {count} calendar days; {count_rule}"
            rules["optout_sla_due"] = f"{optout_cite}; internal target {-offset} day(s) before the legal date"
        if c.notice is not None:
            raise ExtensionNotAvailable(f"{spec.law} gives no extension for {c.request_type} requests")
        enforced_key = "optout_legal_due"
    else:
        if c.request_type in GDPR_ONLY_REQUEST_TYPES:
            c.warnings.append(f"{spec.law} names no {c.request_type} right: its general response period applies")
        days = spec.response.days
        result["response_due"] = calendar_days(days)
        rules["response_due"] = f"{cite.response}: {days} calendar days; {count_rule}"
        result["response_sla_due"] = sla_days(days)
        rules["response_sla_due"] = f"{cite.response}; internal target {-offset} day(s) before the legal date"
        if spec.notice_within is not None:
            result["extension_notice_due"] = calendar_days(spec.notice_within.days)
            rules["extension_notice_due"] = f"{cite.notice}; {count_rule}"
        if spec.extension is not None:
            total = days + spec.extension.days
            result["max_extended_due"] = calendar_days(total)
            rules["max_extended_due"] = f"{cite.extension}: at most {total} days with notice; {count_rule}"
        if spec.confirm_business_days is not None and not is_opt_out:
            count = spec.confirm_business_days
            result["confirm_legal_due"] = business_days_after(receipt, count, legal)
            result["confirm_sla_due"] = business_days_after(receipt, count, weekends)
            rules["confirm_legal_due"] = f"{cite.confirm}; business days skip weekends and {where} holidays"
            rules["confirm_sla_due"] = f"{cite.confirm}; internal target: business days skip weekends only"
        enforced_key = "response_due"
        if c.notice is not None:
            if spec.extension is None:
                raise ExtensionNotAvailable(f"{spec.law} has no fixed extension period")
            notice_due: date = result["extension_notice_due"]
            if c.notice.notice_sent_on > notice_due:
                raise ExtensionNoticeLate(notice_due)
            result["extended_due"] = result["max_extended_due"]
            rules["extended_due"] = f"{rules['max_extended_due']} (reason: {c.notice.reason_code})"
            enforced_key = "extended_due"

    due: date = result[enforced_key]
    status, status_rule = _status(c, due, enforced_key)
    if status is None and c.as_of is not None:
        pauses = identity_pauses(c.clock)
        unverified = bool(pauses) and pauses[-1].resumed is None
        day_45: date | None = result.get("response_due")
        if spec.key == "ccpa" and not is_opt_out and unverified and day_45 is not None and c.as_of >= day_45:
            status, status_rule = "deniable_unverified", cite.verification
        elif c.as_of > due:
            status, status_rule = "overdue", f"no response by {enforced_key}"
        else:
            status, status_rule = "open", f"on or before {enforced_key}"
    return _result(c, result, rules, enforced_key, status, status_rule)


def _status(c: _Context, due: date, enforced_key: str) -> tuple[str | None, str]:
    """``met`` / ``answered_late`` once a response went out (on or before ``as_of``); None while none has."""
    sent = c.first_response()
    if sent is None:
        return None, ""
    if sent <= due:
        return "met", f"response sent {sent.isoformat()}, on or before {enforced_key}"
    return "answered_late", f"response sent {sent.isoformat()}, after {enforced_key}"


def _result(
    c: _Context,
    values: dict[str, Any],
    rules: dict[str, str],
    enforced_key: str,
    status: str | None,
    status_rule: str,
) -> DeadlineResult:
    rules["enforced_due"] = f"{enforced_key}: {rules[enforced_key]}"
    if status is not None:
        rules["status"] = status_rule
    return DeadlineResult(
        regime=c.spec.key,
        request_type=c.request_type,
        time_zone=c.zone_name,
        tz_source=c.tz_source,
        calendar=c.calendar_id,
        calendar_source=c.calendar_source,
        receipt_date=c.receipt,
        enforced_key=enforced_key,
        status=status,
        warnings=tuple(c.warnings),
        rules=rules,
        **values,
    )


def earliest_enforced(results: Sequence[DeadlineResult]) -> tuple[date, str]:
    """A request under several regimes: the earliest enforced date and the rule it comes from (ties: first given)."""
    if not results:
        raise DeadlineError("no deadlines to compare")
    earliest = min(results, key=lambda result: result.enforced_due)
    return earliest.enforced_due, f"{earliest.regime}.{earliest.enforced_key}: {earliest.enforced_rule}"
