"""An organization's DSAR deadline calendar and time zone: validated, stored, audited (issue #18).

Requests already received keep the zone and calendar their deadlines were computed with (stored with their
deadlines); a change applies to requests received after it and to the deadline calculator."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from core.enums import AuditAction
from core.models import Organization
from core.problems import InvalidInput
from core.services import audit_log
from dsar.deadlines import DeadlineError
from dsar.deadlines.types import checked_calendar_id, checked_zone
from dsar.models import DeadlineSettings


def _checked(calendar: str, time_zone: str) -> tuple[str, str]:
    errors: list[dict[str, str]] = []
    if calendar:
        try:
            calendar = checked_calendar_id(calendar)
        except DeadlineError as exc:
            errors.append({"pointer": "/calendar", "detail": str(exc)})
    if time_zone:
        try:
            checked_zone(time_zone)
        except DeadlineError as exc:
            errors.append({"pointer": "/time_zone", "detail": str(exc)})
    if errors:
        raise InvalidInput("The deadline calendar or time zone is not valid; see errors.", errors=errors)
    return calendar, time_zone


def deadline_settings_update(
    *, organization: Organization, calendar: str, time_zone: str, actor: str
) -> DeadlineSettings:
    """Set the organization's deadline calendar and time zone (an empty string clears one). Nothing changes and
    nothing is audited when both are as they were."""
    calendar, time_zone = _checked(calendar.strip(), time_zone.strip())
    with transaction.atomic():
        current, _ = DeadlineSettings.objects.select_for_update().get_or_create(organization=organization)
        before = {"calendar": current.calendar, "time_zone": current.time_zone}
        after = {"calendar": calendar, "time_zone": time_zone}
        if before == after:
            return current
        current.calendar, current.time_zone, current.updated_at = calendar, time_zone, timezone.now()
        current.save(update_fields=["calendar", "time_zone", "updated_at"])
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_DEADLINE_SETTINGS_CHANGED,
            object_type="organization",
            object_id=organization.pk,
            organization=organization,
            data={"before": before, "after": after},
        )
    return current
