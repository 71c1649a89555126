"""Inbound provenance validation: check a record's claimed provenance against the ledger.

The facts come from ``provenance.selectors.ledger_facts``, the judgement from the pure rule
``provenance.claims.provenance_failures``; a failing record opens a validation alert holding the
failures only, never the record's data beyond ids.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log
from provenance import selectors
from provenance.claims import ProvenanceClaim, provenance_failures, well_formed_key
from provenance.enums import AlertKind
from provenance.models import ProvenanceAlert
from provenance.services.alerts import provenance_alert_open


@dataclass(frozen=True)
class ValidationOutcome:
    failures: list[dict[str, str]]
    alert: ProvenanceAlert | None

    @property
    def is_valid(self) -> bool:
        return not self.failures


def provenance_record_validate(*, organization: Organization, claim: ProvenanceClaim, actor: str) -> ValidationOutcome:
    """Check one inbound record against the ledger; a failing record opens a validation alert."""
    failures = provenance_failures(claim, selectors.ledger_facts(organization=organization, claim=claim))
    if not failures:
        return ValidationOutcome(failures=[], alert=None)
    with transaction.atomic():
        alert = provenance_alert_open(
            organization_id=organization.pk,
            kind=AlertKind.VALIDATION,
            subject_external_id=claim.subject_id,
            source_key=well_formed_key(claim.source) or "",
            failures=failures,
        )
        audit_log(
            actor=actor,
            action=AuditAction.PROVENANCE_ALERT_OPENED,
            object_type="provenance_alert",
            object_id=alert.public_id,
            organization=organization,
            data={"kind": alert.kind, "problems": sorted({f"{f['field']}:{f['problem']}" for f in failures})},
        )
    return ValidationOutcome(failures=failures, alert=alert)
