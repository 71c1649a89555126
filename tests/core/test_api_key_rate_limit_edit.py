"""A key's rate limit changed after creation (issue #15): only by a role holding ``core.change_apikey`` (the key
administrator), through ``api_key_rate_limit_update`` with its audit row, and enforced from the next request."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.test import APIClient

from core.enums import AuditAction
from core.models import ApiKey, AuditLogEntry, Organization
from core.problems import InvalidInput
from core.services import api_key_create, api_key_rate_limit_update, api_key_revoke
from core.staff_roles import AUDITOR, DSAR_OPERATOR, KEY_ADMINISTRATOR, PRIVACY_COUNSEL
from core.throttling import throttle_reset


@pytest.fixture(autouse=True)
def fresh_throttles() -> Iterator[None]:
    throttle_reset()
    yield
    throttle_reset()


@pytest.fixture
def keyed(organization: Organization, settings: Any) -> tuple[ApiKey, APIClient]:
    settings.PROVENANT_API_RATE_LIMIT_PER_MINUTE = 50
    api_key, secret = api_key_create(organization=organization, name="sync", scopes=["consent:read"], actor="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return api_key, client


def staff_client(django_user_model: Any, role: str) -> Client:
    user = django_user_model.objects.create_user(username=role.replace(" ", "-"), password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    client = Client()
    client.force_login(user)
    return client


def change_url(api_key: ApiKey) -> str:
    return f"/admin/core/apikey/{api_key.pk}/change/"


def test_a_key_administrator_lowers_a_keys_limit_and_the_api_enforces_it_at_once(
    django_user_model: Any, keyed: tuple[ApiKey, APIClient]
) -> None:
    api_key, api = keyed
    assert api.get("/api/v1/sources")["RateLimit-Limit"] == "50"
    administrator = staff_client(django_user_model, KEY_ADMINISTRATOR)

    form = administrator.get(change_url(api_key))
    assert form.status_code == 200
    assert list(form.context["adminform"].form.fields) == ["rate_limit_per_minute"]  # the one editable field
    saved = administrator.post(change_url(api_key), {"rate_limit_per_minute": 2})

    assert saved.status_code == 302
    api_key.refresh_from_db()
    assert api_key.rate_limit_per_minute == 2
    entry = AuditLogEntry.objects.get(action=AuditAction.API_KEY_RATE_LIMIT_CHANGED)
    assert entry.object_id == str(api_key.pk)
    assert entry.data == {"prefix": api_key.prefix, "from": None, "to": 2}
    assert entry.actor == f"user:{saved.wsgi_request.user.pk}"
    # The next request already counts against the new limit (a budget of its own: the limiter keys by amount).
    answers = [api.get("/api/v1/sources") for _ in range(3)]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[0]["RateLimit-Limit"] == "2"


@pytest.mark.parametrize("role", [PRIVACY_COUNSEL, DSAR_OPERATOR, AUDITOR])
def test_other_roles_cannot_change_a_keys_limit(
    django_user_model: Any, keyed: tuple[ApiKey, APIClient], role: str
) -> None:
    api_key, _ = keyed
    client = staff_client(django_user_model, role)

    page = client.get(change_url(api_key))
    refused = client.post(change_url(api_key), {"rate_limit_per_minute": 1})

    assert page.status_code in (200, 403)
    if page.status_code == 200:  # the auditor sees the key, read only
        assert "rate_limit_per_minute" not in page.context["adminform"].form.fields
    assert refused.status_code == 403
    api_key.refresh_from_db()
    assert api_key.rate_limit_per_minute is None
    assert not AuditLogEntry.objects.filter(action=AuditAction.API_KEY_RATE_LIMIT_CHANGED).exists()


def test_empty_means_the_default_and_out_of_range_changes_nothing(
    django_user_model: Any, keyed: tuple[ApiKey, APIClient]
) -> None:
    api_key, api = keyed
    api_key_rate_limit_update(api_key=api_key, rate_limit_per_minute=7, actor="test")
    administrator = staff_client(django_user_model, KEY_ADMINISTRATOR)

    for refused in (0, -1, 1_000_001, "many"):
        answer = administrator.post(change_url(api_key), {"rate_limit_per_minute": refused})
        assert answer.status_code == 200  # the form again, with its error
        api_key.refresh_from_db()
        assert api_key.rate_limit_per_minute == 7
    with pytest.raises(InvalidInput):
        api_key_rate_limit_update(api_key=api_key, rate_limit_per_minute=0, actor="test")

    assert administrator.post(change_url(api_key), {"rate_limit_per_minute": ""}).status_code == 302
    api_key.refresh_from_db()
    assert api_key.rate_limit_per_minute is None
    assert api.get("/api/v1/sources")["RateLimit-Limit"] == "50"
    changes = AuditLogEntry.objects.filter(action=AuditAction.API_KEY_RATE_LIMIT_CHANGED).order_by("pk")
    assert [entry.data["to"] for entry in changes] == [7, None]


def test_a_revoked_keys_limit_stays_as_it_was(django_user_model: Any, keyed: tuple[ApiKey, APIClient]) -> None:
    api_key, _ = keyed
    api_key_revoke(api_key=api_key, actor="test")
    administrator = staff_client(django_user_model, KEY_ADMINISTRATOR)

    assert administrator.post(change_url(api_key), {"rate_limit_per_minute": 3}).status_code == 403
    with pytest.raises(InvalidInput):
        api_key_rate_limit_update(api_key=api_key, rate_limit_per_minute=3, actor="test")
    api_key.refresh_from_db()
    assert api_key.rate_limit_per_minute is None
