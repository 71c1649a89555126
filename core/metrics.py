"""Prometheus metrics at ``/metrics``: HTTP traffic per route, Celery queues and tasks, and the domain's
figures (registered by the composition root, ``config.metrics``, so core never imports a domain app).

Request metrics live in the process that served the request. Under gunicorn each worker is a process:
set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory writable by all of them (cleared at start; gunicorn's
``child_exit`` hook marks dead workers) and the scrape sums them. Task counters are kept in Redis (the
broker), so web and workers on different hosts add up; queue depths are read at scrape time, and the domain
figures are computed with aggregate queries at most once per PROVENANT_METRICS_CACHE_SECONDS in each process
(a scrape in between answers what was last counted). The endpoint answers 404 unless ``PROVENANT_METRICS_TOKEN``
is set, and then only to ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "provenant_http_requests", "HTTP requests answered, by route pattern and status", ["method", "route", "status"]
)
HTTP_ERRORS = Counter(
    "provenant_http_request_errors", "HTTP requests answered with a 5xx status, by route pattern", ["method", "route"]
)
HTTP_LATENCY = Histogram(
    "provenant_http_request_duration_seconds",
    "Time from the request reaching Django to its response, by route pattern",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)

SIGNIN_COUNTS_UNAVAILABLE = Counter(
    "provenant_signin_counts_unavailable",
    "Sign-in attempts whose failure counts were kept in the process's memory because the shared cache holding "
    "them was unreachable, by sign-in (admin, client)",
    ["signin"],
)

TASK_OUTCOMES = ("started", "succeeded", "retried", "failed")
_TASK_HASH = "provenant:metrics:tasks"

ScrapeCollector = Callable[[], Iterable[Metric]]
_scrape_collectors: list[ScrapeCollector] = []
_cached_collectors: set[ScrapeCollector] = set()
# collector -> (time.monotonic() when computed, what it yielded); one process's, so no lock across processes
_computed: dict[ScrapeCollector, tuple[float, list[Metric]]] = {}


def register_scrape_collector(collector: ScrapeCollector, *, cached: bool = False) -> ScrapeCollector:
    """Add a function computing metrics at scrape time. ``cached``: its figures cost queries (counts over the
    domain's tables), so it runs at most once per PROVENANT_METRICS_CACHE_SECONDS and scrapes in between reuse
    what it yielded."""
    if collector not in _scrape_collectors:
        _scrape_collectors.append(collector)
    if cached:
        _cached_collectors.add(collector)
    return collector


def collected(collector: ScrapeCollector) -> Iterable[Metric]:
    """What ``collector`` yields now, or for a cached one what it yielded less than the cache period ago."""
    seconds = float(settings.PROVENANT_METRICS_CACHE_SECONDS)
    if collector not in _cached_collectors or seconds <= 0:
        return collector()
    now = time.monotonic()
    previous = _computed.get(collector)
    if previous is not None and now - previous[0] < seconds:
        return previous[1]
    metrics = list(collector())
    _computed[collector] = (now, metrics)
    return metrics


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route).observe(seconds)
    if status >= 500:
        HTTP_ERRORS.labels(method, route).inc()


@lru_cache(maxsize=4)
def _redis(url: str) -> Any:
    import redis

    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def _broker_redis() -> Any | None:
    url = settings.CELERY_BROKER_URL
    return _redis(url) if url.startswith(("redis://", "rediss://")) else None


def record_task(task_name: str, outcome: str) -> None:
    """Count a task run, retry or failure (Celery signals, in the worker). Never lets metrics fail a task."""
    client = _broker_redis()
    if client is None:
        return
    try:
        client.hincrby(_TASK_HASH, f"{task_name}|{outcome}", 1)
    except Exception:  # the broker is down: the task itself will say so
        logger.debug("task metric not recorded", exc_info=True)


def queue_names() -> list[str]:
    names = {settings.CELERY_TASK_DEFAULT_QUEUE, *getattr(settings, "PROVENANT_METRICS_QUEUES", [])}
    return sorted(name for name in names if name)


def celery_metrics() -> Iterable[Metric]:
    """Queue depth and the age of the oldest waiting message (Redis lists; kombu pushes left, pops right),
    and task counters."""
    client = _broker_redis()
    if client is None:
        return
    depth = GaugeMetricFamily("provenant_celery_queue_length", "Messages waiting in a Celery queue", labels=["queue"])
    age = GaugeMetricFamily(
        "provenant_celery_queue_oldest_age_seconds",
        "Seconds the oldest waiting message has been in its queue (0 when empty)",
        labels=["queue"],
    )
    tasks = CounterMetricFamily(
        "provenant_celery_tasks", "Celery task runs by task and outcome", labels=["task", "outcome"]
    )
    now = time.time()
    for queue in queue_names():
        depth.add_metric([queue], float(client.llen(queue)))
        age.add_metric([queue], _oldest_age(client.lindex(queue, -1), now))
    for field, value in sorted(client.hgetall(_TASK_HASH).items()):
        task, _, outcome = field.decode().rpartition("|")
        tasks.add_metric([task, outcome], float(value))
    yield depth
    yield age
    yield tasks


def _oldest_age(raw: bytes | None, now: float) -> float:
    if not raw:
        return 0.0
    try:
        published = float(json.loads(raw)["headers"]["provenant_published_at"])
    except (ValueError, KeyError, TypeError):
        return 0.0  # a message sent before the header existed, or by another client
    return max(0.0, now - published)


register_scrape_collector(celery_metrics)


class _ScrapeTimeCollector(Collector):
    def collect(self) -> Iterable[Metric]:
        for collector in list(_scrape_collectors):
            try:
                yield from collected(collector)
            except Exception:  # one failing source (the broker down) must not blank the others
                logger.warning("metrics collector %s failed", getattr(collector, "__name__", collector), exc_info=True)


def render_metrics() -> bytes:
    """Everything ``/metrics`` shows, in the Prometheus text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        process_registry = CollectorRegistry()
        MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    scrape_registry = CollectorRegistry(auto_describe=False)
    scrape_registry.register(_ScrapeTimeCollector())
    return generate_latest(process_registry) + generate_latest(scrape_registry)


def is_authorized(request: HttpRequest) -> bool:
    token = settings.PROVENANT_METRICS_TOKEN
    if not token:
        return False
    scheme, _, presented = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode())


@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """The scrape. Without a configured token the endpoint does not exist (404); a wrong token gets 404 too,
    so nobody learns whether metrics are on."""
    if request.method not in ("GET", "HEAD") or not is_authorized(request):
        from core.problems import handler404

        return handler404(request)
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
