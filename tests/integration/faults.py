"""Processes the fault tests start, stop and kill themselves (issue #15): a redis-server of their own on a free
port, Celery beat, and a web server (gunicorn) on 127.0.0.1, so stopping one never touches the shared services."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

from tests.integration.conftest import ROOT, test_database_url

STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


class RedisServer:
    """``redis-server`` on a free port, no persistence: ``stop()`` loses every message, as a crash of an
    unpersisted broker would; ``start()`` again on the same port."""

    def __init__(self, tmp_path: Path) -> None:
        executable = shutil.which("redis-server")
        assert executable is not None, "redis-server is not installed"
        self.executable = executable
        self.port = free_port()
        self.log_path = tmp_path / f"redis-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        assert self.process is None or self.process.poll() is not None, "already running"
        command = [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 15
        while True:
            try:
                with redis.Redis.from_url(self.url, socket_connect_timeout=0.5) as client:
                    client.ping()
                return self
            except redis.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"redis-server did not start:\n{self.log_path.read_text()}") from None
                time.sleep(0.05)

    def stop(self) -> None:
        _stop(self.process)


def process_env(*, broker_url: str, queue: str, mail_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a process the test starts: the test database and keys, this test's broker and queue."""
    return {
        **os.environ,  # holds the test master keys, which every process must share
        "DJANGO_SETTINGS_MODULE": "tests.integration.worker_settings",
        "DATABASE_URL": test_database_url(),
        "DATABASE_CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "PROVENANT_TEST_MAIL_DIR": str(mail_dir),
        "PROVENANT_PUBLIC_BASE_URL": "http://testserver",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **extra,
    }


class CeleryBeat:
    """``celery beat`` with the project's schedule (periods from the environment), its messages on the test's
    queue, its schedule file in the test's directory."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.log_path = tmp_path / "beat.log"
        self.schedule = tmp_path / "beat-schedule"
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> CeleryBeat:
        command = [sys.executable, "-m", "celery", "-A", "config", "beat", "--schedule", str(self.schedule)]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [*command, "--loglevel", "INFO"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        _stop(self.process)


class WebServer:
    """gunicorn serving the project on 127.0.0.1 (one worker, threads), in the given environment."""

    def __init__(self, tmp_path: Path, env: dict[str, str], *, config_file: str | None = None) -> None:
        """``config_file``: gunicorn's settings file (``config/gunicorn.py``: its hooks too); the flags here win."""
        self.port = free_port()
        self.log_path = tmp_path / f"web-{self.port}.log"
        command = [
            sys.executable, "-m", "gunicorn", *(["-c", config_file] if config_file else []),
            "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "4", "--timeout", "60",
            "config.wsgi:application",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 45
        while True:
            try:
                httpx.get(f"{self.url}/healthz", timeout=1)
                return
            except httpx.TransportError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"gunicorn did not start:\n{self.log()}") from None
                time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        _stop(self.process)
