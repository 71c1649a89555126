"""Inbound provenance validation, and the legal team's triage of the alerts it raises.

A partner's record claims provenance (consent timestamp, source identifier, opt-in flag, ...).
:func:`provenance_failures` is the pure rule: it compares the claim with facts read from the
ledger. :func:`provenance_record_validate` reads those facts, applies the rule and, when the record
fails, opens a :class:`ProvenanceAlert` holding the failures only, never the record's data beyond
ids. Alerts move open -> acknowledged -> resolved by compare-and-set updates, each audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from consent.catalog import organization_catalog
from consent.models import Action, ConsentEvent, key_validator
from consent.selectors import consent_state_for_subject, subject_by_external_id
from consent.state import UNKNOWN, is_opt_in
from core.enums import AuditAction
from core.jurisdictions import normalize_jurisdiction
from core.models import Organization
from core.problems import InvalidInput
from core.services import audit_log
from provenance.models import ProvenanceAlert

# A consent timestamp names a grant when it is within a second of it: partners often drop the
# fraction of a second, or round it.
TIMESTAMP_TOLERANCE: Final = timedelta(seconds=1)
MAX_NOTE_LENGTH: Final = 5000

MISSING: Final = "missing"
MALFORMED: Final = "malformed"
CONTRADICTS_LEDGER: Final = "contradicts_ledger"
UNKNOWN_VALUE: Final = "unknown"
PROBLEMS: Final = (MISSING, MALFORMED, CONTRADICTS_LEDGER, UNKNOWN_VALUE)


class _Absent:
    """The record does not carry the field at all (distinct from an explicit null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()


@dataclass(frozen=True)
class ProvenanceClaim:
    """What an inbound record claims. The optional fields hold the JSON value as received (or
    :data:`ABSENT`): judging a wrong type is the rule's job, so it can be reported as ``malformed``."""

    subject_id: str
    purposes: tuple[str, ...]
    source: Any = ABSENT
    consent_timestamp: Any = ABSENT
    opt_in: Any = ABSENT
    policy_version: Any = ABSENT
    jurisdiction: Any = ABSENT


@dataclass(frozen=True)
class LedgerGrant:
    purpose: str
    occurred_at: datetime
    source: str
    policy_version: str | None
    jurisdiction: str


@dataclass(frozen=True)
class LedgerFacts:
    """What the ledger and the catalog say about the claim's subject and purposes."""

    is_subject_known: bool
    known_purposes: frozenset[str]
    # Current consent status per claimed, known purpose; "unknown" when the ledger has nothing.
    statuses: dict[str, str]
    # Grants of the claimed purposes, oldest first.
    grants: tuple[LedgerGrant, ...]
    registered_sources: frozenset[str]
    policy_versions: dict[str, frozenset[str]] = field(default_factory=dict)


def _failure(field_name: str, problem: str, detail: str) -> dict[str, str]:
    return {"field": field_name, "problem": problem, "detail": detail}


def _is_absent(value: Any) -> bool:
    return value is ABSENT or value is None


def _parse_timestamp(value: Any) -> datetime | None:
    """An RFC 3339 instant with an offset, or None when it is anything else."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


def _well_formed_key(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    try:
        key_validator(value)
    except DjangoValidationError:
        return None
    return value


def provenance_failures(claim: ProvenanceClaim, ledger: LedgerFacts) -> list[dict[str, str]]:
    """Every way the claim is missing a required field, is malformed, or contradicts the ledger.

    Required: consent timestamp, source identifier and opt-in flag. Policy version and jurisdiction
    are checked when given. Details name ids (purpose and source keys, ledger statuses), never the
    claimed values themselves."""
    failures: list[dict[str, str]] = []
    if not ledger.is_subject_known:
        failures.append(_failure("subject_id", UNKNOWN_VALUE, "No subject with this id on the ledger."))
    purposes = []
    for key in dict.fromkeys(claim.purposes):
        if key in ledger.known_purposes:
            purposes.append(key)
        else:
            failures.append(_failure("purposes", UNKNOWN_VALUE, f"Purpose '{key}' is not registered."))
    matched, timestamp_failures = _matched_grants(claim, ledger, purposes)
    failures += timestamp_failures
    failures += _opt_in_failures(claim, ledger, purposes)
    failures += _source_failures(claim, ledger, purposes, matched)
    failures += _policy_version_failures(claim, ledger, purposes, matched)
    failures += _jurisdiction_failures(claim, matched)
    return failures


def _matched_grants(
    claim: ProvenanceClaim, ledger: LedgerFacts, purposes: list[str]
) -> tuple[dict[str, LedgerGrant], list[dict[str, str]]]:
    """The grant the claim's timestamp names for each purpose (the latest within the tolerance)."""
    if _is_absent(claim.consent_timestamp):
        return {}, [_failure("consent_timestamp", MISSING, "The record carries no consent timestamp.")]
    timestamp = _parse_timestamp(claim.consent_timestamp)
    if timestamp is None:
        return {}, [_failure("consent_timestamp", MALFORMED, "Not an RFC 3339 date-time with a time zone offset.")]
    matched: dict[str, LedgerGrant] = {}
    failures = []
    for key in purposes:
        near = [
            grant
            for grant in ledger.grants
            if grant.purpose == key and abs(grant.occurred_at - timestamp) <= TIMESTAMP_TOLERANCE
        ]
        if near:
            matched[key] = near[-1]
        else:
            failures.append(
                _failure(
                    "consent_timestamp",
                    CONTRADICTS_LEDGER,
                    f"No grant of purpose '{key}' on the ledger at this time (tolerance 1 s).",
                )
            )
    return matched, failures


def _opt_in_failures(claim: ProvenanceClaim, ledger: LedgerFacts, purposes: list[str]) -> list[dict[str, str]]:
    if _is_absent(claim.opt_in):
        return [_failure("opt_in", MISSING, "The record carries no opt-in flag.")]
    if not isinstance(claim.opt_in, bool):
        return [_failure("opt_in", MALFORMED, "Must be true or false.")]
    failures = []
    for key in purposes:
        # Compared with the consent in force now: a record still claiming an opt-in after a
        # withdrawal is exactly what must not flow on.
        status = ledger.statuses.get(key, UNKNOWN)
        if claim.opt_in != is_opt_in(status):
            claimed = "an opt-in" if claim.opt_in else "no opt-in"
            failures.append(
                _failure(
                    "opt_in",
                    CONTRADICTS_LEDGER,
                    f"The record claims {claimed} for purpose '{key}'; the ledger says '{status}'.",
                )
            )
    return failures


def _source_failures(
    claim: ProvenanceClaim, ledger: LedgerFacts, purposes: list[str], matched: dict[str, LedgerGrant]
) -> list[dict[str, str]]:
    if _is_absent(claim.source):
        return [_failure("source", MISSING, "The record carries no source identifier.")]
    source = _well_formed_key(claim.source)
    if source is None:
        return [_failure("source", MALFORMED, "Not a source key (lowercase letters, digits, . _ : -).")]
    if source not in ledger.registered_sources:
        return [_failure("source", UNKNOWN_VALUE, "No source with this key is registered.")]
    failures = []
    for key in purposes:
        # The grant the timestamp names, else the purpose's latest grant.
        grants = [grant for grant in ledger.grants if grant.purpose == key]
        basis = matched.get(key) or (grants[-1] if grants else None)
        if basis is not None and basis.source != source:
            failures.append(
                _failure(
                    "source",
                    CONTRADICTS_LEDGER,
                    f"The ledger has purpose '{key}' granted through source '{basis.source}'.",
                )
            )
    return failures


def _policy_version_failures(
    claim: ProvenanceClaim, ledger: LedgerFacts, purposes: list[str], matched: dict[str, LedgerGrant]
) -> list[dict[str, str]]:
    version = claim.policy_version
    if _is_absent(version):
        return []
    if not isinstance(version, str) or not version.strip() or len(version) > 64:
        return [_failure("policy_version", MALFORMED, "Must be a version label of 1-64 characters.")]
    failures = []
    for key in purposes:
        if version not in ledger.policy_versions.get(key, frozenset()):
            failures.append(
                _failure("policy_version", UNKNOWN_VALUE, f"No policy version with this label for purpose '{key}'.")
            )
        elif key in matched and matched[key].policy_version not in (None, version):
            failures.append(
                _failure(
                    "policy_version",
                    CONTRADICTS_LEDGER,
                    f"The grant of purpose '{key}' was recorded under policy version '{matched[key].policy_version}'.",
                )
            )
    return failures


def _jurisdiction_failures(claim: ProvenanceClaim, matched: dict[str, LedgerGrant]) -> list[dict[str, str]]:
    if _is_absent(claim.jurisdiction):
        return []
    try:
        jurisdiction = normalize_jurisdiction(claim.jurisdiction) if isinstance(claim.jurisdiction, str) else None
    except ValueError:
        jurisdiction = None
    if jurisdiction is None:
        return [_failure("jurisdiction", MALFORMED, "Not an ISO 3166 country (DE) or subdivision (US-CA) code.")]
    return [
        _failure(
            "jurisdiction",
            CONTRADICTS_LEDGER,
            f"The grant of purpose '{key}' was recorded in jurisdiction '{grant.jurisdiction}'.",
        )
        for key, grant in matched.items()
        if grant.jurisdiction != jurisdiction
    ]


# ------------------------------------------------------------------------------------------------
# Reading the ledger, and the service
# ------------------------------------------------------------------------------------------------


def _ledger_facts(organization: Organization, claim: ProvenanceClaim) -> LedgerFacts:
    source_keys = [claim.source] if isinstance(claim.source, str) else []
    catalog = organization_catalog(organization, purpose_keys=claim.purposes, source_keys=source_keys)
    purposes = {key: catalog.purposes[key] for key in claim.purposes if key in catalog.purposes}
    subject = subject_by_external_id(organization=organization, external_id=claim.subject_id)
    statuses: dict[str, str] = {}
    grants: tuple[LedgerGrant, ...] = ()
    if subject is not None and purposes:
        statuses = {
            consent.purpose: consent.status
            for consent in consent_state_for_subject(organization=organization, subject=subject)
            if consent.purpose in purposes
        }
        grants = tuple(
            LedgerGrant(purpose, occurred_at, source, version, jurisdiction)
            for purpose, occurred_at, source, version, jurisdiction in ConsentEvent.objects.filter(
                organization=organization,
                subject=subject,
                purpose__in=list(purposes.values()),
                action=Action.GRANT,
            )
            .order_by("occurred_at", "id")
            .values_list("purpose__key", "occurred_at", "source__key", "policy_version__version", "jurisdiction")
        )
    return LedgerFacts(
        is_subject_known=subject is not None,
        known_purposes=frozenset(purposes),
        statuses=statuses,
        grants=grants,
        registered_sources=frozenset(key for key in source_keys if key in catalog.sources),
        policy_versions={
            key: frozenset(version for (purpose_id, version) in catalog.versions if purpose_id == purpose.pk)
            for key, purpose in purposes.items()
        },
    )


@dataclass(frozen=True)
class ValidationOutcome:
    failures: list[dict[str, str]]
    alert: ProvenanceAlert | None

    @property
    def is_valid(self) -> bool:
        return not self.failures


def provenance_record_validate(*, organization: Organization, claim: ProvenanceClaim, actor: str) -> ValidationOutcome:
    """Check one inbound record against the ledger; a failing record opens a validation alert."""
    failures = provenance_failures(claim, _ledger_facts(organization, claim))
    if not failures:
        return ValidationOutcome(failures=[], alert=None)
    with transaction.atomic():
        alert = ProvenanceAlert.objects.create(
            organization=organization,
            kind=ProvenanceAlert.Kind.VALIDATION,
            status=ProvenanceAlert.Status.OPEN,
            subject_external_id=claim.subject_id,
            source_key=_well_formed_key(claim.source) or "",
            failures=failures,
        )
        audit_log(
            actor=actor,
            action=AuditAction.PROVENANCE_ALERT_OPENED,
            object_type="provenance_alert",
            object_id=alert.pk,
            organization=organization,
            data={"kind": alert.kind, "problems": sorted({f"{f['field']}:{f['problem']}" for f in failures})},
        )
    return ValidationOutcome(failures=failures, alert=alert)


def provenance_alert_acknowledge(*, alert: ProvenanceAlert, actor: str) -> bool:
    """Open -> acknowledged. Returns whether this call changed it (a repeat, or an alert already
    resolved, changes nothing). ``alert`` is refreshed in place."""
    with transaction.atomic():
        changed = ProvenanceAlert.objects.filter(pk=alert.pk, status=ProvenanceAlert.Status.OPEN).update(
            status=ProvenanceAlert.Status.ACKNOWLEDGED, updated_at=timezone.now()
        )
        if changed:
            audit_log(
                actor=actor,
                action=AuditAction.PROVENANCE_ALERT_ACKNOWLEDGED,
                object_type="provenance_alert",
                object_id=alert.pk,
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
            pk=alert.pk, status__in=[ProvenanceAlert.Status.OPEN, ProvenanceAlert.Status.ACKNOWLEDGED]
        ).update(status=ProvenanceAlert.Status.RESOLVED, note=note, resolved_by=actor, updated_at=timezone.now())
        if changed:
            audit_log(
                actor=actor,
                action=AuditAction.PROVENANCE_ALERT_RESOLVED,
                object_type="provenance_alert",
                object_id=alert.pk,
                organization=alert.organization,
            )
    alert.refresh_from_db()
    return bool(changed)
