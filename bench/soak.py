"""Soak (issue #15): N minutes of mixed traffic at a fixed rate against gunicorn on 127.0.0.1 with PostgreSQL.

The mix (by share of requests): consent writes (POST /api/v1/consent-events) 40 %, consent state reads
(GET /api/v1/subjects/{id}/consent) 30 %, stamps (POST /api/v1/stamps) 25 %, DSAR intake (POST /api/v1/dsar) 5 %.
Open loop: requests are sent on a fixed schedule (--rate per second) by a pool of client threads, whatever the
server's latency, so a slow server shows up as latency and a backlog, not as a lower rate.

Prints: requests sent and answered per route, consent events sent (201) == events stored, the ledger verifies
(ledger_integrity_check over the organization), the count of 5xx, p50/p95/p99 per route, and the server's CPU
per request (gunicorn's processes, user + system, from /proc: the machine is shared, CPU per operation is the
figure to compare).

Usage: python bench/soak.py [--minutes 10] [--rate 40] [--subjects 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PYTHON, ROOT, analyze, migrate, prepare_environment, recreate_database, wait_for
from consent_ingest import seed

MIX: tuple[tuple[str, float], ...] = (("consent.write", 0.40), ("consent.read", 0.30), ("stamp", 0.25), ("dsar", 0.05))
CLIENT_THREADS = 16
CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def session_cpu_seconds(session_id: int) -> float:
    """User + system CPU of every live process in the session (gunicorn's master and workers)."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == session_id:  # field 6 (session), after the name
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLK_TCK


def start_gunicorn(env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    command = [
        PYTHON, "-m", "gunicorn", "config.wsgi", "--workers", str(workers),
        "--worker-class", "core.gunicorn_worker.RebalancingThreadWorker",
        "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--keep-alive", "30",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)
    wait_for(f"http://127.0.0.1:{port}/healthz")
    return server


class Traffic:
    """Builds the next request of each kind (subjects and purposes drawn from the seeded ones)."""

    def __init__(self, subjects: int, purposes: list[str], seed_value: int = 15) -> None:
        self.rng = random.Random(seed_value)
        self.subjects = subjects
        self.purposes = purposes
        self.counter = 0

    def next(self, kind: str) -> tuple[str, str, dict[str, Any] | None]:
        self.counter += 1
        n = self.rng.randrange(self.subjects)
        subject, purpose = f"subject-{n}", self.purposes[n % len(self.purposes)]
        if kind == "consent.write":
            at = datetime.now(UTC) - timedelta(seconds=1)
            body = {
                "subject_id": subject,
                "purpose": purpose,
                "action": self.rng.choice(["grant", "withdraw"]),
                "occurred_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "source": "web-signup",
                "collection_method": "web_form",
                "jurisdiction": "DE",
                "evidence": {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 soak"},
            }
            return "POST", "/api/v1/consent-events", body
        if kind == "consent.read":
            return "GET", f"/api/v1/subjects/{subject}/consent", None
        if kind == "stamp":
            body = {
                "recipient": "crm" if purpose != "ad-targeting" else "ad-network",
                "purpose": purpose,
                "subject_id": subject,
                "data": {"email_hash": f"{self.counter:064x}", "plan": "pro", "tags": ["newsletter"]},
                "provenance": {"source": "web-signup", "collection_method": "web_form"},
            }
            return "POST", "/api/v1/stamps", body
        body = {
            "type": "access",
            "jurisdiction": "DE",
            "subject_id": subject,
            "requester": {"email": f"soak-{self.counter}@example.com"},
        }
        return "POST", "/api/v1/dsar", body


def run_load(port: int, key: str, traffic: Traffic, *, rate: float, seconds: float) -> dict[str, Any]:
    jobs: queue.Queue[tuple[str, str, str, dict[str, Any] | None] | None] = queue.Queue()
    latencies: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {key}"}

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while (job := jobs.get()) is not None:
            kind, method, path, body = job
            payload = json.dumps(body).encode() if body is not None else None
            request_headers = dict(headers, **({"Content-Type": "application/json"} if payload else {}))
            started = time.perf_counter()
            status = 0
            for attempt in range(2):
                try:
                    connection.request(method, path, body=payload, headers=request_headers)
                    response = connection.getresponse()
                    response.read()
                    status = response.status
                    break
                except (http.client.HTTPException, OSError):
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    if attempt:
                        status = 0  # no answer at all
            elapsed = time.perf_counter() - started
            with lock:
                latencies[kind].append(elapsed)
                statuses[kind][status] += 1
        connection.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    kinds = [kind for kind, _ in MIX]
    weights = [weight for _, weight in MIX]
    chooser = random.Random(7)
    interval = 1.0 / rate
    started = time.monotonic()
    sent = 0
    next_at = started
    while (now := time.monotonic()) < started + seconds:
        if now < next_at:
            time.sleep(min(next_at - now, 0.05))
            continue
        kind = chooser.choices(kinds, weights)[0]
        method, path, body = traffic.next(kind)
        jobs.put((kind, method, path, body))
        sent += 1
        next_at += interval
    for _ in threads:
        jobs.put(None)
    for thread in threads:
        thread.join(timeout=60)
    return {
        "sent": sent,
        "elapsed": time.monotonic() - started,
        "latencies": dict(latencies),
        "statuses": {kind: dict(counts) for kind, counts in statuses.items()},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=40.0, help="requests per second (all routes together)")
    parser.add_argument("--subjects", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_soak")
    env = prepare_environment(database_url)
    env["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"  # verification links: not to stdout
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    recreate_database(database_url)
    migrate(env)
    scopes = ("consent:read", "consent:write", "stamp", "dsar:read", "dsar:write")
    key, purposes = seed(args.subjects, scopes=scopes)
    from consent.models import ConsentEvent
    from consent.services import ledger_integrity_check
    from core.models import Organization
    from dsar.models import DataSubjectRequest
    from provenance.services.keys import signing_key_rotate
    from provenance.services.recipients import recipient_create

    organization = Organization.objects.get(slug="bench")
    for recipient_key, role, recipient_purposes in (
        ("crm", "processor", ["marketing-email", "analytics"]),
        ("ad-network", "third_party", ["ad-targeting"]),
    ):
        recipient_create(
            organization=organization,
            actor="bench",
            key=recipient_key,
            name=recipient_key,
            role=role,
            purposes=recipient_purposes,
        )
    signing_key_rotate(organization=organization, actor="bench")
    analyze(database_url)
    events_before = ConsentEvent.objects.filter(organization=organization).count()
    requests_before = DataSubjectRequest.objects.filter(organization=organization).count()

    server = start_gunicorn(env, args.port, args.workers, args.threads)
    try:
        cpu_before = session_cpu_seconds(server.pid)
        result = run_load(args.port, key, Traffic(args.subjects, purposes), rate=args.rate, seconds=args.minutes * 60)
        cpu = session_cpu_seconds(server.pid) - cpu_before
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    statuses: dict[str, dict[int, int]] = result["statuses"]
    answered = sum(sum(counts.values()) for counts in statuses.values())
    server_errors = sum(n for counts in statuses.values() for status, n in counts.items() if status >= 500)
    no_answer = sum(counts.get(0, 0) for counts in statuses.values())
    events_sent = statuses.get("consent.write", {}).get(201, 0)
    events_stored = ConsentEvent.objects.filter(organization=organization).count() - events_before
    dsars_stored = DataSubjectRequest.objects.filter(organization=organization).count() - requests_before
    verification = ledger_integrity_check(organization=organization, actor="bench:soak")

    print(
        f"soak: {args.minutes:g} min at {args.rate:g} req/s target, gunicorn {args.workers}x{args.threads} "
        f"(gthread) on 127.0.0.1, PostgreSQL, {args.subjects:,} subjects, {os.cpu_count()} CPUs (shared)"
    )
    print(
        f"  sent {result['sent']:,} requests in {result['elapsed']:.0f} s "
        f"({result['sent'] / result['elapsed']:.1f}/s); answered {answered:,}"
    )
    print(f"  {'route':<14} {'sent':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  statuses")
    for kind, _ in MIX:
        values = result["latencies"].get(kind, [])
        counts = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.get(kind, {}).items()))
        print(
            f"  {kind:<14} {len(values):>7,} {percentile(values, 50) * 1000:>8.1f} "
            f"{percentile(values, 95) * 1000:>8.1f} {percentile(values, 99) * 1000:>8.1f}  {counts}"
        )
    print(f"  consent events sent (201) {events_sent:,} == stored {events_stored:,}: {events_sent == events_stored}")
    dsar_created = statuses.get("dsar", {}).get(201, 0)
    print(f"  DSARs accepted (201) {dsar_created:,} == stored {dsars_stored:,}: {dsar_created == dsars_stored}")
    print(
        f"  ledger verifies: {verification.is_valid} ({verification.events_checked:,} events, "
        f"{verification.subjects_checked:,} subjects)"
    )
    print(f"  5xx: {server_errors}; no answer: {no_answer}")
    print(f"  server CPU: {cpu:.1f} s, {cpu * 1e3 / max(answered, 1):.2f} ms per request")
    ok = (
        events_sent == events_stored
        and dsar_created == dsars_stored
        and verification.is_valid
        and server_errors == 0
        and no_answer == 0
    )
    print(f"  {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
