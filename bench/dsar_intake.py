"""DSAR intake benchmark (issue #16: CPU per request halved).

PostgreSQL, gunicorn (2 workers x 4 threads) on 127.0.0.1, load from a separate process. Posts access requests
(POST /api/v1/dsar, a requester email and a subject id each) at concurrency 8 and prints, with the reference
endpoint (one primary-key lookup in a minimal DRF view) served the same way in the same run: req/s,
p50/p95/p99, server CPU per request (the gunicorn tree and PostgreSQL backends apart) and round trips and
transactions per request through a counting proxy (bench/measure.py). The acknowledgement email goes to
Django's dummy backend; a Celery worker is not started (the server's own work is what is measured).

Usage: python bench/dsar_intake.py [--requests 2000] [--port 8767]
Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/provenant_bench_dsar_intake); the
database is dropped and recreated.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, analyze, load, migrate, prepare_environment, recreate_database, serve
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


def seed() -> tuple[str, int]:
    """The organization and an API key with the DSAR scopes; returns (key, organization pk)."""
    import django

    django.setup()
    from core.services import api_key_create, organization_create

    organization = organization_create(slug="bench", name="Bench", actor="bench")
    _, key = api_key_create(organization=organization, name="bench", scopes=["dsar:read", "dsar:write"], actor="bench")
    return key, organization.pk


def intake(n: int) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/api/v1/dsar",
        "body": {
            "type": "access",
            "jurisdiction": "DE",
            "subject_id": f"subject-{n}",
            "requester": {"email": f"person-{n}@example.com", "name": "Pat Bench"},
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument("--wire-requests", type=int, default=100)
    args = parser.parse_args()

    database_url = os.environ.get(
        "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_bench_dsar_intake"
    )
    env = reference_environment(prepare_environment(database_url))
    env["EMAIL_URL"] = "dummy://"
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    recreate_database(database_url)
    migrate(env)
    key, organization_pk = seed()
    reference = reference_path(organization_pk)
    from django.db import connections

    connections.close_all()
    analyze(database_url)

    def job(port: int, requests: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
        return {
            "host": "127.0.0.1",
            "port": port,
            "headers": {"Authorization": f"Bearer {key}"},
            "concurrency": concurrency,
            "requests": requests,
            "max_seconds": 300,
        }

    with serve(env, port=args.port) as server:
        probe = CpuProbe(app_roots=[server.pid], database_url=database_url)
        port = server.port
        load(job(port, [intake(10**8 + i) for i in range(100)] + [{"method": "GET", "path": reference}] * 200, 4))
        dsar = measure_phase(
            "DSAR intake (conc. 8)", lambda: load(job(port, [intake(i) for i in range(args.requests)], 8)), probe=probe
        )
        ref = measure_phase(
            "reference: 1 pk lookup (conc. 8)",
            lambda: load(job(port, [{"method": "GET", "path": reference}] * args.requests, 8)),
            probe=probe,
        )

    counter = WireCounter(database_url)
    with serve({**env, "DATABASE_URL": counter.proxied_url()}, port=args.port + 1, workers=1, threads=2) as server:
        port = server.port
        load(job(port, [intake(2 * 10**8 + i) for i in range(20)], 2))
        n = args.wire_requests
        ref.wire = measure_wire(lambda: load(job(port, [{"method": "GET", "path": reference}] * n, 2)), counter=counter)
        dsar.wire = measure_wire(lambda: load(job(port, [intake(3 * 10**8 + i) for i in range(n)], 2)), counter=counter)
    wait_backends_gone(database_url)
    counter.close()

    print(
        f"setup: PostgreSQL, gunicorn 2 workers x 4 threads (gthread) on 127.0.0.1, load from a separate process, "
        f"{os.cpu_count()} CPUs; email to the dummy backend; no Celery worker"
    )
    print_table([ref, dsar], reference=ref)
    return 0 if set(dsar.load["statuses"]) <= {"201"} else 1


if __name__ == "__main__":
    sys.exit(main())
