"""Auto-wiring: after intake commits, a request needing verification gets its link emailed and an opt-out or
limit request starts at once; after a verification commits, fulfilment starts. No manual service calls."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core import mail
from rest_framework.test import APIClient

from config.celery import app as celery_app
from core.models import Organization
from dsar import services
from dsar.models import DataSubjectRequest, FulfilmentStep

LINK = re.compile(r"http://testserver(/privacy/acme/verify/\S+)")
CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')


@pytest.fixture(autouse=True)
def _inline_tasks(settings: Any) -> Iterator[None]:
    """Celery runs the real tasks inline (eager), so what a worker would do happens in this test."""
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def step_runs(request: DataSubjectRequest) -> list[tuple[str, str, int]]:
    return list(FulfilmentStep.objects.filter(request=request).values_list("step", "status", "attempts"))


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
    organization: Organization, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = create(organization, "access")

    request.refresh_from_db()
    assert request.status == "identity_pending"
    assert [message.kind for message in request.messages.all()] == ["receipt", "identity.link"]
    assert len(mail.outbox) == 2  # the receipt confirmation, then the verification link
    assert all(message.to == ["ada@example.com"] for message in mail.outbox)
    assert "received your privacy request" in mail.outbox[0].subject
    assert sum(bool(LINK.search(message.body)) for message in mail.outbox) == 1
    assert not FulfilmentStep.objects.exists(), "nothing starts before the person is verified"


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
    organization: Organization, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = create(organization, "access")
    match = LINK.search(mail.outbox[-1].body)
    assert match is not None

    with django_capture_on_commit_callbacks(execute=True):
        opened = APIClient().get(match.group(1))
    assert opened.status_code == 200
    assert not FulfilmentStep.objects.exists(), "opening the link (a page) starts nothing"
    confirmation = CONFIRMATION.search(opened.content.decode())
    assert confirmation is not None

    with django_capture_on_commit_callbacks(execute=True):
        response = APIClient().post(match.group(1), {"confirmation": confirmation.group(1)}, format="multipart")

    assert response.status_code == 200
    request.refresh_from_db()
    assert request.status == "awaiting_review", "the export ran and the request waits for legal"
    assert step_runs(request) == [("export", "done", 1), ("review", "done", 1)]
    # Opening the link again, or confirming again, starts nothing twice.
    with django_capture_on_commit_callbacks(execute=True):
        assert APIClient().get(match.group(1)).status_code == 200
        assert APIClient().post(match.group(1), {"confirmation": confirmation.group(1)}).status_code == 200
    assert step_runs(request) == [("export", "done", 1), ("review", "done", 1)]
    assert len(mail.outbox) == 2  # the receipt and the link; nothing more until legal approves


@pytest.mark.django_db
def test_a_manual_verification_also_starts_fulfilment(
    organization: Organization, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    request = create(organization, "deletion", email="")
    with django_capture_on_commit_callbacks(execute=True):
        services.dsar_identity_verify(request=request, actor="legal", note="passport checked")

    request.refresh_from_db()
    assert request.status == "in_progress", "the erasure waits for legal's approval (PROVENANT_DSAR_ERASURE_REVIEW)"
    assert [step for step, status, _ in step_runs(request) if status == "done"] == []

    with django_capture_on_commit_callbacks(execute=True):
        services.dsar_erasure_approve(request=request, actor="legal")

    request.refresh_from_db()
    # The approved erasure ran; the ledger had no subject for it, so legal reviews before it is closed (issue #14).
    assert request.status == "awaiting_review"
    assert [step for step, status, _ in step_runs(request) if status == "done"] == ["erase", "complete"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("request_type", "steps", "status"),
    [("opt_out_of_sale", ["opt_out", "complete"], "completed"), ("limit_sensitive", ["review"], "awaiting_review")],
)
def test_an_opt_out_or_limit_request_starts_fulfilment_at_intake(
    organization: Organization,
    django_capture_on_commit_callbacks: Callable[..., Any],
    request_type: str,
    steps: list[str],
    status: str,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        request = create(organization, request_type)

    request.refresh_from_db()
    assert request.status == status
    assert [(step, state) for step, state, _ in step_runs(request)] == [(step, "done") for step in steps]
    sent = [message.kind for message in request.messages.all()]
    assert "identity.link" not in sent, "no verification under CCPA regs §7026/§7027"
    assert sent == ["receipt", "completion"] if status == "completed" else ["receipt"]
    assert len(mail.outbox) == len(sent)
