"""gunicorn's threaded worker, handing a connection back to the listening socket after a CPU-heavy request that shared
its process with another (issue #16).

A keep-alive connection stays with the worker process that accepted it. Two clients that each send batches of a
thousand stamps (a few hundred milliseconds of CPU a request) can both be held by one process, whose threads then
share one core under its GIL while the other processes idle: measured, batch stamping then ran at 0.30 of the
machine's signing limit, against 0.50-0.58 when the two connections sat in two processes. This worker answers a
request whose thread spent more than ``GUNICORN_REBALANCE_AFTER_MS`` of CPU (default 100) while another request was
in progress in the same process with ``Connection: close``: the client's next request comes on a new connection,
which the listening socket gives to the worker that accepts first, an idle one sooner than a busy one (whose accepting
thread must wait for the GIL). A heavy request alone in its process keeps its connection (closing it there would only
move the work around: measured, closing after every heavy request gave 0.42-0.46, the collisions spread over all
runs); so do ordinary requests (a few milliseconds) and long waits that use no CPU (the change feed's long poll).

Selected by config/gunicorn.py (``worker_class``), and by the benchmarks, which serve as production does.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def rebalance_after_seconds() -> float:
    """``GUNICORN_REBALANCE_AFTER_MS``: CPU milliseconds of a request's thread after which its connection is closed."""
    return float(os.environ.get("GUNICORN_REBALANCE_AFTER_MS", "100")) / 1000


def closing_after_heavy_requests(app: WsgiApp, threshold_seconds: float) -> WsgiApp:
    """``app``, answering with ``Connection: close`` when the request's thread spent ``threshold_seconds`` of CPU or
    more before its response started and another request is in progress in this process. gunicorn ignores a
    ``Connection`` header set by the application (hop-by-hop), so the decision goes to gunicorn's response object,
    whose ``start_response`` this is."""
    lock = threading.Lock()
    in_progress = 0

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        nonlocal in_progress
        started = time.thread_time()

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if in_progress > 1 and time.thread_time() - started >= threshold_seconds:
                response = getattr(start_response, "__self__", None)
                force_close = getattr(response, "force_close", None)
                if callable(force_close):
                    force_close()
            return start_response(status, headers, exc_info)

        with lock:
            in_progress += 1
        try:
            return app(environ, start)
        finally:
            with lock:
                in_progress -= 1

    return application


class RebalancingThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's ``gthread`` worker with :func:`closing_after_heavy_requests` around the application."""

    wsgi: WsgiApp

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = closing_after_heavy_requests(self.wsgi, rebalance_after_seconds())
