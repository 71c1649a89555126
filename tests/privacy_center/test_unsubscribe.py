"""Unsubscribe links: the API hands them out (consent:write), a one-click POST (RFC 8058) withdraws, a GET shows a
page and changes nothing, replays change nothing, and a link for another organization or a forged one does
nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client
from rest_framework.test import APIClient

from consent.enums import Action, CollectionMethod, ConsentStatus
from consent.models import ConsentEvent, ConsentState, Subject
from consent.services import subject_erase
from core.models import Organization
from core.problems import PROBLEM_CONTENT_TYPE
from tests.privacy_center.fixtures import Catalog, counts, grant, make_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalog(organization: Organization) -> Catalog:
    return make_catalog(organization)


def link_for(api_client_for: Callable[..., APIClient], organization: Organization, purpose: str = "newsletter") -> Any:
    client = api_client_for(organization, "consent:read", "consent:write")
    response = client.get(f"/api/v1/subjects/cust-1/unsubscribe-link?purpose={purpose}")
    assert response.status_code == 200, response.content
    return response.json()


def path_of(url: str) -> str:
    return urlsplit(url).path


def test_the_api_hands_out_the_link_and_both_headers(
    organization: Organization, catalog: Catalog, api_client_for: Callable[..., APIClient]
) -> None:
    grant(organization, "newsletter")
    body = link_for(api_client_for, organization)
    assert set(body) == {"url", "list_unsubscribe", "list_unsubscribe_post"}
    assert body["url"].startswith("http://127.0.0.1:8000/privacy/acme/unsubscribe/")
    assert body["list_unsubscribe"] == f"<{body['url']}>"
    assert body["list_unsubscribe_post"] == "List-Unsubscribe=One-Click"
    assert "cust-1" not in body["url"]  # the subject is named by its uuid inside the signed token, never its id
    assert "ada" not in body["url"]


def test_the_link_follows_the_organization_custom_host(
    organization: Organization, catalog: Catalog, api_client_for: Callable[..., APIClient], settings: Any
) -> None:
    from core.services import BrandingInput, privacy_center_branding_update

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "privacy.acme.example"]
    privacy_center_branding_update(
        organization=organization, data=BrandingInput(custom_host="privacy.acme.example"), actor="test"
    )
    grant(organization, "newsletter")
    assert link_for(api_client_for, organization)["url"].startswith("https://privacy.acme.example/privacy/acme/")


@pytest.mark.parametrize(
    ("scopes", "path", "status"),
    [
        (None, "subjects/cust-1/unsubscribe-link?purpose=newsletter", 401),
        (("consent:read",), "subjects/cust-1/unsubscribe-link?purpose=newsletter", 403),
        (("consent:write",), "subjects/nobody/unsubscribe-link?purpose=newsletter", 404),
        (("consent:write",), "subjects/cust-1/unsubscribe-link", 422),
        (("consent:write",), "subjects/cust-1/unsubscribe-link?purpose=nope", 422),
    ],
)
def test_the_api_refuses_without_the_write_scope_or_with_bad_input(
    organization: Organization,
    catalog: Catalog,
    api_client_for: Callable[..., APIClient],
    scopes: tuple[str, ...] | None,
    path: str,
    status: int,
) -> None:
    grant(organization, "newsletter")
    client = api_client_for(organization, *scopes) if scopes else APIClient()
    before = counts()
    response = client.get(f"/api/v1/{path}")
    assert response.status_code == status
    assert response["Content-Type"].startswith(PROBLEM_CONTENT_TYPE)
    assert counts()["events"] == before["events"]


def test_another_organizations_key_finds_no_subject(
    organization: Organization,
    other_organization: Organization,
    catalog: Catalog,
    api_client_for: Callable[..., APIClient],
) -> None:
    grant(organization, "newsletter")
    client = api_client_for(other_organization, "consent:write")
    assert client.get("/api/v1/subjects/cust-1/unsubscribe-link?purpose=newsletter").status_code == 404


def test_one_click_post_withdraws_once(
    organization: Organization, catalog: Catalog, api_client_for: Callable[..., APIClient]
) -> None:
    grant(organization, "newsletter")
    path = path_of(link_for(api_client_for, organization)["url"])
    provider = Client(enforce_csrf_checks=True)  # a mail provider: no cookie, no CSRF token
    response = provider.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    event = ConsentEvent.objects.select_related("source").latest("id")
    assert (event.action, event.source.key, event.collection_method) == (
        Action.WITHDRAW,
        "unsubscribe_link",
        CollectionMethod.EMAIL,
    )
    assert ConsentState.objects.get(purpose__key="newsletter").status == ConsentStatus.WITHDRAWN
    before = counts()
    replay = provider.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert replay.status_code == 200
    assert counts() == before  # idempotent


def test_a_scanner_get_or_head_changes_nothing_and_the_page_post_withdraws(
    organization: Organization, catalog: Catalog, api_client_for: Callable[..., APIClient]
) -> None:
    grant(organization, "newsletter")
    path = path_of(link_for(api_client_for, organization)["url"])
    before = counts()
    scanner = Client()
    assert scanner.head(path).status_code == 200
    page = scanner.get(path)
    assert page.status_code == 200
    assert "Withdraw your consent to “Newsletter” with Acme?" in page.content.decode()
    assert scanner.post(path, {}).status_code == 400  # neither one-click nor the page's confirmation
    assert counts() == before
    done = Client().post(path, {"confirm": "yes"})
    assert done.status_code == 200
    assert "Your consent to “Newsletter” is withdrawn." in done.content.decode()
    assert ConsentState.objects.get(purpose__key="newsletter").status == ConsentStatus.WITHDRAWN


def test_forged_and_foreign_links_do_nothing(
    organization: Organization,
    other_organization: Organization,
    catalog: Catalog,
    api_client_for: Callable[..., APIClient],
) -> None:
    grant(organization, "newsletter")
    path = path_of(link_for(api_client_for, organization)["url"])
    before = counts()
    forged = path[:-4] + "abc/"
    assert Client().post(forged, {"confirm": "yes"}).status_code == 400
    foreign = path.replace("/privacy/acme/", "/privacy/globex/")
    assert Client().post(foreign, {"confirm": "yes"}).status_code == 400
    assert Client().get(foreign).status_code == 400
    assert counts() == before


def test_an_erased_persons_link_does_nothing(
    organization: Organization, catalog: Catalog, api_client_for: Callable[..., APIClient]
) -> None:
    grant(organization, "newsletter")
    path = path_of(link_for(api_client_for, organization)["url"])
    subject_erase(subject=Subject.objects.get(external_id="cust-1"), actor="test")
    before = counts()
    assert Client().post(path, {"confirm": "yes"}).status_code == 200
    assert counts()["events"] == before["events"]


def test_an_opt_out_regime_unknown_state_is_refused_by_the_link(
    organization: Organization, catalog: Catalog, api_client_for: Callable[..., APIClient]
) -> None:
    grant(organization, "newsletter", jurisdiction="US-CA")  # the ads purpose has no event: allowed in CA
    path = path_of(link_for(api_client_for, organization, "ads")["url"])
    assert Client().post(path, {"confirm": "yes"}).status_code == 200
    event = ConsentEvent.objects.latest("id")
    assert (event.purpose.key, event.action) == ("ads", Action.REFUSE)
