"""Issue #11, item 6: reads don't write. A ``consent:read`` key that sends ``Sec-GPC: 1`` on a GET gets
an answer that reports the signal (what recording it would do, and that recording it needs
``consent:write``); nothing is written. The write paths still honour it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import CollectionMethod, ConsentEvent, GpcSignalReceipt, Purpose, Source, SubjectLink
from core.models import Organization
from tests.conftest import event_body
from tests.consent.api_contract import row_counts

READS = ("consent", "consent-events", "privacy-status")
COVERED = ["ad-sale", "targeted-ads"]


@pytest.fixture
def purposes(organization: Organization, source: Source) -> dict[str, Purpose]:
    specs: dict[str, dict[str, bool]] = {
        "ad-sale": {"is_sale_or_sharing": True},
        "targeted-ads": {"is_targeted_advertising": True},
        "newsletter": {},
    }
    return {
        key: consent_services.purpose_create(organization=organization, actor="test", key=key, name=key, **flags)
        for key, flags in specs.items()
    }


def table_state() -> dict[str, Any]:
    return {
        **row_counts(),
        "receipts": GpcSignalReceipt.objects.count(),
        "links": SubjectLink.objects.count(),
        "gpc_events": ConsentEvent.objects.filter(collection_method=CollectionMethod.GPC_SIGNAL).count(),
    }


@pytest.mark.parametrize("path", READS)
def test_a_read_only_key_sending_the_signal_on_a_get_writes_nothing_and_is_told_what_it_would_do(
    client_rw: APIClient,
    organization: Organization,
    purposes: dict[str, Purpose],
    api_client_for: Callable[..., APIClient],
    path: str,
) -> None:
    created = client_rw.post(
        "/api/v1/consent-events", event_body(purpose="ad-sale", jurisdiction="US-CA"), format="json"
    )
    assert created.status_code == 201
    reader = api_client_for(organization, "consent:read")
    before = table_state()

    response = reader.get(f"/api/v1/subjects/cust-1/{path}", HTTP_SEC_GPC="1")

    assert response.status_code == 200, response.content[:300]
    assert table_state() == before
    reported = response.json()["gpc_signal_on_read"]
    assert reported["recorded"] is False
    assert reported["required_scope"] == "consent:write"
    assert "POST /api/v1/signals" in reported["how_to_record"]
    assert (reported["would_be_honored"], reported["legally_required"]) == (True, True)
    assert reported["would_opt_out"] == COVERED
    assert reported["subjects"] == ["cust-1"]


def test_a_head_with_the_signal_writes_nothing(
    client_rw: APIClient, organization: Organization, purposes: dict[str, Purpose], api_client_for: Any
) -> None:
    client_rw.post("/api/v1/consent-events", event_body(purpose="newsletter", jurisdiction="US-CA"), format="json")
    reader = api_client_for(organization, "consent:read")
    before = table_state()

    for path in READS:
        assert reader.head(f"/api/v1/subjects/cust-1/{path}", HTTP_SEC_GPC="1").status_code == 200

    assert table_state() == before


def test_once_recorded_the_read_reports_nothing_left_to_opt_out(
    client_rw: APIClient, purposes: dict[str, Purpose]
) -> None:
    client_rw.post("/api/v1/consent-events", event_body(purpose="newsletter", jurisdiction="US-CA"), format="json")
    signal = client_rw.post("/api/v1/signals", {"subject_id": "cust-1", "gpc": True}, format="json").json()
    assert signal["events_written"] == 2

    reported = client_rw.get("/api/v1/subjects/cust-1/consent", HTTP_SEC_GPC="1").json()["gpc_signal_on_read"]

    assert reported["would_opt_out"] == []


def test_without_the_header_the_read_reports_no_signal(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    client_rw.post("/api/v1/consent-events", event_body(purpose="newsletter", jurisdiction="US-CA"), format="json")

    for path in READS:
        assert client_rw.get(f"/api/v1/subjects/cust-1/{path}").json()["gpc_signal_on_read"] is None


def test_the_header_on_a_write_still_records_the_opt_outs(client_rw: APIClient, purposes: dict[str, Purpose]) -> None:
    body = event_body(purpose="newsletter", jurisdiction="US-CA")
    response = client_rw.post("/api/v1/consent-events", body, format="json", HTTP_SEC_GPC="1")

    assert response.status_code == 201
    opt_outs = ConsentEvent.objects.filter(collection_method=CollectionMethod.GPC_SIGNAL)
    assert sorted(opt_outs.values_list("purpose__key", flat=True)) == COVERED
