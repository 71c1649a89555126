"""Provenance alerts: opened when inbound provenance fails validation or a delivery or consent notice is
dead-lettered or overdue, then triaged by the legal team (open -> acknowledged -> resolved, compare-and-set
updates, each audited). An alert holds failures and ids, never the record's data."""

from __future__ import annotations

from typing import Final

from django.db import transaction
from django.utils import timezone
from ulid import ULID

from core.enums import AuditAction
from core.problems import InvalidInput
from core.services import audit_log
from provenance.enums import AlertKind, AlertStatus
from provenance.models import ProvenanceAlert

DETAIL_LENGTH: Final = 200
MAX_NOTE_LENGTH: Final = 5000


def alert_failures(*, what: str, problem: str, detail: str) -> list[dict[str, str]]:
    """The one failure of a dead-lettered or overdue item, in the shape of a validation failure."""
    return [{"field": what, "problem": problem, "detail": detail[:DETAIL_LENGTH]}]


def provenance_alert_open(
    *,
    organization_id: int,
    kind: AlertKind,
    subject_external_id: str,
    failures: list[dict[str, str]],
    note: str = "",
    source_key: str = "",
) -> ProvenanceAlert:
    """Open an alert, in the caller's transaction (it belongs with the state change that raised it)."""
    return ProvenanceAlert.objects.create(
        organization_id=organization_id,
        public_id=str(ULID()),
        kind=kind,
        status=AlertStatus.OPEN,
        subject_external_id=subject_external_id,
        source_key=source_key,
        failures=failures,
        note=note,
    )


def provenance_alert_acknowledge(*, alert: ProvenanceAlert, actor: str) -> bool:
    """Open -> acknowledged. Returns whether this call changed it (a repeat, or an alert already
    resolved, changes nothing). ``alert`` is refreshed in place."""
    with transaction.atomic():
        changed = ProvenanceAlert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
            status=AlertStatus.ACKNOWLEDGED, updated_at=timezone.now()
        )
        if changed:
            audit_log(
                actor=actor,
                action=AuditAction.PROVENANCE_ALERT_ACKNOWLEDGED,
                object_type="provenance_alert",
                object_id=alert.public_id,
                organization=alert.organization,
            )
    alert.refresh_from_db()
    return bool(changed)


def provenance_alert_resolve(*, alert: ProvenanceAlert, note: str, actor: str) -> bool:
    """Open or acknowledged -> resolved, with legal's note. Returns whether this call changed it (a
    repeat changes nothing, the first note stays). ``alert`` is refreshed in place."""
    note = note.strip()
    if not note:
        raise InvalidInput("Say how the alert was resolved: a note is required.")
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"The note may be at most {MAX_NOTE_LENGTH} characters.")
    with transaction.atomic():
        changed = ProvenanceAlert.objects.filter(
            pk=alert.pk, status__in=[AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED]
        ).update(status=AlertStatus.RESOLVED, note=note, resolved_by=actor, updated_at=timezone.now())
        if changed:
            audit_log(
                actor=actor,
                action=AuditAction.PROVENANCE_ALERT_RESOLVED,
                object_type="provenance_alert",
                object_id=alert.public_id,
                organization=alert.organization,
            )
    alert.refresh_from_db()
    return bool(changed)
