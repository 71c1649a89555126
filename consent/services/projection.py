"""Folding new events into the consent projection (``ConsentState``), one row per (subject, purpose).

An event that sorts after everything folded so far advances the row one step (``consent.state.fold``); one
that sorts before (a late offline event) replays the pair's history from the ledger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.utils import timezone

from consent.enums import CollectionMethod
from consent.models import ConsentEvent, ConsentState, Subject
from consent.services.chain_locks import lock_subjects
from consent.state import FoldedState, LedgerEntry, fold, replay, sorts_after
from core.db import (
    Statement,
    Step,
    array_param,
    built,
    convert_rows,
    execute_statements,
    in_list,
    on_postgresql,
    select_rows,
    upsert_statements,
)
from core.enums import AuditAction
from core.models import Organization
from core.services import audit_log


def ledger_entry(event: ConsentEvent, supersedes_event_id: str | None) -> LedgerEntry:
    """What the pure fold needs of a stored event."""
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


_STATE_SELECT_COLUMNS = (
    "SELECT s.subject_id, s.purpose_id, s.status, s.since, s.valid_until, s.last_occurred_at, s.last_rank, "
    "s.last_seq, e.id, e.event_id, e.action, e.occurred_at, e.valid_until, e.collection_method, "
    "e.lifts_gpc_opt_out, b.id, b.event_id, b.action, b.occurred_at, b.valid_until, b.collection_method, "
    "b.lifts_gpc_opt_out, s.source_id, s.policy_version_id, s.jurisdiction, s.gpc, s.gpc_conflict "
)
_STATE_EVENTS = (
    f"JOIN {ConsentEvent._meta.db_table} e ON e.id = s.event_id "
    f"JOIN {ConsentEvent._meta.db_table} b ON b.id = s.basis_event_id "
)
_STATE_SELECT = f"{_STATE_SELECT_COLUMNS}FROM {ConsentState._meta.db_table} s {_STATE_EVENTS}"
# PostgreSQL: each subject looked up by its key, then its rows by theirs, whatever the planner's statistics say. A
# table grown since its last ANALYZE (a new tenant's import into a large table is never 10 % of it) otherwise gets
# plans that read every row of the organization for each batch (measured: 0.4 s a batch at 1,000,000 events). LIMIT
# and OFFSET 0 keep each subquery a lookup of its own: without them the planner merges them into one join again. The
# organization is a value the planner cannot see, ``(SELECT %s)``: seen, an organization the statistics do not know
# was estimated at one row, and an index on the organization alone (the expiry sweep's) looked as good as the key
# holding the subject, reading all of the organization's states for each subject (tests/consent/
# test_stale_statistics.py). The purposes filter the subject's few rows (``+ 0``) rather than count as index
# descents.
_STATE_BY_KEY = (
    f"{_STATE_SELECT_COLUMNS}FROM {{subjects}} "  # noqa: S608
    f"CROSS JOIN LATERAL (SELECT * FROM {ConsentState._meta.db_table} s0 "
    "WHERE s0.organization_id = (SELECT %s::bigint) AND s0.subject_id = x.id AND s0.purpose_id + 0 = ANY({purposes}) "
    "OFFSET 0) s "
    f"CROSS JOIN LATERAL (SELECT * FROM {ConsentEvent._meta.db_table} e0 WHERE e0.id = s.event_id LIMIT 1) e "
    f"CROSS JOIN LATERAL (SELECT * FROM {ConsentEvent._meta.db_table} b0 WHERE b0.id = s.basis_event_id LIMIT 1) b"
)


@lru_cache(maxsize=1)
def _state_row_fields() -> list[Any]:
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
    return [*fields, *event_fields, *event_fields, *tail]


def states_statement(organization: Organization, external_ids: Sequence[str], purpose_ids: Sequence[int]) -> Statement:
    """The projection rows of the subjects known by ``external_ids`` (any of their forms) for ``purpose_ids``,
    as :func:`advance_states` reads them: to run in the round trip that locks the subjects (``lock_chains``)."""
    if on_postgresql():
        forms_placeholder, forms = array_param(list(external_ids))
        purposes_placeholder, purposes = array_param(list(purpose_ids))
        subjects = (
            f"unnest({forms_placeholder}) AS f(form) CROSS JOIN LATERAL (SELECT x0.id FROM {Subject._meta.db_table} x0 "  # noqa: S608
            "WHERE x0.organization_id = %s AND x0.external_id = f.form LIMIT 1) x"
        )
        return (
            _STATE_BY_KEY.format(subjects=subjects, purposes=purposes_placeholder),
            [forms, organization.pk, organization.pk, purposes],
        )
    subjects_sql, subject_params = in_list("x.external_id", list(external_ids))
    purposes_sql, purpose_params = in_list("s.purpose_id", list(purpose_ids))
    return (
        f"{_STATE_SELECT}WHERE s.organization_id = %s AND s.subject_id IN (SELECT x.id FROM {Subject._meta.db_table} x "  # noqa: S608
        f"WHERE x.organization_id = %s AND {subjects_sql}) AND {purposes_sql}",
        [organization.pk, organization.pk, *subject_params, *purpose_params],
    )


def state_rows(rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
    """Rows of :func:`states_statement`, converted as the ORM would."""
    return convert_rows(rows, _state_row_fields())


def _select_states(*, organization: Organization, subject_ids: list[int], purpose_ids: list[int]) -> list[list[Any]]:
    """Projection rows with what folding needs of their deciding and basis events, in one query (by the
    organization's unique key: every access path of the hot tables leads with it)."""
    if not subject_ids or not purpose_ids:
        return []
    if on_postgresql():
        ids_placeholder, ids = array_param(sorted(subject_ids))
        purposes_placeholder, purposes = array_param(purpose_ids)
        return select_rows(
            _STATE_BY_KEY.format(subjects=f"unnest({ids_placeholder}) AS x(id)", purposes=purposes_placeholder),
            [ids, organization.pk, purposes],
            _state_row_fields(),
        )
    subjects_sql, subject_params = in_list("s.subject_id", subject_ids)
    purposes_sql, purpose_params = in_list("s.purpose_id", purpose_ids)
    return select_rows(
        f"{_STATE_SELECT}WHERE s.organization_id = %s AND {subjects_sql} AND {purposes_sql}",
        [organization.pk, *subject_params, *purpose_params],
        _state_row_fields(),
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


def advance_states(
    organization: Organization,
    events: list[ConsentEvent],
    now: datetime,
    *,
    current_rows: list[list[Any]] | None = None,
    pending: Sequence[Step] = (),
) -> tuple[dict[tuple[int, int], ConsentState], dict[tuple[int, int], FoldedState]]:
    """Fold the new events into the projection; replay a pair's history when one arrives out of order.

    ``current_rows``: the pairs' projection rows when the caller read them already (``states_statement``).
    ``pending``: statements that must run before the projection is written (the events' INSERT and the chain
    tips): sent with the projection's UPSERT in one round trip, or first when a late event needs the history."""
    pairs = {(e.subject_id, e.purpose_id) for e in events}
    purposes = {e.purpose_id: e.purpose for e in events}
    # seq -> (source, policy version, jurisdiction, gpc) of the event a state rests on
    facts: dict[int, tuple[int, int | None, str, bool]] = {}
    folded: dict[tuple[int, int], FoldedState | None] = {}
    needs_replay: set[tuple[int, int]] = set()
    rows = (
        current_rows
        if current_rows is not None
        else _select_states(
            organization=organization,
            subject_ids=sorted({subject_id for subject_id, _ in pairs}),
            purpose_ids=sorted({p for _, p in pairs}),
        )
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
        entry = ledger_entry(event, event.supersedes.event_id if event.supersedes else None)
        current = folded.get(pair)
        if sorts_after(current, entry):
            folded[pair] = fold(current, entry)
        else:
            needs_replay.add(pair)

    if needs_replay:
        execute_statements(pending)  # the history read below includes the new events
        pending = ()
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
        states[pair] = built(
            ConsentState,
            {
                "id": None,
                "organization": organization,
                "subject_id": pair[0],
                "purpose": purposes[pair[1]],
                "status": state.status,
                "since": state.since,
                "valid_until": state.valid_until,
                "event_id": state.event.seq,
                "basis_event_id": state.basis.seq,
                "source_id": basis_source_id,
                "policy_version_id": basis_version_id,
                "jurisdiction": jurisdiction,
                "gpc": gpc,
                "gpc_conflict": state.gpc_conflict,
                "last_occurred_at": state.last_key[0],
                "last_rank": state.last_key[1],
                "last_seq": state.last_key[2],
                "updated_at": now,
            },
            adding=True,
        )
    upserts = upsert_statements(
        ConsentState,
        ("organization", *_STATE_COLUMNS),
        [
            (organization.pk, pair[0], pair[1], *(getattr(row, f) for f in _STATE_COLUMNS[2:]))
            for pair, row in states.items()
        ],
        conflict=("organization", "subject", "purpose"),
        update=_STATE_COLUMNS[2:],
    )
    execute_statements([*pending, *upserts])
    return states, deciding


def consent_states_rebuild(*, subject: Subject, actor: str) -> int:
    """Fold the subject's consent states again from its events, replacing what is stored, and clear the mark
    that stops stamping for it (issue #12: a state row found not to match the ledger). Under the subject's
    chain lock, so no event is appended meanwhile. Returns the number of states written; audited."""
    with transaction.atomic():
        lock_subjects(subject.organization, {subject.external_id})
        before = list(
            ConsentState.objects.filter(subject=subject).values_list("purpose__key", "status").order_by("purpose__key")
        )
        ConsentState.objects.filter(subject=subject).delete()
        events = list(
            ConsentEvent.objects.filter(subject=subject).select_related("purpose", "supersedes").order_by("pk")
        )
        states, _ = advance_states(subject.organization, events, timezone.now()) if events else ({}, {})
        Subject.objects.filter(pk=subject.pk).update(state_inconsistent_since=None)
        audit_log(
            actor=actor,
            action=AuditAction.CONSENT_STATE_REBUILT,
            object_type="subject",
            object_id=subject.pk,
            organization=subject.organization,
            data={
                "subject_uuid": str(subject.uuid),
                "before": [f"{key}:{status}" for key, status in before],
                "after": sorted(f"{state.purpose.key}:{state.status}" for state in states.values()),
            },
        )
    return len(states)
