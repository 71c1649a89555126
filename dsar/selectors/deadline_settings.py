"""An organization's deadline calendar and time zone, as stored and as the engine consults them."""

from __future__ import annotations

from typing import Any

from core.db import select_many
from core.models import Organization
from dsar.deadlines import SettingLayer, calendar_time_zone, time_zone_calendar
from dsar.deadlines.types import SOURCE_ORGANIZATION
from dsar.models import DeadlineSettings


def deadline_settings_of(organization: Organization) -> DeadlineSettings | None:
    """The organization's settings; None when none were ever set."""
    return DeadlineSettings.objects.filter(organization=organization).first()


# Every intake reads this (issue #16): one statement, written once instead of compiled per call.
_CALENDAR_AND_ZONE = f"SELECT calendar, time_zone FROM {DeadlineSettings._meta.db_table} WHERE organization_id = %s"  # noqa: S608


def organization_deadline_layer(organization: Organization) -> SettingLayer | None:
    """The organization's settings as the deadline engine consults them after the request; None when unset."""
    found = select_many([(_CALENDAR_AND_ZONE, [organization.pk])])[0]
    if not found or not any(found[0]):
        return None
    calendar, time_zone = found[0]
    return SettingLayer(SOURCE_ORGANIZATION, time_zone=time_zone or None, calendar=calendar or None)


def deadline_settings_summary(organization: Organization) -> dict[str, Any]:
    """The settings as the API shows them, with what each one implies for the other when that one is unset."""
    found = deadline_settings_of(organization)
    calendar = found.calendar if found is not None else ""
    time_zone = found.time_zone if found is not None else ""
    return {
        "calendar": calendar or None,
        "time_zone": time_zone or None,
        "implied_time_zone": calendar_time_zone(calendar) if calendar else None,
        "implied_calendar": time_zone_calendar(time_zone) if time_zone else None,
        "updated_at": found.updated_at if found is not None else None,
    }
