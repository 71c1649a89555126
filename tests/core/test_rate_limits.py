"""API rate limits (issue #15): one budget per key shared by every process (Redis), the key's own override from
the admin, the expensive operations' lower budget, per-address budgets of unauthenticated endpoints, the trusted
proxy rule, headers on every answer and the OpenAPI schema saying so."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, RequestFactory
from rest_framework.test import APIClient

from core.models import ApiKey, Organization
from core.problems import PROBLEM_CONTENT_TYPE, problem_type
from core.rate_limits import BUCKET_API_KEY
from core.throttling import client_address, throttle_reset, throttle_storage

RATE_HEADERS = (
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    throttle_reset()
    yield
    throttle_reset()


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.PROVENANT_API_RATE_LIMIT_PER_MINUTE = 5
    settings.PROVENANT_API_EXPENSIVE_RATE_LIMIT_PER_MINUTE = 2
    settings.PROVENANT_PUBLIC_RATE_LIMIT_PER_MINUTE = 3
    settings.PROVENANT_TRUSTED_PROXIES = []
    return settings


def assert_rate_headers(response: Any, *, limit: int, remaining: int) -> None:
    for name in RATE_HEADERS:
        assert name in response, (name, response.status_code)
    assert response["RateLimit-Limit"] == response["X-RateLimit-Limit"] == str(limit)
    assert response["RateLimit-Remaining"] == response["X-RateLimit-Remaining"] == str(remaining)
    assert 0 <= int(response["RateLimit-Reset"]) <= 60
    assert int(response["X-RateLimit-Reset"]) > 1_700_000_000  # epoch seconds


def assert_rate_limited(response: Any) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == PROBLEM_CONTENT_TYPE
    assert response.json()["type"] == problem_type("rate-limited")
    assert 1 <= int(response["Retry-After"]) <= 60


def test_two_processes_share_one_keys_budget(
    limits: Any, organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(organization, "consent:read")
    api_key = ApiKey.objects.get(organization=organization)
    assert [client.get("/api/v1/sources").status_code for _ in range(3)] == [200] * 3

    # Another process, with its own Redis connection, spends two requests of the same key's budget.
    script = (
        "import django; django.setup()\n"
        "from core.rate_limits import rate_limit_hit\n"
        f"print([rate_limit_hit({BUCKET_API_KEY!r}, {str(api_key.pk)!r}, 5)[0] for _ in range(2)])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    other = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True)
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == "[True, True]"

    refused = client.get("/api/v1/sources")
    assert_rate_limited(refused)
    assert_rate_headers(refused, limit=5, remaining=0)
    assert throttle_storage().check()  # the counts are in Redis, not in this process
    assert settings_storage_is_redis()


def settings_storage_is_redis() -> bool:
    from django.conf import settings

    return str(settings.PROVENANT_THROTTLE_STORAGE_URI).startswith("redis://")


def test_every_api_answer_carries_the_headers_and_the_last_one_is_a_429(
    limits: Any, organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    reader = api_client_for(organization, "consent:read")
    answers = [
        reader.get("/api/v1/sources"),  # 200
        reader.get("/api/v1/sources/no-such-source"),  # 404 from the view
        reader.post("/api/v1/sources", {}, format="json"),  # 403: the key lacks consent:write
        reader.get("/api/v1/deadlines/compute"),  # 405 or 4xx: still counted and reported
        reader.get("/api/v1/sources"),  # the fifth and last of the budget
    ]
    assert [answer.status_code for answer in answers][:3] == [200, 404, 403]
    assert 400 <= answers[3].status_code < 500
    for number, answer in enumerate(answers, start=1):
        assert_rate_headers(answer, limit=5, remaining=5 - number)

    refused = reader.get("/api/v1/sources")
    assert_rate_limited(refused)
    assert_rate_headers(refused, limit=5, remaining=0)
    assert refused.json()["status"] == 429


def test_an_unknown_key_is_counted_per_address_and_answered_with_headers(limits: Any, db: Any) -> None:
    stranger = APIClient()
    stranger.credentials(HTTP_AUTHORIZATION="Bearer pk_nope_nope")
    answers = [stranger.get("/api/v1/sources") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [401] * 3
    for number, answer in enumerate(answers, start=1):
        assert_rate_headers(answer, limit=3, remaining=3 - number)
    assert_rate_limited(stranger.get("/api/v1/sources"))


def test_a_keys_own_limit_set_in_the_admin_overrides_the_default(
    limits: Any, admin_client: Client, organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    response = admin_client.post(
        "/admin/core/apikey/add/",
        {"organization": organization.pk, "name": "slow sync", "scopes": ["consent:read"], "rate_limit_per_minute": 2},
    )
    assert response.status_code == 200
    secret = next(str(m).split()[-1] for m in response.context["messages"] if "never be shown again" in str(m))
    assert ApiKey.objects.get(name="slow sync").rate_limit_per_minute == 2
    slow = APIClient()
    slow.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    default = api_client_for(organization, "consent:read")

    first, second, third = (slow.get("/api/v1/sources") for _ in range(3))
    assert_rate_headers(first, limit=2, remaining=1)
    assert second.status_code == 200
    assert_rate_limited(third)
    fine = default.get("/api/v1/sources")  # another key of the same organization has its own budget
    assert fine.status_code == 200
    assert_rate_headers(fine, limit=5, remaining=4)


def test_the_admin_refuses_a_limit_of_zero(admin_client: Client, organization: Organization) -> None:
    response = admin_client.post(
        "/admin/core/apikey/add/",
        {"organization": organization.pk, "name": "zero", "scopes": ["consent:read"], "rate_limit_per_minute": 0},
    )
    assert response.status_code == 200
    assert not ApiKey.objects.filter(name="zero").exists()


def test_expensive_operations_have_their_own_lower_budget(
    limits: Any, organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    limits.PROVENANT_API_RATE_LIMIT_PER_MINUTE = 50
    client = api_client_for(organization, "consent:read", "reports:read")

    verified = [client.get("/api/v1/ledger/verify") for _ in range(2)]
    assert [answer.status_code for answer in verified] == [200, 200]
    assert_rate_headers(verified[1], limit=2, remaining=0)  # the tighter budget is the one reported
    assert_rate_limited(client.get("/api/v1/ledger/verify"))
    assert_rate_limited(client.get("/api/v1/reports/compliance"))  # one expensive budget for all of them

    cheap = client.get("/api/v1/sources")  # reads go on in the key's general budget
    assert cheap.status_code == 200
    assert_rate_headers(cheap, limit=50, remaining=50 - 5)


def test_unauthenticated_endpoints_are_limited_per_client_address(limits: Any, db: Any) -> None:
    browser = Client(REMOTE_ADDR="198.51.100.7")
    answers = [browser.get("/.well-known/jwks.json") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200] * 3
    assert_rate_headers(answers[2], limit=3, remaining=0)

    assert_rate_limited(browser.get("/.well-known/jwks.json"))
    assert_rate_limited(browser.get("/privacy/acme/"))  # one budget for every public page of that address
    assert_rate_limited(browser.get("/api/v1/sources"))  # and for API calls without a key

    neighbour = Client(REMOTE_ADDR="198.51.100.8").get("/.well-known/jwks.json")
    assert neighbour.status_code == 200
    assert_rate_headers(neighbour, limit=3, remaining=2)


def test_a_forged_forwarded_for_from_an_untrusted_peer_is_ignored(limits: Any, db: Any) -> None:
    # No trusted proxy: whatever X-Forwarded-For says, the peer is the client.
    answers = [
        Client(REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").get("/.well-known/jwks.json")
        for n in range(4)
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 200, 429]


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(limits: Any, db: Any) -> None:
    limits.PROVENANT_TRUSTED_PROXIES = ["10.0.0.0/8"]

    def via_proxy(forwarded: str) -> Any:
        return Client(REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR=forwarded).get("/.well-known/jwks.json")

    # The proxy appends the peer it saw; what the client wrote to the left of it is not believed.
    first = [via_proxy(f"192.0.2.{n}, 203.0.113.20") for n in range(3)]
    assert [answer.status_code for answer in first] == [200] * 3
    assert_rate_limited(via_proxy("192.0.2.99, 203.0.113.20"))
    assert via_proxy("203.0.113.21").status_code == 200  # another client behind the same proxy
    assert via_proxy("203.0.113.22, 10.9.9.9").status_code == 200  # a chain of trusted proxies is skipped


def test_client_address_rules(settings: Any) -> None:
    factory = RequestFactory()
    settings.PROVENANT_TRUSTED_PROXIES = []
    assert client_address(factory.get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="1.2.3.4")) == "10.1.2.3"
    settings.PROVENANT_TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
    request = factory.get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="6.6.6.6, 1.2.3.4, 10.0.0.1")
    assert client_address(request) == "1.2.3.4"
    untrusted_peer = factory.get("/", REMOTE_ADDR="192.0.2.1", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_address(untrusted_peer) == "192.0.2.1"
    assert client_address(factory.get("/", REMOTE_ADDR="2001:db8::1", HTTP_X_FORWARDED_FOR="2001:db9::5")) == (
        "2001:db9::5"
    )
    assert client_address(factory.get("/", REMOTE_ADDR="10.1.2.3", HTTP_X_FORWARDED_FOR="not-an-ip")) == "10.1.2.3"
    assert client_address(factory.get("/", REMOTE_ADDR="10.1.2.3")) == "10.1.2.3"


def test_the_openapi_schema_documents_the_headers_and_the_429_on_every_operation(db: Any) -> None:
    schema = Client().get("/api/schema/", {"format": "json"}).json()
    headers = schema["components"]["headers"]
    assert set(RATE_HEADERS) | {"Retry-After"} <= set(headers)
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 40
    for path, method, operation in operations:
        responses = operation["responses"]
        too_many = responses.get("429")
        assert too_many is not None, (path, method)
        assert too_many["content"][PROBLEM_CONTENT_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
        assert too_many["headers"]["Retry-After"] == {"$ref": "#/components/headers/Retry-After"}
        for status, response in responses.items():
            assert set(RATE_HEADERS) <= set(response.get("headers", {})), (path, method, status)
    assert schema["paths"]["/api/v1/ledger/verify"]["get"]["x-rate-limit-bucket"] == "expensive"
    assert schema["paths"]["/api/v1/subjects/{subject_id}/evidence"]["get"]["x-rate-limit-bucket"] == "expensive"
    assert "x-rate-limit-bucket" not in schema["paths"]["/api/v1/sources"]["get"]
    assert "Retry-After" in schema["info"]["description"]


def test_with_the_store_unreachable_the_api_serves_uncounted(
    limits: Any, organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    limits.PROVENANT_THROTTLE_STORAGE_URI = "redis://127.0.0.1:1/0"  # nothing listens there
    client = api_client_for(organization, "consent:read")
    answers = [client.get("/api/v1/sources") for _ in range(7)]  # more than the budget of 5
    assert [answer.status_code for answer in answers] == [200] * 7
    assert_rate_headers(answers[-1], limit=5, remaining=5)
    assert Client().get("/.well-known/jwks.json").status_code == 200
