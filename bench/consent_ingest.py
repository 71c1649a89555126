"""Consent ingest benchmark (issues: service foundation and ledger; #16 performance).

PostgreSQL, gunicorn with 2 workers on 127.0.0.1, load from a separate process (bench/loadgen.py).
With 100,000 subjects loaded it measures, besides req/s and p50/p95/p99, server CPU per operation (app and
PostgreSQL separately), database round trips and transactions per operation (bench/measure.py), and
a reference endpoint (one primary-key lookup in a minimal DRF view) served the same way in the same run:
  * single consent write at concurrency 8        target <= 3.0 ms server CPU, <= 4 round trips, 1 transaction
  * consent-state reads at concurrency 8         target >= 80 % of the reference's rate, <= 1.5x its CPU
  * bulk ingest, 1,000 events a request          target >= 10,000 events/s; also as a fraction of a plain
    COPY of the same rows (as stored) into a scratch table with the same columns and indexes

Usage: python bench/consent_ingest.py [--subjects 100000] [--port 8765] [--loader auto|service|copy]
Seeding: up to 200,000 subjects through the service layer, one grant each; beyond (or with --loader copy) by
bench/scale_load.py's binary COPY, 4 events a subject (issue #16's scale: --subjects 5000000 gives 20,000,000).
BENCH_LOAD_SKIP_FK_CHECKS=1 lets that loader run without foreign-key triggers (see scale_load.load). After the
results it prints the hot tables' and their indexes' sizes.
Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/provenant_bench); the
database is dropped and recreated.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, analyze, load, migrate, prepare_environment, recreate_database, serve
from measure import (
    CpuProbe,
    PhaseResult,
    WireCounter,
    measure_phase,
    measure_wire,
    print_table,
    reference_environment,
    reference_path,
    transactions,
    wait_backends_gone,
)
from scale_load import size_lines

SERVICE_SEED_LIMIT = 200_000  # above this, the service layer's seed takes too long: the COPY loader seeds


def seed(
    subject_count: int, scopes: tuple[str, ...] = ("consent:read", "consent:write"), *, loader: str = "auto"
) -> tuple[str, list[str]]:
    """Create the organization, catalog and ``subject_count`` subjects with one grant each
    (subject-n grants purposes[n % 3]); return an API key with ``scopes`` and the purpose keys.
    ``loader`` "copy" (or "auto" above ``SERVICE_SEED_LIMIT`` subjects): the subjects come from
    bench/scale_load.py instead, 4 events each, written by binary COPY as the service layer would store them."""
    import django

    django.setup()
    from consent.enums import SourceKind
    from consent.services import ConsentEventInput, consent_record_many, purpose_create, source_create
    from core.services import api_key_create, organization_create

    organization = organization_create(slug="bench", name="Bench", actor="bench")
    _, key = api_key_create(organization=organization, name="bench", scopes=list(scopes), actor="bench")
    source_create(organization=organization, actor="bench", key="web-signup", name="Web", kind=SourceKind.WEB_FORM)
    purposes = ["marketing-email", "analytics", "ad-targeting"]
    for purpose_key in purposes:
        purpose_create(organization=organization, actor="bench", key=purpose_key, name=purpose_key, validity="P1Y")
    if loader == "copy" or (loader == "auto" and subject_count > SERVICE_SEED_LIMIT):
        import scale_load

        report = scale_load.load(
            organization_slug="bench",
            subjects=subject_count,
            skip_fk_checks=os.environ.get("BENCH_LOAD_SKIP_FK_CHECKS") == "1",
        )
        for line in report.lines():
            print(line)
        return key, purposes
    now = datetime.now(UTC)
    started = time.perf_counter()
    batch: list[ConsentEventInput] = []
    for n in range(subject_count):
        batch.append(
            ConsentEventInput(
                subject_id=f"subject-{n}",
                purpose=purposes[n % 3],
                action="grant",
                occurred_at=now - timedelta(days=1, seconds=n % 86400),
                source="web-signup",
                collection_method="web_form",
                jurisdiction="DE",
                ip_address="203.0.113.7",
                user_agent="Mozilla/5.0 bench",
            )
        )
        if len(batch) == 1000:
            consent_record_many(organization=organization, items=batch)
            batch = []
    if batch:
        consent_record_many(organization=organization, items=batch)
    elapsed = time.perf_counter() - started
    print(
        f"seed: {subject_count:,} subjects/events in-process in {elapsed:.1f} s "
        f"({subject_count / elapsed:,.0f} events/s, service layer, batches of 1,000)"
    )
    return key, purposes


def reuse(subject_count: int) -> tuple[str, list[str]]:
    """A new API key on the organization a previous run seeded (its key is not kept: only its digest is stored)."""
    import django

    django.setup()
    from consent.models import Purpose, Subject
    from core.models import Organization
    from core.services import api_key_create

    organization = Organization.objects.get(slug="bench")
    found = Subject.objects.filter(organization=organization).count()
    if found < subject_count:
        raise SystemExit(f"--reuse-database: the database holds {found:,} subjects, fewer than --subjects")
    _, key = api_key_create(
        organization=organization, name="bench-reuse", scopes=["consent:read", "consent:write"], actor="bench"
    )
    purposes = list(Purpose.objects.filter(organization=organization).order_by("pk").values_list("key", flat=True))
    print(f"reusing the loaded database: {found:,} subjects")
    return key, purposes


def event(subject: str, purpose: str, action: str, at: datetime) -> dict[str, Any]:
    return {
        "subject_id": subject,
        "purpose": purpose,
        "action": action,
        "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "source": "web-signup",
        "collection_method": "web_form",
        "jurisdiction": "DE",
        "evidence": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 bench"},
    }


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def organization_pk() -> int:
    from core.models import Organization

    return int(Organization.objects.values_list("pk", flat=True).get(slug="bench"))


def copy_rate(database_url: str, rows: int) -> tuple[float, int]:
    """events/s of a plain binary COPY of the last ``rows`` stored consent events (as stored) into a scratch
    table with the same columns, defaults and indexes; returns (rows/s, rows copied)."""
    import psycopg

    from consent.models import ConsentEvent

    table = ConsentEvent._meta.db_table
    with psycopg.connect(database_url, autocommit=True) as connection:
        data = bytearray()
        with connection.cursor().copy(
            f'COPY (SELECT * FROM "{table}" ORDER BY id DESC LIMIT {int(rows)}) TO STDOUT (FORMAT BINARY)'
        ) as copy:
            for chunk in copy:
                data += chunk
        connection.execute("DROP TABLE IF EXISTS bench_copy_scratch")
        connection.execute(f'CREATE TABLE bench_copy_scratch (LIKE "{table}" INCLUDING ALL)')
        copied = connection.execute(f'SELECT count(*) FROM (SELECT 1 FROM "{table}" LIMIT {int(rows)}) t').fetchone()
        started = time.perf_counter()
        with (
            connection.transaction(),
            connection.cursor().copy("COPY bench_copy_scratch FROM STDIN (FORMAT BINARY)") as copy,
        ):
            view = memoryview(data)
            for offset in range(0, len(view), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        elapsed = time.perf_counter() - started
        connection.execute("DROP TABLE bench_copy_scratch")
    count = int(copied[0]) if copied else 0
    return count / elapsed, count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument(
        "--loader",
        choices=("auto", "service", "copy"),
        default="auto",
        help=f"how subjects are seeded; auto: the service layer up to {SERVICE_SEED_LIMIT:,}, COPY beyond",
    )
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn gthread threads per worker")
    parser.add_argument("--single", type=int, default=4000, help="single-event requests")
    parser.add_argument("--reads", type=int, default=8000, help="state-read requests (and reference requests)")
    parser.add_argument("--batches", type=int, default=40, help="bulk requests of 1,000 events")
    parser.add_argument("--wire-requests", type=int, default=300, help="requests in each round-trip phase")
    parser.add_argument(
        "--reuse-database",
        action="store_true",
        help="measure on the database a previous run loaded (BENCH_DATABASE_URL) instead of recreating it: for "
        "the 5,000,000-subject scale, whose load takes most of an hour (pass the same --subjects). Both runs need "
        "the same BENCH_MASTER_KEY and BENCH_BLIND_INDEX_KEY: the subjects' data keys are wrapped under the first "
        "run's master key, and writes with evidence fail (409) under another",
    )
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_bench")
    env = reference_environment(prepare_environment(database_url))
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    if args.reuse_database:
        if not (os.environ.get("BENCH_MASTER_KEY") and os.environ.get("BENCH_BLIND_INDEX_KEY")):
            raise SystemExit("--reuse-database needs the loading run's BENCH_MASTER_KEY and BENCH_BLIND_INDEX_KEY")
        migrate(env)
        key, purposes = reuse(args.subjects)
    else:
        recreate_database(database_url)
        migrate(env)
        key, purposes = seed(args.subjects, loader=args.loader)
    reference = reference_path(organization_pk())
    from django.db import connections

    connections.close_all()  # the bench process holds no backend of the bench database during the phases
    analyze(database_url)

    rng = random.Random(7)
    now = datetime.now(UTC)

    def bulk_requests(count: int, tag: str) -> list[dict[str, Any]]:
        out = []
        for b in range(count):
            items = []
            for i in range(1000):
                subject = f"subject-{rng.randrange(args.subjects)}" if i % 2 else f"bulk-{tag}{b}-{i}"
                items.append(
                    event(
                        subject,
                        purposes[i % 3],
                        "grant" if i % 5 else "withdraw",
                        now - timedelta(seconds=rng.randrange(1, 3600)),
                    )
                )
            out.append({"method": "POST", "path": "/api/v1/consent-events/bulk", "body": {"events": items}})
        return out

    def single_requests(count: int) -> list[dict[str, Any]]:
        return [
            {
                "method": "POST",
                "path": "/api/v1/consent-events",
                "body": event(
                    f"subject-{rng.randrange(args.subjects)}",
                    rng.choice(purposes),
                    rng.choice(["grant", "withdraw", "refuse"]),
                    now - timedelta(seconds=rng.randrange(1, 60)),
                ),
            }
            for _ in range(count)
        ]

    def read_requests(count: int) -> list[dict[str, Any]]:
        return [
            {"method": "GET", "path": f"/api/v1/subjects/subject-{rng.randrange(args.subjects)}/consent"}
            for _ in range(count)
        ]

    def reference_requests(count: int) -> list[dict[str, Any]]:
        return [{"method": "GET", "path": reference} for _ in range(count)]

    headers = {"Authorization": f"Bearer {key}"}

    def job(port: int, requests: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": port,
            "headers": headers,
            "concurrency": concurrency,
            "requests": requests,
            "max_seconds": 300,
        }

    def events_answered(result: dict[str, Any]) -> int:
        return int(result["statuses"].get("201", 0)) * 1000

    # Throughput and CPU: the server talks to PostgreSQL directly.
    with serve(env, port=args.port, workers=args.workers, threads=args.threads) as server:
        probe = CpuProbe(app_roots=[server.pid], database_url=database_url)
        port = server.port
        load(job(port, read_requests(300) + reference_requests(300) + single_requests(100), 8))
        bulk = measure_phase(
            "bulk ingest (1,000/req, conc. 2)",
            lambda: load(job(port, bulk_requests(args.batches, "a"), 2)),
            probe=probe,
            operations=events_answered,
            unit="ev",
        )
        single = measure_phase(
            "single consent write (conc. 8)", lambda: load(job(port, single_requests(args.single), 8)), probe=probe
        )
        ref = measure_phase(
            "reference: 1 pk lookup (conc. 8)", lambda: load(job(port, reference_requests(args.reads), 8)), probe=probe
        )
        reads = measure_phase(
            "state read (conc. 8)", lambda: load(job(port, read_requests(args.reads), 8)), probe=probe
        )
    copy_events_per_second, copied = copy_rate(database_url, args.batches * 1000)

    # Round trips and transactions: a second server whose database traffic goes through the counting proxy.
    counter = WireCounter(database_url)
    xacts_before = transactions(database_url)
    wire_env = {**env, "DATABASE_URL": counter.proxied_url()}
    with serve(wire_env, port=args.port + 1, workers=1, threads=2) as server:
        port = server.port
        load(job(port, read_requests(20) + reference_requests(20) + single_requests(20) + bulk_requests(1, "w"), 2))
        n = args.wire_requests
        ref.wire = measure_wire(lambda: load(job(port, reference_requests(n), 2)), counter=counter)
        single.wire = measure_wire(lambda: load(job(port, single_requests(n), 2)), counter=counter)
        reads.wire = measure_wire(lambda: load(job(port, read_requests(n), 2)), counter=counter)
        bulk.wire = measure_wire(
            lambda: load(job(port, bulk_requests(3, "w"), 1)), counter=counter, operations=events_answered
        )
    wait_backends_gone(database_url)
    xacts_pg = transactions(database_url) - xacts_before
    counter.close()

    print(
        f"setup: PostgreSQL, gunicorn {args.workers} workers x {args.threads} threads (gthread) on 127.0.0.1, "
        f"load from a separate process, {args.subjects:,} subjects loaded, {os.cpu_count()} CPUs"
    )
    print_table([ref, single, reads, bulk], reference=ref)
    print(
        f"round trips/transactions measured on a second server (1 worker x 2 threads) through a counting proxy, "
        f"{args.wire_requests} requests a phase; transactions seen on the wire over that run "
        f"{counter.total_transactions:,}, pg_stat_database says {xacts_pg:,}"
    )
    print(
        f"plain COPY of the same {copied:,} stored event rows into a scratch table (same columns and indexes): "
        f"{copy_events_per_second:,.0f} events/s; bulk ingest is {bulk.rate / copy_events_per_second:.1%} of it"
    )
    checks = [
        ("single write: server CPU <= 3.0 ms", single.total_ms_per_op <= 3.0),
        # A write takes 4 round trips in 1 transaction. On average a few hundredths more: an event older than its
        # pair's latest (occurred_at is drawn from the last minute) replays the pair's history (2 more round trips),
        # and an API key's cache entry is read again once per process every PROVENANT_API_KEY_CACHE_SECONDS.
        (
            "single write: <= 4 round trips (+ late-event replays, key cache refresh)",
            bool(single.wire and single.wire.round_trips_per_op < 4.05),
        ),
        (
            "single write: 1 transaction (+ key cache refresh)",
            bool(single.wire and single.wire.transactions_per_op < 1.05),
        ),
        ("state read: rate >= 80 % of reference", reads.rate >= 0.8 * ref.rate),
        ("state read: CPU <= 1.5x reference", reads.total_ms_per_op <= 1.5 * ref.total_ms_per_op),
        ("bulk: >= 10,000 events/s", bulk.rate >= 10_000),
    ]
    for label, ok in checks:
        print(f"  {verdict(ok)}  {label}")
    print("table and index sizes of the hot tables after the run (issue #16):")
    for line in size_lines(database_url):
        print(line)
    results: list[PhaseResult] = [ref, single, reads, bulk]
    ok = all(set(r.load["statuses"]) <= {"200", "201"} for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
