"""Incremental ledger verification (issue #12): from the last valid verification, check only what came after.

The last valid run vouched for the log's first M leaves and their root. Now, with the log at N leaves:
- the stored perfect subtrees still give that root at M (nothing before M changed in the tree);
- every new leaf (M to N-1) is the leaf hash of its event, and every new event matches its hash and links to its
  predecessor in its subject's chain, positions without gap;
- the new tree nodes and the head's root are what the leaves give; every checkpoint signed after M verifies;
- the consent state of every subject the new events touched is what its events give.
Rows older than M are not read again (a full verification does that, nightly): the cost follows the new events.
PostgreSQL only (the chain tips are read with DISTINCT ON); elsewhere, and without a base, the caller verifies
everything.
"""

from __future__ import annotations

from typing import Any

from django.db import connection
from django.utils import timezone

from consent import ledger, merkle
from consent.models import ConsentEvent, LedgerLeaf, LedgerLogHead, LedgerVerificationRun, Subject
from consent.selectors.event_rows import canonical_columns, canonical_event
from consent.selectors.integrity import LedgerIntegrityReport
from consent.selectors.log_integrity import checkpoint_problem, projection_problem_for
from consent.selectors.transparency import stored_nodes
from core.db import read_snapshot
from core.models import Organization


def _problem(problem: str, detail: str, **concerns: Any) -> dict[str, Any]:
    return {"problem": problem, "detail": detail, **concerns}


def ledger_incremental_report(organization: Organization) -> LedgerIntegrityReport | None:
    """None when there is nothing to start from (no valid run with a log size, or not PostgreSQL)."""
    base = (
        LedgerVerificationRun.objects.filter(organization=organization, is_valid=True, log_size__isnull=False)
        .order_by("-verified_at")
        .first()
    )
    if base is None or base.log_size is None or connection.vendor != "postgresql":
        return None
    with read_snapshot():  # leaves, events, nodes and states as of one instant, however busy the ledger
        return _report_from(organization, base, base.log_size)


def _report_from(organization: Organization, base: LedgerVerificationRun, start: int) -> LedgerIntegrityReport:
    head = LedgerLogHead.objects.filter(organization=organization).first()
    size = head.tree_size if head else 0
    first, checked, touched = _check_from(organization, base, head, start, size)
    return LedgerIntegrityReport(
        is_valid=first is None,
        subjects_checked=len(touched),
        events_checked=checked,
        ledger_root=_ledger_root(organization),
        first_break=first,
        verified_at=timezone.now(),
        log_size=size,
        log_root=head.root_hash if head else "",
        mode="incremental",
    )


def _check_from(
    organization: Organization, base: LedgerVerificationRun, head: LedgerLogHead | None, start: int, size: int
) -> tuple[dict[str, Any] | None, int, set[int]]:
    if size < start:
        return _problem("log_rolled_back", f"the log holds {size} leaves; {start} were verified"), 0, set()
    frontier = stored_nodes(organization, set(merkle.perfect_parts(0, start)))
    if start and merkle.range_hash(0, start, frontier).hex() != base.log_root:
        return _problem("log_rewritten", f"the first {start} leaves no longer have the verified root"), 0, set()
    instants, columns = canonical_columns("event__")
    rows = list(
        LedgerLeaf.objects.filter(organization=organization, leaf_index__gte=start)
        .annotate(**instants)
        .order_by("leaf_index")
        .values_list("leaf_index", "leaf_hash", "event__subject_id", *columns)
    )
    hashes: list[bytes] = []
    touched: set[int] = set()
    events: list[tuple[int, dict[str, Any]]] = []
    for expected, (index, leaf_hash, subject_id, *values) in enumerate(rows, start=start):
        if index != expected:
            return _problem("log_gap", f"leaf {expected} is missing; the next is {index}"), len(hashes), touched
        event = canonical_event(tuple(values))
        stored = event.pop("hash")
        prev_hash = event.pop("prev_hash")
        if ledger.event_hash(event, prev_hash) != stored:
            return (
                _problem("changed", "the event's content does not match its hash", event_id=event["event_id"]),
                len(hashes),
                touched,
            )
        if leaf_hash != merkle.leaf_hash(bytes.fromhex(stored)).hex():
            return _problem("leaf_changed", f"leaf {index} is not its event's leaf hash"), len(hashes), touched
        hashes.append(bytes.fromhex(leaf_hash))
        touched.add(subject_id)
        events.append((subject_id, {**event, "prev_hash": prev_hash, "hash": stored}))
    if start + len(hashes) != size:
        return _problem("log_size", f"the log's head says {size} leaves; {start + len(hashes)} are stored"), 0, touched
    broken, last = _chain_problem(events)
    broken = broken or _tip_problem(last)
    if broken is not None:
        return broken, len(hashes), touched
    made = merkle.new_perfect_nodes(start, hashes, frontier.__getitem__)
    stored_made = stored_nodes(organization, set(made)) if made else {}
    if stored_made != made:
        return _problem("tree_changed", "the stored tree nodes are not what the new leaves give"), len(hashes), touched
    nodes = {**frontier, **made}
    if head is not None and merkle.range_hash(0, size, nodes).hex() != head.root_hash:
        return _problem("root_changed", "the log head's root is not the root of its leaves"), len(hashes), touched
    all_parts = set(merkle.perfect_parts(0, size))
    nodes.update(stored_nodes(organization, all_parts - nodes.keys()))
    found = checkpoint_problem(organization, size, nodes, since=start) or projection_problem_for(
        organization, sorted(touched)
    )
    return found, len(hashes), touched


def _chain_problem(
    events: list[tuple[int, dict[str, Any]]],
) -> tuple[dict[str, Any] | None, dict[int, tuple[int, str]]]:
    """Each new event links to its predecessor (in this batch, or the last verified one), positions without gap;
    with the last (chain index, hash) of each touched subject."""
    last: dict[int, tuple[int, str]] = {}
    wanted = {(subject, event["chain_index"] - 1) for subject, event in events if event["chain_index"] > 1}
    if wanted:
        before = ConsentEvent.objects.filter(
            subject_id__in={subject for subject, _ in wanted}, chain_index__in={index for _, index in wanted}
        ).values_list("subject_id", "chain_index", "hash")
        predecessors = {(subject, index): value for subject, index, value in before if (subject, index) in wanted}
    else:
        predecessors = {}
    for subject, event in events:
        index = event["chain_index"]
        expected_prev = (
            last[subject][1]
            if subject in last
            else (predecessors.get((subject, index - 1)) if index > 1 else ledger.GENESIS_HASH)
        )
        if subject in last and last[subject][0] != index - 1:
            return (
                _problem("missing", f"expected chain position {last[subject][0] + 1}", event_id=event["event_id"]),
                last,
            )
        if expected_prev is None or event["prev_hash"] != expected_prev:
            return (
                _problem("relinked", "prev_hash does not match the previous event's hash", event_id=event["event_id"]),
                last,
            )
        last[subject] = (index, event["hash"])
    return None, last


def _tip_problem(last: dict[int, tuple[int, str]]) -> dict[str, Any] | None:
    """Each touched subject's stored chain tip is its last event (what the full walk checks for every subject), so
    the chain-tip digest below may read the tips."""
    tips = Subject.objects.filter(pk__in=last).values_list(
        "pk", "external_id", "uuid", "ledger_length", "ledger_head_hash"
    )
    for pk, external_id, uuid, length, head in sorted(tips):
        index, value = last[pk]
        if (length, head) != (index, value):
            problem = "tip_behind" if length < index else "truncated"
            return _problem(
                problem,
                f"the subject's stored tip records {length} events ending in {head[:12]}…; its chain has {index} "
                f"ending in {value[:12]}…",
                subject_id=external_id,
                subject_uuid=str(uuid),
            )
    return None


def _ledger_root(organization: Organization) -> str:
    """The chain-tip digest of :func:`consent.ledger.ledger_root`, computed in the database from the subjects' stored
    tips: those of the subjects the new events touched were just checked against their last event, the others by the
    run this one starts from (changing them since is what the nightly full run finds). Only the digest crosses the
    wire. Ordered by uuid (bytewise, the order of the lowercase hex text ``ledger_root`` sorts), lines
    ``uuid:length:hash\n`` of subjects with events; none: the SHA-256 of nothing, as there."""
    subjects = connection.ops.quote_name(Subject._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT encode(sha256(convert_to(coalesce(string_agg("  # noqa: S608 (our table name)
            "uuid::text || ':' || ledger_length || ':' || ledger_head_hash || E'\\n', '' ORDER BY uuid), ''), "
            f"'UTF8')), 'hex') FROM {subjects} WHERE organization_id = %s AND ledger_length > 0",
            [organization.pk],
        )
        row = cursor.fetchone()
    return str(row[0])
