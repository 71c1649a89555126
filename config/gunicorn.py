"""Gunicorn settings for ``make run`` and the Docker image.

``gunicorn -c config/gunicorn.py config.wsgi:application``

Each value can be changed through the environment; command-line flags (``--bind``) win over this file.
"""

from __future__ import annotations

import os

wsgi_app = "config.wsgi:application"
# Docker sets GUNICORN_BIND=0.0.0.0:8000; locally the server stays on the loopback interface.
bind = [os.environ.get("GUNICORN_BIND") or f"127.0.0.1:{os.environ.get('PORT', '8000')}"]
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads (gthread): a change-feed long poll holds one, so a worker always keeps others for everyone else.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# gthread, closing a connection after a request that took over GUNICORN_REBALANCE_AFTER_MS (100) of CPU, so that a
# client's batches are not all held by one process while others idle (issue #16; core/gunicorn_worker.py).
worker_class = "core.gunicorn_worker.RebalancingThreadWorker"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# Recycle workers now and then so a slow leak never takes the service down.
max_requests = 2000
max_requests_jitter = 200
accesslog: str | None = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "INFO").lower()
# The path is logged as its route (tokens and subject ids are never written), control characters escaped,
# no query string, referer or credentials: core.logging.GunicornLogger.
logger_class = "core.logging.GunicornLogger"
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s" %({x-request-id}o)s'
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
# Gunicorn 25.1+ opens a control socket under $HOME by default; two servers on one machine would
# share it. Nothing here uses gunicornc (older versions ignore this unknown name).
control_socket_disable = True

# Structured logs (issue #15): under PROVENANT_LOG_FORMAT=json (production's default) Django's access line
# (core.middleware.AccessLogMiddleware: route, status, latency, request id, organization) is the one line a
# request; gunicorn's own access log stays on for the text format.
_log_format = os.environ.get("PROVENANT_LOG_FORMAT") or (
    "json" if os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith("production") else "text"
)
if _log_format == "json":
    accesslog = None


def on_starting(server: object) -> None:
    """Metrics (issue #15): the multiprocess directory starts empty, so samples of an earlier run don't add up."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        os.makedirs(directory, exist_ok=True)
        for name in os.listdir(directory):
            if name.endswith(".db"):
                os.remove(os.path.join(directory, name))


def child_exit(server: object, worker: object) -> None:
    """Metrics (issue #15): with PROMETHEUS_MULTIPROC_DIR set, each worker writes its samples there; a dead
    worker's live gauges are dropped (its counters stay summed)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]


def worker_exit(server: object, worker: object) -> None:
    """API requests a worker counted itself and has not sent to Redis yet (core.rate_batches) are sent as it
    leaves (recycled after max_requests, restarted, stopped)."""
    from core.rate_batches import flush_every_tally

    flush_every_tally()  # nothing when the app never loaded (no tally exists)
