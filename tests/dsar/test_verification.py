"""Identity verification: signed links, manual verification, requester reminders and unverifiable closures."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.test import Client, TestCase
from rest_framework.test import APIClient

from core.models import AuditLogEntry, Organization
from dsar import services, tasks
from dsar.identity_links import identity_link_token
from dsar.models import DataSubjectRequest, RequestNotice, RequestTransition
from tests.consent.api_contract import assert_problem

EMAIL = "ada@example.com"
LINK = re.compile(r"http://testserver(/privacy/acme/verify/\S+)")
CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')
JSON = {"HTTP_ACCEPT": "application/json"}


def confirm(path: str) -> Any:
    """What the requester does: open the link (a page, which changes nothing), then press its button (a POST)."""
    page = Client().get(path, follow=True)
    assert page.status_code == 200, page.content[:300]
    match = CONFIRMATION.search(page.content.decode())
    assert match is not None, "the page has a confirmation form"
    return Client().post(path, {"confirmation": match.group(1)}, follow=True)


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_DSAR_REMINDER_DAYS = "2,5"
    settings.PROVENANT_DSAR_VERIFICATION_LINK_HOURS = 72
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"


@pytest.fixture
def make_request(organization: Organization) -> Callable[..., DataSubjectRequest]:
    def make(jurisdiction: str = "DE", email: str = EMAIL) -> DataSubjectRequest:
        request = services.dsar_create(
            organization=organization,
            request_type="access",
            channel="web_form",
            actor="test",
            jurisdiction=jurisdiction,
            requester=services.Requester(email=email, name="Ada Lovelace"),
        )
        # The receipt goes out when intake commits, which the test's transaction never does: send it now (or the
        # link's task would, first) and leave the mailbox to the identity link.
        services.message_deliver_waiting(request_id=request.pk)
        mail.outbox.clear()
        return request

    return make


def pending(make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any, **kw: Any) -> Any:
    request = make_request(**kw)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.dsar_identity_request(request=request, actor="legal@acme")
    assert len(callbacks) == 1  # the link is enqueued after commit
    return request


def committed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a task or service as if its transaction committed: the messages it queued are delivered."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return call(*args, **kwargs)


def sent_link() -> str:
    match = LINK.search(mail.outbox[-1].body)
    assert match is not None
    return match.group(1)


def snapshot(request: DataSubjectRequest) -> tuple[Any, ...]:
    request.refresh_from_db()
    return (
        request.status,
        request.due_on,
        request.transitions.count(),
        AuditLogEntry.objects.count(),
        RequestNotice.objects.count(),
    )


def at_noon(day: date) -> datetime:
    return datetime.combine(day, clock_time(12), tzinfo=UTC)


def test_link_verifies_pending_request_and_records_the_transition(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)

    assert committed(services.dsar_identity_link_send, request_id=request.pk) == {"sent": True}
    path = sent_link()
    response = confirm(path)  # no API key

    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/html")
    assert request.public_id in response.content.decode()
    assert "your identity is confirmed" in response.content.decode()
    assert mail.outbox[0].to == [EMAIL]
    assert EMAIL not in path
    request.refresh_from_db()
    assert request.status == "verified"
    last = request.transitions.order_by("-at", "-id").first()
    assert last is not None
    assert (last.from_status, last.to_status, last.actor) == ("identity_pending", "verified", services.LINK_ACTOR)
    assert AuditLogEntry.objects.filter(action="dsar.verified", object_id=request.public_id).count() == 1
    # GDPR A3: the pause ended, so the clock resumed (id_requested then id_received, same day: 0 paused days)
    assert request.deadlines["pause_applied"] is True


def test_second_use_of_the_link_changes_nothing(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)
    path = f"/api/v1/dsar/verify/{identity_link_token(request.public_id)}"
    assert confirm(path).status_code == 200
    before = snapshot(request)

    page = Client().get(path, follow=True)
    again = APIClient().post(path, {}, format="json", **JSON)

    assert page.status_code == 200
    assert "confirmed already" in page.content.decode()
    assert again.status_code == 200
    assert again.json()["status"] == "verified"
    assert snapshot(request) == before


def test_link_verifies_a_request_that_was_never_paused(make_request: Callable[..., DataSubjectRequest]) -> None:
    request = make_request()

    response = confirm(f"/api/v1/dsar/verify/{identity_link_token(request.public_id)}")

    assert response.status_code == 200
    request.refresh_from_db()
    assert request.status == "verified"


def test_expired_link_is_refused_with_410_and_changes_nothing(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)
    with mock.patch("django.core.signing.time.time", return_value=time.time() - 73 * 3600):
        token = identity_link_token(request.public_id)
    before = snapshot(request)

    path = f"/api/v1/dsar/verify/{token}"
    response = APIClient().get(path, **JSON)
    posted = APIClient().post(path, {"confirmation": "x"}, format="json", **JSON)
    page = Client().get(path, follow=True)

    assert_problem(response, 410, "verification-link-expired")
    assert_problem(posted, 410, "verification-link-expired")
    assert page.status_code == 410
    assert page["Content-Type"].startswith("text/html")
    assert snapshot(request) == before


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),
        lambda token: "x" + token,
        lambda token: "not-a-token",
    ],
    ids=["signature", "payload", "garbage"],
)
def test_tampered_link_is_refused_with_400_and_changes_nothing(
    make_request: Callable[..., DataSubjectRequest],
    django_capture_on_commit_callbacks: Any,
    mangle: Callable[[str], str],
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)
    before = snapshot(request)

    path = f"/api/v1/dsar/verify/{mangle(identity_link_token(request.public_id))}"
    response = APIClient().get(path, **JSON)
    posted = Client().post(path, {"confirmation": "x"}, follow=True)

    assert_problem(response, 400, "verification-link-invalid")
    assert posted.status_code == 400
    assert snapshot(request) == before


def test_link_of_a_rejected_request_is_refused(make_request: Callable[..., DataSubjectRequest]) -> None:
    request = make_request()
    services.dsar_transition(request=request, to_status="rejected", actor="legal", reason="duplicate")
    before = snapshot(request)

    path = f"/api/v1/dsar/verify/{identity_link_token(request.public_id)}"
    response = APIClient().get(path, **JSON)
    page = Client().get(path, follow=True)

    assert_problem(response, 409, "request-closed")
    assert page.status_code == 409
    assert snapshot(request) == before


def test_legal_verifies_manually_with_a_note(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)

    services.dsar_identity_verify(request=request, actor="legal@acme", note="passport checked at the desk")
    services.dsar_identity_verify(request=request, actor="legal@acme", note="again")  # verified already: nothing

    steps = list(RequestTransition.objects.filter(request=request, to_status="verified"))
    assert [(step.actor, step.reason) for step in steps] == [("legal@acme", "passport checked at the desk")]
    entry = AuditLogEntry.objects.get(action="dsar.verified", object_id=request.public_id)
    assert entry.data == {"method": "manual"}


def test_identity_request_needs_a_requester_address(make_request: Callable[..., DataSubjectRequest]) -> None:
    request = make_request(email="")

    with pytest.raises(services.RequesterUnreachable):
        services.dsar_identity_request(request=request, actor="legal")

    request.refresh_from_db()
    assert request.status == "received"


def test_link_is_emailed_once(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)

    committed(tasks.send_verification_link, request.pk)
    committed(tasks.send_verification_link, request.pk)

    assert len(mail.outbox) == 1
    assert "confirm" in mail.outbox[0].subject


def test_reminders_go_out_on_the_configured_days_exactly_once(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)
    committed(tasks.send_verification_link, request.pk)
    start = request.transitions.get(to_status="identity_pending").at.date()
    reminders_by_day: dict[int, int] = {}

    for day in range(0, 8):
        before = len(mail.outbox)
        committed(tasks.identity_sweep, at_noon(start + timedelta(days=day)).isoformat())
        committed(tasks.identity_sweep, at_noon(start + timedelta(days=day)).isoformat())  # the rerun sends nothing
        reminders_by_day[day] = sum("Reminder" in message.subject for message in mail.outbox[before:])

    assert reminders_by_day == {0: 0, 1: 0, 2: 1, 3: 0, 4: 0, 5: 1, 6: 0, 7: 0}
    assert len(mail.outbox) == 3  # the link and two reminders
    assert all(message.to == [EMAIL] for message in mail.outbox)
    request.refresh_from_db()
    assert request.status == "identity_pending"


def test_sweep_sends_a_link_that_was_lost(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)  # the enqueued task never ran

    first = committed(services.dsar_identity_sweep)
    second = committed(services.dsar_identity_sweep)

    assert (first["links"], second["links"]) == (1, 0)
    assert len(mail.outbox) == 1
    assert request.public_id in mail.outbox[0].subject


def test_gdpr_request_never_verified_is_closed_after_the_cutoff_with_the_art_12_4_notice(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)
    committed(tasks.send_verification_link, request.pk)
    request.refresh_from_db()
    cutoff = date.fromisoformat(request.deadlines["identity_cutoff"])

    on_cutoff = committed(tasks.identity_sweep, at_noon(cutoff).isoformat())
    request.refresh_from_db()
    assert on_cutoff["closed"] == 0
    assert request.status == "identity_pending"  # an answer on the cutoff date is still in time (A3: "by")

    after = committed(tasks.identity_sweep, at_noon(cutoff + timedelta(days=1)).isoformat())
    again = committed(tasks.identity_sweep, at_noon(cutoff + timedelta(days=1)).isoformat())

    request.refresh_from_db()
    assert (after["closed"], again["closed"]) == (1, 0)
    assert request.status == "rejected"
    assert "Unable to identify" in request.rejection_reason
    assert "Art. 12(4)" in request.rejection_reason
    assert "supervisory authority" in request.rejection_reason
    assert "judicial remedy" in request.rejection_reason
    last = request.transitions.order_by("-at", "-id").first()
    assert last is not None
    assert (last.to_status, last.actor) == ("rejected", services.IDENTITY_SWEEP_ACTOR)
    closures = [message for message in mail.outbox if "closed" in message.subject]
    assert len(closures) == 1
    assert closures[0].to == [EMAIL]
    assert "supervisory authority" in closures[0].body


def test_ccpa_request_never_verified_is_denied_from_day_45_with_the_appeal_notice(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks, jurisdiction="US-CA")
    request.refresh_from_db()
    day_45 = date.fromisoformat(request.deadlines["response_due"])
    assert request.deadlines["identity_cutoff"] is None  # CCPA: no pause, no cutoff

    before = committed(tasks.identity_sweep, at_noon(day_45 - timedelta(days=1)).isoformat())
    request.refresh_from_db()
    assert (before["closed"], request.status) == (0, "identity_pending")

    committed(tasks.identity_sweep, at_noon(day_45).isoformat())
    committed(tasks.identity_sweep, at_noon(day_45).isoformat())

    request.refresh_from_db()
    assert request.status == "rejected"
    assert "could not be verified" in request.rejection_reason
    assert "appeal" in request.rejection_reason
    assert RequestTransition.objects.filter(request=request, to_status="rejected").count() == 1
    assert sum("closed" in message.subject for message in mail.outbox) == 1


def test_requester_address_never_reaches_the_link_or_the_token(
    make_request: Callable[..., DataSubjectRequest], django_capture_on_commit_callbacks: Any
) -> None:
    request = pending(make_request, django_capture_on_commit_callbacks)
    committed(tasks.send_verification_link, request.pk)

    path = sent_link()

    assert EMAIL not in path
    assert "ada" not in path.lower()
