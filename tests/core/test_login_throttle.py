"""Sign-in lockouts (issue #15): the admin's through django-axes and client users' through reports.signin, both
counted in the shared cache (Redis here), keyed by user name and client address together, answered with 429 and
Retry-After."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client

from core.models import Organization
from core.problems import PROBLEM_CONTENT_TYPE, problem_type
from core.throttling import throttle_reset
from tests.reports.fixtures import CLIENT_PASSWORD

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def redis_cache(settings: Any) -> Iterator[None]:
    """Django's cache in Redis (as in production) under a prefix of this test's own; axes re-reads it."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": django_settings.CELERY_BROKER_URL,
            "KEY_PREFIX": f"test-signin-{uuid.uuid4().hex}",
        }
    }
    settings.PROVENANT_TRUSTED_PROXIES = []
    settings.PROVENANT_PUBLIC_RATE_LIMIT_PER_MINUTE = 1_000_000
    AxesProxyHandler.get_implementation(force=True)
    throttle_reset()
    yield
    AxesProxyHandler.get_implementation(force=True)


@pytest.fixture
def staff(db: Any) -> Any:
    return get_user_model().objects.create_user(
        username="operator", password=PASSWORD, is_staff=True, is_superuser=True
    )


def admin_login(client: Client, username: str, password: str) -> Any:
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_admin_sign_in_locks_a_name_from_one_address_with_429_and_retry_after(staff: Any) -> None:
    attacker = Client(REMOTE_ADDR="198.51.100.50")
    failures = [admin_login(attacker, "operator", f"guess {n}") for n in range(5)]
    locked = admin_login(attacker, "operator", PASSWORD)  # even the right password

    assert [answer.status_code for answer in failures[:4]] == [200] * 4  # the form again, with its error
    assert failures[4].status_code == 429  # the fifth failure reaches the limit
    assert locked.status_code == 429
    assert locked["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert locked.json()["type"] == problem_type("sign-in-locked")
    assert int(locked["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in attacker.session

    # Keyed by name and address together: the operator from elsewhere, and a colleague from the same address
    # (say, behind the same office NAT), still sign in.
    elsewhere = Client(REMOTE_ADDR="198.51.100.51")
    assert admin_login(elsewhere, "operator", PASSWORD).status_code == 302
    get_user_model().objects.create_user(username="colleague", password=PASSWORD, is_staff=True)
    assert admin_login(Client(REMOTE_ADDR="198.51.100.50"), "colleague", PASSWORD).status_code == 302


def test_a_successful_admin_sign_in_resets_the_count(staff: Any) -> None:
    client = Client(REMOTE_ADDR="198.51.100.60")
    for n in range(4):
        assert admin_login(client, "operator", f"guess {n}").status_code == 200
    assert admin_login(client, "operator", PASSWORD).status_code == 302
    client.logout()
    for n in range(4):
        assert admin_login(client, "operator", f"again {n}").status_code == 200
    assert admin_login(client, "operator", PASSWORD).status_code == 302


def test_admin_lockout_uses_the_forwarded_address_only_behind_a_trusted_proxy(settings: Any, staff: Any) -> None:
    def via_proxy(forwarded: str) -> Client:
        return Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)

    # Untrusted proxy: every client behind it is the proxy, so the attacker's failures lock the pair for all.
    for n in range(5):
        admin_login(via_proxy("203.0.113.1"), "operator", f"guess {n}")
    assert admin_login(via_proxy("203.0.113.2"), "operator", PASSWORD).status_code == 429

    # Trusted: the attacker's forwarded address is locked, another client's is not, and a forged entry to the
    # left of what the proxy appended changes nothing.
    settings.PROVENANT_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for n in range(5):
        admin_login(via_proxy(f"192.0.2.{n}, 203.0.113.1"), "operator", f"guess {n}")
    assert admin_login(via_proxy("192.0.2.77, 203.0.113.1"), "operator", PASSWORD).status_code == 429
    assert admin_login(via_proxy("203.0.113.2"), "operator", PASSWORD).status_code == 302


def test_client_sign_in_failures_are_counted_across_connections_and_answered_with_retry_after(
    dataset: Organization, client_user_of: Any
) -> None:
    client_user_of(dataset)

    # Failures made in other threads, each with its own cache connection (Django's caches are per thread),
    # count for this one: the counts are in Redis, not in a process's memory.
    def fail(n: int) -> None:
        try:
            response = Client(REMOTE_ADDR="198.51.100.70").post(
                "/reports/login/", {"username": "reader", "password": f"guess {n}"}
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    statuses: list[int] = []
    for n in range(5):  # one after the other, each in a thread of its own
        thread = threading.Thread(target=fail, args=(n,))
        thread.start()
        thread.join()
    assert statuses == [200] * 5

    locked = Client(REMOTE_ADDR="198.51.100.70").post(
        "/reports/login/", {"username": "Reader", "password": CLIENT_PASSWORD}
    )
    assert locked.status_code == 429
    assert 1 <= int(locked["Retry-After"]) <= 15 * 60
    assert "Too many failed attempts" in locked.content.decode()

    other_address = Client(REMOTE_ADDR="198.51.100.71").post(
        "/reports/login/", {"username": "reader", "password": CLIENT_PASSWORD}
    )
    assert other_address.status_code == 302
