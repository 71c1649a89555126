"""A small closed-loop HTTP load generator for the benchmarks (its own process, loopback only).

Each of ``concurrency`` threads keeps one HTTP/1.1 connection open and sends its share of the
requests back to back; latencies are measured per request. Bounded by count and by time.
Reads a JSON job on stdin, prints a JSON result on stdout.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import threading
import time
from typing import Any


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run(job: dict[str, Any]) -> dict[str, Any]:
    host, port = job["host"], int(job["port"])
    assert host in ("127.0.0.1", "localhost", "::1"), "load goes to loopback only"
    requests: list[dict[str, Any]] = job["requests"]
    concurrency = int(job["concurrency"])
    deadline = time.monotonic() + float(job.get("max_seconds", 120))
    headers = dict(job.get("headers", {}))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    cursor = iter(range(len(requests)))

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        local_lat: list[float] = []
        local_status: dict[int, int] = {}
        while time.monotonic() < deadline:
            with lock:
                index = next(cursor, None)
            if index is None:
                break
            spec = requests[index]
            body = spec.get("body")
            payload = json.dumps(body).encode() if body is not None else None
            request_headers = dict(headers)
            if payload is not None:
                request_headers["Content-Type"] = "application/json"
            request_headers.update(spec.get("headers", {}))
            started = time.perf_counter()
            for attempt in range(2):
                try:
                    connection.request(spec["method"], spec["path"], body=payload, headers=request_headers)
                    response = connection.getresponse()
                    response.read()
                    break
                except (http.client.HTTPException, ConnectionError, OSError):
                    connection.close()
                    connection = http.client.HTTPConnection(host, port, timeout=30)
                    if attempt == 1:
                        raise
            local_lat.append((time.perf_counter() - started) * 1000)
            local_status[response.status] = local_status.get(response.status, 0) + 1
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection(host, port, timeout=30)
        connection.close()
        with lock:
            latencies.extend(local_lat)
            for code, count in local_status.items():
                statuses[code] = statuses.get(code, 0) + count

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "mean_ms": statistics.fmean(latencies) if latencies else float("nan"),
        "statuses": statuses,
    }


if __name__ == "__main__":
    print(json.dumps(run(json.load(sys.stdin))))
