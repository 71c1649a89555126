"""Messages to the requester: each at its step and once (replayed steps, retried tasks, racing senders, a sender
that died between sending and recording), in the organization's wording when it has one and in German when the
request is German, recorded in the request's history with the template version and the digest of what was sent
(never the text); the admin's template pages (refusals on save, preview that sends nothing, reset, permissions);
and the export's cover letter."""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import zipfile
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.db import connections
from django.test import Client, TestCase
from django.utils import timezone, translation
from django.utils.formats import date_format
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source, Subject
from core.models import AuditLogEntry, Organization
from core.problems import InvalidInput
from dsar import services, tasks
from dsar.enums import MessageKind
from dsar.message_defaults import default_version_id
from dsar.models import DataSubjectRequest, MessageTemplate, RequestMessage, RequestTransition
from dsar.request_deadlines import request_today
from dsar.selectors import message_template_default
from provenance.enums import RecipientRole
from provenance.models import StampRecord
from provenance.services.recipients import recipient_create
from tests.conftest import event_input
from tests.dsar.downloads import EXPORT_LINK, api_path, download_by_page

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"
URL = re.compile(r"http://testserver(/\S+)")
TEMPLATES = "/admin/dsar/messagetemplate/"
OVERRIDE_BODY = (
    "Dear customer,\n\n{{ organization_name }} has your request {{ request_id }} and answers by "
    '{{ due_on|date:"Y-m-d" }}.\n\nAcme Privacy Desk'
)


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"
    settings.PROVENANT_DSAR_REMINDER_DAYS = "2,5"


def committed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a step as if its transaction committed: the messages it queued are delivered (after commit)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return call(*args, **kwargs)


def new_request(organization: Organization, request_type: str = "access", **kw: Any) -> DataSubjectRequest:
    defaults: dict[str, Any] = {"jurisdiction": "DE", "subject_external_id": "cust-1"}
    request: DataSubjectRequest = committed(
        services.dsar_create,
        organization=organization,
        request_type=request_type,
        channel="web_form",
        actor="test",
        requester=services.Requester(email=kw.pop("email", EMAIL), name="Ada Lovelace"),
        **{**defaults, **kw},
    )
    request.refresh_from_db()  # after commit the identity request moved it on
    return request


def sent(kind: str) -> list[Any]:
    """The emails of one kind (matched through the recorded Message-ID)."""
    ids = {
        f"<{public_id.lower()}@provenant.local>"
        for public_id in RequestMessage.objects.filter(kind=kind).values_list("public_id", flat=True)
    }
    return [message for message in mail.outbox if message.extra_headers.get("Message-ID") in ids]


def history(request: DataSubjectRequest) -> list[tuple[str, str]]:
    return list(RequestMessage.objects.filter(request=request).order_by("id").values_list("kind", "status"))


def sent_audits(request: DataSubjectRequest) -> list[str]:
    return sorted(
        AuditLogEntry.objects.filter(action="dsar.message_sent", object_id=request.public_id).values_list(
            "data__kind", flat=True
        )
    )


def digest(message: Any) -> str:
    return hashlib.sha256(f"{message.subject}\n{message.body}".encode()).hexdigest()


@pytest.fixture
def ledger(organization: Organization, source: Source, purpose: Purpose) -> Subject:
    """cust-1 granted marketing email (with evidence); the CRM received data about them once."""
    consent_services.consent_record(
        organization=organization,
        item=event_input(subject_email=EMAIL, ip_address="203.0.113.7", user_agent="Firefox/130"),
    )
    subject = Subject.objects.get(organization=organization, external_id="cust-1")
    recipient = recipient_create(
        organization=organization,
        actor="test",
        key="crm",
        name="CRM",
        role=RecipientRole.PROCESSOR,
        purposes=[purpose.key],
        data_categories=["contact"],
    )
    StampRecord.objects.create(
        stamp_id="01HZZZZZZZZZZZZZZZZZZZZZZZ",
        organization=organization,
        recipient=recipient,
        subject=subject,
        subject_external_id="cust-1",
        purposes=[purpose.key],
        decision="allow",
        data_digest="0" * 64,
    )
    return subject


# --- every message at its step, once ---------------------------------------------------------------------------------


def test_an_access_request_gets_each_message_at_its_step_exactly_once(
    organization: Organization, ledger: Subject
) -> None:
    # Deadlines in UTC: the extension notice's date (today) is never before the receipt date at any hour.
    services.deadline_settings_update(organization=organization, calendar="EU-DE", time_zone="UTC", actor="test")
    request = new_request(organization)  # intake: receipt; after commit the link task is enqueued
    committed(tasks.send_verification_link, request.pk)
    committed(tasks.send_verification_link, request.pk)  # a retried task
    start = request.transitions.get(to_status="identity_pending").at
    for _ in range(2):  # the sweep reruns
        committed(tasks.identity_sweep, (start + timedelta(days=2, hours=1)).isoformat())
    request.refresh_from_db()
    committed(
        services.dsar_extend,
        request=request,
        reason_code="complexity",
        notice_sent_on=request_today(request),
        actor="legal",
    )
    services.dsar_identity_verify(request=request, actor="legal", note="passport")
    services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    committed(services.dsar_transition, request=request, to_status="completed", actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)  # replayed: the request is completed, nothing runs
    committed(tasks.messages_sweep)
    committed(tasks.messages_sweep)

    kinds = ["receipt", "identity.link", "identity.reminder", "extension", "completion"]
    assert history(request) == [(kind, "sent") for kind in kinds]
    assert sorted(sent_audits(request)) == sorted(kinds)
    assert len(mail.outbox) == len(kinds)
    assert all(message.to == [EMAIL] for message in mail.outbox)
    assert all("Acme" in message.subject and "Acme" in message.body for message in mail.outbox)
    [receipt] = sent("receipt")
    assert request.public_id in receipt.body
    assert "confirmation link" in receipt.body
    assert "(GDPR)" in receipt.body
    [extension] = sent("extension")
    assert "your request is complex" in extension.body
    assert "GDPR Art. 12(3)" in extension.body
    assert f"{request.due_on.day} {request.due_on:%B %Y}" in extension.body  # the extended due date
    [completion] = sent("completion")
    assert "is ready" in completion.subject
    assert EXPORT_LINK.search(completion.body)
    assert "cover_letter.txt" in completion.body


def test_the_history_keeps_the_template_version_and_the_digest_of_what_was_sent_never_the_text(
    organization: Organization, ledger: Subject
) -> None:
    request = new_request(organization)
    services.dsar_identity_verify(request=request, actor="legal", note="passport")
    services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    committed(services.dsar_transition, request=request, to_status="completed", actor="legal")

    [completion] = sent("completion")
    row = RequestMessage.objects.get(request=request, kind="completion")
    assert row.sha256 == digest(completion)
    assert row.template_version == default_version_id("completion", "en")
    assert row.content_sealed == ""  # the link is a credential: wiped once sent
    link = EXPORT_LINK.search(completion.body)
    assert link is not None
    stored = json.dumps(list(AuditLogEntry.objects.values_list("data", flat=True)))
    stored += json.dumps(list(RequestMessage.objects.values()), default=str)
    assert link.group(1) not in stored
    assert EMAIL not in stored


def test_a_deletion_completion_says_what_was_erased_and_a_denial_gives_reasons_and_remedies(
    organization: Organization, ledger: Subject
) -> None:
    deletion = new_request(organization, "deletion")
    services.dsar_identity_verify(request=deletion, actor="legal", note="passport")
    services.dsar_fulfil_start(request=deletion, actor="legal")
    services.dsar_erasure_approve(request=deletion, actor="legal")
    committed(services.dsar_fulfil_run, request_id=deletion.pk)
    committed(services.dsar_fulfil_run, request_id=deletion.pk)  # replayed
    refused = new_request(organization, subject_external_id="cust-2")
    committed(
        services.dsar_transition,
        request=refused,
        to_status="rejected",
        actor="legal",
        reason="The account belongs to someone else.",
        notify_requester=True,
    )

    deletion.refresh_from_db()
    assert deletion.status == "completed"
    [completion] = sent("completion")
    assert "is complete" in completion.subject
    assert "your profile and consent records at Acme (crypto-shredded)" in completion.body
    assert RequestMessage.objects.filter(request=deletion, kind="completion").count() == 1
    [denial] = sent("denial")
    assert "The account belongs to someone else." in denial.body
    assert "supervisory authority" in denial.body
    assert "judicial remedy" in denial.body
    assert history(refused) == [("receipt", "sent"), ("denial", "sent")]


def test_an_organizations_override_is_used_and_each_edit_is_a_new_version(
    organization: Organization, other_organization: Organization
) -> None:
    template = services.message_template_save(
        organization=organization,
        kind="receipt",
        language="en",
        subject="Got it: {{ request_id }} ({{ organization_name }})",
        body_text=OVERRIDE_BODY,
        actor="legal",
    )
    first = new_request(organization)
    theirs = new_request(other_organization)
    services.message_template_save(
        organization=organization,
        kind="receipt",
        language="en",
        subject="Received: {{ request_id }} ({{ organization_name }})",
        body_text=OVERRIDE_BODY,
        actor="legal",
    )
    second = new_request(organization, subject_external_id="cust-2")
    services.message_template_reset(template=template, actor="legal")
    third = new_request(organization, subject_external_id="cust-3")

    versions = dict(RequestMessage.objects.filter(kind="receipt").values_list("request__public_id", "template_version"))
    assert versions[first.public_id] == f"override:{template.pk}:v1"
    assert versions[second.public_id] == f"override:{template.pk}:v2"
    assert versions[theirs.public_id] == versions[third.public_id] == default_version_id("receipt", "en")
    subjects = {message.extra_headers["Message-ID"]: message.subject for message in mail.outbox}
    by_request = {
        row.request.public_id: subjects[f"<{row.public_id.lower()}@provenant.local>"]
        for row in RequestMessage.objects.filter(kind="receipt").select_related("request")
    }
    assert by_request[first.public_id] == f"Got it: {first.public_id} (Acme)"
    assert by_request[second.public_id] == f"Received: {second.public_id} (Acme)"
    assert "received your privacy request" in by_request[third.public_id]
    assert "Globex received your privacy request" in by_request[theirs.public_id]
    template.refresh_from_db()
    assert (template.version, template.is_active) == (3, False)
    assert AuditLogEntry.objects.filter(action="dsar.message_template_changed").count() == 2
    assert AuditLogEntry.objects.filter(action="dsar.message_template_reset").count() == 1


@pytest.mark.parametrize(
    ("language", "expected"),
    [("de", "hat Ihre Datenschutzanfrage"), ("de-AT", "hat Ihre Datenschutzanfrage"), ("fr", "received your")],
)
def test_messages_go_out_in_the_requesters_language_with_english_as_the_fallback(
    organization: Organization, language: str, expected: str
) -> None:
    request = new_request(organization, language=language)
    committed(tasks.send_verification_link, request.pk)

    assert expected in mail.outbox[0].subject
    if language.startswith("de"):
        received = date.fromisoformat(request.deadlines["receipt_date"])
        with translation.override("de"):
            assert f"am {date_format(received, 'j. F Y')} erhalten" in mail.outbox[0].body  # German month names
        assert "Guten Tag" in mail.outbox[0].body
        assert "Bitte bestätigen Sie" in mail.outbox[1].subject
    assert set(RequestMessage.objects.values_list("language", flat=True)) == {"de" if language != "fr" else "en"}


def test_a_german_override_is_used_for_german_requests_only(organization: Organization) -> None:
    services.message_template_save(
        organization=organization,
        kind="receipt",
        language="de",
        subject="Eingang {{ request_id }} bei {{ organization_name }}",
        body_text=OVERRIDE_BODY,
        actor="legal",
    )
    german = new_request(organization, language="de")
    english = new_request(organization, subject_external_id="cust-2", language="en")

    subjects = [message.subject for message in mail.outbox]
    assert f"Eingang {german.public_id} bei Acme" in subjects
    assert any(english.public_id in subject and "received" in subject for subject in subjects)


def test_an_unknown_language_tag_is_refused_and_nothing_is_recorded(organization: Organization) -> None:
    with pytest.raises(InvalidInput):
        new_request(organization, language="<script>")
    assert not DataSubjectRequest.objects.exists()
    assert mail.outbox == []


def test_the_api_takes_the_language_and_shows_the_messages(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    client = api_client_for(organization, "dsar:read", "dsar:write")
    with TestCase.captureOnCommitCallbacks(execute=True):
        created = client.post(
            "/api/v1/dsar",
            {"type": "access", "jurisdiction": "US-CA", "requester": {"email": EMAIL}, "language": "de"},
            format="json",
        )
    bad = client.post("/api/v1/dsar", {"type": "access", "jurisdiction": "DE", "language": "not a tag!"}, format="json")

    assert created.status_code == 201, created.content
    detail = client.get(f"/api/v1/dsar/{created.json()['id']}").json()
    assert detail["language"] == "de"
    receipt = detail["messages"][0]
    assert (receipt["kind"], receipt["status"], receipt["language"]) == ("receipt", "sent", "de")
    assert receipt["sha256"] == digest(mail.outbox[0])
    # CCPA regs §7021(a): the confirmation says by when receipt must be confirmed (10 business days).
    confirm_by = date.fromisoformat(detail["deadlines"]["confirm_legal_due"])
    with translation.override("de"):
        assert f"Eingang bis zum {date_format(confirm_by, 'j. F Y')} bestätigen" in mail.outbox[0].body
    assert bad.status_code == 422
    assert bad["Content-Type"].startswith("application/problem+json")


# --- the outbox: retries, races, crashes ------------------------------------------------------------------------------


def test_a_failing_mail_server_leaves_the_message_pending_and_the_sweep_sends_it_later(
    organization: Organization, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # nothing listens
    request = new_request(organization)
    row = RequestMessage.objects.get(request=request)
    assert (row.status, row.attempts, row.last_error) == ("pending", 1, "ConnectionRefusedError")
    assert row.content_sealed, "kept (sealed) until it is sent"
    assert not sent_audits(request)

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    later = (row.next_attempt_at + timedelta(seconds=1)).isoformat()
    committed(tasks.messages_sweep, later)
    committed(tasks.messages_sweep, later)

    row.refresh_from_db()
    assert (row.status, row.attempts, row.content_sealed) == ("sent", 2, "")
    assert len(mail.outbox) == 1
    assert sent_audits(request) == ["receipt"]


def test_a_sender_that_died_after_sending_is_replaced_after_its_lease_with_the_same_message_id(
    organization: Organization,
) -> None:
    """The crash window SMTP leaves: sent, not recorded. After the lease the sweep sends again, under the same
    Message-ID (so the mail system drops the copy); the history still holds one message and one audit row."""
    request = services.dsar_create(  # the receipt is queued; its delivery after commit never happens here
        organization=organization,
        request_type="access",
        channel="web_form",
        actor="test",
        jurisdiction="DE",
        requester=services.Requester(email=EMAIL),
    )
    row = RequestMessage.objects.get(request=request)
    now = timezone.now()
    RequestMessage.objects.filter(pk=row.pk).update(
        status="sending", attempts=1, claimed_until=now + timedelta(minutes=5)
    )

    committed(tasks.messages_sweep, now.isoformat())  # the lease still runs: nobody else sends
    assert mail.outbox == []
    committed(tasks.messages_sweep, (now + timedelta(minutes=6)).isoformat())
    committed(tasks.messages_sweep, (now + timedelta(minutes=7)).isoformat())

    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert [message.extra_headers["Message-ID"] for message in mail.outbox] == [
        f"<{row.public_id.lower()}@provenant.local>"
    ]
    assert sent_audits(request) == ["receipt"]


@pytest.mark.django_db(transaction=True)
def test_racing_senders_send_a_pending_message_exactly_once(organization: Organization, settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2  # the first try fails
    request = services.dsar_create(
        organization=organization,
        request_type="access",
        channel="web_form",
        actor="test",
        jurisdiction="DE",
        requester=services.Requester(email=EMAIL),
    )
    row = RequestMessage.objects.get(request=request, kind="receipt")
    assert row.status == "pending"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    due = row.next_attempt_at + timedelta(seconds=1)
    results: list[bool] = []
    barrier = threading.Barrier(4)

    def sender() -> None:
        try:
            barrier.wait()
            results.append(services.message_deliver(message_id=row.pk, now=due))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sender) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == [False, False, False, True]
    assert len(mail.outbox) == 1
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)
    assert sent_audits(request) == ["receipt"]


# --- what a scanner may open --------------------------------------------------------------------------------------


def world(request: DataSubjectRequest) -> tuple[Any, ...]:
    request.refresh_from_db()
    return (
        request.status,
        request.due_on,
        RequestTransition.objects.count(),
        sorted(RequestMessage.objects.values_list("kind", "status", "attempts")),
        AuditLogEntry.objects.count(),
        list(request.fulfilment_steps.values_list("step", "status")),
    )


def test_a_scanner_opening_the_verification_links_in_any_message_changes_nothing(
    organization: Organization,
) -> None:
    request = new_request(organization)
    committed(tasks.send_verification_link, request.pk)
    start = request.transitions.get(to_status="identity_pending").at
    committed(tasks.identity_sweep, (start + timedelta(days=2, hours=1)).isoformat())
    links = {match.group(1) for message in mail.outbox for match in URL.finditer(message.body)}
    assert links, "the link and the reminder each carry a signed verification link"
    assert all(link.startswith(f"/privacy/{organization.slug}/verify/") for link in links)  # the page
    before = world(request)

    for link in links:
        for method in ("head", "get"):
            with TestCase.captureOnCommitCallbacks(execute=True):
                response = getattr(Client(), method)(link)
            assert response.status_code == 200

    assert world(request) == before
    assert request.status == "identity_pending"


def test_a_scanner_opening_the_download_link_in_the_completion_message_changes_nothing(
    organization: Organization, ledger: Subject
) -> None:
    request = new_request(organization)
    services.dsar_identity_verify(request=request, actor="legal", note="passport")
    services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    committed(services.dsar_transition, request=request, to_status="completed", actor="legal")
    [completion] = sent("completion")
    link = EXPORT_LINK.search(completion.body)
    assert link is not None
    before = world(request)

    for method in ("head", "get"):
        getattr(Client(), method)(link.group(1))
        getattr(Client(), method)(api_path(link.group(1)), follow=True)

    assert world(request) == before


# --- the cover letter -------------------------------------------------------------------------------------------


def test_the_export_carries_a_cover_letter_with_what_art_15_requires_as_text_and_json(
    organization: Organization, ledger: Subject, purpose: Purpose
) -> None:
    consent_services.purpose_create(
        organization=organization,
        actor="test",
        key="billing",
        name="Billing",
        legal_basis="contract",
        description="Invoices for what you bought.",
    )
    Purpose.objects.filter(pk=purpose.pk).update(  # what the privacy center states for the purpose
        retention="Two years after your last order", recipient_categories="Email service providers\nAnalytics"
    )
    request = new_request(organization)
    services.dsar_identity_verify(request=request, actor="legal", note="passport")
    services.dsar_fulfil_start(request=request, actor="legal")
    services.dsar_fulfil_run(request_id=request.pk)
    request.refresh_from_db()
    committed(services.dsar_transition, request=request, to_status="completed", actor="legal")
    [completion] = sent("completion")
    link = EXPORT_LINK.search(completion.body)
    assert link is not None
    archive = zipfile.ZipFile(io.BytesIO(download_by_page(link.group(1)).content))

    letter = json.loads(archive.read("cover_letter.json"))
    text = archive.read("cover_letter.txt").decode()

    assert {"cover_letter.txt", "cover_letter.json"} <= set(json.loads(archive.read("manifest.json"))["files"])
    assert letter["organization"] == "Acme"
    assert letter["request_id"] == request.public_id
    purposes = {p["key"]: p for p in letter["purposes"]}
    assert purposes["marketing-email"]["legal_basis"] == "consent"
    assert purposes["marketing-email"]["in_your_records"] is True
    assert purposes["billing"]["legal_basis"] == "contract"
    assert purposes["billing"]["in_your_records"] is False, "applies without a consent record"
    assert purposes["billing"]["retention"] is None
    assert purposes["billing"]["retention_note"] == "not recorded in our catalog"
    assert purposes["marketing-email"]["retention"] == "Two years after your last order"
    assert purposes["marketing-email"]["retention_note"] is None
    assert purposes["marketing-email"]["recipient_categories"] == ["Email service providers", "Analytics"]
    assert letter["retention"]["per_purpose"] == {"marketing-email": "Two years after your last order"}
    [crm] = letter["recipients"]
    assert (crm["name"], crm["role"], crm["purposes"], crm["received_your_data"]) == (
        "CRM",
        "processor",
        ["marketing-email"],
        True,
    )
    assert {"category": "contact", "where": "declared for recipient CRM"} in letter["categories_of_personal_data"]
    assert any("consent records" in c["category"] for c in letter["categories_of_personal_data"])
    [signup] = letter["sources"]
    assert (signup["key"], signup["kind"], signup["collected_from_you"]) == ("web-signup", "web_form", True)
    assert {right["right"] for right in letter["rights"]} >= {
        "rectification",
        "erasure",
        "restriction",
        "objection",
        "complaint",
    }
    assert letter["automated_decision_making"] == {"recorded": False, "note": "not recorded in our catalog"}
    assert letter["third_country_transfers"]["recorded"] is False
    assert letter["retention"]["this_archive_deleted_after_days"] == 30
    for phrase in (
        "Marketing email (marketing-email): Consent",
        "Billing (billing): Contract",
        "applies without a consent record",
        "CRM: Processor",
        "received data about you",
        "Signup form (web_form, collected from you)",
        "Lodge a complaint with a supervisory authority.",
        "Automated decision-making",
        "Transfers to third countries",
        "Not recorded in our catalog: retention period or criteria of: billing",
        "Marketing email: Two years after your last order",
        "Billing: not recorded in our catalog",
        "Categories of recipients: Analytics, Email service providers",
    ):
        assert phrase in text, phrase


# --- the admin: templates, preview, reset, permissions ---------------------------------------------------------------


def staff(django_user_model: Any, client: Client, *codenames: str) -> Any:
    user = django_user_model.objects.create_user(username="legal", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return user


def template_form(organization: Organization, **overrides: str) -> dict[str, Any]:
    return {
        "organization": organization.pk,
        "kind": "completion",
        "language": "en",
        "subject": "Done: {{ request_id }}",
        "body_text": "{{ organization_name }}: {% if download_url %}{{ download_url }}{% endif %}",
        "body_html": "",
        **overrides,
    }


@pytest.mark.parametrize(
    ("field", "source", "reason"),
    [
        ("body_text", "{% load static %}{{ organization_name }} {{ download_url }}", "Template error"),
        ("body_text", "{% include 'x.html' %}{{ organization_name }} {{ download_url }}", "Template error"),
        ("body_text", "{% debug %}{{ organization_name }} {{ download_url }}", "Template error"),
        ("body_text", "{{ organization_name }} {{ download_url|safe }}", "Template error"),
        ("body_text", "{% autoescape off %}{{ organization_name }}{{ download_url }}{% endautoescape %}", "Template"),
        ("body_text", "{{ organization_name }} {{ download_url }} {{ settings.SECRET_KEY }}", "unknown variable"),
        ("body_text", "{{ organization_name }} and nothing else", "download_url"),
        ("body_text", "{% for c in 'aaaa' %}{{ c }}{% endfor %}{{ organization_name }}{{ download_url }}", "loop"),
        ("body_text", "{{ organization_name }} {% if download_url %}{{ download_url }}", "Template error"),
        ("subject", "{{ request_id|date:'' }}{% url 'admin:index' %}", "Template error"),
    ],
)
def test_a_broken_or_unsafe_template_is_refused_on_save_with_a_clear_error(
    admin_client: Client, organization: Organization, field: str, source: str, reason: str
) -> None:
    response = admin_client.post(f"{TEMPLATES}add/", template_form(organization, **{field: source}))

    assert response.status_code == 200
    page = response.content.decode()
    assert "errorlist" in page
    assert reason in page
    assert not MessageTemplate.objects.exists()
    with pytest.raises(InvalidInput):
        services.message_template_save(
            organization=organization, kind="completion", language="en", subject="x", body_text=source, actor="t"
        ) if field == "body_text" else services.message_template_save(
            organization=organization,
            kind="completion",
            language="en",
            subject=source,
            body_text="{{ organization_name }} {{ download_url }}",
            actor="t",
        )


def test_the_html_part_is_autoescaped(organization: Organization) -> None:
    Organization.objects.filter(pk=organization.pk).update(name='Acme <script>alert("x")</script>')
    organization.refresh_from_db()
    services.message_template_save(
        organization=organization,
        kind="receipt",
        language="en",
        subject="{{ organization_name }}",
        body_text="{{ organization_name }} {{ request_id }}",
        body_html="<p>{{ organization_name }} {{ request_id }}</p>",
        actor="legal",
    )
    new_request(organization)

    html, kind = mail.outbox[0].alternatives[0]
    assert kind == "text/html"
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert '<script>alert("x")</script>' in mail.outbox[0].body  # the text part is text
    row = RequestMessage.objects.get()
    expected = f"{mail.outbox[0].subject}\n{mail.outbox[0].body}\n{html}"
    assert row.sha256 == hashlib.sha256(expected.encode()).hexdigest()


def test_staff_with_the_permission_override_preview_and_reset_and_the_preview_sends_nothing(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    staff(django_user_model, client, "view_messagetemplate", "add_messagetemplate", "change_messagetemplate")
    start = client.get(f"{TEMPLATES}add/?kind=receipt&language=de")
    added = client.post(
        f"{TEMPLATES}add/",
        template_form(organization, kind="receipt", subject="Eingang {{ request_id }}", body_text=OVERRIDE_BODY),
    )
    template = MessageTemplate.objects.get()
    before = (AuditLogEntry.objects.count(), RequestMessage.objects.count(), len(mail.outbox))
    preview = client.get(f"{TEMPLATES}{template.pk}/preview/")
    defaults = client.get(f"{TEMPLATES}defaults/")
    after_preview = (AuditLogEntry.objects.count(), RequestMessage.objects.count(), len(mail.outbox))
    reset_by_get = client.get(f"{TEMPLATES}{template.pk}/reset/")
    reset = client.post(f"{TEMPLATES}{template.pk}/reset/")

    assert start.status_code == 200
    assert "hat Ihre Datenschutzanfrage" in start.content.decode(), "a new override starts from the default"
    assert added.status_code == 302, added.content.decode()[:3000]
    assert preview.status_code == 200
    assert "Eingang 01SAMPLE0REQUEST000000000" in preview.content.decode()
    assert "Acme has your request 01SAMPLE0REQUEST000000000 and answers by 2026-04-07" in preview.content.decode()
    assert "nothing was sent" in preview.content.decode()
    assert defaults.status_code == 200
    assert "Closure as unverifiable (de)" in defaults.content.decode()
    assert after_preview == before, "the preview writes and sends nothing"
    assert reset_by_get.status_code == 405
    assert reset.status_code == 302
    template.refresh_from_db()
    assert (template.is_active, template.version) == (False, 2)


def test_a_view_only_staff_user_can_read_and_preview_but_not_change_or_reset_templates(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    template = services.message_template_save(
        organization=organization,
        kind="receipt",
        language="en",
        subject="x {{ request_id }}",
        body_text=OVERRIDE_BODY,
        actor="legal",
    )
    staff(django_user_model, client, "view_messagetemplate")
    before = (list(MessageTemplate.objects.values()), AuditLogEntry.objects.count())

    listing = client.get(TEMPLATES)
    page = client.get(f"{TEMPLATES}{template.pk}/change/")
    preview = client.get(f"{TEMPLATES}{template.pk}/preview/")
    changed = client.post(f"{TEMPLATES}{template.pk}/change/", template_form(organization, kind="receipt"))
    added = client.post(f"{TEMPLATES}add/", template_form(organization, language="de"))
    reset = client.post(f"{TEMPLATES}{template.pk}/reset/")

    assert listing.status_code == 200
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "Reset to the default" not in page.content.decode()
    assert preview.status_code == 200
    assert "Reset to the default" not in preview.content.decode()
    assert (changed.status_code, added.status_code, reset.status_code) == (403, 403, 403)
    assert (list(MessageTemplate.objects.values()), AuditLogEntry.objects.count()) == before


@pytest.mark.parametrize("language", ["en", "de"])
def test_every_default_is_accepted_as_an_override_as_it_is(organization: Organization, language: str) -> None:
    """What the admin's "Override" button starts from passes the checks on save, loops and all."""
    for kind in MessageKind.values:
        source = message_template_default(kind=kind, language=language).source
        template = services.message_template_save(
            organization=organization,
            kind=kind,
            language=language,
            subject=source.subject,
            body_text=source.body_text,
            actor="legal",
        )
        assert template.version == 1
