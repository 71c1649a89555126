"""The beat sweep over due dates: legal reminders 7, 3 and 1 days before, overdue escalation, each exactly once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.core import mail

from core.models import AuditLogEntry, Organization
from dsar import services, tasks
from dsar.models import DataSubjectRequest, DsarLegalContact, RequestNotice

TODAY = date(2026, 3, 2)


@pytest.fixture(autouse=True)
def _admins(settings: Any) -> None:
    settings.ADMINS = [("Ops", "ops@provenant.test")]


@pytest.fixture
def request_due(organization: Organization) -> Callable[..., DataSubjectRequest]:
    def make(due_on: date, *, organization_: Organization | None = None, status: str = "") -> DataSubjectRequest:
        request = services.dsar_create(
            organization=organization_ or organization,
            request_type="access",
            channel="api",
            actor="test",
            jurisdiction="DE",
            requester=services.Requester(email="ada@example.com"),
        )
        if status:
            services.dsar_transition(request=request, to_status=status, actor="test", reason="test")
        # Given: the due date the scenario needs (the sweep reads only due_on and status).
        DataSubjectRequest.objects.filter(pk=request.pk).update(due_on=due_on)
        request.refresh_from_db()
        return request

    return make


def sweep(day: date) -> dict[str, Any]:
    return tasks.deadline_sweep(datetime.combine(day, time(6), tzinfo=UTC).isoformat())


def test_reminders_7_3_1_days_before_and_escalation_each_once_across_runs(
    request_due: Callable[..., DataSubjectRequest],
) -> None:
    request = request_due(TODAY + timedelta(days=10))
    due = request.due_on
    sent: list[tuple[int, str]] = []

    for offset in range(-10, 4):
        day = due + timedelta(days=offset)
        first, second = sweep(day), sweep(day)
        assert (second["reminders"], second["overdue"], second["digests"]) == (0, 0, 0)
        if first["digests"]:
            sent.append((offset, mail.outbox[-1].subject))

    kinds = list(
        RequestNotice.objects.filter(request=request).order_by("created_at", "id").values_list("kind", "for_date")
    )
    assert kinds == [("deadline.7", due), ("deadline.3", due), ("deadline.1", due), ("deadline.overdue", due)]
    assert [offset for offset, _ in sent] == [-7, -3, -1, 1]
    assert "1 overdue" in sent[-1][1]
    assert len(mail.outbox) == 4
    request.refresh_from_db()
    assert request.overdue_on == due + timedelta(days=1)


def test_one_digest_per_organization_to_its_legal_contact_or_the_admins(
    organization: Organization,
    other_organization: Organization,
    request_due: Callable[..., DataSubjectRequest],
) -> None:
    DsarLegalContact.objects.create(organization=organization, email="legal@acme.test")
    soon = [request_due(TODAY + timedelta(days=days)) for days in (7, 3, 1)]
    late = request_due(TODAY - timedelta(days=2))
    theirs = request_due(TODAY + timedelta(days=2), organization_=other_organization)
    request_due(TODAY + timedelta(days=3), status="rejected")  # closed: never reminded
    request_due(TODAY + timedelta(days=20))  # not yet

    first = sweep(TODAY)
    second = sweep(TODAY)

    assert first == {"reminders": 4, "overdue": 1, "marked_overdue": 1, "digests": 2}
    assert second == {"reminders": 0, "overdue": 0, "marked_overdue": 0, "digests": 0}
    by_recipient = {tuple(message.to): message for message in mail.outbox}
    assert set(by_recipient) == {("legal@acme.test",), ("ops@provenant.test",)}
    acme = by_recipient[("legal@acme.test",)].body
    assert all(request.public_id in acme for request in [*soon, late])
    assert theirs.public_id not in acme
    assert theirs.public_id in by_recipient[("ops@provenant.test",)].body
    assert "ada@example.com" not in acme  # no requester PII in the digest
    assert "OVERDUE (1)" in acme
    late.refresh_from_db()
    assert late.overdue_on == TODAY
    entry = AuditLogEntry.objects.get(action="dsar.deadline_sweep", organization=organization)
    assert entry.data["overdue"] == [late.public_id]
    assert entry.data["reminders"] == 3


def test_a_moved_due_date_is_reminded_again(request_due: Callable[..., DataSubjectRequest]) -> None:
    request = request_due(TODAY + timedelta(days=3))
    sweep(TODAY)
    DataSubjectRequest.objects.filter(pk=request.pk).update(due_on=TODAY + timedelta(days=33))  # extended

    assert sweep(TODAY + timedelta(days=26))["reminders"] == 1
    assert sweep(TODAY + timedelta(days=26))["reminders"] == 0


def test_nothing_open_nothing_sent(request_due: Callable[..., DataSubjectRequest]) -> None:
    request_due(TODAY + timedelta(days=1), status="rejected")

    assert sweep(TODAY) == {"reminders": 0, "overdue": 0, "marked_overdue": 0, "digests": 0}
    assert mail.outbox == []


def test_without_legal_contact_or_admins_the_claim_is_recorded_and_audited(
    settings: Any, organization: Organization, request_due: Callable[..., DataSubjectRequest]
) -> None:
    settings.ADMINS = []
    request_due(TODAY + timedelta(days=1))

    result = sweep(TODAY)

    assert (result["reminders"], result["digests"]) == (1, 0)
    entry = AuditLogEntry.objects.get(action="dsar.deadline_sweep", organization=organization)
    assert entry.data["digest_sent"] is False
