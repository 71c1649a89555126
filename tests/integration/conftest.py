"""A real Celery worker for integration tests: ``celery -A config worker --pool solo`` in a subprocess,
on Redis (CELERY_BROKER_URL) and the pytest-django test database.

Each test gets its own queue, so parallel test processes (pytest-xdist) and other workers on the same
Redis database never take each other's tasks: this process and the worker both send to it through
``CELERY_TASK_DEFAULT_QUEUE``. Tests using the worker need ``@pytest.mark.django_db(transaction=True)``
(the worker reads only committed rows). Retries are fast here (PROVENANT_RETRY_BASE_SECONDS).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
RETRY_BASE_SECONDS = 0.3
OUTBOUND_TIMEOUT_SECONDS = 2.0
START_TIMEOUT = 45.0
STOP_TIMEOUT = 15.0


def test_database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = db.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{db['NAME']}"


class CeleryWorker:
    """One worker subprocess consuming one queue. ``start()`` may come after tasks were enqueued."""

    def __init__(self, queue: str, name: str, log_path: Path, mail_dir: Path) -> None:
        self.queue = queue
        self.name = name
        self.log_path = log_path
        self.mail_dir = mail_dir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryWorker:
        assert self.process is None, "already started"
        env = {
            **os.environ,  # holds the test master keys, which the worker must share
            "DJANGO_SETTINGS_MODULE": "tests.integration.worker_settings",
            "DATABASE_URL": test_database_url(),
            "DATABASE_CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "PROVENANT_TEST_MAIL_DIR": str(self.mail_dir),  # what the worker emails lands here, one file a send
            "PROVENANT_RETRY_BASE_SECONDS": str(RETRY_BASE_SECONDS),
            "PROVENANT_OUTBOUND_TIMEOUT_SECONDS": str(OUTBOUND_TIMEOUT_SECONDS),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--pool",
            "solo",
            "-Q",
            self.queue,
            "-n",
            f"{self.name}@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT
        while " ready." not in self.log():
            if self.process.poll() is not None:
                raise AssertionError(f"the Celery worker exited with {self.process.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"the Celery worker was not ready in {START_TIMEOUT} s:\n{self.log()}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        """Warm shutdown (SIGTERM), then SIGKILL if it does not finish in time."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no message restored; what a crash leaves behind."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=STOP_TIMEOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def results(self, task: str) -> list[str]:
        """The ``succeeded`` log lines of a task (the worker logs each task's return value)."""
        return [line for line in self.log().splitlines() if f"Task {task}[" in line and " succeeded in " in line]


@pytest.fixture
def task_queue(settings: Any) -> Iterator[str]:
    """A queue of this test's own: provenance tasks sent from this process go there; purged afterwards."""
    queue = f"provenant-test-{uuid.uuid4().hex[:12]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.PROVENANT_RETRY_BASE_SECONDS = RETRY_BASE_SECONDS
    settings.PROVENANT_OUTBOUND_TIMEOUT_SECONDS = OUTBOUND_TIMEOUT_SECONDS
    yield queue
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    try:
        keys = list(broker.scan_iter(match=f"*{queue}*"))  # the queue and kombu's bindings of it
        if keys:
            broker.delete(*keys)
        # Messages a killed worker held: kombu would put them back on the queue after its visibility timeout.
        for tag, raw in broker.hscan_iter("unacked"):
            if json.loads(raw)[2] == queue:
                broker.hdel("unacked", tag)
                broker.zrem("unacked_index", tag)
    finally:
        broker.close()


@pytest.fixture
def celery_worker_factory(
    transactional_db: Any, task_queue: str, tmp_path: Path
) -> Iterator[Callable[[], CeleryWorker]]:
    """``worker = celery_worker_factory()`` then ``worker.start()`` when the test wants it running.

    Torn down before the test database is flushed (it depends on ``transactional_db``)."""
    workers: list[CeleryWorker] = []

    def make() -> CeleryWorker:
        worker = CeleryWorker(
            task_queue, f"{task_queue}-{len(workers)}", tmp_path / f"worker-{len(workers)}.log", mail_dir(tmp_path)
        )
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker.stop()


@pytest.fixture
def celery_worker(celery_worker_factory: Callable[[], CeleryWorker]) -> CeleryWorker:
    """A worker already running."""
    return celery_worker_factory().start()


def wait_until(predicate: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Poll until ``predicate()`` is truthy and return it; AssertionError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def mail_dir(tmp_path: Path) -> Path:
    """Where the test's workers write the email they send (Django's file-based backend)."""
    return tmp_path / "worker-mail"


def worker_mail(tmp_path: Path) -> list[str]:
    """The messages the test's workers sent so far, oldest first."""
    folder = mail_dir(tmp_path)
    if not folder.exists():
        return []
    messages: list[str] = []
    for path in sorted(folder.iterdir(), key=lambda p: p.stat().st_mtime_ns):
        messages.extend(part for part in path.read_text().split("-" * 79) if part.strip())
    return messages
