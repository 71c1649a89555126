"""Stamping benchmark (issue: provenance and signed, consent-enforcing payload stamps).

PostgreSQL, gunicorn with 2 workers on 127.0.0.1, load from a separate process, 100,000 subjects
with consent on record. Measures:
  * batch stamping (1,000 items a request)          target >= 5,000 items/s
  * single stamps at concurrency 8                  target p95 <= 40 ms
  * the in-process limit: canonicalize + sign the same items, no I/O, on one core and on all cores (a process
    per core), and the ratio API / all-core limit (issue #16: >= 50 %).
Besides rates, each phase prints server CPU per item (app and PostgreSQL apart) and round trips and
transactions per request (bench/measure.py), with the reference endpoint (one pk lookup) of the same run.

Usage: python bench/stamp.py [--subjects 100000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, analyze, load, migrate, prepare_environment, recreate_database, serve
from consent_ingest import seed
from measure import (
    CpuProbe,
    WireCounter,
    measure_phase,
    measure_wire,
    print_table,
    reference_environment,
    reference_path,
    wait_backends_gone,
)


def item(subject: str, purpose: str, n: int) -> dict[str, Any]:
    return {
        "recipient": "crm" if purpose != "ad-targeting" else "ad-network",
        "purpose": purpose,
        "subject_id": subject,
        "data": {
            "email_hash": f"{n:064x}",
            "first_name": "Ada",
            "plan": "pro",
            "lifetime_value": 1234.5,
            "tags": ["newsletter", "beta"],
            "last_seen": "2026-11-20T10:00:00Z",
        },
        "provenance": {"source": "web-signup", "collection_method": "web_form"},
    }


def in_process_limit(items: list[dict[str, Any]]) -> float:
    """Items/s for canonicalize + sign alone on one core (the cryptographic floor of stamping)."""
    return in_process_floor(items)[0]


def in_process_floor(items: list[dict[str, Any]]) -> tuple[float, float]:
    """(items/s, CPU ms per item) for canonicalize + sign alone on one core."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from provenance.verify import canonical_json, content_digest, data_digest, sign_stamp

    key = Ed25519PrivateKey.generate()
    privacy = {
        "stamp_version": "1",
        "stamp_id": "01JABCDEFGHJKMNPQRSTVWXYZ0",
        "stamped_at": "2026-11-24T00:00:00.000000Z",
        "issuer": "bench",
        "jurisdiction": "DE",
        "recipient": {"key": "crm", "role": "processor"},
        "signals": {"gpc": False},
        "restrictions": ["service_provider_use_only"],
        "sources": ["web-signup"],
    }
    started = time.perf_counter()
    cpu_started = time.process_time()
    for entry in items:
        envelope = dict(
            privacy,
            subject_id=entry["subject_id"],
            data_digest=data_digest(entry["data"]),
            purposes=[
                {
                    "purpose": entry["purpose"],
                    "opt_in": True,
                    "permitted": True,
                    "basis": "explicit_opt_in",
                    "status": "given",
                    "since": "2026-11-23T00:00:00.000000Z",
                    "valid_until": None,
                    "source": "web-signup",
                    "policy_version": None,
                    "event_id": "01JABCDEFGHJKMNPQRSTVWXYZ1",
                }
            ],
        )
        body = {"data": entry["data"], "privacy": envelope}
        content_digest(canonical_json(body))
        sign_stamp(body, key, "bench")
    cpu_ms = (time.process_time() - cpu_started) * 1000 / len(items)
    return len(items) / (time.perf_counter() - started), cpu_ms


def _limit_worker(items: list[dict[str, Any]]) -> tuple[int, float]:
    started = time.perf_counter()
    in_process_limit(items)
    return len(items), time.perf_counter() - started


def all_cores_limit(items: list[dict[str, Any]]) -> float:
    """Items/s for canonicalize + sign in one process per core, all started together (the machine's limit)."""
    import multiprocessing

    cores = os.cpu_count() or 1
    shares = [items[i::cores] for i in range(cores)]
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        pool.map(_limit_worker, [share[:20] for share in shares])  # warm the workers (imports)
        started = time.perf_counter()
        pool.map(_limit_worker, shares)
        elapsed = time.perf_counter() - started
    return len(items) / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--single", type=int, default=3000)
    parser.add_argument("--reference", type=int, default=3000, help="reference endpoint requests")
    parser.add_argument("--wire-requests", type=int, default=100, help="single stamps in the round-trip phase")
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_bench")
    env = reference_environment(prepare_environment(database_url))
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    recreate_database(database_url)
    migrate(env)
    key, purposes = seed(args.subjects, scopes=("stamp",))
    from core.models import Organization
    from provenance.services.keys import signing_key_rotate
    from provenance.services.recipients import recipient_create

    organization = Organization.objects.get(slug="bench")
    recipient_create(
        organization=organization,
        actor="bench",
        key="crm",
        name="CRM",
        role="processor",
        purposes=["marketing-email", "analytics"],
    )
    recipient_create(
        organization=organization,
        actor="bench",
        key="ad-network",
        name="Ads",
        role="third_party",
        purposes=["ad-targeting"],
    )
    signing_key_rotate(organization=organization, actor="bench")
    reference = reference_path(organization.pk)
    from django.db import connections

    connections.close_all()  # the bench process holds no backend of the bench database during the phases
    analyze(database_url)

    rng = random.Random(11)

    def random_item(n: int) -> dict[str, Any]:
        subject = rng.randrange(args.subjects)
        return item(f"subject-{subject}", purposes[subject % 3], n)

    batches = [[random_item(b * 1000 + i) for i in range(1000)] for b in range(args.batches)]
    singles = [random_item(10**7 + i) for i in range(args.single)]
    sample_items = [entry for batch in batches[:5] for entry in batch]
    limit, limit_cpu_ms = in_process_floor(sample_items)
    limit_all = all_cores_limit(sample_items)
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

    def batch_requests(chosen: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
        return [{"method": "POST", "path": "/api/v1/stamps/batch", "body": {"items": items}} for items in chosen]

    def single_requests(chosen: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"method": "POST", "path": "/api/v1/stamps", "body": entry} for entry in chosen]

    def items_answered(result: dict[str, Any]) -> int:
        return int(result["statuses"].get("200", 0)) * 1000

    with serve(env, port=args.port) as server:
        probe = CpuProbe(app_roots=[server.pid], database_url=database_url)
        port = server.port
        sample = json.loads(
            urllib.request.urlopen(
                urllib.request.Request(
                    f"http://127.0.0.1:{port}/api/v1/stamps/batch",
                    data=json.dumps({"items": batches[0]}).encode(),
                    headers={**headers, "Content-Type": "application/json"},
                ),
                timeout=120,
            ).read()
        )
        warm = single_requests([random_item(i) for i in range(200)])
        load(job(port, warm + [{"method": "GET", "path": reference}] * 200, 4))
        batch_phase = measure_phase(
            "batch stamping (1,000/req, conc. 2)",
            lambda: load(job(port, batch_requests(batches), 2)),
            probe=probe,
            operations=items_answered,
            unit="item",
        )
        single_phase = measure_phase(
            "single stamps (conc. 8)", lambda: load(job(port, single_requests(singles), 8)), probe=probe
        )
        ref = measure_phase(
            "reference: 1 pk lookup (conc. 8)",
            lambda: load(job(port, [{"method": "GET", "path": reference}] * args.reference, 8)),
            probe=probe,
        )

    counter = WireCounter(database_url)
    with serve({**env, "DATABASE_URL": counter.proxied_url()}, port=args.port + 1, workers=1, threads=2) as server:
        port = server.port
        load(job(port, single_requests(singles[:20]) + batch_requests(batches[:1]), 2))
        ref.wire = measure_wire(
            lambda: load(job(port, [{"method": "GET", "path": reference}] * args.wire_requests, 2)), counter=counter
        )
        single_phase.wire = measure_wire(
            lambda: load(job(port, single_requests(singles[: args.wire_requests]), 2)), counter=counter
        )
        batch_phase.wire = measure_wire(
            lambda: load(job(port, batch_requests(batches[:3]), 1)), counter=counter, operations=items_answered
        )
    wait_backends_gone(database_url)
    counter.close()
    batch = batch_phase.load
    single = single_phase.load
    print_table([ref, single_phase, batch_phase], reference=ref)

    batch_rate = batch_phase.rate
    print(
        f"setup: PostgreSQL, gunicorn 2 workers x 4 threads (gthread) on 127.0.0.1, load from a separate process, "
        f"{args.subjects:,} subjects, {os.cpu_count()} CPUs"
    )
    print(f"{'measure':<40}{'result':>22}{'target':>20}  verdict")
    print(
        f"{'batch stamping (1,000/request, conc. 2)':<40}{batch_rate:>15,.0f} item/s{'>= 5,000/s':>20}  "
        f"{'PASS' if batch_rate >= 5000 else 'FAIL'}"
    )
    print(f"{'single stamps, conc. 8':<40}{single['rps']:>16,.0f} req/s{'':>20}")
    print(
        f"{'single stamps p95 / p99':<40}{single['p95_ms']:>11.1f} / {single['p99_ms']:.1f} ms{'<= 40 ms':>20}  "
        f"{'PASS' if single['p95_ms'] <= 40 else 'FAIL'}"
    )
    print(f"{'in-process limit, 1 core (JCS + Ed25519)':<40}{limit:>15,.0f} item/s")
    print(f"{f'in-process limit, all {os.cpu_count()} cores':<40}{limit_all:>15,.0f} item/s")
    print(
        f"{'CPU per item: API app / in-process':<40}{batch_phase.app_ms_per_op:>12.3f} / {limit_cpu_ms:.3f} ms"
        f"  (the API's app CPU is {limit_cpu_ms / batch_phase.app_ms_per_op:.0%} signing and canonical JSON)"
    )
    print(
        f"{'ratio API batch / all-core limit':<40}{batch_rate / limit_all:>21.2f}{'>= 0.50':>20}  "
        f"{'PASS' if batch_rate >= 0.5 * limit_all else 'FAIL'}"
    )
    print(
        f"decisions in a sample batch: {sample['allowed']} allowed (signed), {sample['blocked']} blocked, "
        f"{sample['invalid']} invalid"
    )
    print(f"status codes: batch {batch['statuses']}, single {single['statuses']}")
    return 0 if set(batch["statuses"]) | set(single["statuses"]) <= {"200"} else 1


if __name__ == "__main__":
    sys.exit(main())
