"""A real HTTP receiver on 127.0.0.1 for integration tests: records every request and can be told to
fail the first N of them (with a status, or by hanging past the client's timeout), or answer the first N slowly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    received_at: float
    checked: Any = None


class HttpReceiver:
    """``with HttpReceiver(fail_times=2, fail_status=503) as receiver: ... receiver.url``.

    The first ``fail_times`` requests to arrive get ``fail_status`` (after ``hang_seconds``); later ones
    get ``status``. The first ``slow_times`` requests are answered only after ``slow_seconds`` (a slow
    system: a test can act while a call is in flight). A request is recorded when it has been answered.

    ``check(headers, body)`` runs on each request (e.g. a signature check); its result is kept in
    ``ReceivedRequest.checked`` and a falsy result answers 401."""

    def __init__(
        self,
        *,
        fail_times: int = 0,
        fail_status: int = 503,
        status: int = 200,
        hang_seconds: float = 0.0,
        slow_times: int = 0,
        slow_seconds: float = 0.0,
        check: Callable[[dict[str, str], bytes], Any] | None = None,
    ) -> None:
        self.fail_times = fail_times
        self.fail_status = fail_status
        self.status = status
        self.hang_seconds = hang_seconds
        self.slow_times = slow_times
        self.slow_seconds = slow_seconds
        self.check = check
        self.requests: list[ReceivedRequest] = []
        self.arrived = 0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="http-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def wait_for(self, count: int, *, timeout: float = 30.0) -> list[ReceivedRequest]:
        """Block until at least ``count`` requests arrived; AssertionError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests, got {len(self.requests)} in {timeout} s")
                self._changed.wait(remaining)
            return list(self.requests)

    def wait_arrived(self, count: int, *, timeout: float = 30.0) -> None:
        """Block until ``count`` requests arrived, answered or not (one may still be hanging)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self.arrived < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"expected {count} requests to arrive, got {self.arrived} in {timeout} s")
                self._changed.wait(remaining)

    def _answer(self, headers: dict[str, str], body: bytes) -> tuple[int, Any, float]:
        with self._changed:
            self.arrived += 1
            failing = self.arrived <= self.fail_times
            slow = self.arrived <= self.slow_times
            self._changed.notify_all()
        checked = self.check(headers, body) if self.check else True
        if failing:
            return (self.fail_status, checked, self.hang_seconds)
        return (self.status if checked else 401, checked, self.slow_seconds if slow else 0.0)

    def _record(self, request: ReceivedRequest) -> None:
        with self._changed:
            self.requests.append(request)
            self._changed.notify_all()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                status, checked, hang = receiver._answer(headers, body)
                if hang:
                    time.sleep(hang)
                receiver._record(ReceivedRequest("POST", self.path, headers, body, status, time.monotonic(), checked))
                payload = b'{"ok": true}' if 200 <= status < 300 else b'{"ok": false}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
