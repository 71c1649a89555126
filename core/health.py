"""Probes for the orchestrator: ``/healthz`` says the process answers, ``/readyz`` that it can serve.

``/readyz`` checks each dependency a request may need: the database (a query), the migrations (none
unapplied), the broker and the cache (a round trip each). Any failing: 503 problem+json naming it, so the
load balancer stops sending traffic and the operator reads which one. A check never raises.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.problems import PROBLEM_CONTENT_TYPE, problem_body

CHECK_TIMEOUT_SECONDS = 3.0


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process lives and answers. No dependency is checked: a database outage must not restart it."""
    return JsonResponse({"status": "ok"})


def check_database() -> None:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")


_migrations_applied = False  # once all are, a running process never sees one unapplied again: not rechecked


def check_migrations() -> None:
    global _migrations_applied
    if _migrations_applied:
        return
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in plan[:5])
        raise RuntimeError(f"{len(plan)} migration(s) not applied: {names}")
    _migrations_applied = True


def check_broker() -> None:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
        return
    from kombu import Connection

    with Connection(url) as connection:
        connection.ensure_connection(max_retries=1, timeout=CHECK_TIMEOUT_SECONDS)


def check_cache() -> None:
    key = f"provenant-readyz-{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("a value written to the cache could not be read back")
    cache.delete(key)


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "migrations": check_migrations,
    "broker": check_broker,
    "cache": check_cache,
}


def _run(check: Callable[[], None]) -> tuple[bool, str, float]:
    started = time.monotonic()
    try:
        check()
    except Exception as exc:  # a probe reports, never raises
        return False, type(exc).__name__, (time.monotonic() - started) * 1000
    return True, "ok", (time.monotonic() - started) * 1000


@never_cache
@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """200 with each check named when every dependency answers; 503 problem+json naming those that don't."""
    results: dict[str, dict[str, object]] = {}
    failing: list[str] = []
    for name, check in CHECKS.items():
        if name == "migrations" and "database" in failing:
            ok, detail, elapsed = False, "skipped: the database is unreachable", 0.0
        else:
            ok, detail, elapsed = _run(check)
        results[name] = {"status": "ok" if ok else "failing", "detail": detail, "ms": round(elapsed, 1)}
        if not ok:
            failing.append(name)
    if not failing:
        return JsonResponse({"status": "ready", "checks": results})
    body = problem_body(
        slug="dependency-unavailable",
        title="Not ready",
        status=503,
        detail=f"Unavailable: {', '.join(failing)}.",
        failing=failing,
        checks=results,
    )
    response = HttpResponse(json.dumps(body), status=503, content_type=PROBLEM_CONTENT_TYPE)
    response["Retry-After"] = str(settings.PROVENANT_RETRY_AFTER_SECONDS)
    return response
