"""Sign-in throttling fails safe when the shared cache is down: with the Redis that holds the failure counts
killed, the admin's lockout (django-axes) and client users' (reports.signin) count in this process instead, with
the same limit and window. A password-guesser is still locked out (429), a right password under the limit still
signs in, and the outage is logged once an interval, naming nobody."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import get_user_model
from django.test import Client

from config.environment import cache_settings
from core.metrics import SIGNIN_COUNTS_UNAVAILABLE
from core.models import Organization
from core.rate_limits import SIGNIN_OUTAGE_LOG
from core.signin_fallback import LOCAL_SIGNIN_FAILURES, LocalFailureCounts, OnceAnInterval
from tests.integration.faults import RedisServer
from tests.reports.fixtures import CLIENT_PASSWORD

PASSWORD = "correct horse battery staple"
OUTAGE_MESSAGE = "counted in this process only"


@pytest.fixture
def killed_cache_redis(tmp_path: Path, settings: Any) -> Iterator[RedisServer]:
    """Django's cache and the throttle store on a redis-server of this test's own (a free port, no persistence),
    killed once the test has seen it count."""
    server = RedisServer(tmp_path).start()
    settings.CACHES = {"default": cache_settings(server.url, key_prefix="signin-fallback")}
    settings.PROVENANT_THROTTLE_STORAGE_URI = server.url
    settings.PROVENANT_TRUSTED_PROXIES = []
    settings.AXES_FAILURE_LIMIT = 5
    settings.PROVENANT_CLIENT_LOGIN_FAILURE_LIMIT = 5
    AxesProxyHandler.get_implementation(force=True)  # axes holds its cache from when it was made
    LOCAL_SIGNIN_FAILURES.clear()
    SIGNIN_OUTAGE_LOG.last.clear()
    yield server
    server.stop()
    LOCAL_SIGNIN_FAILURES.clear()
    SIGNIN_OUTAGE_LOG.last.clear()
    AxesProxyHandler.get_implementation(force=True)


def kill(server: RedisServer) -> None:
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=15)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(server.url, socket_connect_timeout=0.5).ping()


def stored_keys(server: RedisServer) -> int:
    with redis.Redis.from_url(server.url) as client:
        return int(client.dbsize())


def uncounted(signin: str) -> float:
    return float(SIGNIN_COUNTS_UNAVAILABLE.labels(signin)._value.get())


def admin_login(client: Client, username: str, password: str) -> Any:
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def outage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "core.rate_limits" and OUTAGE_MESSAGE in r.getMessage()]


def test_admin_sign_in_stays_throttled_after_the_cache_redis_is_killed(
    killed_cache_redis: RedisServer, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    get_user_model().objects.create_user(username="operator", password=PASSWORD, is_staff=True, is_superuser=True)
    # While Redis is up the failure is counted there (shared by every process), not in this one.
    assert admin_login(Client(REMOTE_ADDR="198.51.100.90"), "operator", "a guess").status_code == 200
    assert stored_keys(killed_cache_redis) >= 1
    assert len(LOCAL_SIGNIN_FAILURES) == 0
    kill(killed_cache_redis)
    before = uncounted("admin")

    with caplog.at_level(logging.WARNING, logger="core.rate_limits"):
        # An operator who mistypes once, then signs in: under the limit, so the password decides.
        operator = Client(REMOTE_ADDR="198.51.100.91")
        mistyped = admin_login(operator, "operator", "a typo")
        signed_in = admin_login(operator, "operator", PASSWORD)
        # A guesser from another address: locked at the fifth failure, and then even with the right password.
        attacker = Client(REMOTE_ADDR="198.51.100.92")
        guesses = [admin_login(attacker, "operator", f"guess {n}") for n in range(5)]
        locked = admin_login(attacker, "operator", PASSWORD)
        elsewhere = admin_login(Client(REMOTE_ADDR="198.51.100.93"), "operator", PASSWORD)

    assert mistyped.status_code == 200
    assert not mistyped.wsgi_request.user.is_authenticated
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/"
    assert operator.get("/admin/").status_code == 200
    assert [answer.status_code for answer in guesses] == [200] * 4 + [429]
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in attacker.session
    assert elsewhere.status_code == 302  # keyed by name and address together, as with Redis
    assert uncounted("admin") >= before + 8
    assert len(outage_warnings(caplog)) == 1  # once an interval, not once a sign-in
    assert all("operator" not in record.getMessage() for record in caplog.records)  # no user name in the log


def test_client_sign_in_stays_throttled_after_the_cache_redis_is_killed(
    killed_cache_redis: RedisServer, organization: Organization, client_user_of: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client_user_of(organization)
    kill(killed_cache_redis)
    before = uncounted("client")

    with caplog.at_level(logging.WARNING, logger="core.rate_limits"):
        reader = Client(REMOTE_ADDR="198.51.100.95")
        mistyped = reader.post("/reports/login/", {"username": "reader", "password": "a typo"})
        signed_in = reader.post("/reports/login/", {"username": "reader", "password": CLIENT_PASSWORD})
        attacker = Client(REMOTE_ADDR="198.51.100.96")
        guesses = [attacker.post("/reports/login/", {"username": "reader", "password": f"guess {n}"}) for n in range(5)]
        locked = attacker.post("/reports/login/", {"username": "Reader", "password": CLIENT_PASSWORD})

    assert mistyped.status_code == 200
    assert signed_in.status_code == 302
    assert signed_in.wsgi_request.user.is_authenticated
    assert [answer.status_code for answer in guesses] == [200] * 5
    assert locked.status_code == 429
    assert not locked.wsgi_request.user.is_authenticated
    assert 1 <= int(locked["Retry-After"]) <= 15 * 60
    assert uncounted("client") >= before + 7
    assert len(outage_warnings(caplog)) == 1
    assert all("reader" not in record.getMessage().lower() for record in caplog.records)


def test_local_counts_hold_at_most_their_bound_dropping_the_least_recently_failed() -> None:
    counts = LocalFailureCounts(max_keys=3)
    for key in ("a", "b", "c"):
        counts.record_failure(key, 60, extend_window=False)
    counts.record_failure("a", 60, extend_window=False)  # "a" is now the most recent
    counts.record_failure("d", 60, extend_window=False)  # "b" goes

    assert len(counts) == 3
    assert counts.failures(["a"]) == 2
    assert counts.failures(["b"]) == 0
    assert counts.failures(["c", "d"]) == 1


def test_local_counts_end_with_their_window_and_extend_it_only_when_asked() -> None:
    counts = LocalFailureCounts()
    counts.record_failure("fixed", 0.3, extend_window=False)
    counts.record_failure("touched", 0.3, extend_window=True)
    time.sleep(0.2)
    counts.record_failure("fixed", 0.3, extend_window=False)
    counts.record_failure("touched", 0.3, extend_window=True)
    time.sleep(0.15)

    assert counts.failures(["fixed"]) == 0  # its window opened at the first failure
    assert counts.failures(["touched"]) == 2
    assert (counts.seconds_left("touched") or 0) > 0
    counts.forget(["touched"])
    assert counts.failures(["touched"]) == 0


def test_once_an_interval_says_yes_once_per_name_and_interval() -> None:
    log = OnceAnInterval(0.2)

    assert [log.is_due("admin"), log.is_due("admin"), log.is_due("client")] == [True, False, True]
    time.sleep(0.25)
    assert log.is_due("admin")
