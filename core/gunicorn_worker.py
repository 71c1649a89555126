"""gunicorn's threaded worker, handing a connection back to the listening socket after a CPU-heavy request that shared
its process with another (issue #16).

A keep-alive connection stays with the worker process that accepted it. Two clients that each send batches of a
thousand stamps (a few hundred milliseconds of CPU a request) can both be held by one process, whose threads then
share one core under its GIL while the other processes idle: measured, batch stamping then ran at 0.30 of the
machine's signing limit, against 0.50-0.58 when the two connections sat in two processes. This worker answers a
request whose thread spent more than ``GUNICORN_REBALANCE_AFTER_MS`` of CPU (default 100), while another request was
working in the same process, with ``Connection: close``: the client's next request comes on a new connection, which
the listening socket gives to the worker that accepts first, an idle one sooner than a busy one (whose accepting
thread must wait for the GIL). A request counts as working once its thread has used CPU since it began: a long poll
waiting for events does not. A heavy request alone in its process keeps its connection (closing it there would only
move the work around: measured, closing after every heavy request gave 0.42-0.46, the collisions spread over all
runs); so do ordinary requests (a few milliseconds).

Selected by config/gunicorn.py (``worker_class``), and by the benchmarks, which serve as production does.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

logger = logging.getLogger("core.gunicorn_worker")
# Another request counts as working once its thread has used this much CPU (or the threshold, if lower).
_BUSY_OTHER_SECONDS = 0.005

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def rebalance_after_seconds() -> float:
    """``GUNICORN_REBALANCE_AFTER_MS``: CPU milliseconds of a request's thread after which its connection is closed
    (when another request is working in the same process); a value that is not a number counts as the default."""
    raw = os.environ.get("GUNICORN_REBALANCE_AFTER_MS", "100")
    try:
        return max(0.0, float(raw)) / 1000
    except ValueError:
        logger.warning("GUNICORN_REBALANCE_AFTER_MS=%r is not a number: 100 ms", raw)
        return 0.1


def _thread_cpu(clock: int | None) -> float:
    return time.clock_gettime(clock) if clock is not None else 0.0


def closing_after_heavy_requests(app: WsgiApp, threshold_seconds: float) -> WsgiApp:
    """``app``, answering with ``Connection: close`` when the request's thread spent ``threshold_seconds`` of CPU or
    more before its response started while another request in this process was working too (its thread has used
    CPU since it began: a long poll waiting for events does not count). gunicorn ignores a ``Connection`` header set
    by the application (hop-by-hop), so the decision goes to gunicorn's response object, whose ``start_response``
    this is. A streaming response's body, written after the application returns, is neither timed nor counted."""
    lock = threading.Lock()
    working: dict[int, tuple[int | None, float]] = {}  # thread id: its CPU clock and the clock's reading at start
    busy_other = min(threshold_seconds, _BUSY_OTHER_SECONDS)

    def others_working(me: int) -> bool:
        with lock:
            others = [entry for thread, entry in working.items() if thread != me]
        return any(_thread_cpu(clock) - begun >= busy_other for clock, begun in others)

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        me = threading.get_ident()
        clock = _cpu_clock(me)
        started = _thread_cpu(clock)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if _thread_cpu(clock) - started >= threshold_seconds and others_working(me):
                response = getattr(start_response, "__self__", None)
                force_close = getattr(response, "force_close", None)
                if callable(force_close):
                    force_close()
            return start_response(status, headers, exc_info)

        with lock:
            working[me] = (clock, started)
        try:
            return app(environ, start)
        finally:
            with lock:
                working.pop(me, None)

    return application


def _cpu_clock(thread_id: int) -> int | None:
    """The CPU-time clock of a thread of this process (Linux and most Unixes); None where there is none (the
    rebalancing then never triggers)."""
    try:
        return time.pthread_getcpuclockid(thread_id)
    except (AttributeError, OSError):
        return None


class RebalancingThreadWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's ``gthread`` worker with :func:`closing_after_heavy_requests` around the application."""

    wsgi: WsgiApp

    def load_wsgi(self) -> None:
        super().load_wsgi()
        self.wsgi = closing_after_heavy_requests(self.wsgi, rebalance_after_seconds())
