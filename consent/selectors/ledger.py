"""Reads of the consent ledger, always scoped by organization."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from consent.catalog import Catalog, organization_catalog
from consent.enums import DPV_STATUS_IRIS, OPT_IN_STATUSES, OPT_OUT_STATUSES, CollectionMethod, ConsentStatus
from consent.models import ConsentEvent, ConsentState, EvidenceDocument, Purpose, Subject
from consent.permission import effective_permission
from consent.state import FoldedState, LedgerEntry, is_opt_in, replay, status_at
from consent.subject_ids import external_id_forms
from consent.subject_keys import subject_data_key
from core.crypto import CryptoError, unseal
from core.db import Statement, built, convert_rows, in_list, select_many, select_prepared, select_rows
from core.jurisdiction_rules import jurisdiction_rules
from core.models import Organization


@dataclass(frozen=True)
class PurposeConsent:
    """A subject's consent for one purpose, as of an instant."""

    purpose: str
    status: str
    since: datetime | None = None
    valid_until: datetime | None = None
    source: str | None = None
    policy_version: str | None = None
    jurisdiction: str | None = None
    gpc: bool = False
    event_id: str | None = None
    permitted: bool = False
    basis: str = "no_consent_on_record"
    gpc_conflict: bool = False

    @property
    def dpv_status(self) -> str:
        return DPV_STATUS_IRIS[self.status]

    @property
    def opt_in(self) -> bool:
        return is_opt_in(self.status)


def subjects_by_external_ids(*, organization: Organization, external_ids: set[str]) -> dict[str, Subject]:
    """Many subjects by external id, in one query (written in SQL: stamping reads this per batch)."""
    if not external_ids:
        return {}
    meta = Subject._meta
    fields = list(meta.concrete_fields)
    asked_by_form = {form: x for x in external_ids for form in external_id_forms(organization.pk, x)}
    matches, params = in_list("external_id", sorted(asked_by_form))
    rows = select_rows(
        f"SELECT {', '.join(str(f.column) for f in fields)} FROM {meta.db_table} "  # noqa: S608
        f"WHERE organization_id = %s AND {matches}",
        [organization.pk, *params],
        fields,
    )
    attnames = [f.attname for f in fields]
    found: dict[str, Subject] = {}
    for row in rows:
        subject = built(Subject, dict(zip(attnames, row, strict=True)))  # Model.from_db's result, a tenth the cost
        asked = asked_by_form[subject.external_id]
        if asked not in found or subject.external_id == asked:
            found[asked] = subject
    return found


def subject_by_external_id(*, organization: Organization, external_id: str) -> Subject | None:
    """The subject of that external id; an erased subject (which carries ``erased-<keyed hash>`` instead, see
    :func:`consent.subject_ids.erased_external_id`) is found by its original id too."""
    statement, forms = _subject_statement(organization, external_id)
    return _subject_of(select_many([statement])[0], forms)


def subject_with_projection(
    *, organization: Organization, external_id: str
) -> tuple[Subject | None, dict[int, dict[str, Any]]]:
    """The subject (as :func:`subject_by_external_id` finds it) and its projection rows by purpose, in one statement
    that PostgreSQL prepares once per connection: the state read, the API's most frequent call (issue #16)."""
    forms = external_id_forms(organization.pk, external_id)
    rows = select_prepared(_SUBJECT_WITH_PROJECTION, [organization.pk, forms], in_list_params=1)
    width = len(_SUBJECT_COLUMNS)
    subject = _subject_of([row[:width] for row in rows], forms)
    if subject is None:
        return None, {}
    states = [row[width:] for row in rows if row[width] is not None and row[-1] == subject.pk]
    return subject, _projected_rows(states, organization_catalog(organization)).get(subject.pk, {})


def _subject_statement(organization: Organization, external_id: str) -> tuple[Statement, list[str]]:
    forms = external_id_forms(organization.pk, external_id)
    matches, params = in_list("external_id", forms)
    sql = (
        f"SELECT {', '.join(_SUBJECT_COLUMNS)} FROM {Subject._meta.db_table} "  # noqa: S608
        f"WHERE organization_id = %s AND {matches}"
    )
    return (sql, [organization.pk, *params]), forms


def _subject_of(rows: list[tuple[Any, ...]], forms: list[str]) -> Subject | None:
    converted = convert_rows(rows, _subject_fields())
    subjects = {
        s.external_id: s for s in (built(Subject, dict(zip(_SUBJECT_COLUMNS, row, strict=True))) for row in converted)
    }
    return next((subjects[form] for form in forms if form in subjects), None)


_SUBJECT_COLUMNS = tuple(f.attname for f in Subject._meta.concrete_fields)


@lru_cache(maxsize=1)
def _subject_fields() -> list[Any]:
    return [Subject._meta.get_field(name) for name in _SUBJECT_COLUMNS]


def consent_state_for_subject(
    *,
    organization: Organization,
    subject: Subject,
    at: datetime | None = None,
    purpose_key: str | None = None,
    projected: dict[int, dict[str, Any]] | None = None,
) -> list[PurposeConsent]:
    """Every purpose's consent for the subject now (from the projection, or from its rows ``projected`` when the
    caller read them with the subject: :func:`subject_with_projection`) or at a past instant (replayed from the
    ledger), with the effective permission under the subject's jurisdiction. Purposes with no event read
    ``unknown``."""
    catalog = organization_catalog(organization)
    purposes = sorted(catalog.purposes.values(), key=lambda p: p.key)
    if purpose_key is not None:
        purposes = [p for p in purposes if p.key == purpose_key]
    if not purposes:
        return []
    moment = at or timezone.now()
    material = {p.pk: catalog.material_effective_at(p, moment) for p in purposes}
    if at is not None:
        folded = _replayed(subject, purposes, at)
    else:
        folded = projected if projected is not None else _projected([subject], catalog).get(subject.pk, {})
    return _purpose_consents(subject.jurisdiction, purposes, folded, moment, material)


def consent_states_for_subjects(
    *, organization: Organization, subjects: list[Subject], jurisdiction_hint: str | None = None
) -> dict[int, list[PurposeConsent]]:
    """Every purpose's current consent for many subjects, in one query (stamping a batch)."""
    catalog = organization_catalog(organization)
    purposes = sorted(catalog.purposes.values(), key=lambda p: p.key)
    moment = timezone.now()
    material = {p.pk: catalog.material_effective_at(p, moment) for p in purposes}
    projected = _projected(subjects, catalog) if subjects else {}
    return {
        subject.pk: _purpose_consents(
            subject.jurisdiction or jurisdiction_hint, purposes, projected.get(subject.pk, {}), moment, material
        )
        for subject in subjects
    }


def _purpose_consents(
    jurisdiction: str | None,
    purposes: list[Purpose],
    folded: dict[int, dict[str, Any]],
    moment: datetime,
    material: dict[int, datetime | None],
) -> list[PurposeConsent]:
    rules = jurisdiction_rules()
    result = []
    for purpose in purposes:
        row = folded.get(purpose.pk)
        regime = rules.rule_for(jurisdiction or (row["jurisdiction"] if row else None)).regime
        result.append(_purpose_consent(purpose, row, moment, material.get(purpose.pk), regime))
    return result


def _purpose_consent(
    purpose: Purpose, row: dict[str, Any] | None, moment: datetime, material_at: datetime | None, regime: str
) -> PurposeConsent:
    """A folded row read at ``moment``: expiry and staleness overlaid, permission under the regime."""
    if row is None:
        permitted, basis = effective_permission(
            status=ConsentStatus.UNKNOWN,
            gpc_opt_out=False,
            regime=regime,
            is_sensitive=purpose.is_sensitive,
            legal_basis=purpose.legal_basis,
        )
        return PurposeConsent(purpose=purpose.key, status=ConsentStatus.UNKNOWN, permitted=permitted, basis=basis)
    status = status_at(
        stored_status=row["status"],
        valid_until=row["valid_until"],
        at=moment,
        basis_policy_effective_at=row["policy_effective_at"],
        material_policy_effective_at=material_at,
    )
    expired = ConsentStatus.EXPIRED
    since = row["valid_until"] if status == expired and row["status"] != expired else row["since"]
    gpc_opt_out = row["basis_is_gpc"] and status in OPT_OUT_STATUSES
    permitted, basis = effective_permission(
        status=status,
        gpc_opt_out=gpc_opt_out,
        regime=regime,
        is_sensitive=purpose.is_sensitive,
        legal_basis=purpose.legal_basis,
    )
    return PurposeConsent(
        purpose=purpose.key,
        status=status,
        since=since,
        valid_until=row["valid_until"],
        source=row["source"],
        policy_version=row["policy_version"],
        jurisdiction=row["jurisdiction"],
        gpc=row["gpc"],
        event_id=row["event_id"],
        permitted=permitted,
        basis=basis,
        gpc_conflict=row["gpc_conflict"] and gpc_opt_out,
    )


_PROJECTED_SELECT = (
    "SELECT s.purpose_id, s.status, s.since, s.valid_until, s.jurisdiction, s.gpc, s.gpc_conflict, "  # noqa: S608
    "s.source_id, s.policy_version_id, e.event_id, b.collection_method, s.subject_id "
    f"FROM {ConsentState._meta.db_table} s JOIN {ConsentEvent._meta.db_table} e ON e.id = s.event_id "
    f"JOIN {ConsentEvent._meta.db_table} b ON b.id = s.basis_event_id"
)


_PROJECTED_COLUMNS = _PROJECTED_SELECT[len("SELECT ") : _PROJECTED_SELECT.index(" FROM ")]
# The subject by any of its id's forms, and its projection rows (none: one row of NULLs after the subject's columns).
_SUBJECT_WITH_PROJECTION = (
    f"SELECT {', '.join(f'x.{c}' for c in _SUBJECT_COLUMNS)}, {_PROJECTED_COLUMNS} "  # noqa: S608
    f"FROM {Subject._meta.db_table} x LEFT JOIN {ConsentState._meta.db_table} s "
    "ON s.organization_id = x.organization_id AND s.subject_id = x.id "
    f"LEFT JOIN {ConsentEvent._meta.db_table} e ON e.id = s.event_id "
    f"LEFT JOIN {ConsentEvent._meta.db_table} b ON b.id = s.basis_event_id "
    "WHERE x.organization_id = %s AND x.external_id = ANY(%s)"
)


@lru_cache(maxsize=1)
def _projected_fields() -> list[Any]:
    state, event = ConsentState._meta, ConsentEvent._meta
    names = ("purpose", "status", "since", "valid_until", "jurisdiction", "gpc", "gpc_conflict", "source")
    return [
        *(state.get_field(name) for name in (*names, "policy_version")),
        event.get_field("event_id"),
        event.get_field("collection_method"),
        None,
    ]


def _projected(subjects: list[Subject], catalog: Catalog) -> dict[int, dict[int, dict[str, Any]]]:
    """The subjects' projection rows by subject and purpose, in one query (names from the cached catalog)."""
    matches, params = in_list("s.subject_id", [subject.pk for subject in subjects])
    organization_ids = sorted({subject.organization_id for subject in subjects})
    return _projected_rows(
        select_many(
            [(f"{_PROJECTED_SELECT} WHERE s.organization_id = ANY(%s) AND {matches}", [organization_ids, *params])]
        )[0],
        catalog,
    )


def _projected_rows(rows: list[tuple[Any, ...]], catalog: Catalog) -> dict[int, dict[int, dict[str, Any]]]:
    projected: dict[int, dict[int, dict[str, Any]]] = defaultdict(dict)
    for (
        purpose_id,
        status,
        since,
        valid_until,
        jurisdiction,
        gpc,
        gpc_conflict,
        source_id,
        version_id,
        event_id,
        basis_method,
        subject_id,
    ) in convert_rows(rows, _projected_fields()):
        source = catalog.source_by_id(source_id)
        version = catalog.policy_version_by_id(version_id)
        projected[subject_id][purpose_id] = {
            "status": status,
            "since": since,
            "valid_until": valid_until,
            "jurisdiction": jurisdiction,
            "gpc": gpc,
            "gpc_conflict": gpc_conflict,
            "basis_is_gpc": basis_method == CollectionMethod.GPC_SIGNAL,
            "source": source.key if source else None,
            "policy_version": version.version if version else None,
            "policy_effective_at": version.effective_at if version else None,
            "event_id": event_id,
        }
    return projected


def _replayed(subject: Subject, purposes: list[Purpose], at: datetime) -> dict[int, dict[str, Any]]:
    events = list(
        ConsentEvent.objects.filter(subject=subject, purpose__in=purposes, occurred_at__lte=at).values(
            "pk",
            "event_id",
            "purpose_id",
            "action",
            "occurred_at",
            "valid_until",
            "supersedes__event_id",
            "jurisdiction",
            "gpc",
            "collection_method",
            "lifts_gpc_opt_out",
            "source__key",
            "policy_version__version",
            "policy_version__effective_at",
        )
    )
    by_pk = {e["pk"]: e for e in events}
    history: dict[int, list[LedgerEntry]] = defaultdict(list)
    for e in events:
        history[e["purpose_id"]].append(
            LedgerEntry(
                seq=e["pk"],
                event_id=e["event_id"],
                action=e["action"],
                occurred_at=e["occurred_at"],
                valid_until=e["valid_until"],
                supersedes=e["supersedes__event_id"],
                is_gpc=e["collection_method"] == CollectionMethod.GPC_SIGNAL,
                lifts_gpc=e["lifts_gpc_opt_out"],
            )
        )
    folded: dict[int, dict[str, Any]] = {}
    for purpose_id, entries in history.items():
        state = replay(entries, at=at)
        if state is None:
            continue
        basis = by_pk[state.basis.seq]
        folded[purpose_id] = {
            "status": state.status,
            "since": state.since,
            "valid_until": state.valid_until,
            "jurisdiction": basis["jurisdiction"],
            "gpc": basis["gpc"],
            "gpc_conflict": state.gpc_conflict,
            "basis_is_gpc": state.basis.is_gpc,
            "source": basis["source__key"],
            "policy_version": basis["policy_version__version"],
            "policy_effective_at": basis["policy_version__effective_at"],
            "event_id": state.event.event_id,
        }
    return folded


def consent_state_of_row(
    *, state: ConsentState, folded: FoldedState, subject: Subject, catalog: Catalog
) -> PurposeConsent:
    """A freshly written projection row as the API shows it, using the catalog (no queries)."""
    moment = timezone.now()
    purpose = state.purpose
    source = catalog.source_by_id(state.source_id)
    version = catalog.policy_version_by_id(state.policy_version_id)
    row = {
        "status": state.status,
        "since": state.since,
        "valid_until": state.valid_until,
        "jurisdiction": state.jurisdiction,
        "gpc": state.gpc,
        "gpc_conflict": state.gpc_conflict,
        "basis_is_gpc": folded.basis.is_gpc,
        "source": source.key if source else None,
        "policy_version": version.version if version else None,
        "policy_effective_at": version.effective_at if version else None,
        "event_id": folded.event.event_id,
    }
    regime = jurisdiction_rules().rule_for(subject.jurisdiction or state.jurisdiction).regime
    return _purpose_consent(purpose, row, moment, catalog.material_effective_at(purpose, moment), regime)


def consent_state_status_now(*, state: ConsentState, at: datetime | None = None) -> str:
    """A stored projection row's status as the API reads it (:func:`consent.state.status_at`): a grant past its
    ``valid_until`` is expired before the expiry sweep writes its event; one under an older notice than the
    purpose's material version is stale. Reads the organization's cached catalog; select
    ``basis_event__policy_version`` and ``organization`` with the rows."""
    moment = at or timezone.now()
    catalog = organization_catalog(state.organization)
    basis_version = state.basis_event.policy_version
    return status_at(
        stored_status=state.status,
        valid_until=state.valid_until,
        at=moment,
        basis_policy_effective_at=basis_version.effective_at if basis_version is not None else None,
        material_policy_effective_at=catalog.material_effective_at(state.purpose, moment),
    )


def consent_states_by_status_now(
    queryset: QuerySet[ConsentState], status: str, at: datetime | None = None
) -> QuerySet[ConsentState]:
    """The rows whose status read at ``at`` is ``status`` as far as expiry decides it (staleness needs each
    purpose's notices: a stale grant is listed with the grants)."""
    moment = at or timezone.now()
    lapsed = Q(status__in=OPT_IN_STATUSES, valid_until__lte=moment)
    if status == ConsentStatus.EXPIRED:
        return queryset.filter(Q(status=ConsentStatus.EXPIRED) | lapsed)
    if status in OPT_IN_STATUSES:
        return queryset.filter(status=status).exclude(lapsed)
    return queryset.filter(status=status)


def consent_event_by_id(*, organization: Organization, event_id: str) -> ConsentEvent | None:
    """One ledger event of the organization, with what its representation names."""
    return (
        ConsentEvent.objects.filter(organization=organization, event_id=event_id)
        .select_related("subject", "purpose", "source", "policy_version", "supersedes")
        .first()
    )


def consent_history(
    *, subject: Subject, after_chain_index: int = 0, limit: int = 50
) -> tuple[list[ConsentEvent], bool]:
    """A page of the subject's ledger in chain order, and whether more follows."""
    events = list(
        ConsentEvent.objects.filter(subject=subject, chain_index__gt=after_chain_index)
        .select_related("purpose", "source", "policy_version", "supersedes", "subject")
        .order_by("chain_index")[: limit + 1]
    )
    return events[:limit], len(events) > limit


def event_evidence(event: ConsentEvent) -> dict[str, Any] | None:
    """The event's evidence in clear, or None when there is none or the subject was erased."""
    if not event.evidence_sealed:
        return None
    if event.subject.wrapped_data_key is None:
        return None
    data_key = subject_data_key(event.subject)  # SubjectKeyUnavailable (409) when the key is not this subject's
    try:
        return json.loads(unseal(data_key, event.evidence_sealed, context=f"evidence:{event.event_id}"))
    except CryptoError:
        return None


# What the legal team adds to the evidence of an event it records (consent.services.staff_recording) for its own
# file: shown in an evidence pack (audited), left out of the ledger's reads and of the requester's export.
STAFF_INTERNAL_EVIDENCE_KEYS = ("note", "recorded_by")


def shared_evidence(evidence: dict[str, Any] | None) -> dict[str, Any] | None:
    """The evidence as the ledger's reads and a DSAR export show it: without the legal team's internal note and the
    recording staff user (the evidence pack has them)."""
    if evidence is None:
        return None
    return {key: value for key, value in evidence.items() if key not in STAFF_INTERNAL_EVIDENCE_KEYS}


def evidence_document_context(event_id: str) -> str:
    """What a kept document's seal is bound to: its event."""
    return f"evidence-document:{event_id}"


def evidence_document_content(event: ConsentEvent, described: dict[str, Any]) -> bytes | None:
    """The document an event's evidence describes (``described``: its filename, type, size and SHA-256), in clear;
    None when it is not kept, the subject was erased, or the content is not what the chained digest says."""
    if event.subject.wrapped_data_key is None:
        return None
    stored = EvidenceDocument.objects.filter(event_id=event.event_id).first()
    if stored is None or stored.sha256 != described.get("sha256"):
        return None
    try:
        encoded = unseal(
            subject_data_key(event.subject), stored.content_sealed, context=evidence_document_context(event.event_id)
        )
    except CryptoError:
        return None
    content = base64.b64decode(encoded)
    return content if hashlib.sha256(content).hexdigest() == described.get("sha256") else None


def subject_email(subject: Subject) -> str | None:
    """The subject's email in clear; None when there is none or it was erased. :class:`SubjectKeyUnavailable`
    (409) when the subject's data key is not its own (copied from another row)."""
    if not subject.email_sealed or subject.wrapped_data_key is None:
        return None
    data_key = subject_data_key(subject)
    try:
        return unseal(data_key, subject.email_sealed, context=f"email:{subject.uuid}")
    except CryptoError:
        return None


def consent_status_after_event(event: ConsentEvent) -> str:
    """The status of the event's purpose for its subject once the event was appended: the subject's events for
    the purpose up to the event's place in the chain, replayed (one query). ``unknown`` when nothing applies."""
    entries = [
        LedgerEntry(
            seq=e["pk"],
            event_id=e["event_id"],
            action=e["action"],
            occurred_at=e["occurred_at"],
            valid_until=e["valid_until"],
            supersedes=e["supersedes__event_id"],
            is_gpc=e["collection_method"] == CollectionMethod.GPC_SIGNAL,
            lifts_gpc=e["lifts_gpc_opt_out"],
        )
        for e in ConsentEvent.objects.filter(
            subject_id=event.subject_id, purpose_id=event.purpose_id, chain_index__lte=event.chain_index
        ).values(
            "pk",
            "event_id",
            "action",
            "occurred_at",
            "valid_until",
            "supersedes__event_id",
            "collection_method",
            "lifts_gpc_opt_out",
        )
    ]
    state = replay(entries)
    return state.status if state is not None else ConsentStatus.UNKNOWN
