"""DSAR deadline engine: every deadline of a request under one regime, each with the rule it came from.

Implements REGULATORY.md §1(a)-(c), the ambiguity register's defaults (A1-A8) as ``DeadlinePolicy`` switches
and the reference algorithms of §4. Pure functions: no ORM, no Django settings; the jurisdiction rule table
(periods, default calendar and time zone per regime) is packaged data and may be passed in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.jurisdiction_rules import NO_DSAR_REGIME, JurisdictionRule, Period, RuleTable, jurisdiction_rules
from core.timeutil import add_months
from dsar.calendars import (
    WEEKENDS_ONLY,
    HolidayCalendar,
    UnknownCalendar,
    business_days_after,
    normalize_calendar_id,
    roll,
)

REQUEST_TYPES: Final = frozenset(
    {"access", "portability", "deletion", "correction", "opt_out_of_sale", "limit_sensitive", "restrict", "object"}
)
# Requests that stop processing rather than ask for an answer: CCPA §7026 / §7027, no verification, no extension.
OPT_OUT_REQUEST_TYPES: Final = frozenset({"opt_out_of_sale", "limit_sensitive"})
# GDPR-only rights (Art. 18, Art. 21); under a US law they get that law's general response period.
GDPR_ONLY_REQUEST_TYPES: Final = frozenset({"restrict", "object"})

ID_REQUESTED: Final = "id_requested"
ID_RECEIVED: Final = "id_received"
RESPONSE_SENT: Final = "response_sent"
EVENT_TYPES: Final = (ID_REQUESTED, ID_RECEIVED, RESPONSE_SENT)
_EVENT_ORDER = {name: index for index, name in enumerate(EVENT_TYPES)}

# REGULATORY.md §2.6: one extension per request, with a structured reason code.
EXTENSION_REASON_CODES: Final = frozenset({"complexity", "volume", "redaction"})

STATUSES: Final = ("open", "overdue", "deniable_unverified", "closed_unable_to_identify", "met", "answered_late")

GDPR_FAMILY: Final = frozenset({"gdpr", "uk_gdpr"})
IDENTITY_REMINDER_DAY: Final = 14  # A3: remind the subject on day 14 of the pause

DATE_KEYS: Final = (
    "receipt_date",
    # GDPR / UK GDPR
    "initial_due_unrolled",
    "initial_due",
    "extension_notice_due",
    "extended_due",
    "alt_extended_due",
    "alt_due_inclusive_pause",
    "alt_due_restart",
    "identity_reminder_due",
    "identity_cutoff",
    # US laws (and other day-counted regimes)
    "response_due",
    "response_sla_due",
    "max_extended_due",
    "confirm_legal_due",
    "confirm_sla_due",
    "optout_legal_due",
    "optout_sla_due",
)

ExtensionMode = Literal["chain", "anchored"]


# --- errors ----------------------------------------------------------------------------------------------------


class DeadlineError(ValueError):
    """The request cannot be computed as given (unknown regime, bad input); nothing was decided."""


class UnknownRegime(DeadlineError):
    pass


class ExtensionNotAvailable(DeadlineError):
    """The regime or request type has no extension (CCPA opt-outs, FADP)."""


class ExtensionNoticeLate(DeadlineError):
    """The extension notice went out after the date the law allows (GDPR Art. 12(3); Civ. Code §1798.130)."""

    code = "EXTENSION_NOTICE_LATE"

    def __init__(self, due: date) -> None:
        self.due = due
        super().__init__(f"the extension notice had to be sent by {due.isoformat()}")


# --- inputs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlinePolicy:
    """An organisation's choices for the ambiguity register (REGULATORY.md §3); the defaults are the recommended ones.

    Calendar and time zone: an argument of ``compute_deadlines`` wins, then these, then the rule table's value
    for the regime when all its jurisdictions agree (the GDPR has one per Member State, so it needs one, A1).
    """

    gdpr_extension_mode: ExtensionMode = "chain"  # A2
    gdpr_id_request_grace_days: int = 5  # A3
    ccpa_internal_sla_offset: int = -1  # A5 (every day-counted regime)
    ccpa_roll_calendar_days: bool = False  # A6 (every day-counted regime)
    extra_holidays: frozenset[date] = field(default_factory=frozenset)  # A7 (and regional days for the GDPR roll)
    gdpr_calendar: str | None = None  # A1: the controller's Member State, e.g. "EU-DE"
    gdpr_time_zone: str | None = None  # A1, A8: e.g. "Europe/Berlin"
    us_time_zone: str | None = None  # §0: the business's configured time zone for US laws

    def __post_init__(self) -> None:
        if self.gdpr_extension_mode not in ("chain", "anchored"):
            raise DeadlineError("gdpr_extension_mode must be 'chain' or 'anchored'")
        if not 0 <= self.gdpr_id_request_grace_days <= 31:
            raise DeadlineError("gdpr_id_request_grace_days must be between 0 and 31")
        if not -30 <= self.ccpa_internal_sla_offset <= 0:
            raise DeadlineError("ccpa_internal_sla_offset must be between -30 and 0 (an SLA never ends after the law)")
        object.__setattr__(self, "extra_holidays", frozenset(self.extra_holidays))
        if not all(isinstance(day, date) and not isinstance(day, datetime) for day in self.extra_holidays):
            raise DeadlineError("extra_holidays must hold dates")
        if self.gdpr_calendar is not None:
            object.__setattr__(self, "gdpr_calendar", _calendar_id(self.gdpr_calendar))
        for zone in (self.gdpr_time_zone, self.us_time_zone):
            if zone is not None:
                _zone(zone)


DEFAULT_POLICY: Final = DeadlinePolicy()


@dataclass(frozen=True)
class ClockEvent:
    """Something that moves or stops the clock, on a date in the deadline time zone (an aware datetime is converted)."""

    type: str
    date: dt.date

    def __post_init__(self) -> None:
        if self.type not in _EVENT_ORDER:
            raise DeadlineError(f"event type {self.type!r} is not one of {', '.join(EVENT_TYPES)}")
        if not isinstance(self.date, date):
            raise DeadlineError("an event needs a date")


@dataclass(frozen=True)
class ExtensionNotice:
    notice_sent_on: date
    reason_code: str

    def __post_init__(self) -> None:
        if self.reason_code not in EXTENSION_REASON_CODES:
            raise DeadlineError(f"reason_code must be one of {', '.join(sorted(EXTENSION_REASON_CODES))}")
        if not isinstance(self.notice_sent_on, date):
            raise DeadlineError("notice_sent_on must be a date")


# --- output ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineResult:
    """Every deadline of one request under one regime. ``rules`` maps each output key to its rule or citation."""

    regime: str
    request_type: str
    time_zone: str
    calendar: str
    receipt_date: date
    enforced_key: str
    initial_due_unrolled: date | None = None
    initial_due: date | None = None
    extension_notice_due: date | None = None
    extended_due: date | None = None
    alt_extended_due: date | None = None
    alt_due_inclusive_pause: date | None = None
    alt_due_restart: date | None = None
    identity_reminder_due: date | None = None
    identity_cutoff: date | None = None
    response_due: date | None = None
    response_sla_due: date | None = None
    max_extended_due: date | None = None
    confirm_legal_due: date | None = None
    confirm_sla_due: date | None = None
    optout_legal_due: date | None = None
    optout_sla_due: date | None = None
    paused_days: int = 0
    pause_applied: bool = False
    status: str | None = None
    warnings: tuple[str, ...] = ()
    rules: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", MappingProxyType(dict(self.rules)))

    @property
    def enforced_due(self) -> date:
        """The date this regime enforces: the extended date once an extension was noticed, else the first one."""
        due = getattr(self, self.enforced_key)
        assert isinstance(due, date)
        return due

    @property
    def enforced_rule(self) -> str:
        return self.rules[self.enforced_key]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ISO dates, null for a deadline that does not apply to this regime or request."""
        body: dict[str, Any] = {
            "regime": self.regime,
            "request_type": self.request_type,
            "time_zone": self.time_zone,
            "calendar": self.calendar,
        }
        for key in DATE_KEYS:
            value = getattr(self, key)
            body[key] = value.isoformat() if value is not None else None
        body.update(
            enforced_due=self.enforced_due.isoformat(),
            enforced_key=self.enforced_key,
            paused_days=self.paused_days,
            pause_applied=self.pause_applied,
            status=self.status,
            warnings=list(self.warnings),
            rules=dict(self.rules),
        )
        return body


# --- the regime, from the rule table ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Citations:
    response: str
    extension: str
    notice: str
    pause: str
    optout: str = ""
    limit: str = ""
    confirm: str = ""
    verification: str = ""


_CITATIONS: Final[Mapping[str, _Citations]] = MappingProxyType(
    {
        "gdpr": _Citations(
            response="GDPR Art. 12(3)",
            extension="GDPR Art. 12(3) (two further months)",
            notice="GDPR Art. 12(3) (notice within one month of receipt)",
            pause="EDPB Guidelines 01/2022 §159 (suspension)",
        ),
        "uk_gdpr": _Citations(
            response="UK GDPR Art. 12(3)",
            extension="UK GDPR Art. 12(3) (two further months)",
            notice="UK GDPR Art. 12(3) (notice within one month of receipt)",
            pause="EDPB Guidelines 01/2022 §159 (suspension), by analogy",
        ),
        "ccpa": _Citations(
            response="Cal. Code Regs. tit. 11 §7021(b)",
            extension="Civ. Code §1798.130(a)(2)(A); Cal. Code Regs. tit. 11 §7021(b)",
            notice="Civ. Code §1798.130(a)(2)(A) (notice within the first 45-day period)",
            pause="Cal. Code Regs. tit. 11 §7021(b) (45 days regardless of time required to verify)",
            optout="Cal. Code Regs. tit. 11 §7026 (15 business days)",
            limit="Cal. Code Regs. tit. 11 §7027 (15 business days) [verify]",
            confirm="Cal. Code Regs. tit. 11 §7021(a) (10 business days)",
            verification="Cal. Code Regs. tit. 11 §7021(b) (unverified within 45 days: may be denied)",
        ),
        "vcdpa": _Citations("Va. Code §59.1-577", "Va. Code §59.1-577", "Va. Code §59.1-577", ""),
        "cpa": _Citations("C.R.S. 6-1-1306", "C.R.S. 6-1-1306", "C.R.S. 6-1-1306", ""),
        "ctdpa": _Citations("Conn. Gen. Stat. §42-520", "Conn. Gen. Stat. §42-520", "Conn. Gen. Stat. §42-520", ""),
        "njdpa": _Citations("N.J.S.A. 56:8-166.7", "N.J.S.A. 56:8-166.7", "N.J.S.A. 56:8-166.7", ""),
        "ocpa": _Citations(
            "ORS 646A.570-.589", "ORS 646A.570-.589", "ORS 646A.570-.589", "", optout="ORS 646A.578(1)(d)"
        ),
        "fadp": _Citations("FADP Art. 25(7); DPO Art. 18", "", "DPO Art. 18 (notice within 30 days)", ""),
    }
)


@dataclass(frozen=True)
class _Regime:
    key: str
    law: str
    response: Period
    extension: Period | None
    notice_within: Period | None
    confirm_business_days: int | None
    optout_business_days: int | None
    optout_calendar_days: int | None
    default_calendar: str | None
    default_time_zone: str | None
    is_us: bool
    citations: _Citations


def _regime(regime: str, table: RuleTable) -> _Regime:
    key = regime.strip().lower() if isinstance(regime, str) else ""
    rules: list[JurisdictionRule] = [rule for rule in table if rule.dsar.regime == key]
    if key == NO_DSAR_REGIME or not rules:
        raise UnknownRegime(f"{regime!r} is not a DSAR regime of the jurisdiction rule table")
    first = rules[0]
    shapes = {
        (
            rule.dsar.response,
            rule.dsar.extension,
            rule.dsar.extension_notice_within,
            rule.dsar.confirm_receipt_business_days,
            rule.optout_processing_business_days,
            rule.optout_processing_calendar_days,
        )
        for rule in rules
    }
    if len(shapes) != 1 or first.dsar.response is None:
        raise DeadlineError(f"the rule table gives regime {key!r} different periods in different jurisdictions")
    calendars = {rule.dsar.holiday_calendar for rule in rules}
    zones = {rule.dsar.time_zone for rule in rules}
    law = first.law if len(rules) == 1 else key.upper()
    generic = f"{first.law} [verify]"
    return _Regime(
        key=key,
        law=law,
        response=first.dsar.response,
        extension=first.dsar.extension,
        notice_within=first.dsar.extension_notice_within,
        confirm_business_days=first.dsar.confirm_receipt_business_days,
        optout_business_days=first.optout_processing_business_days,
        optout_calendar_days=first.optout_processing_calendar_days,
        default_calendar=calendars.pop() if len(calendars) == 1 else None,
        default_time_zone=zones.pop() if len(zones) == 1 else None,
        is_us=all(rule.code.startswith("US-") for rule in rules),
        citations=_CITATIONS.get(key) or _Citations(generic, generic, generic, ""),
    )


def _calendar_id(calendar_id: str) -> str:
    try:
        return normalize_calendar_id(calendar_id)
    except UnknownCalendar as exc:
        raise DeadlineError(str(exc)) from exc


def _zone(name: str) -> ZoneInfo:
    if not isinstance(name, str) or not name or name.startswith("/"):
        raise DeadlineError(f"{name!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DeadlineError(f"{name!r} is not an IANA time zone") from exc


def _local_date(value: date, zone: ZoneInfo) -> date:
    """A date as given, or an aware datetime's date in the deadline time zone."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise DeadlineError("a datetime must be timezone-aware")
        return value.astimezone(zone).date()
    return value


# --- identity-verification pauses (GDPR) -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Pause:
    requested: date
    resumed: date | None  # None: the subject has not answered yet


def _pauses(events: Sequence[ClockEvent]) -> list[_Pause]:
    """Pair each identity request with the next answer; a second request while one is open changes nothing."""
    pauses: list[_Pause] = []
    open_since: date | None = None
    for event in events:
        if event.type == ID_REQUESTED and open_since is None:
            open_since = event.date
        elif event.type == ID_RECEIVED and open_since is not None:
            pauses.append(_Pause(open_since, event.date))
            open_since = None
    if open_since is not None:
        pauses.append(_Pause(open_since, None))
    return pauses


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
) -> DeadlineResult:
    """Every deadline of one request under one regime, each with its rule, and its status on ``as_of``.

    Raises ExtensionNoticeLate when the extension notice went out too late, DeadlineError for bad input.
    """
    spec = _regime(regime, table if table is not None else jurisdiction_rules())
    if request_type not in REQUEST_TYPES:
        raise DeadlineError(f"request_type {request_type!r} is not one of {', '.join(sorted(REQUEST_TYPES))}")
    if not isinstance(received_at, datetime) or received_at.tzinfo is None or received_at.utcoffset() is None:
        raise DeadlineError("received_at must be a timezone-aware datetime")

    is_gdpr = spec.key == "gdpr"
    zone_name = tz or (policy.gdpr_time_zone if is_gdpr else policy.us_time_zone if spec.is_us else None)
    zone_name = zone_name or spec.default_time_zone
    calendar_name = calendar or (policy.gdpr_calendar if is_gdpr else None) or spec.default_calendar
    if zone_name is None or calendar_name is None:
        raise DeadlineError(
            f"regime {spec.key!r} needs the controller's holiday calendar and time zone (REGULATORY.md A1)"
        )
    zone = _zone(zone_name)
    calendar_id = _calendar_id(calendar_name)

    receipt = received_at.astimezone(zone).date()
    utc_date = received_at.astimezone(dt.UTC).date()
    warnings: list[str] = []
    if receipt != utc_date:
        warnings.append(
            f"the receipt date is {receipt.isoformat()} in {zone_name}, not the UTC date {utc_date.isoformat()} (A8)"
        )
    as_of_date = _local_date(as_of, zone) if as_of is not None else None
    clock = sorted(
        (ClockEvent(event.type, _local_date(event.date, zone)) for event in events),
        key=lambda event: (event.date, _EVENT_ORDER[event.type]),
    )
    if any(event.date < receipt for event in clock):
        raise DeadlineError("a clock event is dated before the receipt date")
    if as_of_date is not None:
        clock = [event for event in clock if event.date <= as_of_date]  # the state as it stood on as_of
    notice = None
    if extension is not None:
        notice = ExtensionNotice(_local_date(extension.notice_sent_on, zone), extension.reason_code)
        if notice.notice_sent_on < receipt:
            raise DeadlineError("the extension notice is dated before the receipt date")

    context = _Context(
        spec=spec,
        request_type=request_type,
        zone_name=zone_name,
        calendar_id=calendar_id,
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


@dataclass
class _Context:
    spec: _Regime
    request_type: str
    zone_name: str
    calendar_id: str
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
        "receipt_date": f"EDPB Guidelines 01/2022 §159; the date in {c.zone_name} (REGULATORY.md A1, A8)",
    }
    months = spec.response.months

    # A3: a suspension, counted in calendar days, only for an identity request sent within the grace days.
    pauses = _pauses(c.clock)
    grace = policy.gdpr_id_request_grace_days
    paused_days = 0
    applied: list[_Pause] = []
    open_pause = pauses[-1] if pauses and pauses[-1].resumed is None else None
    identity_cutoff = add_months(open_pause.requested, 1) if open_pause else None
    for pause in pauses:
        delay = (pause.requested - receipt).days
        if delay > grace:
            c.warnings.append(
                f"the identity request of {pause.requested.isoformat()} went out {delay} days after receipt, "
                f"later than the {grace}-day grace: no suspension (A3)"
            )
            continue
        applied.append(pause)
        if pause.resumed is not None:
            paused_days += (pause.resumed - pause.requested).days
        elif c.as_of is not None:
            assert identity_cutoff is not None
            paused_days += (min(c.as_of, identity_cutoff) - pause.requested).days
            c.warnings.append("the identity request is unanswered: the deadline moves with every day it stays so (A3)")
        else:
            c.warnings.append("the identity request is unanswered and no as_of date was given: no days counted (A3)")
    pause_rule = f"{cite.pause}; REGULATORY.md A3 (grace {grace} days), A4"
    rules["paused_days"] = rules["pause_applied"] = pause_rule

    # A4: month arithmetic first, then the paused days, then the roll.
    base = add_months(receipt, months)
    unrolled = base + timedelta(days=paused_days)
    initial_due = roll(unrolled, holidays)
    paused_note = f" + {paused_days} paused days (A4)" if paused_days else ""
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
        rules["alt_due_inclusive_pause"] = "A3 alternative: both ends of each pause excluded (DPA 2018 s.54 style)"
        restart_from = max(pause.resumed for pause in applied if pause.resumed is not None)
        result["alt_due_restart"] = roll(add_months(restart_from, months), holidays)
        rules["alt_due_restart"] = "A3 alternative: the month restarts on the day the identity answer arrived"
    if open_pause is not None and identity_cutoff is not None:
        result["identity_reminder_due"] = open_pause.requested + timedelta(days=IDENTITY_REMINDER_DAY)
        rules["identity_reminder_due"] = "REGULATORY.md A3: reminder on day 14 of the pause"
        result["identity_cutoff"] = identity_cutoff
        rules["identity_cutoff"] = "REGULATORY.md A3: no answer by add_months(id_request_date, 1) -> Art. 12(4) notice"

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
            f"{cite.extension}; A2 chain: add_months(add_months(receipt, {months}), {extra}){paused_note}; "
            f"{computation}"
        )
        anchored_rule = (
            f"{cite.extension}; A2 anchored: add_months(receipt, {months + extra}){paused_note}; {computation}"
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
        f"receipt day excluded (Gov. Code §6800, A5); rolled past weekends and {where} holidays (A6 switch on)"
        if rolled
        else "receipt day excluded (Gov. Code §6800, A5); not rolled (A6)"
    )

    def calendar_days(days: int) -> date:
        end = receipt + timedelta(days=days)
        return roll(end, legal) if rolled else end

    def sla_days(days: int) -> date:
        # A5: the internal SLA ends ``offset`` days before the legal date, never before the receipt date.
        return receipt + timedelta(days=max(days + offset, 0))

    rules: dict[str, str] = {
        "receipt_date": f"the date in {c.zone_name}, the business's deadline time zone (REGULATORY.md §0, A8)",
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
            rules["optout_legal_due"] = f"{optout_cite}; business days skip weekends and {where} holidays (A7)"
            rules["optout_sla_due"] = f"{optout_cite}; internal SLA over {WEEKENDS_ONLY} (A7)"
        else:
            assert spec.optout_calendar_days is not None
            count = spec.optout_calendar_days
            result["optout_legal_due"] = calendar_days(count)
            result["optout_sla_due"] = sla_days(count)
            rules["optout_legal_due"] = f"{optout_cite}: {count} calendar days; {count_rule}"
            rules["optout_sla_due"] = f"{optout_cite}; internal SLA offset {offset} days (A5)"
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
        rules["response_sla_due"] = f"{cite.response}; internal SLA offset {offset} days (A5)"
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
            rules["confirm_legal_due"] = f"{cite.confirm}; business days skip weekends and {where} holidays (A7)"
            rules["confirm_sla_due"] = f"{cite.confirm}; internal SLA over {WEEKENDS_ONLY} (A7)"
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
        pauses = _pauses(c.clock)
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
        calendar=c.calendar_id,
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
