"""DSAR deadline-sweep benchmark (issue: deadlines enforced by beat).

Loads 100,000 open requests with due dates spread over [today - 10, today + 90] into a dropped-and-recreated
PostgreSQL database, then runs ``dsar_deadline_sweep`` twice and prints each run's duration and counts.
Target: a sweep <= 5 s; the second run sends nothing.

Usage: python bench/dsar_sweep.py [--requests 100000]
Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/provenant_bench_dsar); the database
is dropped and recreated.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, analyze, migrate, prepare_environment, recreate_database

TARGET_SECONDS = 5.0


def seed(count: int) -> float:
    """``count`` open requests in two organizations, bulk-inserted; returns the seconds it took."""
    import django

    django.setup()
    from django.utils import timezone
    from ulid import ULID

    from core.crypto import new_data_key
    from core.services import organization_create
    from dsar.models import DataSubjectRequest
    from dsar.services import legal_contact_create

    organizations = [organization_create(slug=f"bench-{n}", name=f"Bench {n}", actor="bench") for n in range(2)]
    legal_contact_create(organization=organizations[0], email="legal@bench.test", actor="bench")
    _, wrapped = new_data_key()
    now = timezone.now()
    today = timezone.localdate(now)
    statuses = ["received", "identity_pending", "verified", "in_progress", "awaiting_review"]
    started = time.perf_counter()
    batch: list[DataSubjectRequest] = []
    for n in range(count):
        batch.append(
            DataSubjectRequest(
                organization=organizations[n % 2],
                public_id=str(ULID()),
                type="access",
                regime="gdpr",
                jurisdiction="DE",
                channel="api",
                received_at=now - timedelta(days=n % 30),
                wrapped_data_key=wrapped,
                status=statuses[n % len(statuses)],
                deadlines={},
                due_on=today + timedelta(days=(n % 101) - 10),
                created_at=now,
                updated_at=now,
            )
        )
        if len(batch) == 5000:
            DataSubjectRequest.objects.bulk_create(batch)
            batch = []
    if batch:
        DataSubjectRequest.objects.bulk_create(batch)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=100_000)
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_bench_dsar")
    env = prepare_environment(database_url)
    env["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"  # digests are counted, not printed
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    recreate_database(database_url)
    migrate(env)
    seconds = seed(args.requests)
    print(f"seeded {args.requests:,} open requests in {seconds:.1f} s")
    analyze(database_url)

    from django.core import mail

    from dsar.services import dsar_deadline_sweep

    mail.outbox = []
    worst = 0.0
    for run in (1, 2):
        started = time.perf_counter()
        counts = dsar_deadline_sweep()
        elapsed = time.perf_counter() - started
        worst = max(worst, elapsed)
        print(f"sweep {run}: {elapsed:.2f} s  {counts}  emails so far: {len(mail.outbox)}")
    verdict = "PASS" if worst <= TARGET_SECONDS else "FAIL"
    print(f"slowest sweep {worst:.2f} s (target <= {TARGET_SECONDS:.0f} s): {verdict}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
