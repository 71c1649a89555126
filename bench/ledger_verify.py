"""Transparency-log benchmark (issue #12): sequencing throughput, full verification, proof generation.

Records ``--events`` consent events (100 subjects per 1,000 events, five purposes) through the bulk service into a
dropped-and-recreated PostgreSQL database, then measures in this process, wall time and CPU time side by side (the
machine is shared: CPU per operation is the figure to compare):

- sequencing: every event becomes a leaf (runs of PROVENANT_LEDGER_SEQUENCE_BATCH), leaves/s, CPU µs per leaf;
- a signed checkpoint;
- full verification (``ledger_integrity_report``: chains, log, checkpoints, projection), events/s, and what that
  gives for 1,000,000 events (target <= 60 s);
- ``--proofs`` inclusion proofs of random events and consistency proofs of random sizes: p50 / p95 ms
  (target p95 <= 20 ms);
- incremental verification of up to 10,000 events recorded after the full one (target <= 2 s).

Usage: python bench/ledger_verify.py [--events 100000] [--proofs 1000] [--reuse]
Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/provenant_bench_ledger); the database
is dropped and recreated. ``--reuse`` keeps a database an earlier run (with the same BENCH_MASTER_KEY and
BENCH_BLIND_INDEX_KEY) seeded and sequenced, skipping seeding and the sequencing figure: seeding 1,000,000 events
takes about 20 minutes here, the verification under a minute.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, analyze, migrate, prepare_environment, recreate_database

FULL_TARGET_SECONDS_PER_MILLION = 60.0
PROOF_TARGET_P95_MS = 20.0


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self) -> Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def seed(count: int) -> tuple[object, float]:
    import django

    django.setup()
    from consent import services
    from consent.enums import SourceKind
    from core.services import organization_create

    organization = organization_create(slug="bench-ledger", name="Bench ledger", actor="bench")
    services.source_create(organization=organization, actor="bench", key="web", name="Web", kind=SourceKind.WEB_FORM)
    purposes = [f"purpose-{n}" for n in range(5)]
    for key in purposes:
        services.purpose_create(organization=organization, actor="bench", key=key, name=key)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    subjects = max(1, count // 10)
    started = time.perf_counter()
    batch = []
    for n in range(count):
        batch.append(
            services.ConsentEventInput(
                subject_id=f"person-{n % subjects}",
                purpose=purposes[n % len(purposes)],
                action="grant" if (n // subjects) % 3 != 2 else "withdraw",
                occurred_at=start + timedelta(minutes=n),
                source="web",
                collection_method="web_form",
                jurisdiction="DE",
            )
        )
        if len(batch) == 1000:
            services.consent_record_many(organization=organization, items=batch)
            batch = []
    if batch:
        services.consent_record_many(organization=organization, items=batch)
    return organization, time.perf_counter() - started


def seed_more(organization: object, count: int, *, offset: int) -> None:
    from consent import services

    start = datetime.now(UTC) - timedelta(seconds=count + 60)  # recent, never ahead of the server clock
    items = [
        services.ConsentEventInput(
            subject_id=f"newcomer-{offset + n % 500}",
            purpose="purpose-0",
            action="grant",
            occurred_at=start + timedelta(seconds=n),
            source="web",
            collection_method="web_form",
            jurisdiction="DE",
        )
        for n in range(count)
    ]
    for at in range(0, count, 1000):
        services.consent_record_many(organization=organization, items=items[at : at + 1000])  # type: ignore[arg-type]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="keep the seeded database of an earlier run")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_bench_ledger")
    env = prepare_environment(database_url)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    if args.reuse:
        migrate(env)  # the code may have moved on since the database was seeded
        import django

        django.setup()
        from core.models import Organization

        organization = Organization.objects.get(slug="bench-ledger")
        print(f"reused the seeded database ({database_url.rsplit('/', 1)[1]})")
    else:
        recreate_database(database_url)
        migrate(env)
        organization, seconds = seed(args.events)
        print(f"seeded {args.events:,} events in {seconds:.1f} s ({args.events / seconds:,.0f} events/s)")
        analyze(database_url)

    from consent import merkle, selectors, services
    from consent.models import ConsentEvent, LedgerLeaf

    with Clock() as sequencing:
        runs = 0
        while True:
            report = services.ledger_sequence(organization)  # type: ignore[arg-type]
            runs += 1
            if report.complete:
                break
    leaves = LedgerLeaf.objects.count()
    if args.reuse:
        print(f"sequencing: not measured (the reused database holds {leaves:,} leaves)")
    else:
        print(
            f"sequencing: {leaves:,} leaves in {runs} runs, {sequencing.wall:.1f} s wall "
            f"({leaves / sequencing.wall:,.0f} leaves/s), {sequencing.cpu * 1e6 / leaves:.0f} µs CPU per leaf"
        )
    with Clock() as signing:
        checkpoint = services.ledger_checkpoint(organization)  # type: ignore[arg-type]
    print(f"checkpoint of size {checkpoint.tree_size if checkpoint else 0:,} signed in {signing.wall * 1000:.1f} ms")
    analyze(database_url)

    with Clock() as full:
        verified = selectors.ledger_integrity_report(organization=organization)  # type: ignore[arg-type]
    per_million = full.wall * 1_000_000 / max(verified.events_checked, 1)
    verdict = "PASS" if per_million <= FULL_TARGET_SECONDS_PER_MILLION and verified.is_valid else "FAIL"
    print(
        f"full verification: valid={verified.is_valid}, {verified.events_checked:,} events in {full.wall:.1f} s wall, "
        f"{full.cpu:.1f} s CPU ({verified.events_checked / full.wall:,.0f} events/s); "
        f"1,000,000 events at this rate: {per_million:.0f} s (target <= {FULL_TARGET_SECONDS_PER_MILLION:.0f} s, "
        f"in one process; the API runs it as a background job): {verdict}"
    )

    event_ids = list(ConsentEvent.objects.values_list("event_id", flat=True))
    chosen = random.Random(12).sample(event_ids, min(args.proofs, len(event_ids)))
    timings = []
    cpu = time.process_time()
    for event_id in chosen:
        started = time.perf_counter()
        proof = selectors.inclusion_proof(organization, event_id=event_id)  # type: ignore[arg-type]
        timings.append((time.perf_counter() - started) * 1000)
        assert merkle.verify_inclusion(proof.leaf_hash, proof.leaf_index, proof.tree_size, proof.proof, proof.root_hash)
    inclusion_cpu = (time.process_time() - cpu) * 1000 / len(chosen)
    sizes = random.Random(13).sample(range(1, leaves), min(args.proofs, leaves - 1))
    consistency = []
    for size in sizes:
        started = time.perf_counter()
        selectors.consistency_proof(organization, old_size=size)  # type: ignore[arg-type]
        consistency.append((time.perf_counter() - started) * 1000)
    p95 = percentile(timings, 0.95)
    print(
        f"inclusion proofs: {len(timings)} verified, p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms, "
        f"{inclusion_cpu:.1f} ms CPU each (target p95 <= {PROOF_TARGET_P95_MS:.0f} ms): "
        f"{'PASS' if p95 <= PROOF_TARGET_P95_MS else 'FAIL'}"
    )
    print(
        f"consistency proofs: {len(consistency)}, p50 {statistics.median(consistency):.1f} ms, "
        f"p95 {percentile(consistency, 0.95):.1f} ms"
    )
    base = services.ledger_integrity_check(organization=organization, actor="bench")  # type: ignore[arg-type]
    more = min(10_000, max(args.events // 10, 1))
    seed_more(organization, more, offset=args.events)
    services.ledger_sequence(organization)  # type: ignore[arg-type]
    with Clock() as incremental:
        run = services.ledger_integrity_check(organization=organization, actor="bench", incremental=True)  # type: ignore[arg-type]
    print(
        f"incremental verification of {run.events_checked:,} new events after a full one of {base.events_checked:,}: "
        f"valid={run.is_valid}, mode={run.mode}, {incremental.wall:.2f} s wall, {incremental.cpu:.2f} s CPU "
        f"(target <= 2 s for up to 10,000): {'PASS' if incremental.wall <= 2.0 and run.is_valid else 'FAIL'}"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
