"""Appending to the consent ledger: validated, hash-chained events under the subjects' chain locks, and the
projection advanced, in the caller's transaction. ``consent.services.recording`` and ``gpc`` write through it.

On PostgreSQL a write to existing subjects takes four round trips (issue #16): BEGIN; the subjects' rows locked
and read with their projection rows and new event ids; the events, chain tips and projection rows written;
COMMIT. A new subject, an idempotency key or a late event (which replays the pair's history) add their reads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from ulid import ULID

from consent import ledger
from consent.catalog import organization_catalog
from consent.enums import Action
from consent.gpc import may_override_gpc
from consent.models import ConsentEvent, ConsentState, PolicyVersion, Subject
from consent.services.chain_locks import lock_chains, subject_forms
from consent.services.projection import advance_states, state_rows, states_statement
from consent.services.validation import (
    ConsentEventInput,
    SubjectErased,
    check_clock_skew,
    refuse_suppressed,
    replayed_events,
    target_problem,
    validate_against_catalog,
)
from consent.state import FoldedState
from consent.subject_ids import email_index, email_index_candidates
from consent.subject_keys import subject_data_key
from core.crypto import normalize_email, seal
from core.db import (
    VALUES_ROWS,
    Statement,
    Step,
    built,
    insert_rows,
    insert_statements,
    on_postgresql,
    staged_source,
    statement_lost,
)
from core.models import Organization
from core.problems import InvalidInput
from core.timeutil import add_duration, parse_iso_duration

logger = logging.getLogger("consent.services")


@dataclass
class RecordedEvent:
    """An appended (or idempotently replayed) event and the purpose's projection row after it.

    ``folded`` is the pure state behind the row: which event it now rests on (not always this one:
    a late event that sorts before the current decision leaves it in place) and its GPC flags."""

    event: ConsentEvent
    state: ConsentState | None
    replayed: bool = False
    folded: FoldedState | None = None


MAX_ATTEMPTS = 4

T = TypeVar("T")


def atomic_with_retries(write: Callable[[], T]) -> T:
    """Run ``write`` in one transaction; run it again, whole, after a deadlock or a lost race (up to
    ``MAX_ATTEMPTS`` times)."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with transaction.atomic():
                return write()
        except DatabaseError as exc:
            if attempt == MAX_ATTEMPTS or not is_retryable(exc):
                raise
            logger.info(
                "consent batch retried after %s (attempt %d): %s",
                type(exc).__name__,
                attempt,
                getattr(exc.__cause__, "sqlstate", None) or str(exc).splitlines()[0][:200],
            )
    raise AssertionError("unreachable")


def is_retryable(exc: Exception) -> bool:
    """A concurrent writer won a race (unique key, new subject), the database broke a deadlock, or the connection's
    prepared statements were lost (``core.db.statement_lost``: they are prepared anew on the next attempt)."""
    if isinstance(exc, IntegrityError):
        return True  # a concurrent writer took the same idempotency key or created the same subject
    if statement_lost(exc):
        return True
    if not isinstance(exc, OperationalError):
        return False
    cause = getattr(exc, "__cause__", None)
    sqlstate = getattr(cause, "sqlstate", None)
    return sqlstate in {"40P01", "40001"} or "database is locked" in str(exc)


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


_TIPS_ROW = "(%s::bigint, %s::text, %s::text, %s::text, %s::text, %s::bigint)"
_TIPS_COLUMNS = ("ledger_length", "ledger_head_hash", "email_sealed", "email_index", "jurisdiction", "id")
_TIPS_SET = (
    "ledger_length = v.ledger_length, ledger_head_hash = v.ledger_head_hash, email_sealed = v.email_sealed, "
    "email_index = v.email_index, jurisdiction = v.jurisdiction"
)


def _subject_tips(subjects: list[Subject]) -> list[Step]:
    """The steps writing the subjects' new chain tips (and email), for all of them at once; on SQLite they are
    written here, one row at a time."""
    if not subjects:
        return []
    table = Subject._meta.db_table
    values = [
        (s.ledger_length, s.ledger_head_hash, s.email_sealed, s.email_index, s.jurisdiction, s.pk) for s in subjects
    ]
    if on_postgresql():
        if len(values) <= VALUES_ROWS:
            return [
                (
                    f"UPDATE {table} AS s SET {_TIPS_SET} FROM (VALUES {', '.join([_TIPS_ROW] * len(values))}) "  # noqa: S608
                    f"AS v({', '.join(_TIPS_COLUMNS)}) WHERE s.id = v.id",
                    [p for row in values for p in row],
                )
            ]
        copy, staged = staged_source(Subject, _TIPS_COLUMNS, values)
        return [copy, (f"{staged}UPDATE {table} AS s SET {_TIPS_SET} FROM staged AS v WHERE s.id = v.id", [])]  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET ledger_length = %s, ledger_head_hash = %s, "  # noqa: S608
            "email_sealed = %s, email_index = %s, jurisdiction = %s WHERE id = %s",
            values,
        )
    return []


def _event_ids_statement(count: int) -> Statement:
    """``count`` new event ids from the table's sequence (PostgreSQL), taken in the round trip of the locks so
    the events, the chain tips and the projection are written together in the next one. The sequence is looked up
    once (OFFSET 0 keeps the lookup in its subquery), not once per id."""
    return (
        "SELECT nextval(q.sequence) FROM "  # noqa: S608
        f"(SELECT pg_get_serial_sequence('{ConsentEvent._meta.db_table}', 'id')::regclass AS sequence OFFSET 0) q "
        "CROSS JOIN generate_series(1, %s)",
        [count],
    )


def append_events(
    *,
    organization: Organization,
    items: Sequence[ConsentEventInput],
    allow_system_actions: bool,
    now: datetime,
) -> list[RecordedEvent]:
    """Validate, take the subjects' chain locks, append the hash-chained events and advance the projection,
    in the caller's transaction. Replayed idempotent items come back as their first event."""
    check_clock_skew(items, now)
    catalog = organization_catalog(
        organization, purpose_keys={i.purpose for i in items}, source_keys={i.source for i in items}
    )
    validate_against_catalog(organization, items, catalog, allow_system_actions)
    if catalog.suppressed and not allow_system_actions:
        refuse_suppressed(items, catalog, organization_id=organization.pk)
    replayed = replayed_events(organization, items)
    fresh = [(i, item) for i, item in enumerate(items) if i not in replayed]
    subject_ids = {item.subject_id for _, item in fresh}
    # Read with the locks, in the same round trip: the pairs' projection rows and (PostgreSQL) the event ids.
    then: list[Statement] = []
    forms: dict[str, str] | None = None
    if fresh:
        forms = subject_forms(organization, subject_ids)
        purpose_ids = sorted({catalog.purposes[item.purpose].pk for _, item in fresh})
        then.append(states_statement(organization, sorted(forms), purpose_ids))
        if on_postgresql():
            then.append(_event_ids_statement(len(fresh)))
    subjects, read = lock_chains(organization, subject_ids, then=then, forms=forms)
    if organization.catalog_version != catalog.version:
        # The catalog changed since the one validated against was read (API keys, with their organization, are
        # cached per process; the organization object may be shared by threads): check again. Compared with the
        # validated catalog's own version, never with the organization's as read earlier, which another thread's
        # lock read may already have moved on.
        catalog = organization_catalog(
            organization, purpose_keys={i.purpose for i in items}, source_keys={i.source for i in items}
        )
        validate_against_catalog(organization, items, catalog, allow_system_actions)
        if catalog.suppressed and not allow_system_actions:
            refuse_suppressed(items, catalog, organization_id=organization.pk)
    current_states = state_rows(read[0]) if fresh else None
    event_ids = [row[0] for row in read[1]] if fresh and on_postgresql() else []

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
            problem = target_problem(target, subject, purpose, item)
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
        evidence: dict[str, Any] = {
            k: v for k, v in (("ip_address", item.ip_address), ("user_agent", item.user_agent)) if v
        }
        if item.staff_record is not None:
            evidence.update(item.staff_record.evidence())
        needs_key = bool(evidence) or bool(item.subject_email)
        if needs_key and subject.wrapped_data_key is None:
            raise SubjectErased(
                "This subject's personal data was erased; evidence and email can no longer be stored for it.",
                pointer=item.pointer or "/",
            )
        if needs_key and subject.pk not in data_keys:
            data_keys[subject.pk] = subject_data_key(subject)
        evidence_sealed = (
            seal(data_keys[subject.pk], json.dumps(evidence, sort_keys=True), context=f"evidence:{event_id}")
            if evidence
            else ""
        )
        if item.subject_email:
            normalized = normalize_email(item.subject_email)
            if subject.email_index not in email_index_candidates(organization.pk, normalized):
                subject.email_sealed = seal(data_keys[subject.pk], normalized, context=f"email:{subject.uuid}")
                subject.email_index = email_index(organization.pk, normalized)

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
        event = built(
            ConsentEvent,
            {
                "id": None,
                "event_id": event_id,
                "organization": organization,
                "subject": subject,
                "chain_index": chain_index,
                "purpose": purpose,
                "action": item.action,
                "supersedes": target,
                "occurred_at": item.occurred_at,
                "recorded_at": now,
                "valid_until": valid_until,
                "source": source,
                "collection_method": item.collection_method,
                "policy_version": version,
                "jurisdiction": item.jurisdiction,
                "gpc": item.gpc,
                "explicit_confirmation": item.explicit_confirmation,
                "lifts_gpc_opt_out": lifts_gpc,
                "evidence_sealed": evidence_sealed,
                "idempotency_key": item.idempotency_key,
                "request_digest": item.request_digest,
                "prev_hash": subject.ledger_head_hash,
                "hash": event_hash,
            },
            adding=True,
        )
        events.append(event)
        subject.ledger_length = chain_index
        subject.ledger_head_hash = event_hash
        touched_subjects[subject.pk] = subject
    if errors:
        raise InvalidInput("One or more events are invalid; see errors.", errors=errors)

    # Sequence numbers break ordering ties, so the rows must have them before the state is folded.
    pending: list[Step] = []
    if event_ids:
        for event, seq in zip(events, event_ids, strict=True):
            event.pk = seq
        pending = insert_statements(
            ConsentEvent, ("id", *_EVENT_COLUMNS), [[getattr(e, f) for f in ("id", *_EVENT_COLUMNS)] for e in events]
        )
    else:
        seqs = insert_rows(
            ConsentEvent, _EVENT_COLUMNS, [[getattr(e, f) for f in _EVENT_COLUMNS] for e in events], returning="id"
        )
        for event, seq in zip(events, seqs, strict=True):
            event.pk = seq
    for event in events:
        event._state.adding = False
        event._state.db = connection.alias
    pending += _subject_tips(list(touched_subjects.values()))
    # One round trip on PostgreSQL: the events, the chain tips and the projection rows.
    states, deciding = advance_states(organization, events, now, current_rows=current_states, pending=pending)

    results: list[RecordedEvent | None] = [None] * len(items)
    for index, event in replayed.items():
        results[index] = RecordedEvent(event=event, state=None, replayed=True)
    fresh_iter = iter(events)
    for index, _ in fresh:
        event = next(fresh_iter)
        pair = (event.subject_id, event.purpose_id)
        results[index] = RecordedEvent(event=event, state=states.get(pair), folded=deciding.get(pair))
    return [r for r in results if r is not None]
