"""``make run``'s last step: an admin login, then gunicorn and a Celery worker (with beat) until Ctrl-C.

Development only. Migrations, static files and the demo seed are earlier steps of ``make run``.
Both servers run in their own process groups so that a stop (Ctrl-C, SIGTERM, or either server
dying) shuts down the other one too, children included, and leaves no orphan behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from core.secrets import read_or_create_secret

STOP_TIMEOUT_SECONDS = 20.0
READY_TIMEOUT_SECONDS = 60.0
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Runs in each child before exec: SIGTERM it if this launcher is killed outright (Linux only)."""
    os.setsid()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Command(BaseCommand):
    help = "Serve Provenant on 127.0.0.1 (gunicorn) with a Celery worker and embedded beat until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface to listen on (default 127.0.0.1)")
        parser.add_argument(
            "--port", type=int, default=int(os.environ.get("PORT", "8000")), help="Default: $PORT, else 8000"
        )
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument("--no-worker", action="store_true", help="Serve the web app only")

    def handle(self, *args: Any, **options: Any) -> None:
        host, port = options["host"], options["port"]
        self._check_port_free(host, port)
        # Links emailed to requesters (the console shows them) point at this server, whatever its port.
        os.environ.setdefault("PROVENANT_PUBLIC_BASE_URL", f"http://{host}:{port}")
        username = options["admin_username"]
        password = self._ensure_admin(username)
        base_dir = Path(settings.BASE_DIR)
        commands = {
            "web": [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                str(base_dir / "config" / "gunicorn.py"),
                "--bind",
                f"{host}:{port}",
                "config.wsgi:application",
            ],
        }
        if not options["no_worker"]:
            commands["worker"] = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-B",
                "--loglevel",
                "INFO",
                "--concurrency",
                "2",
                "--hostname",
                "provenant-dev@%h",
                # The filesystem broker has no broadcast: skip the start-up handshake with other workers.
                "--without-mingle",
                "--without-gossip",
            ]
        self.stdout.write(f"Starting {' and '.join(commands)} on http://{host}:{port}/ ...")
        self.stdout.flush()
        code = self._supervise(
            commands,
            base_dir,
            f"http://{host}:{port}/healthz",
            on_ready=lambda: self._print_banner(host, port, username, password),
        )
        if code:
            raise SystemExit(code)

    # -- set-up ---------------------------------------------------------------------------------

    def _check_port_free(self, host: str, port: int) -> None:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            # As gunicorn does: connections of a previous run in TIME_WAIT must not count as "in use".
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, port))
            except OSError as exc:
                raise CommandError(
                    f"Port {port} on {host} is in use ({exc.strerror}). Stop what uses it, or pick another "
                    f"port: make run PORT={port + 1}"
                ) from exc

    def _ensure_admin(self, username: str) -> str | None:
        """Create the superuser with the password kept in var/secrets/admin-password.

        Returns the password, or None when the account's password was changed since (it is never reset).
        """
        password = read_or_create_secret(Path(settings.VAR_DIR) / "secrets" / "admin-password")
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user_model.objects.create_superuser(
                username=username, email=f"{username}@provenant.local", password=password
            )
            return password
        return password if user.check_password(password) else None

    def _print_banner(self, host: str, port: int, username: str, password: str | None) -> None:
        base = f"http://{host}:{port}"
        key_file = Path(settings.VAR_DIR) / "demo-api-key"
        api_key = key_file.read_text().strip() if key_file.exists() else "(none: manage.py seed_demo)"
        client_file = Path(settings.VAR_DIR) / "secrets" / "demo-client-password"
        client_password = client_file.read_text().strip() if client_file.exists() else "(none: manage.py seed_demo)"
        shown_password = password or f"(changed since; reset: python manage.py changepassword {username})"
        lines = [
            "",
            "Provenant (development)",
            f"  Admin        {base}/admin/",
            f"  Login        {username} / {shown_password}",
            f"  API docs     {base}/api/docs/",
            f"  API key      {api_key}",
            f"               (organization 'demo'; also in {key_file})",
            f"  Reports      {base}/reports/  (client user demo-client / {client_password})",
            "  Ready. Ctrl-C stops the web server and the worker.",
            "",
        ]
        self.stdout.write("\n".join(lines))
        self.stdout.flush()

    # -- supervision ----------------------------------------------------------------------------

    def _supervise(
        self, commands: dict[str, list[str]], cwd: Path, health_url: str, on_ready: Callable[[], None]
    ) -> int:
        stop_requested: list[int] = []

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop_requested.append(signum)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, request_stop)

        processes: dict[str, subprocess.Popen[bytes]] = {}
        exit_code = 0
        try:
            for name, argv in commands.items():
                # Our own fixed argv (sys.executable -m gunicorn/celery), never user input.
                processes[name] = subprocess.Popen(argv, cwd=cwd, preexec_fn=_die_with_parent)  # noqa: S603
            is_ready = False
            started = time.monotonic()
            while not stop_requested:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} exited with code {process.returncode}; stopping the rest.")
                        # A negative code is the signal that killed it; report it as a shell would.
                        code = process.returncode
                        exit_code = 128 - code if code < 0 else code or 1
                        break
                if exit_code:
                    break
                if not is_ready:
                    is_ready = self._is_healthy(health_url)
                    if is_ready:
                        on_ready()
                    elif time.monotonic() - started > READY_TIMEOUT_SECONDS:
                        self.stderr.write(f"{health_url} did not answer within {READY_TIMEOUT_SECONDS:.0f}s.")
                        exit_code = 1
                        break
                time.sleep(0.25)
        finally:
            self._stop(processes)
        if stop_requested and not exit_code:
            self.stdout.write("Stopped.")
            return 128 + stop_requested[0] if stop_requested[0] != signal.SIGTERM else 0
        return exit_code

    def _is_healthy(self, url: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (our own loopback URL)
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def _stop(self, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        """SIGTERM each server (graceful for gunicorn, warm shutdown for Celery), then SIGKILL any leftover
        in its process group (worker children, the embedded beat) once it has exited or timed out."""
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for process in processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for name, process in processes.items():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
            if process.poll() is None:
                self.stderr.write(f"{name} did not stop within {STOP_TIMEOUT_SECONDS:.0f}s; killed.")
            process.wait()
