"""Inbound provenance claims and the pure rule that judges them against the ledger's facts. No ORM.

A partner's record claims provenance (consent timestamp, source identifier, opt-in flag, ...).
:func:`provenance_failures` compares the claim with :class:`LedgerFacts` (read by
``provenance.selectors.ledger_facts``) and names every field that is missing, malformed, unknown or
contradicts the ledger. Details name ids, never the claimed values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.dateparse import parse_datetime

from consent.models import key_validator
from consent.state import UNKNOWN, is_opt_in
from core.jurisdictions import normalize_jurisdiction
from provenance.enums import ValidationProblem

# A consent timestamp names a grant when it is within a second of it: partners often drop the
# fraction of a second, or round it.
TIMESTAMP_TOLERANCE: Final = timedelta(seconds=1)


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


def well_formed_key(value: Any) -> str | None:
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
        failures.append(_failure("subject_id", ValidationProblem.UNKNOWN, "No subject with this id on the ledger."))
    purposes = []
    for key in dict.fromkeys(claim.purposes):
        if key in ledger.known_purposes:
            purposes.append(key)
        else:
            failures.append(_failure("purposes", ValidationProblem.UNKNOWN, f"Purpose '{key}' is not registered."))
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
        return {}, [
            _failure("consent_timestamp", ValidationProblem.MISSING, "The record carries no consent timestamp.")
        ]
    timestamp = _parse_timestamp(claim.consent_timestamp)
    if timestamp is None:
        return {}, [
            _failure(
                "consent_timestamp", ValidationProblem.MALFORMED, "Not an RFC 3339 date-time with a time zone offset."
            )
        ]
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
                    ValidationProblem.CONTRADICTS_LEDGER,
                    f"No grant of purpose '{key}' on the ledger at this time (tolerance 1 s).",
                )
            )
    return matched, failures


def _opt_in_failures(claim: ProvenanceClaim, ledger: LedgerFacts, purposes: list[str]) -> list[dict[str, str]]:
    if _is_absent(claim.opt_in):
        return [_failure("opt_in", ValidationProblem.MISSING, "The record carries no opt-in flag.")]
    if not isinstance(claim.opt_in, bool):
        return [_failure("opt_in", ValidationProblem.MALFORMED, "Must be true or false.")]
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
                    ValidationProblem.CONTRADICTS_LEDGER,
                    f"The record claims {claimed} for purpose '{key}'; the ledger says '{status}'.",
                )
            )
    return failures


def _source_failures(
    claim: ProvenanceClaim, ledger: LedgerFacts, purposes: list[str], matched: dict[str, LedgerGrant]
) -> list[dict[str, str]]:
    if _is_absent(claim.source):
        return [_failure("source", ValidationProblem.MISSING, "The record carries no source identifier.")]
    source = well_formed_key(claim.source)
    if source is None:
        return [
            _failure("source", ValidationProblem.MALFORMED, "Not a source key (lowercase letters, digits, . _ : -).")
        ]
    if source not in ledger.registered_sources:
        return [_failure("source", ValidationProblem.UNKNOWN, "No source with this key is registered.")]
    failures = []
    for key in purposes:
        # The grant the timestamp names, else the purpose's latest grant.
        grants = [grant for grant in ledger.grants if grant.purpose == key]
        basis = matched.get(key) or (grants[-1] if grants else None)
        if basis is not None and basis.source != source:
            failures.append(
                _failure(
                    "source",
                    ValidationProblem.CONTRADICTS_LEDGER,
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
        return [_failure("policy_version", ValidationProblem.MALFORMED, "Must be a version label of 1-64 characters.")]
    failures = []
    for key in purposes:
        if version not in ledger.policy_versions.get(key, frozenset()):
            failures.append(
                _failure(
                    "policy_version",
                    ValidationProblem.UNKNOWN,
                    f"No policy version with this label for purpose '{key}'.",
                )
            )
        elif key in matched and matched[key].policy_version not in (None, version):
            failures.append(
                _failure(
                    "policy_version",
                    ValidationProblem.CONTRADICTS_LEDGER,
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
        return [
            _failure(
                "jurisdiction", ValidationProblem.MALFORMED, "Not an ISO 3166 country (DE) or subdivision (US-CA) code."
            )
        ]
    return [
        _failure(
            "jurisdiction",
            ValidationProblem.CONTRADICTS_LEDGER,
            f"The grant of purpose '{key}' was recorded in jurisdiction '{grant.jurisdiction}'.",
        )
        for key, grant in matched.items()
        if grant.jurisdiction != jurisdiction
    ]
