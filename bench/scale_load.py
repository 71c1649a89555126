"""Synthetic bulk loader for the scale figures of issue #16 (5,000,000 subjects, 20,000,000 events).

It writes subjects ``subject-<n>`` and their consent events straight into PostgreSQL with binary COPY, exactly
as the application would have stored them, for an organization whose catalog the caller has created already
(``bench/consent_ingest.py``'s ``seed()``: source ``web-signup``, purposes marketing-email, analytics,
ad-targeting). What is written, and from which application code:

* ``consent_subject``: a real wrapped data key per subject (``consent.subject_keys.new_subject_wrapped_key``,
  bound to the subject's uuid), the chain tip (``ledger_length``, ``ledger_head_hash``), jurisdiction, no email.
* ``consent_consentevent``: ``events`` events (by default 4 a subject, between 2 and 6), spread over the three
  purposes, grants, refusals, withdrawals and renewals, ``occurred_at`` between 160 and 40 days ago, oldest
  first per subject, hash-chained with ``consent.ledger.canonical_fields`` / ``event_hash`` exactly as
  ``consent.services.appending`` computes them; ULID event ids in the order of the ids; ``recorded_at`` one
  microsecond apart from the load's start (in id order, never after the row was written). Every tenth subject's
  first event carries sealed evidence (ip address, user agent) as an API write would; the others none, as an
  import. Grants are valid a year (the purposes' validity) and lapse in no less than 200 days: the expiry sweep
  finds nothing to do after a load.
* ``consent_consentstate``: one row per (subject, purpose) with events, folded with ``consent.state.replay``
  over the pair's ``LedgerEntry`` s as ``consent.services.projection`` folds them.
* The transparency log (``consent_ledgerleaf``, ``consent_ledgertreenode``, ``consent_ledgerloghead``) is
  written too, as the sequencer (``consent.services.sequencing``) would have written it: one leaf an event in id
  order (a subject's events follow its chain), every perfect subtree node (``consent.merkle``), and the head with
  its size, root and, as its feed position, a snapshot taken after the load committed, so the periodic
  sequencer reads only what comes after the load and the next checkpoint is signed by ``ledger_checkpoint``
  (called at the end). Without the leaves, a beat would sequence 20M events 50,000 at a time, each run reading
  the unsequenced events again. A worker or beat must not run against the database during the load.

Ids: the subject and event ids are reserved from the tables' sequences before anything is written (one
``setval`` each, so a failed load leaves the sequences ahead of every row); the other tables take theirs from
their identity defaults row by row. ``recorded_xid`` comes from its default (the writing transaction).

Speed: subjects are generated and written in chunks (``--chunk``, 50,000 subjects) by ``--workers`` processes
(2), each with its own connection and one transaction a chunk, ``synchronous_commit=off``; the main process
computes the tree nodes over the leaf hashes the workers send back, in chunk order. Nothing holds more than a
chunk. A failed load leaves the chunks committed so far: recreate the database. The tables are ANALYZEd at the
end and their sizes printed. ``--skip-fk-checks`` (superuser) runs the loader's sessions with
``session_replication_role = replica``: the same rows without PostgreSQL's foreign-key triggers, about 1.6x
faster (200,000 subjects / 800,000 events: 197 s checked, 121 s unchecked, on the shared 2-core machine).

Usage: python bench/scale_load.py --subjects 200000 [--events 800000] [--organization bench] [--workers 2]
       [--chunk 50000] [--skip-fk-checks]
Environment: DJANGO_SETTINGS_MODULE and DATABASE_URL (and the master key) of the database to load.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import random
import resource
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg

PURPOSES = ("marketing-email", "analytics", "ad-targeting")
SOURCE = "web-signup"
JURISDICTION = "DE"
CHUNK_SUBJECTS = 50_000
EVIDENCE_EVERY = 10  # every tenth subject's first event carries evidence, as an API write would
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
HOT_TABLES = (
    "consent_subject",
    "consent_consentevent",
    "consent_consentstate",
    "consent_ledgerleaf",
    "consent_ledgertreenode",
)

SUBJECT_COLUMNS = (
    "id",
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
)
SUBJECT_TYPES = ("int8", "int8", "text", "uuid", "text", "text", "bytea", "text", "int8", "text", "timestamptz")
EVENT_COLUMNS = (
    "id",
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
EVENT_TYPES = (
    "int8",
    "text",
    "int8",
    "int8",
    "int8",
    "int8",
    "text",
    "int8",
    "timestamptz",
    "timestamptz",
    "timestamptz",
    "int8",
    "text",
    "int8",
    "text",
    "bool",
    "bool",
    "bool",
    "text",
    "text",
    "text",
    "text",
    "text",
)
STATE_COLUMNS = (
    "organization_id",
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
STATE_TYPES = (
    "int8",
    "int8",
    "int8",
    "text",
    "timestamptz",
    "timestamptz",
    "int8",
    "int8",
    "int8",
    "int8",
    "text",
    "bool",
    "bool",
    "timestamptz",
    "int2",
    "int8",
    "timestamptz",
)
LEAF_COLUMNS = ("organization_id", "leaf_index", "event_id", "leaf_hash", "sequenced_at")
LEAF_TYPES = ("int8", "int8", "int8", "text", "timestamptz")
NODE_COLUMNS = ("organization_id", "level", "index", "hash")
NODE_TYPES = ("int8", "int2", "int8", "text")


@dataclass(frozen=True)
class Plan:
    """Everything a worker needs to build any chunk on its own (inherited by the forked workers)."""

    conninfo: str
    organization_id: int
    source_id: int
    catalog: Any  # consent.catalog.Catalog of the organization
    subjects: int
    events: int
    chunk: int
    first_subject_id: int
    first_event_id: int
    started: datetime  # the load's start: recorded_at of the first event, one microsecond more for each next
    seed: int
    session_settings: tuple[str, ...]  # SET statements for each writing session
    chunk_events: tuple[int, ...]  # events before each chunk (prefix sums), and the total last


@dataclass
class ChunkResult:
    index: int
    subjects: int
    events: int
    states: int
    leaf_hashes: bytes  # 32 bytes a leaf, in leaf order
    seconds: dict[str, float] = field(default_factory=dict)


def event_counts(first: int, end: int, *, subjects: int, events: int) -> list[int]:
    """How many events subjects ``first`` .. ``end - 1`` get: ``events / subjects`` on average, varied by one or
    two within each pair of subjects (2m, 2m+1) so every pair, hence every even-sized chunk, keeps its share."""
    share, extra = divmod(events, subjects)
    counts = [share + (1 if n < extra else 0) for n in range(first, end)]
    for n in range(first - first % 2, end, 2):
        if n + 1 >= subjects or n < first or n + 1 >= end:
            continue
        a, b = n - first, n + 1 - first
        low = min(counts[a], counts[b])
        if low >= 3:
            shift = (n // 2 * 2654435761 >> 7) % 5 - 2
        elif low >= 2:
            shift = (n // 2 * 2654435761 >> 7) % 3 - 1
        else:
            continue
        counts[a] += shift
        counts[b] -= shift
    return counts


def plan_chunks(subjects: int, events: int, chunk: int) -> tuple[int, ...]:
    """Prefix sums of the events of each chunk (chunk sizes are even, so the pairs never straddle two)."""
    sums = [0]
    for first in range(0, subjects, chunk):
        sums.append(sums[-1] + sum(event_counts(first, min(first + chunk, subjects), subjects=subjects, events=events)))
    return tuple(sums)


_CROCKFORD = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def ulid_text(value: int) -> str:
    """The 26 characters of a 128-bit ULID (what ``str(ulid.ULID)`` gives), by base32 and one translation."""
    return base64.b32encode((value << 30).to_bytes(20, "big"))[:26].translate(_CROCKFORD).decode()


def _ulid(moment: datetime, rng: random.Random) -> str:
    """A ULID of ``moment``: its millisecond, then the microsecond within it and 70 random bits, so ids made one
    microsecond apart sort in the order they were made."""
    milliseconds = (moment - _EPOCH) // _MILLISECOND
    return ulid_text(milliseconds << 80 | (moment.microsecond % 1000) << 70 | rng.getrandbits(70))


def _next_action(previous: str | None, roll: float) -> str:
    if previous is None:
        return "grant" if roll < 0.9 else "refuse"
    if previous == "grant":
        return "withdraw" if roll < 0.6 else "grant"
    return "grant" if roll < 0.7 else "withdraw"


def write_chunk(connection: psycopg.Connection[Any], plan: Plan, index: int) -> ChunkResult:
    """Build chunk ``index`` and COPY it (subjects, events, states, leaves) in the connection's transaction."""
    import json

    from consent import ledger, merkle
    from consent.state import LedgerEntry, replay
    from consent.subject_keys import new_subject_wrapped_key, subject_data_key
    from core.crypto import seal
    from core.timeutil import add_duration, parse_iso_duration

    timings: dict[str, float] = {}
    first = index * plan.chunk
    end = min(first + plan.chunk, plan.subjects)
    counts = event_counts(first, end, subjects=plan.subjects, events=plan.events)
    rng = random.Random(plan.seed * 1_000_003 + index)
    catalog = plan.catalog
    purposes = [catalog.purposes[key] for key in PURPOSES]
    validity = {p.pk: parse_iso_duration(p.validity) if p.validity else None for p in purposes}
    source_key = catalog.sources[SOURCE].key
    organization_id, source_id = plan.organization_id, plan.source_id
    ordinal = plan.chunk_events[index]
    event_pk = plan.first_event_id + ordinal
    sequenced_at = datetime.now(UTC)
    day = 86_400_000_000  # microseconds

    subject_rows: list[tuple[Any, ...]] = []
    state_rows: list[tuple[Any, ...]] = []
    leaf_rows: list[tuple[Any, ...]] = []
    leaf_hashes = bytearray()
    started = time.perf_counter()
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY consent_consentevent ({', '.join(EVENT_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(list(EVENT_TYPES))
            for offset, count in enumerate(counts):
                n = first + offset
                subject_pk = plan.first_subject_id + n
                subject_uuid = uuid.uuid4()
                wrapped = new_subject_wrapped_key(subject_uuid)
                data_key = (
                    subject_data_key(SimpleNamespace(wrapped_data_key=wrapped, uuid=subject_uuid))
                    if n % EVIDENCE_EVERY == 0
                    else None
                )
                subject_text = str(subject_uuid)
                at = plan.started - timedelta(microseconds=rng.randrange(40 * day, 160 * day))
                step = max(60_000_000, 30 * day // count)  # at most 30 days from the first event to the last
                head = ledger.GENESIS_HASH
                history: dict[int, list[LedgerEntry]] = {}
                facts: dict[int, tuple[int | None, datetime]] = {}  # event pk: policy version, recorded_at
                previous: dict[int, str] = {}
                created_at = plan.started + timedelta(microseconds=ordinal)
                for j in range(count):
                    purpose = purposes[(n + j) % 3]
                    action = _next_action(previous.get(purpose.pk), rng.random())
                    previous[purpose.pk] = action
                    if j:
                        at += timedelta(microseconds=rng.randrange(60_000_000, step + 1))
                    recorded_at = plan.started + timedelta(microseconds=ordinal)
                    event_id = _ulid(recorded_at, rng)
                    duration = validity[purpose.pk]
                    valid_until = add_duration(at, duration) if action == "grant" and duration else None
                    version = catalog.current_version(purpose, at)
                    evidence_sealed = ""
                    if data_key is not None and j == 0:
                        evidence = {"ip_address": f"203.0.113.{n % 250 + 1}", "user_agent": "Mozilla/5.0 bench"}
                        evidence_sealed = seal(
                            data_key, json.dumps(evidence, sort_keys=True), context=f"evidence:{event_id}"
                        )
                    fields = ledger.canonical_fields(
                        event_id=event_id,
                        subject_uuid=subject_text,
                        chain_index=j + 1,
                        purpose=purpose.key,
                        action=action,
                        occurred_at=at,
                        recorded_at=recorded_at,
                        valid_until=valid_until,
                        source=source_key,
                        collection_method="web_form",
                        policy_version=version.version if version else None,
                        jurisdiction=JURISDICTION,
                        gpc=False,
                        explicit_confirmation=False,
                        lifts_gpc_opt_out=False,
                        evidence_sealed=evidence_sealed,
                        supersedes=None,
                    )
                    event_hash = ledger.event_hash(fields, head)
                    copy.write_row(
                        (
                            event_pk,
                            event_id,
                            organization_id,
                            subject_pk,
                            j + 1,
                            purpose.pk,
                            action,
                            None,
                            at,
                            recorded_at,
                            valid_until,
                            source_id,
                            "web_form",
                            version.pk if version else None,
                            JURISDICTION,
                            False,
                            False,
                            False,
                            evidence_sealed,
                            None,
                            "",
                            head,
                            event_hash,
                        )
                    )
                    leaf = merkle.leaf_hash(bytes.fromhex(event_hash))
                    leaf_hashes += leaf
                    leaf_rows.append((organization_id, ordinal, event_pk, leaf.hex(), sequenced_at))
                    history.setdefault(purpose.pk, []).append(
                        LedgerEntry(event_pk, event_id, action, at, valid_until, None, False, False)
                    )
                    facts[event_pk] = (version.pk if version else None, recorded_at)
                    head = event_hash
                    event_pk += 1
                    ordinal += 1
                subject_rows.append(
                    (
                        subject_pk,
                        organization_id,
                        f"subject-{n}",
                        subject_uuid,
                        "",
                        "",
                        wrapped,
                        JURISDICTION,
                        count,
                        head,
                        created_at,
                    )
                )
                # The projection as consent.services.projection leaves it: the fold of each pair's events.
                for purpose_id, entries in history.items():
                    state = replay(entries)
                    assert state is not None  # every pair starts with a grant or a refusal
                    basis_version, _ = facts[state.basis.seq]
                    _, updated_at = facts[entries[-1].seq]
                    state_rows.append(
                        (
                            organization_id,
                            subject_pk,
                            purpose_id,
                            state.status,
                            state.since,
                            state.valid_until,
                            state.event.seq,
                            state.basis.seq,
                            source_id,
                            basis_version,
                            JURISDICTION,
                            False,
                            state.gpc_conflict,
                            state.last_key[0],
                            state.last_key[1],
                            state.last_key[2],
                            updated_at,
                        )
                    )
        timings["events"] = time.perf_counter() - started
        for name, table, columns, types, rows in (
            ("subjects", "consent_subject", SUBJECT_COLUMNS, SUBJECT_TYPES, subject_rows),
            ("states", "consent_consentstate", STATE_COLUMNS, STATE_TYPES, state_rows),
            ("leaves", "consent_ledgerleaf", LEAF_COLUMNS, LEAF_TYPES, leaf_rows),
        ):
            started = time.perf_counter()
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(list(types))
                for row in rows:
                    copy.write_row(row)
            timings[name] = time.perf_counter() - started
    return ChunkResult(index, len(subject_rows), len(leaf_rows), len(state_rows), bytes(leaf_hashes), timings)


# --- workers ---------------------------------------------------------------------------------------------------

_plan: Plan | None = None
_connection: psycopg.Connection[Any] | None = None


def _worker_start(plan: Plan) -> None:
    global _plan, _connection
    _plan = plan
    _connection = psycopg.connect(plan.conninfo)
    for statement in plan.session_settings:
        _connection.execute(statement)
    _connection.commit()


def _worker_chunk(index: int) -> ChunkResult:
    assert _plan is not None
    assert _connection is not None
    started = time.perf_counter()
    result = write_chunk(_connection, _plan, index)
    commit = time.perf_counter()
    _connection.commit()
    result.seconds["commit"] = time.perf_counter() - commit
    result.seconds["chunk"] = time.perf_counter() - started
    return result


# --- the tree, in the main process -----------------------------------------------------------------------------


class TreeWriter:
    """The log's perfect subtree nodes, appended chunk by chunk as ``consent.services.sequencing`` appends them;
    keeps only the right edge (O(log n) nodes) between chunks."""

    def __init__(self, organization_id: int) -> None:
        self.organization_id = organization_id
        self.size = 0
        self.frontier: dict[Any, bytes] = {}
        self.nodes = 0

    def append(self, connection: psycopg.Connection[Any], leaf_hashes: bytes) -> None:
        from consent import merkle

        hashes = [leaf_hashes[i : i + 32] for i in range(0, len(leaf_hashes), 32)]
        made = merkle.new_perfect_nodes(self.size, hashes, self.frontier.__getitem__)
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY consent_ledgertreenode ({', '.join(NODE_COLUMNS)}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(list(NODE_TYPES))
            for key, value in made.items():
                copy.write_row((self.organization_id, key.level, key.offset, value.hex()))
        self.size += len(hashes)
        self.nodes += len(made)
        known = {**self.frontier, **made}
        self.frontier = {key: known[key] for key in merkle.perfect_parts(0, self.size)}

    def root(self) -> str:
        from consent import merkle

        return merkle.range_hash(0, self.size, self.frontier).hex()


# --- the load --------------------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    subjects: int
    events: int
    states: int
    leaves: int
    nodes: int
    seconds: float
    analyze_seconds: float
    peak_rss_mb: float
    timings: dict[str, float]

    def lines(self) -> list[str]:
        def rate(rows: int) -> str:
            return f"{rows / self.seconds:>12,.0f} rows/s"

        return [
            f"scale load: {self.subjects:,} subjects, {self.events:,} events in {self.seconds:,.1f} s "
            f"(then ANALYZE {self.analyze_seconds:,.1f} s); peak RSS {self.peak_rss_mb:,.0f} MB a process",
            f"  consent_subject        {self.subjects:>12,} rows {rate(self.subjects)}",
            f"  consent_consentevent   {self.events:>12,} rows {rate(self.events)}",
            f"  consent_consentstate   {self.states:>12,} rows {rate(self.states)}",
            f"  consent_ledgerleaf     {self.leaves:>12,} rows {rate(self.leaves)}",
            f"  consent_ledgertreenode {self.nodes:>12,} rows {rate(self.nodes)}",
            "  time in COPY (summed over workers; events include generating and hashing them): "
            + ", ".join(f"{name} {seconds:,.1f} s" for name, seconds in self.timings.items()),
        ]


def conninfo_from_settings() -> str:
    """The psycopg connection string of Django's default database."""
    from django.db import connection

    params = connection.get_connection_params()
    keys = ("dbname", "user", "password", "host", "port")
    return psycopg.conninfo.make_conninfo(**{k: str(params[k]) for k in keys if params.get(k)})


def _reserve_ids(connection: psycopg.Connection[Any], table: str, count: int) -> int:
    """The first of ``count`` consecutive ids taken from the table's sequence (the last is set as its value)."""
    row = connection.execute(
        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), nextval(pg_get_serial_sequence('{table}', 'id')) "
        "+ %s - 1)",
        [count],
    ).fetchone()
    assert row is not None
    return int(row[0]) - count + 1


def load(
    *,
    organization_slug: str,
    subjects: int,
    events: int | None = None,
    workers: int = 2,
    chunk: int = CHUNK_SUBJECTS,
    seed: int = 16,
    connection: psycopg.Connection[Any] | None = None,
    analyze: bool = True,
    skip_fk_checks: bool = False,
) -> LoadReport:
    """Load ``subjects`` subjects and ``events`` events (4 a subject by default) for the organization, whose
    catalog exists and which has no events yet. ``connection``: write everything in that connection's open
    transaction, in this process, and commit nothing (tests pass Django's); otherwise ``workers`` processes
    (0: this one) commit a chunk at a time. ``skip_fk_checks``: the loader's sessions run with
    ``session_replication_role = replica`` (superuser only), so PostgreSQL runs no foreign-key trigger for the
    rows loaded (the rows are the same; the application's verification checks them afterwards)."""
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    from django.db import connections

    from consent.catalog import organization_catalog
    from consent.services import ledger_checkpoint
    from core.models import Organization

    events = 4 * subjects if events is None else events
    if subjects < 1 or events < subjects:
        raise ValueError("every subject needs at least one event")
    chunk += chunk % 2
    organization = Organization.objects.get(slug=organization_slug)
    catalog = organization_catalog(organization, purpose_keys=set(PURPOSES), source_keys={SOURCE})
    missing = [key for key in PURPOSES if key not in catalog.purposes] + ([] if SOURCE in catalog.sources else [SOURCE])
    if missing:
        raise ValueError(f"the organization's catalog lacks {', '.join(missing)}")
    conninfo = conninfo_from_settings()
    own = connection is None
    main = connection or psycopg.connect(conninfo)
    try:
        taken = main.execute(
            "SELECT EXISTS (SELECT 1 FROM consent_consentevent WHERE organization_id = %s) "
            "OR EXISTS (SELECT 1 FROM consent_ledgerleaf WHERE organization_id = %s)",
            [organization.pk, organization.pk],
        ).fetchone()
        if taken and taken[0]:
            raise ValueError("the organization has events already; load into a fresh one")
        session_settings = ("SET synchronous_commit = off",) + (
            ("SET session_replication_role = replica",) if skip_fk_checks else ()
        )
        if own:
            for statement in session_settings:
                main.execute(statement)
        started_clock = time.perf_counter()
        plan = Plan(
            conninfo=conninfo,
            organization_id=organization.pk,
            source_id=catalog.sources[SOURCE].pk,
            catalog=catalog,
            subjects=subjects,
            events=events,
            chunk=chunk,
            first_subject_id=_reserve_ids(main, "consent_subject", subjects),
            first_event_id=_reserve_ids(main, "consent_consentevent", events),
            started=datetime.now(UTC),
            seed=seed,
            session_settings=session_settings,
            chunk_events=plan_chunks(subjects, events, chunk),
        )
        if own:
            main.commit()
        tree = TreeWriter(organization.pk)
        totals = {"subjects": 0, "events": 0, "states": 0}
        timings: dict[str, float] = {}
        chunk_count = len(plan.chunk_events) - 1

        def take(result: ChunkResult) -> None:
            tree_started = time.perf_counter()
            tree.append(main, result.leaf_hashes)
            if own:
                main.commit()
            result.seconds["tree nodes"] = time.perf_counter() - tree_started
            totals["subjects"] += result.subjects
            totals["events"] += result.events
            totals["states"] += result.states
            for name, seconds in result.seconds.items():
                if name != "chunk":
                    timings[name] = timings.get(name, 0.0) + seconds
            if chunk_count > 1:
                elapsed = time.perf_counter() - started_clock
                print(
                    f"  chunk {result.index + 1}/{chunk_count}: {totals['events']:,} events, "
                    f"{totals['events'] / elapsed:,.0f} events/s",
                    file=sys.stderr,
                    flush=True,
                )

        for result in _chunk_results(plan, chunk_count, workers=workers if own else 0, connection=main, own=own):
            take(result)
        # The log head, as the sequencer leaves it: size, root, and the feed position after everything loaded.
        main.execute(
            "INSERT INTO consent_ledgerloghead (organization_id, tree_size, root_hash, feed_position, sequenced_at) "
            "VALUES (%s, %s, %s, pg_current_snapshot()::text, now()) ON CONFLICT (organization_id) DO UPDATE SET "
            "tree_size = EXCLUDED.tree_size, root_hash = EXCLUDED.root_hash, feed_position = "
            "EXCLUDED.feed_position, sequenced_at = EXCLUDED.sequenced_at",
            [organization.pk, tree.size, tree.root()],
        )
        if own:
            main.commit()
        if own:
            connections.close_all()  # Django's connection reads what was committed
        try:
            ledger_checkpoint(organization)  # signs the log's size and root, as a sequencing run that grew it does
        except Exception as exc:  # the load stands; only its checkpoint is missing
            print(f"scale load: the log's checkpoint was not signed: {exc}", file=sys.stderr)
        seconds = time.perf_counter() - started_clock
        analyze_started = time.perf_counter()
        if analyze:
            main.execute(f"ANALYZE {', '.join(HOT_TABLES)}")
            if own:
                main.commit()
        analyze_seconds = time.perf_counter() - analyze_started
    finally:
        if own:
            main.close()
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    )
    return LoadReport(
        subjects=totals["subjects"],
        events=totals["events"],
        states=totals["states"],
        leaves=totals["events"],
        nodes=tree.nodes,
        seconds=seconds,
        analyze_seconds=analyze_seconds,
        peak_rss_mb=peak / 1024,
        timings=timings,
    )


def _chunk_results(
    plan: Plan, chunk_count: int, *, workers: int, connection: psycopg.Connection[Any], own: bool
) -> Iterator[ChunkResult]:
    """The chunks, written, in order: by a pool of forked workers, or here on ``connection``."""
    if workers <= 0:
        for index in range(chunk_count):
            started = time.perf_counter()
            result = write_chunk(connection, plan, index)
            if own:
                connection.commit()
            result.seconds["chunk"] = time.perf_counter() - started
            yield result
        return
    from django.db import connections

    connections.close_all()  # no Django connection crosses the fork
    context = multiprocessing.get_context("fork")
    with context.Pool(workers, initializer=_worker_start, initargs=(plan,), maxtasksperchild=None) as pool:
        yield from pool.imap(_worker_chunk, range(chunk_count))


# --- sizes -----------------------------------------------------------------------------------------------------


def table_sizes(conninfo: str, tables: tuple[str, ...] = HOT_TABLES) -> list[tuple[str, int, int, int]]:
    """(table, rows as estimated by the planner, total size, size of its indexes) in bytes."""
    with psycopg.connect(conninfo, autocommit=True) as connection:
        return [
            (table, int(row[0]), int(row[1]), int(row[2]))
            for table in tables
            if (
                row := connection.execute(
                    "SELECT greatest(c.reltuples, 0)::bigint, pg_total_relation_size(c.oid), pg_indexes_size(c.oid) "
                    "FROM pg_class c WHERE c.oid = %s::regclass",
                    [table],
                ).fetchone()
            )
            is not None
        ]


def size_lines(conninfo: str, tables: tuple[str, ...] = HOT_TABLES) -> list[str]:
    """The table and index sizes of the hot tables, as lines to print (issue #16 asks for them)."""
    mb = 1024 * 1024
    lines = [f"  {'table':<24}{'rows (est.)':>14}{'total MB':>11}{'indexes MB':>12}{'bytes/row':>11}"]
    for table, rows, total, indexes in table_sizes(conninfo, tables):
        per_row = f"{total / rows:,.0f}" if rows else "-"
        lines.append(f"  {table:<24}{rows:>14,}{total / mb:>11,.1f}{indexes / mb:>12,.1f}{per_row:>11}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--organization", default="bench", help="slug of the organization (its catalog exists)")
    parser.add_argument("--subjects", type=int, required=True)
    parser.add_argument("--events", type=int, default=None, help="default: 4 a subject")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=CHUNK_SUBJECTS, help="subjects a chunk")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument(
        "--skip-fk-checks",
        action="store_true",
        help="session_replication_role = replica on the loader's sessions (superuser): no foreign-key triggers",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    report = load(
        organization_slug=args.organization,
        subjects=args.subjects,
        events=args.events,
        workers=args.workers,
        chunk=args.chunk,
        seed=args.seed,
        skip_fk_checks=args.skip_fk_checks,
    )
    for line in report.lines():
        print(line)
    for line in size_lines(conninfo_from_settings()):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
