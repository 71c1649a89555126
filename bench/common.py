"""Plumbing shared by the benchmarks: a fresh PostgreSQL database, gunicorn on 127.0.0.1, and the
load generator (bench/loadgen.py) in its own process."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def prepare_environment(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": base64.b64encode(os.urandom(48)).decode(),
            # Fresh keys unless given (set them to profile against the benchmark database afterwards).
            "PROVENANT_MASTER_KEY": os.environ.get("BENCH_MASTER_KEY") or base64.b64encode(os.urandom(32)).decode(),
            "PROVENANT_BLIND_INDEX_KEY": os.environ.get("BENCH_BLIND_INDEX_KEY")
            or base64.b64encode(os.urandom(32)).decode(),
            "DATABASE_CONN_MAX_AGE": "600",
            "LOG_LEVEL": "WARNING",
            "PROVENANT_VAR_DIR": str(ROOT / "var" / "bench"),
            "DJANGO_STATIC_ROOT": str(ROOT / "var" / "bench" / "static"),
            # A benchmark measures the server, not the rate limits (issue #15): budgets far above any bench's
            # rate, unless the caller sets them (to measure the limiter itself).
            "PROVENANT_API_RATE_LIMIT_PER_MINUTE": os.environ.get("PROVENANT_API_RATE_LIMIT_PER_MINUTE", "100000000"),
            "PROVENANT_API_EXPENSIVE_RATE_LIMIT_PER_MINUTE": os.environ.get(
                "PROVENANT_API_EXPENSIVE_RATE_LIMIT_PER_MINUTE", "100000000"
            ),
            "PROVENANT_PUBLIC_RATE_LIMIT_PER_MINUTE": os.environ.get(
                "PROVENANT_PUBLIC_RATE_LIMIT_PER_MINUTE", "100000000"
            ),
        }
    )
    (ROOT / "var" / "bench" / "static").mkdir(parents=True, exist_ok=True)
    return env


def recreate_database(database_url: str) -> None:
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin_url = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def analyze(database_url: str) -> None:
    """A production database has planner statistics; a freshly loaded one gets them here."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")


def wait_for(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server did not answer at {url}")


def load(job: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(
        [PYTHON, str(ROOT / "bench" / "loadgen.py")],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(result.stdout)


@dataclass(frozen=True)
class Server:
    url: str
    pid: int  # gunicorn's master; its workers are its children (bench/measure.py counts the whole tree)
    port: int


@contextmanager
def serve(env: dict[str, str], *, port: int, workers: int = 2, threads: int = 4) -> Iterator[Server]:
    """gunicorn (gthread) on 127.0.0.1:port for the duration of the block; yields its URL and master pid."""
    server = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "gunicorn",
            "config.wsgi",
            "--workers",
            str(workers),
            "--worker-class",
            "core.gunicorn_worker.RebalancingThreadWorker",  # as config/gunicorn.py serves production
            "--threads",
            str(threads),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield Server(url=f"http://127.0.0.1:{port}", pid=server.pid, port=port)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


@contextmanager
def gunicorn(env: dict[str, str], *, port: int, workers: int = 2, threads: int = 4) -> Iterator[str]:
    """gunicorn (gthread) on 127.0.0.1:port for the duration of the block; yields the base URL."""
    with serve(env, port=port, workers=workers, threads=threads) as server:
        yield server.url


def migrate(env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
