"""What an event must be to enter the ledger: the input shape, the domain errors, and the checks made before
anything is written (clock skew, the catalog, suppression, idempotent replays, the superseded grant)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from consent.catalog import Catalog, organization_catalog
from consent.enums import CLIENT_ACTIONS, Action, CollectionMethod, SourceKind, SuppressionKind
from consent.ledger import canonical_json
from consent.models import ConsentEvent, Purpose, Source, Subject
from consent.subject_ids import suppression_candidates
from core.db import array_param, in_list, select_rows
from core.models import Organization
from core.problems import Conflict, DomainError, InvalidInput

_COLLECTION_METHODS = frozenset(CollectionMethod.values)  # built once: ``.values`` makes a new list per call


class UnknownSource(DomainError):
    status = 422
    slug = "unknown-source"
    title = "Unknown source"


class OccurredInFuture(DomainError):
    status = 422
    slug = "occurred-at-in-future"
    title = "occurred_at is in the future"


class IdempotencyKeyReused(Conflict):
    slug = "idempotency-key-reused"
    title = "Idempotency key reused with a different body"


class SubjectSuppressed(Conflict):
    slug = "subject-suppressed"
    title = "The person was erased on request and may not be imported again"


class SubjectErased(Conflict):
    slug = "subject-erased"
    title = "The subject was erased"


@dataclass(frozen=True)
class EvidenceDocument:
    """A document kept as an event's evidence (a letter, a call note): described in the sealed evidence, its content
    sealed apart."""

    filename: str
    content_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    def evidence(self) -> dict[str, Any]:
        """What the event's evidence (and so the hash chain) says of the document; the content is kept apart
        (``consent.models.EvidenceDocument``)."""
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.content),
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class StaffRecord:
    """What the legal team adds to an event it records from the admin: how the fact reached them (``received_by``),
    who recorded it (the audit actor, never a name), a note and the document."""

    received_by: str
    recorded_by: str
    note: str = ""
    document: EvidenceDocument | None = None

    def evidence(self) -> dict[str, Any]:
        evidence: dict[str, Any] = {"received_by": self.received_by, "recorded_by": self.recorded_by}
        if self.note:
            evidence["note"] = self.note
        if self.document is not None:
            evidence["document"] = self.document.evidence()
        return evidence


@dataclass(frozen=True)
class ConsentEventInput:
    """One event as a client (or the system) reports it. ``pointer`` locates it in the request body."""

    subject_id: str
    purpose: str
    action: str
    occurred_at: datetime
    source: str
    collection_method: str
    jurisdiction: str
    policy_version: str | None = None
    gpc: bool = False
    explicit_confirmation: bool = False
    subject_email: str | None = None
    ip_address: str | None = None
    user_agent: str | None = None
    supersedes: str | None = None
    idempotency_key: str | None = None
    request_digest: str = ""
    pointer: str = ""
    staff_record: StaffRecord | None = None


# One encoder, kept: json.dumps with options builds one per call (every event of a bulk write or an import).
_DIGEST_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_digest(payload: Any) -> str:
    """SHA-256 of the canonical JSON of a request body, to recognise an idempotent retry."""
    return hashlib.sha256(_DIGEST_JSON.encode(payload).encode()).hexdigest()


def plain_request_digest(payload: dict[str, Any]) -> str:
    """:func:`request_digest` of a body made only of objects, strings, booleans and nulls (one the bulk fast path has
    checked), in a fifth of the time: orjson writes the same bytes for those (tests compare them); it writes some
    floats differently, and those may be in another body."""
    return hashlib.sha256(canonical_json(payload)).hexdigest()


def check_clock_skew(items: Sequence[ConsentEventInput], now: datetime) -> None:
    """Refuse events dated further ahead of the server clock than the allowed skew."""
    skew = settings.PROVENANT_ALLOWED_CLOCK_SKEW_SECONDS
    limit = now + timedelta(seconds=skew)
    late = [item for item in items if item.occurred_at > limit]
    if late:
        raise OccurredInFuture(
            f"occurred_at may be at most {skew} seconds ahead of the server clock ({now.isoformat()}).",
            allowed_skew_seconds=skew,
            server_time=now.isoformat(),
            errors=[
                {"pointer": f"{item.pointer}/occurred_at", "detail": "more than the allowed skew in the future"}
                for item in late
            ],
        )


def validate_against_catalog(
    organization: Organization,
    items: Sequence[ConsentEventInput],
    catalog: Catalog,
    allow_system_actions: bool,
) -> None:
    """Every item names a known purpose, an active source, an allowed action and method, and a policy version
    in effect; errors point at the failing item's field."""
    errors: list[dict[str, str]] = []
    unknown_sources = False
    for item in items:
        purpose = catalog.purposes.get(item.purpose)
        if purpose is None:
            errors.append({"pointer": f"{item.pointer}/purpose", "detail": f"unknown purpose '{item.purpose}'"})
        source = catalog.sources.get(item.source)
        if source is None or not source.is_active:
            unknown_sources = True
            errors.append({"pointer": f"{item.pointer}/source", "detail": f"unknown source '{item.source}'"})
        elif source.kind == SourceKind.SYSTEM and not allow_system_actions:
            errors.append({"pointer": f"{item.pointer}/source", "detail": f"source '{item.source}' is reserved"})
        if item.action not in CLIENT_ACTIONS and not (allow_system_actions and item.action == Action.EXPIRE):
            errors.append({"pointer": f"{item.pointer}/action", "detail": f"action '{item.action}' is not allowed"})
        if item.collection_method not in _COLLECTION_METHODS:
            errors.append({"pointer": f"{item.pointer}/collection_method", "detail": "unknown collection method"})
        needs_target = item.action in (Action.INVALIDATE, Action.EXPIRE)
        if needs_target and not item.supersedes:
            errors.append(
                {"pointer": f"{item.pointer}/supersedes", "detail": f"'{item.action}' must name the grant it cancels"}
            )
        if not needs_target and item.supersedes:
            errors.append(
                {"pointer": f"{item.pointer}/supersedes", "detail": "only 'invalidate' may supersede an event"}
            )
        if purpose is not None and item.policy_version is not None:
            version = catalog.versions.get((purpose.pk, item.policy_version))
            if version is None:
                known = sorted(v.version for v in catalog.versions_by_purpose.get(purpose.pk, []))
                errors.append(
                    {
                        "pointer": f"{item.pointer}/policy_version",
                        "detail": f"unknown policy version '{item.policy_version}' of '{purpose.key}'"
                        f" (known: {', '.join(known) or 'none'})",
                    }
                )
            elif version.effective_at > item.occurred_at:
                errors.append(
                    {
                        "pointer": f"{item.pointer}/policy_version",
                        "detail": f"policy version '{version.version}' takes effect at "
                        f"{version.effective_at.isoformat()}, after occurred_at",
                    }
                )
    if not errors:
        return
    if unknown_sources:
        known = list(
            Source.objects.filter(organization=organization, is_active=True)
            .exclude(kind=SourceKind.SYSTEM)
            .order_by("key")
            .values_list("key", flat=True)
        )
        raise UnknownSource(
            "Register the source first, or use one of known_sources.", known_sources=known, errors=errors
        )
    raise InvalidInput("One or more events are invalid; see errors.", errors=errors)


def is_suppressed(catalog: Catalog, kind: str, value: str, *, organization_id: int) -> bool:
    """``value`` is a suppressed identifier of the organization, exactly or as a variant of one that looks the
    same (invisible characters, homoglyphs, case: its skeleton)."""
    exact, skeletons = suppression_candidates(kind, value, organization_id=organization_id)
    return any((kind, index) in catalog.suppressed for index in exact) or any(
        (kind, index) in catalog.suppressed_skeletons for index in skeletons
    )


def refuse_suppressed(items: Sequence[ConsentEventInput], catalog: Catalog, *, organization_id: int) -> None:
    """A person erased on request is not imported again (their identifiers are kept only as keyed hashes)."""
    errors = []
    external_id, email = SuppressionKind.EXTERNAL_ID, SuppressionKind.EMAIL
    for item in items:
        if is_suppressed(catalog, external_id, item.subject_id, organization_id=organization_id):
            errors.append({"pointer": f"{item.pointer}/subject_id", "detail": "this person was erased on request"})
        elif item.subject_email and is_suppressed(catalog, email, item.subject_email, organization_id=organization_id):
            errors.append({"pointer": f"{item.pointer}/subject_email", "detail": "this person was erased on request"})
    if errors:
        raise SubjectSuppressed("The person was erased at their request and may not be imported again.", errors=errors)


def refuse_suppressed_ids(organization: Organization, named: dict[str, str]) -> None:
    """Refuse when any subject id of ``named`` (id -> JSON pointer) is suppressed, exactly or as a variant."""
    catalog = organization_catalog(organization)
    if not catalog.suppressed:
        return
    errors = [
        {"pointer": pointer, "detail": "this person was erased on request"}
        for subject_id, pointer in named.items()
        if is_suppressed(catalog, SuppressionKind.EXTERNAL_ID, subject_id, organization_id=organization.pk)
    ]
    if errors:
        raise SubjectSuppressed("The person was erased at their request and may not be imported again.", errors=errors)


def replayed_events(organization: Organization, items: Sequence[ConsentEventInput]) -> dict[int, ConsentEvent]:
    """Items whose idempotency key was already used with the same body: their first event."""
    keyed = [(i, item) for i, item in enumerate(items) if item.idempotency_key]
    if not keyed:
        return {}
    seen: dict[str, int] = {}
    for i, item in keyed:
        assert item.idempotency_key is not None
        if item.idempotency_key in seen:
            raise InvalidInput(
                "The same idempotency key appears twice in one request.",
                errors=[{"pointer": f"{item.pointer}/idempotency_key", "detail": "duplicate in this request"}],
            )
        seen[item.idempotency_key] = i
    # Most batches replay nothing: the keys are looked up alone (one array, index only), the events read only when
    # some were used before.
    table = ConsentEvent._meta.db_table
    if connection.vendor == "postgresql":  # each key by its index, whatever the statistics say (as the subjects)
        placeholder, keys = array_param(list(seen))
        used = select_rows(
            f"SELECT e.idempotency_key FROM unnest({placeholder}) AS k(key) "  # noqa: S608
            f"CROSS JOIN LATERAL (SELECT e0.idempotency_key FROM {table} e0 WHERE e0.organization_id = %s "
            "AND e0.idempotency_key = k.key AND e0.idempotency_key IS NOT NULL LIMIT 1) e",
            [keys, organization.pk],
            [None],
        )
    else:
        matches, params = in_list("idempotency_key", list(seen))
        used = select_rows(
            f"SELECT idempotency_key FROM {table} WHERE organization_id = %s AND {matches}",  # noqa: S608
            [organization.pk, *params],
            [None],
        )
    if not used:
        return {}
    existing = {
        e.idempotency_key: e
        for e in ConsentEvent.objects.filter(
            organization=organization, idempotency_key__in=[row[0] for row in used]
        ).select_related("subject", "purpose", "source", "policy_version", "supersedes")
    }
    replayed: dict[int, ConsentEvent] = {}
    for key, event in existing.items():
        index = seen[key]  # type: ignore[index]
        if event.request_digest != items[index].request_digest:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used before with a different request body.",
                idempotency_key=key,
                pointer=items[index].pointer or "/",
            )
        replayed[index] = event
    return replayed


def target_problem(
    target: ConsentEvent | None, subject: Subject, purpose: Purpose, item: ConsentEventInput
) -> str | None:
    """What is wrong with the grant an ``invalidate`` or ``expire`` names, or None."""
    if target is None:
        return f"no event '{item.supersedes}' in this organization's ledger"
    if target.subject_id != subject.pk or target.purpose_id != purpose.pk:
        return "the superseded event belongs to another subject or purpose"
    if target.action != Action.GRANT:
        return "only a grant can be invalidated or expired"
    if target.occurred_at > item.occurred_at:
        return "the superseded grant occurred after this event"
    return None
