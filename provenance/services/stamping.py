"""Stamping: decide, per item, whether data may go to a recipient; envelope it with the consent
facts that allow it; sign the envelope; log the decision (never the data).

Each item reads the subject's consent as the ledger projection has it now, through the
jurisdiction's regime and any GPC opt-out. A purpose the subject is not permitted for blocks the
item, with a reason and the rule it comes from. Allowed items get ``body = {"data", "privacy"}``
and the headers to send with it: ``Content-Digest`` (RFC 9530, over the JCS bytes of the body),
``Privacy-Stamp`` (detached compact JWS, EdDSA) and ``Sec-GPC: 1`` when the subject's GPC opt-out
is on record.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone
from ulid import ULID

from consent.catalog import organization_catalog
from consent.gpc import purpose_signal_categories
from consent.ledger import format_instant
from consent.models import Subject
from consent.selectors import PurposeConsent, consent_states_for_subjects, iab_signals, subjects_by_external_ids
from core.db import insert_rows
from core.models import Organization
from core.problems import DomainError, InvalidInput
from provenance import enforcement
from provenance.canonical import canonical_json_fast
from provenance.enums import STAMP_ERROR, StampDecision
from provenance.models import Recipient, StampRecord
from provenance.recipient_cache import recipient_directory
from provenance.services.keys import active_signing_key
from provenance.verify import content_digest, sign_payload

logger = logging.getLogger(__name__)

STAMP_VERSION = "1"
STAMP_SCHEMA = "/schemas/privacy-stamp-1.json"


@dataclass(frozen=True)
class StampRequest:
    recipient: str
    purposes: tuple[str, ...]
    subject_id: str
    data: Any
    provenance: dict[str, Any] | None = None
    jurisdiction: str | None = None
    pointer: str = ""


@dataclass
class StampResult:
    stamp_id: str
    decision: str
    verdicts: list[enforcement.PurposeVerdict]
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None

    @property
    def reasons(self) -> list[dict[str, str | None]]:
        return [{"purpose": v.purpose, "reason": v.reason, "rule": v.rule} for v in self.verdicts if not v.allowed]


INCONSISTENT_DETAIL = (
    "Ledger verification found this subject's consent state does not match its events; no stamp is decided "
    "until the state is rebuilt from the ledger."
)


class ConsentStateInconsistent(DomainError):
    status = 503
    slug = "consent-state-inconsistent"
    title = "The subject's consent state is under repair"


def stamp_many(
    *, organization: Organization, requests: Sequence[StampRequest], stop_on_error: bool = False
) -> list[StampResult]:
    """Stamp items independently: a blocked or invalid item never stops the others (unless
    ``stop_on_error``, for a single stamp, where an invalid request is a 422)."""
    now = timezone.now()
    catalog = organization_catalog(organization)
    directory = recipient_directory(organization, keys={req.recipient for req in requests})
    recipients = directory.recipients
    errors = [_invalid(req, recipients, catalog.purposes) for req in requests]
    if stop_on_error and errors[0]:
        raise InvalidInput("The stamp request is invalid; see errors.", errors=errors[0]["errors"])

    subjects = subjects_by_external_ids(
        organization=organization,
        external_ids={r.subject_id for r, e in zip(requests, errors, strict=True) if not e},
    )
    hints = {r.subject_id: r.jurisdiction for r in requests if r.jurisdiction}
    states = consent_states_for_subjects(organization=organization, subjects=list(subjects.values()))
    signing_key = active_signing_key(organization=organization)

    results: list[StampResult] = []
    records: list[tuple[Any, ...]] = []
    unknown: dict[str | None, list[PurposeConsent]] = {}
    for request, error in zip(requests, errors, strict=True):
        stamp_id = str(ULID())
        if error:
            results.append(StampResult(stamp_id, STAMP_ERROR, [], error=error))
            continue
        recipient = recipients[request.recipient]
        subject = subjects.get(request.subject_id)
        if subject is not None and subject.state_inconsistent_since is not None:
            # Verification found this subject's consent state is not what its events give (issue #12): no
            # decision from a state that may have been tampered with, until it is rebuilt from the ledger.
            if stop_on_error:
                raise ConsentStateInconsistent(INCONSISTENT_DETAIL)
            problem = {"pointer": f"{request.pointer}/subject_id", "detail": INCONSISTENT_DETAIL}
            error = {"type": ConsentStateInconsistent.slug, "errors": [problem]}
            results.append(StampResult(stamp_id, STAMP_ERROR, [], error=error))
            continue
        if subject is not None:
            subject_states = states[subject.pk]
        else:
            hint = hints.get(request.subject_id)
            if hint not in unknown:
                unknown[hint] = _unknown_states(organization, hint)
            subject_states = unknown[hint]
        try:
            data_bytes = canonical_json_fast(request.data)
        except ValueError as exc:  # e.g. an integer JSON numbers cannot carry exactly (RFC 8785 §3.2.2.3)
            problem = {"pointer": f"{request.pointer}/data", "detail": str(exc)}
            if stop_on_error:
                raise InvalidInput("The data cannot be canonicalized; see errors.", errors=[problem]) from exc
            results.append(
                StampResult(stamp_id, STAMP_ERROR, [], error={"type": "validation-error", "errors": [problem]})
            )
            continue
        result = _stamp_one(
            organization,
            request,
            recipient,
            subject,
            subject_states,
            stamp_id,
            now,
            signing_key,
            catalog.purposes,
            data_bytes,
            directory.purposes[recipient.pk],
        )
        results.append(result)
        privacy = result.body["privacy"] if result.body else None
        records.append(
            (
                stamp_id,
                organization.pk,
                recipient.pk,
                subject.pk if subject else None,
                request.subject_id,
                list(request.purposes),
                result.decision,
                result.reasons,
                content_digest(data_bytes),
                signing_key.kid if result.decision == StampDecision.ALLOW else "",
                (subject.jurisdiction if subject else request.jurisdiction) or "",
                bool(privacy and privacy["sources"]) or bool(request.provenance),
                bool(privacy and all(p["since"] for p in privacy["purposes"])),
                bool(privacy and all(p["policy_version"] for p in privacy["purposes"])),
                relied_on_event_ids(request.purposes, subject_states) if subject is not None else [],
                list(recipient.data_categories) if result.decision == StampDecision.ALLOW else [],
                now,
            )
        )
    insert_rows(StampRecord, _RECORD_COLUMNS, records)
    return results


_RECORD_COLUMNS = (
    "stamp_id",
    "organization_id",
    "recipient_id",
    "subject_id",
    "subject_external_id",
    "purposes",
    "decision",
    "reasons",
    "data_digest",
    "kid",
    "jurisdiction",
    "has_source",
    "has_consent_timestamp",
    "has_policy_version",
    "relied_on_event_ids",
    "data_categories",
    "created_at",
)


def relied_on_event_ids(purposes: Sequence[str], states: list[PurposeConsent]) -> list[str]:
    """The events a decision rested on: for each purpose asked (in order, each once), the event its state stood
    on, from the state read the decision was made with (no query of its own)."""
    by_purpose = {state.purpose: state.event_id for state in states}
    found = (by_purpose.get(key) for key in purposes)
    return list(dict.fromkeys(event_id for event_id in found if event_id))


def _invalid(request: StampRequest, recipients: dict[str, Recipient], purposes: dict[str, Any]) -> dict[str, Any]:
    errors = []
    if request.recipient not in recipients:
        errors.append({"pointer": f"{request.pointer}/recipient", "detail": f"unknown recipient '{request.recipient}'"})
    for key in request.purposes:
        if key not in purposes:
            errors.append({"pointer": f"{request.pointer}/purposes", "detail": f"unknown purpose '{key}'"})
    if not request.purposes:
        errors.append({"pointer": f"{request.pointer}/purposes", "detail": "name at least one purpose"})
    return {"type": "validation-error", "errors": errors} if errors else {}


def _unknown_states(organization: Organization, jurisdiction: str | None) -> list[PurposeConsent]:
    """A subject never seen: every purpose unknown, read through the hinted jurisdiction's regime."""
    unseen = Subject(organization=organization, external_id="", jurisdiction=jurisdiction or "")
    unseen.pk = 0
    return consent_states_for_subjects(organization=organization, subjects=[unseen])[0]


def _stamp_one(
    organization: Organization,
    request: StampRequest,
    recipient: Recipient,
    subject: Subject | None,
    states: list[PurposeConsent],
    stamp_id: str,
    now: datetime,
    signing_key: Any,
    purposes: dict[str, Any],
    data_bytes: bytes,
    receives: frozenset[str],
) -> StampResult:
    by_purpose = {state.purpose: state for state in states}
    verdicts = [
        enforcement.purpose_verdict(
            purpose=key,
            permitted=by_purpose[key].permitted,
            basis=by_purpose[key].basis,
            is_sale_or_sharing=bool(
                purpose_signal_categories(
                    is_sale_or_sharing=purposes[key].is_sale_or_sharing,
                    is_targeted_advertising=purposes[key].is_targeted_advertising,
                )
            ),
            recipient_is_third_party=recipient.is_third_party,
            recipient_receives_purpose=key in receives,
        )
        for key in request.purposes
    ]
    if not all(v.allowed for v in verdicts):
        return StampResult(stamp_id, StampDecision.BLOCK, verdicts)

    gpc = any(state.basis == "gpc_opt_out" for state in states)
    opted_out: set[str] = set()
    for state in states:
        if state.basis in ("gpc_opt_out", "opted_out", "withdrawn") and state.purpose in purposes:
            purpose = purposes[state.purpose]
            opted_out |= purpose_signal_categories(
                is_sale_or_sharing=purpose.is_sale_or_sharing, is_targeted_advertising=purpose.is_targeted_advertising
            )
    jurisdiction = (subject.jurisdiction if subject else None) or request.jurisdiction
    privacy: dict[str, Any] = {
        "stamp_version": STAMP_VERSION,
        "stamp_id": stamp_id,
        "stamped_at": format_instant(now),
        "issuer": organization.slug,
        "subject_id": request.subject_id,
        "jurisdiction": jurisdiction,
        "recipient": {"key": recipient.key, "role": recipient.role},
        "purposes": [_purpose_claim(by_purpose[key]) for key in request.purposes],
        "signals": {"gpc": gpc},
        "restrictions": enforcement.restrictions(
            sale_opted_out="sale" in opted_out, share_opted_out="sharing" in opted_out, recipient_role=recipient.role
        ),
        "sources": sorted({state.source for state in states if state.source and state.source != "gpc"}),
        "data_digest": content_digest(data_bytes),
    }
    if request.provenance:
        privacy["provenance"] = request.provenance
    iab = iab_signals(organization=organization, jurisdiction=jurisdiction, states=states, gpc_received=gpc)
    if iab is not None:
        privacy["iab"] = {"gpp": iab.gpp, "gpp_sid": iab.gpp_sid}
        if recipient.legacy_usp:
            privacy["iab"]["us_privacy"] = iab.us_privacy
    body = {"data": request.data, "privacy": privacy}
    # JCS sorts "data" before "privacy": the body's canonical bytes are assembled from the parts.
    body_bytes = b'{"data":' + data_bytes + b',"privacy":' + canonical_json_fast(privacy) + b"}"
    headers = {
        "Content-Type": "application/json",
        "Content-Digest": content_digest(body_bytes),
        "Privacy-Stamp": sign_payload(body_bytes, signing_key.private_key, signing_key.kid),
    }
    if gpc:
        headers["Sec-GPC"] = "1"  # intermediaries may forward the signal (GPC specification)
    return StampResult(stamp_id, StampDecision.ALLOW, verdicts, body=body, headers=headers)


def _purpose_claim(state: PurposeConsent) -> dict[str, Any]:
    return {
        "purpose": state.purpose,
        "opt_in": state.opt_in,
        "permitted": state.permitted,
        "basis": state.basis,
        "status": state.status,
        "since": format_instant(state.since),
        "valid_until": format_instant(state.valid_until),
        "source": state.source,
        "policy_version": state.policy_version,
        "event_id": state.event_id,
    }
