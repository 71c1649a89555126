"""DSAR deadline engine: every deadline of a request under one regime, each with the rule it came from.

Implements REGULATORY.md §1(a)-(c), the ambiguity register's defaults (A1-A8) as ``DeadlinePolicy`` switches
and the reference algorithms of §4. Pure functions: no ORM, no Django settings; the jurisdiction rule table
(periods, default calendar and time zone per regime) is packaged data and may be passed in.
"""

from dsar.deadlines.engine import compute_deadlines, earliest_enforced
from dsar.deadlines.types import (
    CALENDAR_SOURCES,
    DATE_KEYS,
    DEFAULT_POLICY,
    EVENT_TYPES,
    EXTENSION_REASON_CODES,
    GDPR_FAMILY,
    ID_RECEIVED,
    ID_REQUESTED,
    OPT_OUT_REQUEST_TYPES,
    REQUEST_TYPES,
    RESPONSE_SENT,
    STATUSES,
    TZ_SOURCES,
    ClockEvent,
    DeadlineError,
    DeadlinePolicy,
    DeadlineResult,
    DeadlineSettingMissing,
    ExtensionNotAvailable,
    ExtensionNotice,
    ExtensionNoticeLate,
    UnknownRegime,
)
from dsar.deadlines.zone_resolution import SettingLayer, ZoneAndCalendar, resolve_zone_and_calendar
from dsar.deadlines.zones import calendar_time_zone, time_zone_calendar

__all__ = [
    "CALENDAR_SOURCES",
    "DATE_KEYS",
    "DEFAULT_POLICY",
    "EVENT_TYPES",
    "EXTENSION_REASON_CODES",
    "GDPR_FAMILY",
    "ID_RECEIVED",
    "ID_REQUESTED",
    "OPT_OUT_REQUEST_TYPES",
    "REQUEST_TYPES",
    "RESPONSE_SENT",
    "STATUSES",
    "TZ_SOURCES",
    "ClockEvent",
    "DeadlineError",
    "DeadlinePolicy",
    "DeadlineResult",
    "DeadlineSettingMissing",
    "ExtensionNotAvailable",
    "ExtensionNotice",
    "ExtensionNoticeLate",
    "SettingLayer",
    "UnknownRegime",
    "ZoneAndCalendar",
    "calendar_time_zone",
    "compute_deadlines",
    "earliest_enforced",
    "resolve_zone_and_calendar",
    "time_zone_calendar",
]
