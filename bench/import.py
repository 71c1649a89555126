"""Bulk import benchmark (issue #17): ``manage.py import_consents`` on a file it generates, 1,000,000 events by default.

Targets: >= 1,000,000 events in <= 120 s (aim: 30 s), peak memory of the import <= 500 MB.
Prints events/s, wall time, the import's peak memory (the command and its partition processes together, as the
sum of their proportional set sizes, sampled from /proc: forked processes share pages, which a sum of RSS would count
twice; and the largest single RSS, from rusage), its CPU (the command and its processes), and the CPU of the
PostgreSQL backends serving the benchmark database (sampled from /proc while it runs: the server's shared background
processes, the WAL writer and checkpointer, are not counted).

Usage: python bench/import.py [--events 1000000] [--subjects 200000] [--format csv|ndjson] [--batch-rows N]
       [--workers N]
Environment: BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/provenant_bench_import); the database is
dropped and recreated. The file is written to a temporary directory and removed afterwards (nothing in git).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import PYTHON, ROOT, migrate, prepare_environment, recreate_database

PURPOSES = ("marketing-email", "analytics", "ad-targeting")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def seed(env: dict[str, str]) -> None:
    code = (
        "import django; django.setup()\n"
        "from consent.enums import SourceKind\n"
        "from consent.services import purpose_create, source_create\n"
        "from core.services import organization_create\n"
        "o = organization_create(slug='bench', name='Bench', actor='bench')\n"
        "source_create(organization=o, actor='bench', key='crm-export', name='CRM', kind=SourceKind.IMPORT)\n"
        f"for key in {PURPOSES!r}:\n"
        "    purpose_create(organization=o, actor='bench', key=key, name=key, validity='P1Y')\n"
    )
    subprocess.run([PYTHON, "-c", code], cwd=ROOT, env=env, check=True)


def generate(path: Path, events: int, subjects: int, file_format: str) -> None:
    """``events`` over ``subjects``, oldest first: each subject grants, later some withdraw; one in ten carries an IP
    and user agent as evidence (sealed per event, as the API does)."""
    start = datetime.now(UTC) - timedelta(days=3 * 365)
    step = timedelta(days=3 * 365) / events
    header = ["subject_id", "purpose", "action", "occurred_at", "source", "collection_method", "jurisdiction"]
    header += ["ip_address", "user_agent"]
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream) if file_format == "csv" else None
        if writer is not None:
            writer.writerow(header)
        for n in range(events):
            subject = n % subjects
            action = "withdraw" if (n // subjects) % 4 == 3 else "grant"
            occurred = (start + step * n).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            evidence = n % 10 == 0
            values = [
                f"cust-{subject:07d}",
                PURPOSES[(n // subjects) % 3],
                action,
                occurred,
                "crm-export",
                "api_import",
                "DE" if subject % 2 else "US-CA",
                f"198.51.100.{subject % 250}" if evidence else "",
                "Mozilla/5.0 (bench)" if evidence else "",
            ]
            if writer is not None:
                writer.writerow(values)
            else:
                row = {k: v for k, v in zip(header, values, strict=True) if v}
                stream.write("{" + ",".join(f'"{k}":"{v}"' for k, v in row.items()) + "}\n")


def backend_cpu_seconds(database: str, seen: dict[int, float]) -> None:
    """Record the CPU seconds of every PostgreSQL backend serving ``database`` (its process title names it)."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            title = Path(entry.path, "cmdline").read_bytes().replace(b"\0", b" ")
            if f" {database} ".encode() not in title or not title.startswith(b"postgres"):
                continue
            fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seen[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_pss_mb(root: int) -> float:
    """The proportional set size of ``root`` and its descendants, in MB (0 for a process gone meanwhile)."""
    total_kb = 0
    pending = [root]
    while pending:
        pid = pending.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    break
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return total_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=200_000)
    parser.add_argument("--format", choices=("csv", "ndjson"), default="csv")
    parser.add_argument("--batch-rows", type=int, default=None)
    parser.add_argument("--workers", type=int, default=None, help="the command's --workers (default: its own)")
    args = parser.parse_args()
    database_url = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/provenant_bench_import")
    database = database_url.rsplit("/", 1)[1]
    recreate_database(database_url)
    env = prepare_environment(database_url)
    migrate(env)
    seed(env)
    with tempfile.TemporaryDirectory(prefix="provenant-import-") as folder:
        path = Path(folder) / f"history.{args.format}"
        started = time.perf_counter()
        generate(path, args.events, args.subjects, args.format)
        print(
            f"generated {args.events:,} events over {args.subjects:,} subjects ({path.stat().st_size / 1e6:.0f} MB "
            f"{args.format}) in {time.perf_counter() - started:.1f} s"
        )
        command = [PYTHON, "manage.py", "import_consents", str(path), "--organization", "bench", "--no-progress"]
        if args.batch_rows:
            command += ["--batch-rows", str(args.batch_rows)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        backends: dict[int, float] = {}
        peak_pss = [0.0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                backend_cpu_seconds(database, backends)
                peak_pss[0] = max(peak_pss[0], tree_pss_mb(process.pid))
                stop.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
        output = process.stdout.read() if process.stdout else ""
        if status != 0:
            raise SystemExit(f"import failed ({status}):\n{output}")
    print(output.strip())
    peak_mb = usage.ru_maxrss / 1024  # KiB on Linux: the largest process of the command's tree
    import_cpu = usage.ru_utime + usage.ru_stime  # the command and the partition processes it waited for
    database_cpu = sum(backends.values())
    print(f"events/s        {args.events / wall:,.0f}")
    print(f"wall time       {wall:.1f} s  (target <= 120 s, aim 30 s)")
    print(
        f"peak memory     {peak_pss[0]:.0f} MB (PSS, all its processes; largest RSS {peak_mb:.0f} MB)  "
        "(target <= 500 MB)"
    )
    print(f"import CPU      {import_cpu:.1f} s  ({import_cpu / args.events * 1e3:.3f} ms per event)")
    print(
        f"PostgreSQL CPU  {database_cpu:.1f} s  ({database_cpu / args.events * 1e3:.3f} ms per event; "
        f"{len(backends)} backend(s) of {database})"
    )
    print(f"machine         {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
