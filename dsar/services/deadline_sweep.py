"""The beat deadline sweep: reminders to legal before each due date and overdue escalation, each once."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any, Final

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log
from dsar.models import (
    DataSubjectRequest,
    DsarLegalContact,
    RequestNotice,
)
from dsar.services.common import OPEN_STATUSES, _send
from dsar.verification import (
    Message,
)

# --- deadline sweep ----------------------------------------------------------------------------------------------

DEADLINE_SWEEP_ACTOR: Final = "task:dsar.deadline_sweep"
OVERDUE_KIND: Final = "deadline.overdue"


def _returning(sql: str, params: list[Any]) -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


def _legal_recipients(organization_ids: Iterable[int]) -> dict[int, list[str]]:
    contacts = dict(
        DsarLegalContact.objects.filter(organization_id__in=list(organization_ids)).values_list(
            "organization_id", "email"
        )
    )
    admins = [str(admin[1]) for admin in settings.ADMINS]
    return {org_id: [contacts[org_id]] if org_id in contacts else admins for org_id in organization_ids}


def _digest(organization: Organization, lines: list[tuple[str, str, str, str, date]], today: date) -> Message:
    labels = {
        "deadline.7": "due in 7 days or less",
        "deadline.3": "due in 3 days or less",
        "deadline.1": "due tomorrow",
    }
    overdue = [line for line in lines if line[0] == OVERDUE_KIND]
    upcoming = [line for line in lines if line[0] != OVERDUE_KIND]
    body = [f"Data-subject request deadlines for {organization.name} on {today.isoformat()}.", ""]
    if overdue:
        body += [f"OVERDUE ({len(overdue)}), escalated:"]
        body += [
            f"  {public_id}  {rtype}/{regime}  was due {due.isoformat()}"
            for _, public_id, rtype, regime, due in overdue
        ]
        body.append("")
    if upcoming:
        body += [f"Upcoming ({len(upcoming)}):"]
        body += [
            f"  {public_id}  {rtype}/{regime}  due {due.isoformat()} ({labels.get(kind, kind)})"
            for kind, public_id, rtype, regime, due in upcoming
        ]
    subject = f"[Provenant] {organization.name}: {len(overdue)} overdue, {len(upcoming)} due soon"
    return Message(subject=subject, body="\n".join(body) + "\n")


def dsar_deadline_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Remind legal 7, 3 and 1 days before each due date and escalate overdue requests, each once, in one digest
    per organization. Set-based: the claims are INSERT ... ON CONFLICT DO NOTHING on (request, kind, due date),
    and overdue requests are marked with one UPDATE, so a rerun finds nothing to send."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    requests_table = DataSubjectRequest._meta.db_table
    notices_table = RequestNotice._meta.db_table
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    with transaction.atomic():
        reminders = _returning(
            f"""
            INSERT INTO {notices_table} (request_id, kind, for_date, created_at)
            SELECT id,
                   CASE WHEN due_on <= %s THEN 'deadline.1' WHEN due_on <= %s THEN 'deadline.3' ELSE 'deadline.7' END,
                   due_on, %s
            FROM {requests_table}
            WHERE status IN ({statuses}) AND due_on > %s AND due_on <= %s
            ON CONFLICT (request_id, kind, for_date) DO NOTHING
            RETURNING request_id, kind
            """,  # noqa: S608 (table names from the models' meta; every value is a parameter)
            [
                today + timedelta(days=1),
                today + timedelta(days=3),
                now,
                *OPEN_STATUSES,
                today,
                today + timedelta(days=7),
            ],
        )
        escalations = _returning(
            f"""
            INSERT INTO {notices_table} (request_id, kind, for_date, created_at)
            SELECT id, %s, due_on, %s
            FROM {requests_table}
            WHERE status IN ({statuses}) AND due_on < %s AND overdue_on IS NULL
            ON CONFLICT (request_id, kind, for_date) DO NOTHING
            RETURNING request_id, kind
            """,  # noqa: S608 (table names from the models' meta; every value is a parameter)
            [OVERDUE_KIND, now, *OPEN_STATUSES, today],
        )
        marked = DataSubjectRequest.objects.filter(
            status__in=OPEN_STATUSES, due_on__lt=today, overdue_on__isnull=True
        ).update(overdue_on=today, updated_at=now)
        claimed = reminders + escalations
        kinds = dict(claimed)
        details: dict[int, list[tuple[str, str, str, str, date]]] = {}
        ids = list(kinds)
        for start in range(0, len(ids), 2000):
            rows = DataSubjectRequest.objects.filter(pk__in=ids[start : start + 2000]).values_list(
                "pk", "organization_id", "public_id", "type", "regime", "due_on"
            )
            for pk, organization_id, public_id, request_type, regime, due_on in rows:
                details.setdefault(organization_id, []).append((kinds[pk], public_id, request_type, regime, due_on))
        organizations = Organization.objects.in_bulk(list(details))
        recipients = _legal_recipients(details)
        digests = 0
        for organization_id, lines in sorted(details.items()):
            lines.sort(key=lambda line: (line[4], line[1]))
            organization = organizations[organization_id]
            if recipients[organization_id]:
                _send(recipients[organization_id], _digest(organization, lines, today))
                digests += 1
            overdue_ids = [line[1] for line in lines if line[0] == OVERDUE_KIND]
            audit_log(
                actor=DEADLINE_SWEEP_ACTOR,
                action=AuditAction.DSAR_DEADLINE_SWEEP,
                object_type="organization",
                object_id=organization.slug,
                organization=organization,
                data={
                    "reminders": len(lines) - len(overdue_ids),
                    "overdue": overdue_ids,
                    "digest_sent": bool(recipients[organization_id]),
                },
            )
    return {"reminders": len(reminders), "overdue": len(escalations), "marked_overdue": marked, "digests": digests}
