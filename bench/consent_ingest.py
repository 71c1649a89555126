"""Consent ingest benchmark (issue: service foundation and ledger).

PostgreSQL, gunicorn with 2 workers on 127.0.0.1, load from a separate process (bench/loadgen.py).
With 100,000 subjects loaded it measures:
  * bulk endpoint throughput (events/s)             target >= 3,000
  * single events at concurrency 8 (req/s, p95)     target >= 300/s, p95 <= 40 ms
  * consent-state reads at concurrency 8            target >= 600/s, p95 <= 20 ms

Usage: python bench/consent_ingest.py [--subjects 100000] [--port 8765]
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
from common import ROOT, analyze, gunicorn, load, migrate, prepare_environment, recreate_database


def seed(subject_count: int, scopes: tuple[str, ...] = ("consent:read", "consent:write")) -> tuple[str, list[str]]:
    """Create the organization, catalog and ``subject_count`` subjects with one grant each
    (subject-n grants purposes[n % 3]); return an API key with ``scopes`` and the purpose keys."""
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn gthread threads per worker")
    parser.add_argument("--single", type=int, default=4000, help="single-event requests")
    parser.add_argument("--reads", type=int, default=8000, help="state-read requests")
    parser.add_argument("--batches", type=int, default=40, help="bulk requests of 1,000 events")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_bench")
    env = prepare_environment(database_url)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    recreate_database(database_url)
    migrate(env)
    key, purposes = seed(args.subjects)
    analyze(database_url)

    with gunicorn(env, port=args.port, workers=args.workers, threads=args.threads):
        base = {"host": "127.0.0.1", "port": args.port, "headers": {"Authorization": f"Bearer {key}"}}
        rng = random.Random(7)
        now = datetime.now(UTC)

        warmup = [
            {"method": "GET", "path": f"/api/v1/subjects/subject-{rng.randrange(args.subjects)}/consent"}
            for _ in range(300)
        ]
        load({**base, "concurrency": 4, "requests": warmup})

        bulk_requests = []
        for b in range(args.batches):
            items = []
            for i in range(1000):
                subject = f"subject-{rng.randrange(args.subjects)}" if i % 2 else f"bulk-{b}-{i}"
                items.append(
                    event(
                        subject,
                        purposes[i % 3],
                        "grant" if i % 5 else "withdraw",
                        now - timedelta(seconds=rng.randrange(1, 3600)),
                    )
                )
            bulk_requests.append({"method": "POST", "path": "/api/v1/consent-events/bulk", "body": {"events": items}})
        bulk = load({**base, "concurrency": 2, "requests": bulk_requests, "max_seconds": 300})
        bulk_events = bulk["statuses"].get("201", 0) * 1000
        bulk_rate = bulk_events / bulk["seconds"]

        single_requests = [
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
            for _ in range(args.single)
        ]
        single = load({**base, "concurrency": 8, "requests": single_requests})

        read_requests = [
            {"method": "GET", "path": f"/api/v1/subjects/subject-{rng.randrange(args.subjects)}/consent"}
            for _ in range(args.reads)
        ]
        reads = load({**base, "concurrency": 8, "requests": read_requests})

    print(
        f"setup: PostgreSQL, gunicorn {args.workers} workers x {args.threads} threads (gthread) on 127.0.0.1, "
        f"load from a separate process, {args.subjects:,} subjects loaded, {os.cpu_count()} CPUs"
    )
    print(f"{'measure':<34}{'result':>24}{'target':>26}  verdict")
    print(
        f"{'bulk (1,000/request, conc. 2)':<34}{bulk_rate:>17,.0f} ev/s{'>= 3,000 ev/s':>26}  "
        f"{verdict(bulk_rate >= 3000 and bulk['statuses'] == {'201': args.batches})}"
    )
    print(
        f"{'single events, conc. 8':<34}{single['rps']:>18,.0f} req/s{'>= 300 req/s':>26}  "
        f"{verdict(single['rps'] >= 300)}"
    )
    print(
        f"{'single events p95 / p99':<34}{single['p95_ms']:>13.1f} / {single['p99_ms']:.1f} ms{'<= 40 ms':>26}  "
        f"{verdict(single['p95_ms'] <= 40)}"
    )
    print(
        f"{'state reads, conc. 8':<34}{reads['rps']:>18,.0f} req/s{'>= 600 req/s':>26}  {verdict(reads['rps'] >= 600)}"
    )
    print(
        f"{'state reads p95 / p99':<34}{reads['p95_ms']:>13.1f} / {reads['p99_ms']:.1f} ms{'<= 20 ms':>26}  "
        f"{verdict(reads['p95_ms'] <= 20)}"
    )
    print(f"status codes: bulk {bulk['statuses']}, single {single['statuses']}, reads {reads['statuses']}")
    ok = all(set(r["statuses"]) <= {"200", "201"} for r in (bulk, single, reads))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
