"""The beat deadline sweep: reminders to legal before each due date and overdue escalation, none lost.

Two steps, each its own transaction. The claim: one INSERT ... ON CONFLICT DO NOTHING per (request, kind, due date)
records what is owed (a reminder 7, 3 or 1 days before, the overdue mark the digest carries and the escalation),
unsent. The send: per organization and kind of mail, the unsent claims are locked (SKIP LOCKED: a second sweep
leaves them to the first), the mail is sent, and only once the server accepted it are they stamped sent, in the
same transaction. No recipient, a refusing server or a worker that dies mid-send leaves them unsent, and the next
sweep (hourly) sends them: at least once, never recorded as sent when nobody received it. Each outcome is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from urllib.parse import urljoin

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log
from dsar.enums import OPEN_STATUSES
from dsar.messages import (
    DIGEST_DAYS,
    ESCALATED_KIND,
    OVERDUE_KIND,
    Message,
    deadline_digest_message,
    deadline_escalation_message,
    message_send,
)
from dsar.models import DataSubjectRequest, RequestNotice
from dsar.selectors import DeadlineRecipients, DigestLine, deadline_recipients, digest_lines

DEADLINE_SWEEP_ACTOR: Final = "task:dsar.deadline_sweep"
# An audit row names at most this many requests (and counts them all): a mail retried hourly stays small.
AUDITED_REQUESTS: Final = 100
REMINDER_KINDS: Final = ("deadline.7", "deadline.3", "deadline.1")
# The digest carries the reminders and the overdue marks; the escalation carries the escalations.
DIGEST_CLAIMS: Final = (*REMINDER_KINDS, OVERDUE_KIND)
ESCALATION_CLAIMS: Final = (ESCALATED_KIND,)
_NEW_LABELS: Final = {
    "deadline.7": " (new: 7-day reminder)",
    "deadline.3": " (new: 3-day reminder)",
    "deadline.1": " (new: due tomorrow)",
    OVERDUE_KIND: " (new: became overdue)",
}


@dataclass(frozen=True)
class DeadlineClaims:
    """What one claim step recorded: reminders and overdue requests newly owed a mail, and requests marked
    overdue."""

    reminders: int
    overdue: int
    marked_overdue: int


def _inserted(sql: str, params: list[Any]) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return len(cursor.fetchall())


def deadline_claims_record(*, now: datetime) -> DeadlineClaims:
    """Record, unsent, every reminder and escalation owed today, and mark overdue requests; a rerun the same day
    inserts nothing."""
    today = timezone.localdate(now)
    requests_table = DataSubjectRequest._meta.db_table
    notices_table = RequestNotice._meta.db_table
    statuses = ", ".join(["%s"] * len(OPEN_STATUSES))
    with transaction.atomic():
        reminders = _inserted(
            f"""
            INSERT INTO {notices_table} (request_id, kind, for_date, created_at, sent_at, attempts, last_error)
            SELECT id,
                   CASE WHEN due_on <= %s THEN 'deadline.1' WHEN due_on <= %s THEN 'deadline.3' ELSE 'deadline.7' END,
                   due_on, %s, NULL, 0, ''
            FROM {requests_table}
            WHERE status IN ({statuses}) AND due_on > %s AND due_on <= %s
            ON CONFLICT (request_id, kind, for_date) DO NOTHING
            RETURNING request_id
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
        overdue = _inserted(
            f"""
            INSERT INTO {notices_table} (request_id, kind, for_date, created_at, sent_at, attempts, last_error)
            SELECT id, kinds.kind, due_on, %s, NULL, 0, ''
            FROM {requests_table} CROSS JOIN (VALUES (%s), (%s)) AS kinds (kind)
            WHERE status IN ({statuses}) AND due_on < %s AND overdue_on IS NULL
            ON CONFLICT (request_id, kind, for_date) DO NOTHING
            RETURNING request_id
            """,  # noqa: S608 (table names from the models' meta; every value is a parameter)
            [now, OVERDUE_KIND, ESCALATED_KIND, *OPEN_STATUSES, today],
        )
        marked = DataSubjectRequest.objects.filter(
            status__in=OPEN_STATUSES, due_on__lt=today, overdue_on__isnull=True
        ).update(overdue_on=today, updated_at=now)
    return DeadlineClaims(reminders=reminders, overdue=overdue // 2, marked_overdue=marked)


def request_admin_link() -> Callable[[DigestLine], str]:
    """The absolute address of a request's admin page, under ``PROVENANT_PUBLIC_BASE_URL`` (where this deployment
    answers); the URL is reversed once, not once a line."""
    marker = "0000000000"
    path = reverse("admin:dsar_datasubjectrequest_change", args=[marker])
    head, tail = urljoin(str(settings.PROVENANT_PUBLIC_BASE_URL).rstrip("/") + "/", path.lstrip("/")).split(marker)
    return lambda line: f"{head}{line.pk}{tail}"


@dataclass(frozen=True)
class _Claim:
    pk: int
    kind: str
    attempts: int
    line: DigestLine


def _locked_claims(organization: Organization, kinds: tuple[str, ...]) -> list[_Claim]:
    """The organization's unsent claims of ``kinds``, locked until the transaction ends; those another sweep
    holds are skipped (it is sending them)."""
    rows = (
        RequestNotice.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(request__organization=organization, kind__in=kinds, sent_at__isnull=True)
        .order_by("id")
        .values_list(
            "pk",
            "kind",
            "attempts",
            "request_id",
            "request__public_id",
            "request__type",
            "request__regime",
            "request__due_on",
        )
    )
    return [
        _Claim(pk, kind, attempts, DigestLine(request_id, organization.pk, public_id, request_type, regime, due_on))
        for pk, kind, attempts, request_id, public_id, request_type, regime, due_on in rows
    ]


def _send_one(
    *,
    organization: Organization,
    mail: str,
    kinds: tuple[str, ...],
    to: list[str],
    fallback: bool,
    compose: Callable[[list[_Claim]], Message],
    now: datetime,
) -> str:
    """Send one kind of mail for the organization's unsent claims of ``kinds``: ``sent``, ``undelivered`` or
    ``nothing`` (no unsent claim, or another sweep holds them)."""
    with transaction.atomic():
        claims = _locked_claims(organization, kinds)
        if not claims:
            return "nothing"
        pks = [claim.pk for claim in claims]
        error = "" if to else "no recipients"
        if to:
            try:
                message_send(to, compose(claims))
            # smtplib.SMTPException is an OSError (refused, unreachable, timed out); a header the mail library
            # refuses (BadHeaderError, a ValueError) or any other failure of one organization's mail must not stop
            # the others': it stays owed and is retried.
            except Exception as exc:
                code = getattr(exc, "smtp_code", None)
                error = f"{type(exc).__name__}{f' {code}' if code else ''}"
        requests = sorted({claim.line.public_id for claim in claims})
        common = {
            "mail": mail,
            "claims": len(claims),
            "requests": requests[:AUDITED_REQUESTS],
            "requests_total": len(requests),
            "recipients": len(to),
            "fallback": fallback,
            "attempt": max(claim.attempts for claim in claims) + 1,
        }
        if error:
            RequestNotice.objects.filter(pk__in=pks).update(attempts=F("attempts") + 1, last_error=error[:200])
            audit_log(
                actor=DEADLINE_SWEEP_ACTOR,
                action=AuditAction.DSAR_DEADLINE_MAIL_UNDELIVERED,
                object_type="organization",
                object_id=organization.slug,
                organization=organization,
                data={**common, "reason": error, "retry": "next sweep"},
            )
            return "undelivered"
        RequestNotice.objects.filter(pk__in=pks).update(sent_at=now, attempts=F("attempts") + 1, last_error="")
        audit_log(
            actor=DEADLINE_SWEEP_ACTOR,
            action=AuditAction.DSAR_DEADLINE_SWEEP,
            object_type="organization",
            object_id=organization.slug,
            organization=organization,
            data={
                **common,
                "reminders": sum(1 for claim in claims if claim.kind in REMINDER_KINDS),
                "overdue": sorted({claim.line.public_id for claim in claims if claim.kind not in REMINDER_KINDS}),
                "digest_sent": mail == "digest",
            },
        )
        return "sent"


def deadline_mail_send(*, now: datetime) -> dict[str, int]:
    """Send every organization's owed digest and escalation (today's claims and any a failed sweep left)."""
    today = timezone.localdate(now)
    organization_ids = sorted(
        set(
            RequestNotice.objects.filter(
                sent_at__isnull=True, kind__in=(*DIGEST_CLAIMS, *ESCALATION_CLAIMS)
            ).values_list("request__organization_id", flat=True)
        )
    )
    counts = {"digests": 0, "escalations": 0, "undelivered": 0}
    if not organization_ids:
        return counts
    organizations = Organization.objects.in_bulk(organization_ids)
    recipients: dict[int, DeadlineRecipients] = deadline_recipients(organization_ids)
    listed = digest_lines(organization_ids=organization_ids, until=today + timedelta(days=DIGEST_DAYS))
    link = request_admin_link()

    for organization_id in organization_ids:
        organization = organizations[organization_id]
        to = recipients[organization_id]
        name = organization.name
        lines = listed.get(organization_id, [])

        def digest(claims: list[_Claim], lines: list[DigestLine] = lines, name: str = name) -> Message:
            new = {claim.line.public_id: _NEW_LABELS[claim.kind] for claim in claims if claim.kind in _NEW_LABELS}
            return deadline_digest_message(organization_name=name, lines=lines, today=today, new=new, link=link)

        def escalation(claims: list[_Claim], name: str = name) -> Message:
            escalated = sorted(
                {claim.line.public_id: claim.line for claim in claims}.values(),
                key=lambda line: (line.due_on, line.public_id),
            )
            return deadline_escalation_message(organization_name=name, lines=escalated, today=today, link=link)

        for mail, kinds, address, fallback, compose, counter in (
            ("digest", DIGEST_CLAIMS, to.digest, to.digest_fallback, digest, "digests"),
            ("escalation", ESCALATION_CLAIMS, to.escalation, to.escalation_fallback, escalation, "escalations"),
        ):
            outcome = _send_one(
                organization=organization,
                mail=mail,
                kinds=kinds,
                to=address,
                fallback=fallback,
                compose=compose,
                now=now,
            )
            if outcome == "sent":
                counts[counter] += 1
            elif outcome == "undelivered":
                counts["undelivered"] += 1
    return counts


def dsar_deadline_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Remind legal 7, 3 and 1 days before each due date and escalate overdue requests: claim what is owed, then
    send one digest and one escalation per organization that is owed them. A rerun claims and sends nothing; a
    claim nobody received is sent by the next run."""
    now = now or timezone.now()
    claimed = deadline_claims_record(now=now)
    sent = deadline_mail_send(now=now)
    return {
        "reminders": claimed.reminders,
        "overdue": claimed.overdue,
        "marked_overdue": claimed.marked_overdue,
        **sent,
    }
