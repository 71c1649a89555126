"""Auto-wiring: after intake commits, a request needing verification gets its link emailed and an opt-out or
limit request starts at once; after a verification commits, fulfilment starts. No manual service calls."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from core.models import Organization
from dsar import fulfilment, services, tasks
from dsar.models import DataSubjectRequest, FulfilmentStep

LINK = re.compile(r"http://testserver(/api/v1/dsar/verify/\S+)")


@pytest.fixture(autouse=True)
def _wiring(settings: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"
    monkeypatch.setattr(
        tasks.send_verification_link, "delay", lambda request_id: tasks.send_verification_link(request_id)
    )
    enqueued: list[int] = []
    monkeypatch.setattr(fulfilment, "_enqueue", enqueued.append)
    return enqueued


@pytest.fixture
def enqueued(_wiring: list[int]) -> list[int]:
    return _wiring


def create(organization: Organization, request_type: str, email: str = "ada@example.com") -> DataSubjectRequest:
    return services.dsar_create(
        organization=organization,
        request_type=request_type,
        channel="api",
        actor="test",
        jurisdiction="US-CA" if request_type in ("opt_out_of_sale", "limit_sensitive") else "DE",
        subject_external_id="cust-1",
        requester=services.Requester(email=email),
    )


@pytest.mark.django_db
def test_intake_with_an_email_sends_exactly_one_verification_email(
    organization: Organization, django_capture_on_commit_callbacks: Callable[..., Any], enqueued: list[int]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = create(organization, "access")

    request.refresh_from_db()
    assert request.status == "identity_pending"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.com"]
    assert LINK.search(mail.outbox[0].body)
    assert enqueued == []
    assert not FulfilmentStep.objects.exists()


@pytest.mark.django_db
def test_intake_without_an_email_waits_for_legal(
    organization: Organization, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = create(organization, "deletion", email="")

    request.refresh_from_db()
    assert request.status == "received"
    assert mail.outbox == []


@pytest.mark.django_db
def test_clicking_the_link_starts_fulfilment(
    organization: Organization, django_capture_on_commit_callbacks: Callable[..., Any], enqueued: list[int]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = create(organization, "access")
    match = LINK.search(mail.outbox[0].body)
    assert match is not None

    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().get(match.group(1))

    assert response.status_code == 200
    request.refresh_from_db()
    assert request.status == "in_progress"
    assert list(FulfilmentStep.objects.filter(request=request).values_list("step", flat=True)) == ["export", "review"]
    assert enqueued == [request.pk]
    # Opening the link again starts nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        assert APIClient().get(match.group(1)).status_code == 200
    assert enqueued == [request.pk]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_manual_verification_also_starts_fulfilment(
    organization: Organization, django_capture_on_commit_callbacks: Callable[..., Any], enqueued: list[int]
) -> None:
    request = create(organization, "deletion", email="")
    with django_capture_on_commit_callbacks(execute=True):
        services.dsar_verify(request=request, actor="legal", note="passport checked")

    request.refresh_from_db()
    assert request.status == "in_progress"
    assert enqueued == [request.pk]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("request_type", "steps"), [("opt_out_of_sale", ["opt_out", "complete"]), ("limit_sensitive", ["review"])]
)
def test_an_opt_out_or_limit_request_starts_fulfilment_at_intake(
    organization: Organization,
    django_capture_on_commit_callbacks: Callable[..., Any],
    enqueued: list[int],
    request_type: str,
    steps: list[str],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = create(organization, request_type)

    request.refresh_from_db()
    assert request.status == "in_progress"
    assert list(FulfilmentStep.objects.filter(request=request).values_list("step", flat=True)) == steps
    assert enqueued == [request.pk]
    assert mail.outbox == [], "no verification under CCPA regs §7026/§7027"
