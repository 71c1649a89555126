"""Issue #14: the consent-states list reads a state as the API does. A grant past its validity is expired the moment
it lapses, before the expiry sweep writes its event; the list filters by that status too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from consent import services
from consent.enums import ConsentStatus
from consent.models import ConsentState, Purpose, Source
from consent.services import consent_record
from core.admin import admin_datetime
from core.models import Organization
from tests.conftest import event_input

pytestmark = pytest.mark.django_db

STATES = "/admin/consent/consentstate/"


@pytest.fixture
def daily(organization: Organization) -> Purpose:
    """A purpose whose consent is valid for one day."""
    return services.purpose_create(
        organization=organization, actor="test", key="daily-digest", name="Daily digest", validity="P1D"
    )


@pytest.fixture
def lapsed_and_fresh(organization: Organization, source: Source, daily: Purpose) -> dict[str, ConsentState]:
    """cust-old granted three days ago (lapsed two days ago, no sweep since), cust-new granted a minute ago."""
    consent_record(
        organization=organization,
        item=event_input(subject_id="cust-old", purpose=daily.key, occurred_at=timezone.now() - timedelta(days=3)),
    )
    consent_record(organization=organization, item=event_input(subject_id="cust-new", purpose=daily.key))
    states = {state.subject.external_id: state for state in ConsentState.objects.select_related("subject")}
    return {"lapsed": states["cust-old"], "fresh": states["cust-new"]}


def _statuses(response: Any) -> dict[str, str]:
    assert response.status_code == 200
    admin_page = response.context["cl"]
    return {row.subject.external_id: admin_page.model_admin.status_now(row) for row in admin_page.result_list}


def test_a_lapsed_grant_reads_expired_in_the_list_as_in_the_api_before_the_sweep(
    admin_client: Client,
    organization: Organization,
    api_client_for: Any,
    lapsed_and_fresh: dict[str, ConsentState],
) -> None:
    lapsed = lapsed_and_fresh["lapsed"]
    assert lapsed.status == ConsentStatus.GIVEN  # as stored: the sweep has not run

    listing = admin_client.get(STATES)
    api: APIClient = api_client_for(organization, "consent:read")
    answered = api.get("/api/v1/subjects/cust-old/consent", {"purpose": "daily-digest"}).json()

    shown = _statuses(listing)
    assert "Expired" in shown["cust-old"]
    assert "(stored: given)" in shown["cust-old"]
    assert "Given" in shown["cust-new"]
    assert "stored" not in shown["cust-new"]
    assert answered["purposes"][0]["status"] == ConsentStatus.EXPIRED
    assert lapsed.valid_until is not None
    html = listing.content.decode()
    assert admin_datetime(lapsed.valid_until) in html  # expired since it lapsed, as the API says
    assert html.count("consent-status-expired") == 1


def test_the_list_filters_by_the_status_read_now(
    admin_client: Client, lapsed_and_fresh: dict[str, ConsentState]
) -> None:
    expired = admin_client.get(STATES, {"status_now": "expired"})
    given = admin_client.get(STATES, {"status_now": "given"})

    assert set(_statuses(expired)) == {"cust-old"}
    assert set(_statuses(given)) == {"cust-new"}


def test_the_detail_page_shows_the_status_read_now(
    admin_client: Client, lapsed_and_fresh: dict[str, ConsentState]
) -> None:
    page = admin_client.get(f"{STATES}{lapsed_and_fresh['lapsed'].pk}/change/").content.decode()

    assert "Status (read now)" in page
    assert "Expired" in page
