"""A PostgreSQL cluster of the test's own: ``initdb`` (as the postgres user) into a temporary directory, on a
free port, started and stopped with ``pg_ctl``, so a test can take the database away without touching the
shared server."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PostgresCluster:
    """``base`` defaults to a new directory under the system's temporary directory (pytest's are private to
    root, and the server runs as postgres); ``remove()`` deletes it."""

    def __init__(self, base: Path | None = None) -> None:
        base = base or Path(tempfile.mkdtemp(prefix="provenant-pg-"))
        self.base = base
        self.data = base / "pgdata"
        self.log_path = base / "postgres.log"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0  # PostgreSQL refuses to run as root
        base.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            entry = pwd.getpwnam("postgres")
            os.chown(base, entry.pw_uid, entry.pw_gid)
        self._run([self._bin("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"])

    @staticmethod
    def _bin(name: str) -> str:
        found = shutil.which(name)
        assert found, f"{name} is not on PATH"
        return found

    def _run(self, command: list[str]) -> subprocess.CompletedProcess[str]:
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.base)
        assert result.returncode == 0, f"{command}: {result.stdout}\n{result.stderr}"
        return result

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/provenant"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} -c fsync=off"
        self._run([self._bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log_path), "-w", "start"])

    def stop(self) -> None:
        """Fast shutdown: open connections are cut, as in a crash of the server or a failover."""
        self._run([self._bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def is_running(self) -> bool:
        command = [self._bin("pg_ctl"), "-D", str(self.data), "status"]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, capture_output=True, timeout=30).returncode == 0

    def create_database(self) -> None:
        self._run([self._bin("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "provenant"])

    def remove(self) -> None:
        if self.is_running():
            self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
