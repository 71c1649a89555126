"""The beat sweep over due dates: legal reminders 7, 3 and 1 days before and the overdue escalation, each once,
to each organization's legal contacts (or, without any, its DSAR operators and ADMINS); a digest that lists
every request due within 7 days and every overdue one; and no reminder recorded as sent that reached nobody."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connections

from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from core.problems import InvalidInput
from core.services import organization_create
from core.staff_roles import DSAR_OPERATOR
from dsar import services, tasks
from dsar.models import DataSubjectRequest, RequestNotice
from tests.dsar.smtp_server import SmtpServer

TODAY = date(2026, 3, 2)
BASE = "https://provenant.example.org"


@pytest.fixture(autouse=True)
def _admins(settings: Any) -> None:
    settings.ADMINS = [("Ops", "ops@provenant.test")]
    settings.PROVENANT_PUBLIC_BASE_URL = BASE


@pytest.fixture
def smtp_server(settings: Any) -> Iterator[SmtpServer]:
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield server
    server.stop()


@pytest.fixture
def request_due(organization: Organization) -> Callable[..., DataSubjectRequest]:
    def make(
        due_on: date, *, organization_: Organization | None = None, status: str = "", request_type: str = "access"
    ) -> DataSubjectRequest:
        request = services.dsar_create(
            organization=organization_ or organization,
            request_type=request_type,
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


def at(day: date) -> datetime:
    return datetime.combine(day, time(6), tzinfo=UTC)


def sweep(day: date) -> dict[str, Any]:
    return tasks.deadline_sweep(at(day).isoformat())


def unsent(request: DataSubjectRequest) -> list[tuple[str, int, str]]:
    return list(
        RequestNotice.objects.filter(request=request, sent_at__isnull=True)
        .order_by("kind")
        .values_list("kind", "attempts", "last_error")
    )


def undelivered_audits(organization: Organization) -> list[dict[str, Any]]:
    return [
        entry.data
        for entry in AuditLogEntry.objects.filter(
            action="dsar.deadline_mail_undelivered", organization=organization
        ).order_by("id")
    ]


def operator(django_user_model: Any, username: str, email: str, **extra: Any) -> Any:
    user = django_user_model.objects.create_user(username=username, email=email, is_staff=True, **extra)
    user.groups.add(Group.objects.get_or_create(name=DSAR_OPERATOR)[0])
    return user


# --- once each, to whom ------------------------------------------------------------------------------------------


def test_reminders_7_3_1_days_before_and_escalation_each_once_across_runs(
    request_due: Callable[..., DataSubjectRequest],
) -> None:
    request = request_due(TODAY + timedelta(days=10))
    due = request.due_on
    sent: list[tuple[int, str]] = []

    for offset in range(-10, 4):
        day = due + timedelta(days=offset)
        before = len(mail.outbox)
        sweep(day)
        second = sweep(day)
        assert (second["reminders"], second["overdue"], second["digests"], second["escalations"]) == (0, 0, 0, 0)
        sent += [(offset, message.subject) for message in mail.outbox[before:]]

    kinds = list(
        RequestNotice.objects.filter(request=request).order_by("kind").values_list("kind", "for_date", "attempts")
    )
    assert kinds == [
        ("deadline.1", due, 1),
        ("deadline.3", due, 1),
        ("deadline.7", due, 1),
        ("deadline.escalated", due, 1),
        ("deadline.overdue", due, 1),
    ]
    assert unsent(request) == []
    assert [offset for offset, _ in sent] == [-7, -3, -1, 1, 1]
    assert "1 overdue" in sent[-2][1]
    assert sent[-1][1].startswith("[Provenant] ESCALATION")
    request.refresh_from_db()
    assert request.overdue_on == due + timedelta(days=1)


def test_one_digest_per_organization_to_its_legal_contact_or_the_fallback(
    organization: Organization,
    other_organization: Organization,
    request_due: Callable[..., DataSubjectRequest],
) -> None:
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    soon = [request_due(TODAY + timedelta(days=days)) for days in (7, 3, 1)]
    late = request_due(TODAY - timedelta(days=2))
    theirs = request_due(TODAY + timedelta(days=2), organization_=other_organization)
    request_due(TODAY + timedelta(days=3), status="rejected")  # closed: never reminded
    request_due(TODAY + timedelta(days=20))  # not yet

    first = sweep(TODAY)
    second = sweep(TODAY)

    assert first == {
        "reminders": 4,
        "overdue": 1,
        "marked_overdue": 1,
        "digests": 2,
        "escalations": 1,
        "undelivered": 0,
    }
    assert second == {**first, "reminders": 0, "overdue": 0, "marked_overdue": 0, "digests": 0, "escalations": 0}
    digests = {tuple(message.to): message for message in mail.outbox if "ESCALATION" not in message.subject}
    assert set(digests) == {("legal@acme.test",), ("ops@provenant.test",)}
    acme = digests[("legal@acme.test",)].body
    assert all(request.public_id in acme for request in [*soon, late])
    assert theirs.public_id not in acme
    assert theirs.public_id in digests[("ops@provenant.test",)].body
    assert "ada@example.com" not in acme  # no requester PII in the digest
    assert "OVERDUE (1)" in acme
    [escalation] = [message for message in mail.outbox if "ESCALATION" in message.subject]
    assert escalation.to == ["legal@acme.test"]
    assert late.public_id in escalation.body
    assert not any(request.public_id in escalation.body for request in soon)
    late.refresh_from_db()
    assert late.overdue_on == TODAY
    entries = AuditLogEntry.objects.filter(action="dsar.deadline_sweep", organization=organization)
    by_mail = {entry.data["mail"]: entry.data for entry in entries}
    assert by_mail["digest"]["overdue"] == [late.public_id]
    assert by_mail["digest"]["reminders"] == 3
    assert by_mail["escalation"]["requests"] == [late.public_id]
    assert by_mail["digest"]["fallback"] is False


def test_the_digest_lists_every_request_due_within_7_days_and_every_overdue_one_with_links_and_labels(
    organization: Organization, request_due: Callable[..., DataSubjectRequest]
) -> None:
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    in_five = request_due(TODAY + timedelta(days=5), request_type="deletion")
    overdue = request_due(TODAY - timedelta(days=3))
    sweep(TODAY - timedelta(days=2))  # in_five's 7-day reminder and the overdue escalation went out then
    mail.outbox.clear()
    crossing = request_due(TODAY + timedelta(days=7))

    result = sweep(TODAY)

    assert (result["reminders"], result["digests"], result["escalations"]) == (1, 1, 0)
    [digest] = mail.outbox
    body = digest.body
    # Not only the request that crossed a threshold today: everything due within 7 days and everything overdue.
    for request in (in_five, overdue, crossing):
        assert f"{BASE}/admin/dsar/datasubjectrequest/{request.pk}/change/" in body
    assert "Deletion (GDPR)" in body
    assert "Access (GDPR)" in body
    assert f"due {in_five.due_on.isoformat()}, 5 days left" in body
    assert f"due {overdue.due_on.isoformat()}, 3 days overdue" in body
    assert f"due {crossing.due_on.isoformat()}, 7 days left (new: 7-day reminder)" in body
    assert body.index(overdue.public_id) < body.index(in_five.public_id) < body.index(crossing.public_id)
    assert digest.subject == f"[Provenant] {organization.name}: 1 overdue, 2 due within 7 days"


def test_a_moved_due_date_is_reminded_again(request_due: Callable[..., DataSubjectRequest]) -> None:
    request = request_due(TODAY + timedelta(days=3))
    sweep(TODAY)
    DataSubjectRequest.objects.filter(pk=request.pk).update(due_on=TODAY + timedelta(days=33))  # extended

    assert sweep(TODAY + timedelta(days=26))["reminders"] == 1
    assert sweep(TODAY + timedelta(days=26))["reminders"] == 0


def test_nothing_open_nothing_sent(request_due: Callable[..., DataSubjectRequest]) -> None:
    request_due(TODAY + timedelta(days=1), status="rejected")

    assert sweep(TODAY) == {
        "reminders": 0,
        "overdue": 0,
        "marked_overdue": 0,
        "digests": 0,
        "escalations": 0,
        "undelivered": 0,
    }
    assert mail.outbox == []


def test_each_legal_contact_gets_what_it_receives(
    organization: Organization, request_due: Callable[..., DataSubjectRequest]
) -> None:
    services.legal_contact_create(organization=organization, email="digest@acme.test", receives="digest", actor="t")
    services.legal_contact_create(
        organization=organization, email="counsel@acme.test", name="Counsel", receives="escalation", actor="t"
    )
    services.legal_contact_create(organization=organization, email="dpo@acme.test", receives="both", actor="t")
    request_due(TODAY - timedelta(days=1))

    sweep(TODAY)

    by_subject = {message.subject.split(":")[0]: sorted(message.to) for message in mail.outbox}
    assert by_subject == {
        f"[Provenant] {organization.name}": ["digest@acme.test", "dpo@acme.test"],
        f"[Provenant] ESCALATION {organization.name}": ["counsel@acme.test", "dpo@acme.test"],
    }


def test_without_a_legal_contact_escalation_goes_to_the_dsar_operators_who_see_the_organization_and_admins(
    django_user_model: Any,
    organization: Organization,
    other_organization: Organization,
    request_due: Callable[..., DataSubjectRequest],
) -> None:
    operator(django_user_model, "everywhere", "op-all@acme.test")  # no organization scope: sees every one
    scoped_here = operator(django_user_model, "here", "op-here@acme.test")
    StaffOrganizationScope.objects.create(user=scoped_here).organizations.set([organization])
    scoped_there = operator(django_user_model, "there", "op-there@acme.test")
    StaffOrganizationScope.objects.create(user=scoped_there).organizations.set([other_organization])
    operator(django_user_model, "left", "op-left@acme.test", is_active=False)
    operator(django_user_model, "noemail", "")
    django_user_model.objects.create_user(username="clerk", email="clerk@acme.test", is_staff=True)  # no role
    services.legal_contact_create(  # the other organization's contact does not count for this one
        organization=other_organization, email="legal@other.test", actor="test"
    )
    late = request_due(TODAY - timedelta(days=1))

    sweep(TODAY)

    [escalation] = [message for message in mail.outbox if "ESCALATION" in message.subject]
    assert sorted(escalation.to) == ["op-all@acme.test", "op-here@acme.test", "ops@provenant.test"]
    assert late.public_id in escalation.body
    entry = AuditLogEntry.objects.get(action="dsar.deadline_sweep", organization=organization, data__mail="escalation")
    assert (entry.data["fallback"], entry.data["recipients"]) == (True, 3)


# --- a reminder that reached nobody is not recorded as sent --------------------------------------------------------


def test_with_no_recipient_at_all_nothing_is_recorded_as_sent_and_the_next_sweep_delivers(
    settings: Any, organization: Organization, request_due: Callable[..., DataSubjectRequest]
) -> None:
    settings.ADMINS = []
    request = request_due(TODAY - timedelta(days=1))
    soon = request_due(TODAY + timedelta(days=1))

    result = sweep(TODAY)

    assert (result["digests"], result["escalations"], result["undelivered"]) == (0, 0, 2)
    assert unsent(request) == [("deadline.escalated", 1, "no recipients"), ("deadline.overdue", 1, "no recipients")]
    assert unsent(soon) == [("deadline.1", 1, "no recipients")]
    audits = undelivered_audits(organization)
    assert [(audit["mail"], audit["reason"], audit["recipients"]) for audit in audits] == [
        ("digest", "no recipients", 0),
        ("escalation", "no recipients", 0),
    ]
    assert not AuditLogEntry.objects.filter(action="dsar.deadline_sweep").exists()

    # When: someone is configured; the next (hourly) sweep sends what is owed, once.
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    later = tasks.deadline_sweep((at(TODAY) + timedelta(hours=1)).isoformat())
    again = tasks.deadline_sweep((at(TODAY) + timedelta(hours=2)).isoformat())

    assert (later["reminders"], later["digests"], later["escalations"], later["undelivered"]) == (0, 1, 1, 0)
    assert (again["digests"], again["escalations"]) == (0, 0)
    assert unsent(request) == unsent(soon) == []
    assert RequestNotice.objects.get(request=request, kind="deadline.escalated").attempts == 2
    assert [message.to for message in mail.outbox] == [["legal@acme.test"], ["legal@acme.test"]]


def test_a_refusing_smtp_server_leaves_the_claims_unsent_until_it_accepts(
    organization: Organization, request_due: Callable[..., DataSubjectRequest], smtp_server: SmtpServer
) -> None:
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    request = request_due(TODAY + timedelta(days=3))
    smtp_server.refuse_with = "554 5.7.1 Relaying denied"

    refused = sweep(TODAY)

    assert (refused["reminders"], refused["digests"], refused["undelivered"]) == (1, 0, 1)
    assert smtp_server.connections == 1
    assert smtp_server.received == []
    assert unsent(request) == [("deadline.3", 1, "SMTPSenderRefused 554")]
    [audit] = undelivered_audits(organization)
    assert (audit["mail"], audit["reason"], audit["requests"], audit["attempt"]) == (
        "digest",
        "SMTPSenderRefused 554",
        [request.public_id],
        1,
    )

    smtp_server.refuse_with = ""
    accepted = tasks.deadline_sweep((at(TODAY) + timedelta(hours=1)).isoformat())

    assert (accepted["reminders"], accepted["digests"], accepted["undelivered"]) == (0, 1, 0)
    assert unsent(request) == []
    [received] = smtp_server.received
    assert received.recipients == ["legal@acme.test"]
    assert f"{BASE}/admin/dsar/datasubjectrequest/{request.pk}/change/" in received.body
    assert request.public_id in received.body
    notice = RequestNotice.objects.get(request=request, kind="deadline.3")
    assert (notice.attempts, notice.last_error, notice.sent_at) == (2, "", at(TODAY) + timedelta(hours=1))


def test_an_unreachable_mail_server_is_retried_and_nothing_is_lost(
    organization: Organization, request_due: Callable[..., DataSubjectRequest], settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    request = request_due(TODAY - timedelta(days=1))

    result = sweep(TODAY)

    assert (result["digests"], result["escalations"], result["undelivered"]) == (0, 0, 2)
    assert {error for _, _, error in unsent(request)} == {"ConnectionRefusedError"}


def test_a_worker_that_died_between_claim_and_send_loses_nothing(
    organization: Organization, request_due: Callable[..., DataSubjectRequest]
) -> None:
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    request = request_due(TODAY + timedelta(days=1))
    # Given: the claims were committed, then the worker died before sending anything.
    services.deadline_claims_record(now=at(TODAY))
    assert unsent(request) == [("deadline.1", 0, "")]

    result = sweep(TODAY)  # the next run: nothing new to claim, the owed digest goes out

    assert (result["reminders"], result["digests"]) == (0, 1)
    assert unsent(request) == []
    assert request.public_id in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_racing_sweeps_send_each_owed_digest_once(
    organization: Organization, request_due: Callable[..., DataSubjectRequest], smtp_server: SmtpServer
) -> None:
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    request = request_due(TODAY + timedelta(days=1))
    services.deadline_claims_record(now=at(TODAY))
    results: list[dict[str, int]] = []
    barrier = threading.Barrier(3)

    def sender() -> None:
        try:
            barrier.wait()
            results.append(services.deadline_mail_send(now=at(TODAY)))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(result["digests"] for result in results) == [0, 0, 1]
    assert [m.recipients for m in smtp_server.received if m.recipients != ["ada@example.com"]] == [["legal@acme.test"]]
    assert unsent(request) == []
    assert AuditLogEntry.objects.filter(action="dsar.deadline_sweep", organization=organization).count() == 1


def test_one_organizations_mail_that_fails_to_build_does_not_stop_the_others(
    organization: Organization, other_organization: Organization, request_due: Callable[..., DataSubjectRequest]
) -> None:
    """A name with a line break (written before names were checked) makes the mail library refuse the subject
    header (BadHeaderError, a ValueError, not an OSError): that organization's mail stays owed and the next
    organization's digest still goes."""
    Organization.objects.filter(pk=organization.pk).update(name="Acme\nBcc: someone@example.com")
    services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    services.legal_contact_create(organization=other_organization, email="legal@globex.test", actor="test")
    broken = request_due(TODAY + timedelta(days=3))
    request_due(TODAY + timedelta(days=3), organization_=other_organization)

    result = sweep(TODAY)

    assert [tuple(message.to) for message in mail.outbox] == [("legal@globex.test",)]
    assert result["undelivered"] == 1
    assert [(kind, attempts, error) for kind, attempts, error in unsent(broken)] == [
        ("deadline.3", 1, "BadHeaderError")
    ]


@pytest.mark.django_db
def test_an_organization_name_is_one_line() -> None:
    with pytest.raises(InvalidInput):
        organization_create(slug="crlf", name="Acme\r\nBcc: x@example.com", actor="test")
