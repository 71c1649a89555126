"""core.gunicorn_worker (issue #16): a CPU-heavy request closes its connection only while another request of its
process is working; a long poll that waits without CPU does not count. Real threads; gunicorn's response object,
which the wrapper reaches through ``start_response``, stood in for by the two methods the wrapper uses."""

from __future__ import annotations

import threading
import time
from typing import Any

from core.gunicorn_worker import closing_after_heavy_requests, rebalance_after_seconds

THRESHOLD = 0.02


class GunicornResponse:
    def __init__(self) -> None:
        self.closed = False

    def force_close(self) -> None:
        self.closed = True

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return lambda data: None


def burn(seconds: float) -> None:
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        sum(range(1000))


def make_app(release: threading.Event) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        if environ["PATH_INFO"] == "/wait":
            release.wait(10)  # a long poll: waits, no CPU
        elif environ["PATH_INFO"] == "/spin":
            while not release.is_set():  # another client's batch, working
                burn(0.001)
        elif environ["PATH_INFO"] == "/light":
            pass
        else:
            burn(3 * THRESHOLD)
        start_response("200 OK", [])
        return [b""]

    return closing_after_heavy_requests(app, THRESHOLD)


def served(app: Any, path: str) -> GunicornResponse:
    response = GunicornResponse()
    app({"PATH_INFO": path}, response.start_response)
    return response


def heavy_beside(other_path: str) -> bool:
    release = threading.Event()
    app = make_app(release)
    other = threading.Thread(target=served, args=(app, other_path))
    other.start()
    time.sleep(0.05)
    try:
        return served(app, "/batch").closed
    finally:
        release.set()
        other.join(10)


def test_a_heavy_request_alone_keeps_its_connection() -> None:
    assert not served(make_app(threading.Event()), "/batch").closed


def test_a_heavy_request_beside_a_waiting_long_poll_keeps_its_connection() -> None:
    assert not heavy_beside("/wait")


def test_a_heavy_request_beside_another_working_one_hands_its_connection_back() -> None:
    assert heavy_beside("/spin")


def test_a_light_request_keeps_its_connection_whatever_runs_beside_it() -> None:
    release = threading.Event()
    app = make_app(release)
    other = threading.Thread(target=served, args=(app, "/spin"))
    other.start()
    time.sleep(0.05)
    try:
        assert not served(app, "/light").closed
    finally:
        release.set()
        other.join(10)


def test_the_threshold_falls_back_to_its_default_when_not_a_number(monkeypatch: Any) -> None:
    monkeypatch.setenv("GUNICORN_REBALANCE_AFTER_MS", "fast")
    assert rebalance_after_seconds() == 0.1
    monkeypatch.setenv("GUNICORN_REBALANCE_AFTER_MS", "250")
    assert rebalance_after_seconds() == 0.25
