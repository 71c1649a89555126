"""Which time zone and holiday calendar a computation uses, and why (issue #18).

Each of the two is taken from the first place that names it: the request, then the organization's settings,
then (stored requests) the jurisdiction's rule, then what the other one implies (a calendar whose place keeps
one time gives the zone, a zone gives its country's calendar), then the regime's rule when all its jurisdictions
agree. A regime that fixes its calendar (the CCPA counts US federal holidays) keeps it unless the request
names another. Nothing found: DeadlineSettingMissing naming exactly what is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dsar.deadlines.regimes import Regime
from dsar.deadlines.types import (
    SOURCE_CALENDAR,
    SOURCE_ORGANIZATION,
    SOURCE_REGIME,
    SOURCE_REQUEST,
    SOURCE_TIME_ZONE,
    DeadlinePolicy,
    DeadlineSettingMissing,
    checked_calendar_id,
    checked_zone,
)
from dsar.deadlines.zones import calendar_time_zone, time_zone_calendar, zones_of_calendar


@dataclass(frozen=True)
class SettingLayer:
    """One place that may name a time zone and a calendar: ``source`` says which (organization, jurisdiction)."""

    source: str
    time_zone: str | None = None
    calendar: str | None = None


@dataclass(frozen=True)
class ZoneAndCalendar:
    time_zone: str
    tz_source: str
    calendar: str
    calendar_source: str


def _policy_layer(spec: Regime, policy: DeadlinePolicy) -> SettingLayer:
    """The engine policy's controller settings count as the organization's."""
    if spec.key == "gdpr":
        return SettingLayer(SOURCE_ORGANIZATION, policy.gdpr_time_zone, policy.gdpr_calendar)
    return SettingLayer(SOURCE_ORGANIZATION, policy.us_time_zone if spec.is_us else None, None)


def resolve_zone_and_calendar(
    spec: Regime,
    *,
    tz: str | None,
    calendar: str | None,
    layers: Sequence[SettingLayer] = (),
    policy: DeadlinePolicy,
) -> ZoneAndCalendar:
    """The zone and calendar of one computation with their sources. Raises DeadlineError for an unknown zone or
    calendar, DeadlineSettingMissing when none is found."""
    places = [SettingLayer(SOURCE_REQUEST, tz or None, calendar or None), *layers, _policy_layer(spec, policy)]
    named_zone = next(((layer.time_zone, layer.source) for layer in places if layer.time_zone), None)
    if named_zone is not None:
        checked_zone(named_zone[0])

    found_calendar: tuple[str, str] | None = None
    if calendar:
        found_calendar = (calendar, SOURCE_REQUEST)
    elif spec.default_calendar:
        found_calendar = (spec.default_calendar, SOURCE_REGIME)
    else:
        found_calendar = next(((layer.calendar, layer.source) for layer in places if layer.calendar), None)
    if found_calendar is None and named_zone is not None:
        implied = time_zone_calendar(named_zone[0])
        if implied is not None:
            found_calendar = (implied, SOURCE_TIME_ZONE)
    calendar_id = checked_calendar_id(found_calendar[0]) if found_calendar is not None else None

    found_zone = named_zone
    if found_zone is None and calendar_id is not None:
        implied_zone = calendar_time_zone(calendar_id)
        if implied_zone is not None:
            found_zone = (implied_zone, SOURCE_CALENDAR)
    if found_zone is None and spec.default_time_zone:
        found_zone = (spec.default_time_zone, SOURCE_REGIME)

    if found_zone is None or found_calendar is None or calendar_id is None:
        raise _missing(spec, calendar_id, zone_known=found_zone is not None)
    checked_zone(found_zone[0])
    return ZoneAndCalendar(
        time_zone=found_zone[0], tz_source=found_zone[1], calendar=calendar_id, calendar_source=found_calendar[1]
    )


def _missing(spec: Regime, calendar_id: str | None, *, zone_known: bool) -> DeadlineSettingMissing:
    if calendar_id is None and zone_known:
        return DeadlineSettingMissing(
            f"regime {spec.key!r} needs the controller's holiday calendar (Reg. 1182/71 Art. 2(1)) and the time zone "
            "names no country the calendars know: send `calendar` or set the organization's deadline calendar",
            missing=("calendar",),
        )
    if calendar_id is None:
        return DeadlineSettingMissing(
            f"regime {spec.key!r} needs the controller's holiday calendar and time zone (Reg. 1182/71 Art. 2(1)): send "
            "`calendar` (a zone such as Europe/Dublin in `tz` implies its country's calendar), or set the "
            "organization's deadline calendar",
            missing=("calendar", "tz"),
        )
    zones = zones_of_calendar(calendar_id)
    why = (
        f"calendar {calendar_id!r} spans several time zones ({', '.join(zones)})"
        if zones
        else (f"calendar {calendar_id!r} implies no time zone")
    )
    return DeadlineSettingMissing(
        f"regime {spec.key!r} needs the controller's time zone: {why}; send `tz` or set the organization's "
        "deadline time zone",
        missing=("tz",),
    )
