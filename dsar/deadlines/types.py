"""The deadline engine's vocabulary: request and clock-event types, errors, inputs (policy, events, extension
notice) and the result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dsar.calendars import UnknownCalendar, normalize_calendar_id

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
EVENT_ORDER = {name: index for index, name in enumerate(EVENT_TYPES)}

# REGULATORY.md §2.6: one extension per request, with a structured reason code.
EXTENSION_REASON_CODES: Final = frozenset({"complexity", "volume", "redaction"})

# Where the time zone and the holiday calendar of a computation came from (``tz_source``, ``calendar_source``),
# in the order they are consulted: what the request named, the organization's settings, the jurisdiction's rule
# (stored requests), the other of the pair (a calendar whose place keeps one time, a zone's country), the regime's
# rule when all its jurisdictions agree.
SOURCE_REQUEST: Final = "request"
SOURCE_ORGANIZATION: Final = "organization"
SOURCE_JURISDICTION: Final = "jurisdiction"
SOURCE_CALENDAR: Final = "calendar"
SOURCE_TIME_ZONE: Final = "time_zone"
SOURCE_REGIME: Final = "regime"
TZ_SOURCES: Final = (SOURCE_REQUEST, SOURCE_ORGANIZATION, SOURCE_JURISDICTION, SOURCE_CALENDAR, SOURCE_REGIME)
CALENDAR_SOURCES: Final = (SOURCE_REQUEST, SOURCE_ORGANIZATION, SOURCE_JURISDICTION, SOURCE_REGIME, SOURCE_TIME_ZONE)

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


class DeadlineSettingMissing(DeadlineError):
    """Neither the request, nor the organization, nor what the other setting implies gives a time zone or a
    calendar. ``missing`` names the fields: ``tz``, ``calendar`` or both."""

    def __init__(self, message: str, *, missing: tuple[str, ...]) -> None:
        super().__init__(message)
        self.missing = missing


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
            object.__setattr__(self, "gdpr_calendar", checked_calendar_id(self.gdpr_calendar))
        for zone in (self.gdpr_time_zone, self.us_time_zone):
            if zone is not None:
                checked_zone(zone)


DEFAULT_POLICY: Final = DeadlinePolicy()


@dataclass(frozen=True)
class ClockEvent:
    """Something that moves or stops the clock, on a date in the deadline time zone (an aware datetime is converted)."""

    type: str
    date: dt.date

    def __post_init__(self) -> None:
        if self.type not in EVENT_ORDER:
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
    tz_source: str = SOURCE_REQUEST
    calendar_source: str = SOURCE_REQUEST
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
            "tz_source": self.tz_source,
            "calendar": self.calendar,
            "calendar_source": self.calendar_source,
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


def checked_calendar_id(calendar_id: str) -> str:
    """The calendar id in canonical form; DeadlineError when it is not one."""
    try:
        return normalize_calendar_id(calendar_id)
    except UnknownCalendar as exc:
        raise DeadlineError(str(exc)) from exc


def checked_zone(name: str) -> ZoneInfo:
    """The IANA time zone; DeadlineError when it is not one."""
    if not isinstance(name, str) or not name or name.startswith("/"):
        raise DeadlineError(f"{name!r} is not an IANA time zone")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DeadlineError(f"{name!r} is not an IANA time zone") from exc
