"""Fulfilment that found nobody stops at review (issue #14), run by a real Celery worker (subprocess, Redis): an
access request naming no subject gets an empty export and waits for legal with the warning on its page; a deletion
whose subject the ledger does not hold is erased everywhere else but is not closed as done; with the subject linked
in the admin, the same deletion completes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source, Subject
from core.models import Organization
from dsar import selectors, services
from dsar.models import DataSubjectRequest, FulfilmentStep
from tests.conftest import event_input
from tests.integration.conftest import CeleryWorker, wait_until

EMAIL = "ada@example.com"


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"


@pytest.fixture
def dsar_client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "dsar:read", "dsar:write")


def filed(client: APIClient, request_type: str, **body: Any) -> DataSubjectRequest:
    """A request filed through the API without a requester address (a letter typed in), verified by legal: the
    verification hands its fulfilment to the worker."""
    response = client.post("/api/v1/dsar", {"type": request_type, "jurisdiction": "DE", **body}, format="json")
    assert response.status_code == 201, response.content
    request = DataSubjectRequest.objects.get(public_id=response.json()["id"])
    services.dsar_identity_verify(request=request, actor="user:legal", note="ID checked against the letter")
    return request


def settled(request: DataSubjectRequest, status: str) -> DataSubjectRequest:
    def reached() -> DataSubjectRequest | None:
        request.refresh_from_db()
        return request if request.status == status else None

    return wait_until(reached, timeout=60)


@pytest.mark.django_db(transaction=True)
def test_an_access_request_naming_nobody_stops_at_review_with_the_empty_export_warned(
    celery_worker: CeleryWorker, dsar_client: APIClient, admin_client: Client
) -> None:
    request = settled(filed(dsar_client, "access"), "awaiting_review")

    export = FulfilmentStep.objects.get(request=request, step="export").result
    assert export["empty"] is True
    assert export["subject_found"] is False
    assert selectors.dsar_review_warnings(request)[0].startswith("The export is empty")
    page = admin_client.get(f"/admin/dsar/datasubjectrequest/{request.pk}/change/").content.decode()
    assert "The export is empty" in page
    assert request.transitions.filter(actor="task:dsar.fulfil", to_status="awaiting_review").exists()


@pytest.mark.django_db(transaction=True)
def test_a_deletion_of_a_subject_the_ledger_lacks_is_not_closed_as_done(
    celery_worker: CeleryWorker, dsar_client: APIClient
) -> None:
    request = filed(dsar_client, "deletion", subject_id="nobody-7")
    wait_until(lambda: celery_worker.results("dsar.tasks.fulfil"))  # the erasure waits for approval

    services.dsar_erasure_approve(request=request, actor="user:legal")
    request = settled(request, "awaiting_review")

    assert FulfilmentStep.objects.get(request=request, step="erase").result["subject_found"] is False
    assert request.transitions.filter(to_status="awaiting_review", reason__startswith="no subject found").exists()
    assert not request.transitions.filter(to_status="completed").exists()
    assert any("No subject was found in the ledger" in text for text in selectors.dsar_review_warnings(request))


@pytest.mark.django_db(transaction=True)
def test_a_deletion_linked_to_its_subject_in_the_admin_completes(
    celery_worker: CeleryWorker,
    dsar_client: APIClient,
    organization: Organization,
    source: Source,
    purpose: Purpose,
) -> None:
    consent_services.consent_record(organization=organization, item=event_input(subject_email=EMAIL))
    subject = Subject.objects.get(organization=organization, external_id="cust-1")
    response = dsar_client.post("/api/v1/dsar", {"type": "deletion", "jurisdiction": "DE"}, format="json")
    request = DataSubjectRequest.objects.get(public_id=response.json()["id"])
    services.dsar_subject_link(request=request, subject=subject, actor="user:legal")  # the page's "Link subject"
    services.dsar_identity_verify(request=request, actor="user:legal", note="ID checked")
    wait_until(lambda: celery_worker.results("dsar.tasks.fulfil"))

    services.dsar_erasure_approve(request=request, actor="user:legal")
    request = settled(request, "completed")
    subject.refresh_from_db()

    assert subject.is_erased
    assert selectors.dsar_review_warnings(request) == []
