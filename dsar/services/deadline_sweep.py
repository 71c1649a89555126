"""The beat deadline sweep: reminders to legal before each due date and overdue escalation, each once."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

from django.db import connection, transaction
from django.utils import timezone

from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log
from dsar.enums import OPEN_STATUSES
from dsar.messages import OVERDUE_KIND, deadline_digest_message, message_send
from dsar.models import DataSubjectRequest, RequestNotice
from dsar.selectors import legal_recipients

# --- deadline sweep ----------------------------------------------------------------------------------------------

DEADLINE_SWEEP_ACTOR: Final = "task:dsar.deadline_sweep"


def _returning(sql: str, params: list[Any]) -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(int(row[0]), str(row[1])) for row in cursor.fetchall()]


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
        recipients = legal_recipients(details)
        digests = 0
        for organization_id, lines in sorted(details.items()):
            lines.sort(key=lambda line: (line[4], line[1]))
            organization = organizations[organization_id]
            if recipients[organization_id]:
                message = deadline_digest_message(organization_name=organization.name, lines=lines, today=today)
                message_send(recipients[organization_id], message)
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
