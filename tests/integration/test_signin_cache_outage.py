"""Sign-in with the shared cache down (issue #15): the admin's lockout (django-axes' cache handler) and client
users' (reports.signin) keep their counts in Django's cache, Redis in production. With that Redis stopped, both
sign-ins fail safe (counted in the process, tests/core/test_signin_throttle_fallback.py): no 500, a wrong password
is refused, the right one signs in under the limit, and the outage is logged and counted on /metrics."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import get_user_model
from django.test import Client

from config.environment import cache_settings
from core.metrics import SIGNIN_COUNTS_UNAVAILABLE
from core.models import Organization
from core.rate_limits import SIGNIN_OUTAGE_LOG
from core.signin_fallback import LOCAL_SIGNIN_FAILURES
from tests.integration.faults import RedisServer
from tests.reports.fixtures import CLIENT_PASSWORD

PASSWORD = "correct horse battery staple"


@pytest.fixture
def stopped_cache_redis(tmp_path: Path, settings: Any) -> Iterator[RedisServer]:
    """Django's cache and the throttle store on a redis-server of the test's own, as production sets them (the
    CACHE_URL setting), stopped before the sign-ins."""
    server = RedisServer(tmp_path).start()
    settings.CACHES = {"default": cache_settings(server.url, key_prefix="signin-outage")}
    settings.PROVENANT_THROTTLE_STORAGE_URI = server.url
    AxesProxyHandler.get_implementation(force=True)  # axes holds its cache from when it was made
    LOCAL_SIGNIN_FAILURES.clear()
    SIGNIN_OUTAGE_LOG.last.clear()  # the outage is logged once a minute: this test's is the first
    server.stop()
    yield server
    LOCAL_SIGNIN_FAILURES.clear()
    AxesProxyHandler.get_implementation(force=True)


def uncounted(signin: str) -> float:
    return SIGNIN_COUNTS_UNAVAILABLE.labels(signin)._value.get()


def test_admin_sign_in_under_the_limit_works_while_the_cache_is_down(
    stopped_cache_redis: RedisServer, db: Any, caplog: pytest.LogCaptureFixture
) -> None:
    get_user_model().objects.create_user(username="operator", password=PASSWORD, is_staff=True, is_superuser=True)
    before = uncounted("admin")
    client = Client(raise_request_exception=False)

    with caplog.at_level(logging.WARNING, logger="core.rate_limits"):
        refused = client.post("/admin/login/?next=/admin/", {"username": "operator", "password": "a guess"})
        signed_in = client.post("/admin/login/?next=/admin/", {"username": "operator", "password": PASSWORD})

    assert refused.status_code == 200  # the form again, with its error
    assert not refused.wsgi_request.user.is_authenticated
    assert signed_in.status_code == 302
    assert signed_in["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert uncounted("admin") >= before + 2
    assert any("counted in this process only" in record.getMessage() for record in caplog.records)
    assert all("operator" not in record.getMessage() for record in caplog.records)  # no user name in the log


def test_client_sign_in_under_the_limit_works_while_the_cache_is_down(
    stopped_cache_redis: RedisServer, organization: Organization, client_user_of: Any
) -> None:
    client_user_of(organization)
    before = uncounted("client")
    client = Client(raise_request_exception=False)

    refused = client.post("/reports/login/", {"username": "reader", "password": "a guess"})
    signed_in = client.post("/reports/login/", {"username": "reader", "password": CLIENT_PASSWORD})

    assert refused.status_code == 200
    assert not refused.wsgi_request.user.is_authenticated
    assert signed_in.status_code == 302
    assert signed_in.wsgi_request.user.is_authenticated
    assert uncounted("client") >= before + 2
