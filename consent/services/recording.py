"""Appending to the consent ledger: ``consent_record_many`` is the one way an event enters it.

It validates against the catalog, takes the subjects' chain locks, appends hash-chained events and
advances the consent projection, all in one transaction. A single event is a batch of one. The
expiry sweep writes its ``expire`` events through it too.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from ulid import ULID

from consent import ledger
from consent.catalog import Catalog, organization_catalog
from consent.gpc import may_override_gpc
from consent.models import (
    Action,
    CollectionMethod,
    ConsentEvent,
    ConsentState,
    PolicyVersion,
    Purpose,
    Source,
    Subject,
)
from consent.state import FoldedState, LedgerEntry, fold, replay, sorts_after
from core.crypto import blind_index, new_data_key, normalize_email, seal, unwrap_data_key
from core.db import in_list, insert_rows, select_rows, upsert_rows
from core.models import Organization
from core.problems import Conflict, DomainError, InvalidInput
from core.timeutil import add_duration, parse_iso_duration

logger = logging.getLogger("consent.services")


SYSTEM_SOURCE_KEY = "provenant"
CLIENT_ACTIONS = frozenset({Action.GRANT, Action.REFUSE, Action.WITHDRAW, Action.INVALIDATE})
MAX_ATTEMPTS = 4


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


@dataclass
class RecordedEvent:
    """An appended (or idempotently replayed) event and the purpose's projection row after it.

    ``folded`` is the pure state behind the row: which event it now rests on (not always this one:
    a late event that sorts before the current decision leaves it in place) and its GPC flags."""

    event: ConsentEvent
    state: ConsentState | None
    replayed: bool = False
    folded: FoldedState | None = None


def request_digest(payload: Any) -> str:
    """SHA-256 of the canonical JSON of a request body, to recognise an idempotent retry."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------------------------
# Recording events
# --------------------------------------------------------------------------------------------


def consent_record(*, organization: Organization, item: ConsentEventInput) -> RecordedEvent:
    """Append one event. Same rules as a batch; returns the event and the purpose's new state."""
    return consent_record_many(organization=organization, items=[item])[0]


def consent_record_many(
    *,
    organization: Organization,
    items: Sequence[ConsentEventInput],
    allow_system_actions: bool = False,
    now: datetime | None = None,
) -> list[RecordedEvent]:
    """Append events all-or-nothing. Retries the whole transaction on a deadlock or a lost race."""
    now = now or timezone.now()
    _check_clock_skew(items, now)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return _record_many(organization, items, allow_system_actions, now)
        except (IntegrityError, OperationalError) as exc:
            if attempt == MAX_ATTEMPTS or not _is_retryable(exc):
                raise
            logger.info(
                "consent batch retried after %s (attempt %d): %s",
                type(exc).__name__,
                attempt,
                getattr(exc.__cause__, "sqlstate", None) or str(exc).splitlines()[0][:200],
            )
    raise AssertionError("unreachable")


def _is_retryable(exc: Exception) -> bool:
    if isinstance(exc, IntegrityError):
        return True  # a concurrent writer took the same idempotency key or created the same subject
    cause = getattr(exc, "__cause__", None)
    sqlstate = getattr(cause, "sqlstate", None)
    return sqlstate in {"40P01", "40001"} or "database is locked" in str(exc)


def _check_clock_skew(items: Sequence[ConsentEventInput], now: datetime) -> None:
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


def _validate(
    organization: Organization,
    items: Sequence[ConsentEventInput],
    catalog: Catalog,
    allow_system_actions: bool,
) -> None:
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
        elif source.kind == Source.Kind.SYSTEM and not allow_system_actions:
            errors.append({"pointer": f"{item.pointer}/source", "detail": f"source '{item.source}' is reserved"})
        if item.action not in CLIENT_ACTIONS and not (allow_system_actions and item.action == Action.EXPIRE):
            errors.append({"pointer": f"{item.pointer}/action", "detail": f"action '{item.action}' is not allowed"})
        if item.collection_method not in CollectionMethod.values:
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
            .exclude(kind=Source.Kind.SYSTEM)
            .order_by("key")
            .values_list("key", flat=True)
        )
        raise UnknownSource(
            "Register the source first, or use one of known_sources.", known_sources=known, errors=errors
        )
    raise InvalidInput("One or more events are invalid; see errors.", errors=errors)


def _refuse_suppressed(items: Sequence[ConsentEventInput], suppressed: frozenset[tuple[str, str]]) -> None:
    """A person erased on request is not imported again (their identifiers are kept only as keyed hashes)."""
    from consent.services.subjects import suppression_index  # subjects imports this module's neighbours

    errors = []
    for item in items:
        if ("external_id", suppression_index("external_id", item.subject_id)) in suppressed:
            errors.append({"pointer": f"{item.pointer}/subject_id", "detail": "this person was erased on request"})
        elif item.subject_email and ("email", suppression_index("email", item.subject_email)) in suppressed:
            errors.append({"pointer": f"{item.pointer}/subject_email", "detail": "this person was erased on request"})
    if errors:
        raise SubjectSuppressed("The person was erased at their request and may not be imported again.", errors=errors)


def _replayed_events(organization: Organization, items: Sequence[ConsentEventInput]) -> dict[int, ConsentEvent]:
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
    existing = {
        e.idempotency_key: e
        for e in ConsentEvent.objects.filter(organization=organization, idempotency_key__in=list(seen)).select_related(
            "subject", "purpose", "source", "policy_version", "supersedes"
        )
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


_SUBJECT_FIELDS = (
    "id",
    "organization_id",
    "external_id",
    "uuid",
    "email_sealed",
    "email_index",
    "wrapped_data_key",
    "data_key_destroyed_at",
    "jurisdiction",
    "ledger_length",
    "ledger_head_hash",
    "created_at",
)


def _select_subjects(organization: Organization, external_ids: list[str]) -> dict[str, Subject]:
    meta = Subject._meta
    matches, params = in_list("external_id", external_ids)
    rows = select_rows(
        f"SELECT {', '.join(_SUBJECT_FIELDS)} FROM {meta.db_table} "  # noqa: S608
        f"WHERE organization_id = %s AND {matches}",
        [organization.pk, *params],
        [meta.get_field(name) for name in _SUBJECT_FIELDS],
    )
    subjects = {}
    for row in rows:
        subject = Subject.from_db(connection.alias, _SUBJECT_FIELDS, row)
        subjects[subject.external_id] = subject
    return subjects


def _chain_lock_key(organization_id: int, external_id: str) -> int:
    digest = hashlib.blake2b(
        f"{organization_id}\x00{external_id}".encode(), digest_size=8, person=b"pvn-chain"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_subjects(organization: Organization, external_ids: set[str]) -> dict[str, Subject]:
    """Take the subjects' chain locks, then read (creating when missing) their rows.

    On PostgreSQL the locks are transaction-scoped advisory locks taken in one statement in
    ascending key order, before any row is read or inserted: every writer acquires in the same
    global order, so concurrent batches over overlapping subjects queue and never deadlock, even
    while they create the same new subjects. (Row locks cannot give that: a row created by another
    writer after our first read would be locked out of order.) SQLite serialises writers anyway.
    """
    if not external_ids:
        return {}
    ordered = sorted(external_ids)
    if connection.vendor == "postgresql":
        keys = sorted({_chain_lock_key(organization.pk, x) for x in ordered})
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", [keys])
    subjects = _select_subjects(organization, ordered)
    missing = [x for x in ordered if x not in subjects]
    if missing:
        created_at = timezone.now()
        insert_rows(
            Subject,
            (
                "organization_id",
                "external_id",
                "uuid",
                "email_sealed",
                "email_index",
                "wrapped_data_key",
                "jurisdiction",
                "ledger_length",
                "ledger_head_hash",
                "created_at",
            ),
            [
                (organization.pk, x, uuid.uuid4(), "", "", new_data_key()[1], "", 0, ledger.GENESIS_HASH, created_at)
                for x in missing
            ],
            skip_conflicts=True,
        )
        subjects.update(_select_subjects(organization, missing))
    return subjects


def _state_entry(event: ConsentEvent, supersedes_event_id: str | None) -> LedgerEntry:
    return LedgerEntry(
        seq=event.pk,
        event_id=event.event_id,
        action=event.action,
        occurred_at=event.occurred_at,
        valid_until=event.valid_until,
        supersedes=supersedes_event_id,
        is_gpc=event.collection_method == CollectionMethod.GPC_SIGNAL,
        lifts_gpc=event.lifts_gpc_opt_out,
    )


_EVENT_COLUMNS = (
    "event_id",
    "organization_id",
    "subject_id",
    "chain_index",
    "purpose_id",
    "action",
    "supersedes_id",
    "occurred_at",
    "recorded_at",
    "valid_until",
    "source_id",
    "collection_method",
    "policy_version_id",
    "jurisdiction",
    "gpc",
    "explicit_confirmation",
    "lifts_gpc_opt_out",
    "evidence_sealed",
    "idempotency_key",
    "request_digest",
    "prev_hash",
    "hash",
)
_STATE_COLUMNS = (
    "subject_id",
    "purpose_id",
    "status",
    "since",
    "valid_until",
    "event_id",
    "basis_event_id",
    "source_id",
    "policy_version_id",
    "jurisdiction",
    "gpc",
    "gpc_conflict",
    "last_occurred_at",
    "last_rank",
    "last_seq",
    "updated_at",
)


def _select_states(*, subject_ids: list[int], purpose_ids: list[int]) -> list[list[Any]]:
    """Projection rows with what folding needs of their deciding and basis events, in one query."""
    if not subject_ids or not purpose_ids:
        return []
    subjects_sql, subject_params = in_list("s.subject_id", subject_ids)
    purposes_sql, purpose_params = in_list("s.purpose_id", purpose_ids)
    state, event = ConsentState._meta, ConsentEvent._meta
    fields = [
        state.get_field(n)
        for n in ("subject", "purpose", "status", "since", "valid_until", "last_occurred_at", "last_rank", "last_seq")
    ]
    event_fields = [
        event.get_field(n)
        for n in ("id", "event_id", "action", "occurred_at", "valid_until", "collection_method", "lifts_gpc_opt_out")
    ]
    tail = [state.get_field(n) for n in ("source", "policy_version", "jurisdiction", "gpc", "gpc_conflict")]
    return select_rows(
        "SELECT s.subject_id, s.purpose_id, s.status, s.since, s.valid_until, s.last_occurred_at, s.last_rank, "  # noqa: S608
        "s.last_seq, e.id, e.event_id, e.action, e.occurred_at, e.valid_until, e.collection_method, "
        "e.lifts_gpc_opt_out, b.id, b.event_id, b.action, b.occurred_at, b.valid_until, b.collection_method, "
        "b.lifts_gpc_opt_out, s.source_id, s.policy_version_id, s.jurisdiction, s.gpc, s.gpc_conflict "
        f"FROM {state.db_table} s JOIN {event.db_table} e ON e.id = s.event_id "
        f"JOIN {event.db_table} b ON b.id = s.basis_event_id "
        f"WHERE {subjects_sql} AND {purposes_sql}",
        [*subject_params, *purpose_params],
        [*fields, *event_fields, *event_fields, *tail],
    )


def _folded_from_row(
    row: Sequence[Any],
) -> tuple[tuple[int, int], FoldedState, tuple[int, int | None, str, bool]]:
    (
        subject_id,
        purpose_id,
        status,
        since,
        valid_until,
        last_at,
        last_rank,
        last_seq,
        event_seq,
        event_id,
        event_action,
        event_at,
        event_valid_until,
        event_method,
        event_lifts,
        basis_seq,
        basis_id,
        basis_action,
        basis_at,
        basis_valid_until,
        basis_method,
        basis_lifts,
        source_id,
        version_id,
        jurisdiction,
        gpc,
        gpc_conflict,
    ) = row
    gpc_method = CollectionMethod.GPC_SIGNAL
    state = FoldedState(
        status=status,
        since=since,
        valid_until=valid_until,
        event=LedgerEntry(
            event_seq,
            event_id,
            event_action,
            event_at,
            event_valid_until,
            None,
            event_method == gpc_method,
            event_lifts,
        ),
        basis=LedgerEntry(
            basis_seq,
            basis_id,
            basis_action,
            basis_at,
            basis_valid_until,
            None,
            basis_method == gpc_method,
            basis_lifts,
        ),
        last_key=(last_at, last_rank, last_seq),
        gpc_conflict=gpc_conflict,
    )
    return (subject_id, purpose_id), state, (source_id, version_id, jurisdiction, gpc)


def _update_subject_tips(subjects: list[Subject]) -> None:
    """Write the subjects' new chain tips (and email) in one statement."""
    if not subjects:
        return
    table = Subject._meta.db_table
    values = [
        (s.ledger_length, s.ledger_head_hash, s.email_sealed, s.email_index, s.jurisdiction, s.pk) for s in subjects
    ]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            columns = list(zip(*values, strict=True))
            cursor.execute(
                f"UPDATE {table} AS s SET ledger_length = v.len, ledger_head_hash = v.head, "  # noqa: S608
                "email_sealed = v.sealed, email_index = v.idx, jurisdiction = v.jurisdiction "
                "FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[]) "
                "AS v(len, head, sealed, idx, jurisdiction, id) WHERE s.id = v.id",
                [list(c) for c in columns],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET ledger_length = %s, ledger_head_hash = %s, "  # noqa: S608
                "email_sealed = %s, email_index = %s, jurisdiction = %s WHERE id = %s",
                values,
            )


def _record_many(
    organization: Organization,
    items: Sequence[ConsentEventInput],
    allow_system_actions: bool,
    now: datetime,
) -> list[RecordedEvent]:
    catalog = organization_catalog(
        organization, purpose_keys={i.purpose for i in items}, source_keys={i.source for i in items}
    )
    _validate(organization, items, catalog, allow_system_actions)
    if catalog.suppressed and not allow_system_actions:
        _refuse_suppressed(items, catalog.suppressed)
    replayed = _replayed_events(organization, items)
    fresh = [(i, item) for i, item in enumerate(items) if i not in replayed]
    subjects = _lock_subjects(organization, {item.subject_id for _, item in fresh})

    # Grants named by 'supersedes' (they must already be in the ledger).
    targets_by_id: dict[str, ConsentEvent] = {}
    target_ids = {item.supersedes for _, item in fresh if item.supersedes}
    if target_ids:
        targets_by_id = {
            e.event_id: e for e in ConsentEvent.objects.filter(organization=organization, event_id__in=target_ids)
        }

    events: list[ConsentEvent] = []
    errors: list[dict[str, str]] = []
    data_keys: dict[int, bytes] = {}
    touched_subjects: dict[int, Subject] = {}
    for _, item in fresh:
        subject = subjects[item.subject_id]
        purpose = catalog.purposes[item.purpose]
        source = catalog.sources[item.source]
        target = targets_by_id.get(item.supersedes) if item.supersedes else None
        if item.supersedes:
            problem = _target_problem(target, subject, purpose, item)
            if problem:
                errors.append({"pointer": f"{item.pointer}/supersedes", "detail": problem})
                continue
        version: PolicyVersion | None
        if item.policy_version is not None:
            version = catalog.versions[(purpose.pk, item.policy_version)]
        else:
            version = catalog.current_version(purpose, item.occurred_at)
        valid_until = None
        if item.action == Action.GRANT and purpose.validity:
            valid_until = add_duration(item.occurred_at, parse_iso_duration(purpose.validity))

        event_id = str(ULID())
        evidence = {k: v for k, v in (("ip_address", item.ip_address), ("user_agent", item.user_agent)) if v}
        needs_key = bool(evidence) or bool(item.subject_email)
        if needs_key and subject.wrapped_data_key is None:
            raise SubjectErased(
                "This subject's personal data was erased; evidence and email can no longer be stored for it.",
                pointer=item.pointer or "/",
            )
        if needs_key and subject.pk not in data_keys:
            data_keys[subject.pk] = unwrap_data_key(subject.wrapped_data_key)
        evidence_sealed = (
            seal(data_keys[subject.pk], json.dumps(evidence, sort_keys=True), context=f"evidence:{event_id}")
            if evidence
            else ""
        )
        if item.subject_email:
            normalized = normalize_email(item.subject_email)
            email_index = blind_index(normalized, namespace="email")
            if subject.email_index != email_index:
                subject.email_sealed = seal(data_keys[subject.pk], normalized, context=f"email:{subject.uuid}")
                subject.email_index = email_index

        lifts_gpc = (
            item.action == Action.GRANT
            and item.explicit_confirmation
            and may_override_gpc(jurisdiction=item.jurisdiction, subject_is_known=bool(subject.email_index))
        )
        subject.jurisdiction = item.jurisdiction
        chain_index = subject.ledger_length + 1
        fields = ledger.canonical_fields(
            event_id=event_id,
            subject_uuid=str(subject.uuid),
            chain_index=chain_index,
            purpose=purpose.key,
            action=item.action,
            occurred_at=item.occurred_at,
            recorded_at=now,
            valid_until=valid_until,
            source=source.key,
            collection_method=item.collection_method,
            policy_version=version.version if version else None,
            jurisdiction=item.jurisdiction,
            gpc=item.gpc,
            explicit_confirmation=item.explicit_confirmation,
            lifts_gpc_opt_out=lifts_gpc,
            evidence_sealed=evidence_sealed,
            supersedes=item.supersedes,
        )
        event_hash = ledger.event_hash(fields, subject.ledger_head_hash)
        event = ConsentEvent(
            event_id=event_id,
            organization=organization,
            subject=subject,
            chain_index=chain_index,
            purpose=purpose,
            action=item.action,
            supersedes=target,
            occurred_at=item.occurred_at,
            recorded_at=now,
            valid_until=valid_until,
            source=source,
            collection_method=item.collection_method,
            policy_version=version,
            jurisdiction=item.jurisdiction,
            gpc=item.gpc,
            explicit_confirmation=item.explicit_confirmation,
            lifts_gpc_opt_out=lifts_gpc,
            evidence_sealed=evidence_sealed,
            idempotency_key=item.idempotency_key,
            request_digest=item.request_digest,
            prev_hash=subject.ledger_head_hash,
            hash=event_hash,
        )
        events.append(event)
        subject.ledger_length = chain_index
        subject.ledger_head_hash = event_hash
        touched_subjects[subject.pk] = subject
    if errors:
        raise InvalidInput("One or more events are invalid; see errors.", errors=errors)

    # Sequence numbers break ordering ties, so the rows must have them before the state is folded.
    seqs = insert_rows(
        ConsentEvent, _EVENT_COLUMNS, [[getattr(e, f) for f in _EVENT_COLUMNS] for e in events], returning="id"
    )
    for event, seq in zip(events, seqs, strict=True):
        event.pk = seq
        event._state.adding = False
        event._state.db = connection.alias
    _update_subject_tips(list(touched_subjects.values()))
    states, deciding = _advance_states(organization, events, now)

    results: list[RecordedEvent | None] = [None] * len(items)
    for index, event in replayed.items():
        results[index] = RecordedEvent(event=event, state=None, replayed=True)
    fresh_iter = iter(events)
    for index, _ in fresh:
        event = next(fresh_iter)
        pair = (event.subject_id, event.purpose_id)
        results[index] = RecordedEvent(event=event, state=states.get(pair), folded=deciding.get(pair))
    return [r for r in results if r is not None]


def _target_problem(
    target: ConsentEvent | None, subject: Subject, purpose: Purpose, item: ConsentEventInput
) -> str | None:
    if target is None:
        return f"no event '{item.supersedes}' in this organization's ledger"
    if target.subject_id != subject.pk or target.purpose_id != purpose.pk:
        return "the superseded event belongs to another subject or purpose"
    if target.action != Action.GRANT:
        return "only a grant can be invalidated or expired"
    if target.occurred_at > item.occurred_at:
        return "the superseded grant occurred after this event"
    return None


def _advance_states(
    organization: Organization, events: list[ConsentEvent], now: datetime
) -> tuple[dict[tuple[int, int], ConsentState], dict[tuple[int, int], FoldedState]]:
    """Fold the new events into the projection; replay a pair's history when one arrives out of order."""
    pairs = {(e.subject_id, e.purpose_id) for e in events}
    purposes = {e.purpose_id: e.purpose for e in events}
    # seq -> (source, policy version, jurisdiction, gpc) of the event a state rests on
    facts: dict[int, tuple[int, int | None, str, bool]] = {}
    folded: dict[tuple[int, int], FoldedState | None] = {}
    needs_replay: set[tuple[int, int]] = set()
    rows = _select_states(
        subject_ids=sorted({subject_id for subject_id, _ in pairs}), purpose_ids=sorted({p for _, p in pairs})
    )
    for row in rows:
        pair, state, basis_facts = _folded_from_row(row)
        if pair in pairs:
            folded[pair] = state
            facts[state.basis.seq] = basis_facts
    for event in events:
        pair = (event.subject_id, event.purpose_id)
        facts[event.pk] = (event.source_id, event.policy_version_id, event.jurisdiction, event.gpc)
        if pair in needs_replay:
            continue
        entry = _state_entry(event, event.supersedes.event_id if event.supersedes else None)
        current = folded.get(pair)
        if sorts_after(current, entry):
            folded[pair] = fold(current, entry)
        else:
            needs_replay.add(pair)

    if needs_replay:
        history: dict[tuple[int, int], list[LedgerEntry]] = defaultdict(list)
        replayed_rows = ConsentEvent.objects.filter(
            subject_id__in={subject_id for subject_id, _ in needs_replay},
            purpose_id__in={p for _, p in needs_replay},
        ).values_list(
            "pk",
            "event_id",
            "action",
            "occurred_at",
            "valid_until",
            "supersedes__event_id",
            "subject_id",
            "purpose_id",
            "source_id",
            "policy_version_id",
            "jurisdiction",
            "gpc",
            "collection_method",
            "lifts_gpc_opt_out",
        )
        for (
            seq,
            event_id,
            action,
            occurred_at,
            valid_until,
            supersedes,
            subject_id,
            purpose_id,
            source_id,
            version_id,
            jurisdiction,
            gpc,
            method,
            lifts,
        ) in replayed_rows:
            if (subject_id, purpose_id) not in needs_replay:
                continue
            history[(subject_id, purpose_id)].append(
                LedgerEntry(
                    seq,
                    event_id,
                    action,
                    occurred_at,
                    valid_until,
                    supersedes,
                    method == CollectionMethod.GPC_SIGNAL,
                    lifts,
                )
            )
            facts.setdefault(seq, (source_id, version_id, jurisdiction, gpc))
        for pair in needs_replay:
            folded[pair] = replay(history[pair])

    states: dict[tuple[int, int], ConsentState] = {}
    deciding: dict[tuple[int, int], FoldedState] = {}
    for pair in pairs:
        folded_state = folded.get(pair)
        if folded_state is None:
            continue
        state = folded_state
        deciding[pair] = state
        basis_source_id, basis_version_id, jurisdiction, gpc = facts[state.basis.seq]
        states[pair] = ConsentState(
            organization=organization,
            subject_id=pair[0],
            purpose=purposes[pair[1]],
            status=state.status,
            since=state.since,
            valid_until=state.valid_until,
            event_id=state.event.seq,
            basis_event_id=state.basis.seq,
            source_id=basis_source_id,
            policy_version_id=basis_version_id,
            jurisdiction=jurisdiction,
            gpc=gpc,
            gpc_conflict=state.gpc_conflict,
            last_occurred_at=state.last_key[0],
            last_rank=state.last_key[1],
            last_seq=state.last_key[2],
            updated_at=now,
        )
    upsert_rows(
        ConsentState,
        ("organization", *_STATE_COLUMNS),
        [
            (organization.pk, pair[0], pair[1], *(getattr(row, f) for f in _STATE_COLUMNS[2:]))
            for pair, row in states.items()
        ],
        conflict=("subject", "purpose"),
        update=_STATE_COLUMNS[2:],
    )
    return states, deciding


# --------------------------------------------------------------------------------------------
# Expiry (written by the beat task)
# --------------------------------------------------------------------------------------------


def system_source(organization: Organization) -> Source:
    """The built-in source of events Provenant writes itself (expiry)."""
    source, _ = Source.objects.get_or_create(
        organization=organization,
        key=SYSTEM_SOURCE_KEY,
        defaults={
            "name": "Provenant (system)",
            "kind": Source.Kind.SYSTEM,
            "is_builtin": True,
            "collection_point": "Events Provenant writes itself, such as consent expiry.",
        },
    )
    return source


def consent_expire_lapsed(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Write an ``expire`` event for every grant whose validity has run out. Idempotent: the
    idempotency key ``expire:<grant event id>`` makes a rerun (or a concurrent sweep) a no-op."""
    now = now or timezone.now()
    lapsed = (
        ConsentState.objects.filter(status__in=["given", "renewed"], valid_until__lte=now)
        .select_related("organization", "subject", "purpose", "basis_event", "source")
        .order_by("valid_until")[:limit]
    )
    by_org: dict[int, list[ConsentState]] = defaultdict(list)
    for row in lapsed:
        by_org[row.organization_id].append(row)
    written = 0
    for rows in by_org.values():
        organization = rows[0].organization
        source = system_source(organization)
        items = [
            ConsentEventInput(
                subject_id=row.subject.external_id,
                purpose=row.purpose.key,
                action=Action.EXPIRE,
                occurred_at=row.valid_until or now,
                source=source.key,
                collection_method=CollectionMethod.SYSTEM,
                jurisdiction=row.jurisdiction,
                policy_version=None,
                supersedes=row.basis_event.event_id,
                idempotency_key=f"expire:{row.basis_event.event_id}",
                request_digest=f"expire:{row.basis_event.event_id}",
            )
            for row in rows
        ]
        results = consent_record_many(organization=organization, items=items, allow_system_actions=True, now=now)
        written += sum(1 for r in results if not r.replayed)
    return written
