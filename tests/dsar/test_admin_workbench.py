"""The legal team's workbench on one request (issue #14): finding subjects, consent events and requests by email
(blind index), external id and request id; the links between a subject and its requests; intake with a subject
chosen through the autocomplete; the request page's own buttons; the approve preview; messages to the requester;
the review and deadline-engine warnings. Django's test client as staff, on PostgreSQL."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from config.celery import app as celery_app
from consent import services as consent_services
from consent.enums import SourceKind
from consent.models import ConsentEvent, Purpose, Source, Subject
from consent.subject_ids import email_index
from core.crypto import normalize_email
from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from dsar import selectors, services
from dsar.models import DataSubjectRequest, RequestMessage
from dsar.problems import SubjectFixed
from tests.conftest import event_input

pytestmark = pytest.mark.django_db

EMAIL = "ada@example.com"
SUBJECTS = "/admin/consent/subject/"
EVENTS = "/admin/consent/consentevent/"
REQUESTS = "/admin/dsar/datasubjectrequest/"
AUTOCOMPLETE = f"{REQUESTS}subject-autocomplete/"


def page(request: DataSubjectRequest) -> str:
    return f"{REQUESTS}{request.pk}/change/"


def tool(request: DataSubjectRequest, name: str) -> str:
    return f"{REQUESTS}{request.pk}/tools/{name}/"


def listed(response: Any) -> list[Any]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def messages_of(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def staff(client: Client, django_user_model: Any, codenames: list[str], organizations: list[Organization]) -> Any:
    user = django_user_model.objects.create_user(username="limited", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    StaffOrganizationScope.objects.create(user=user).organizations.set(organizations)
    client.force_login(user)
    return user


@pytest.fixture
def ada(organization: Organization, source: Source, purpose: Purpose) -> Subject:
    """Ada in Acme's ledger (external id cust-1, her email sealed and blind-indexed), with one grant."""
    consent_services.consent_record(organization=organization, item=event_input(subject_email="Ada@Example.com"))
    return Subject.objects.get(organization=organization, external_id="cust-1")


@pytest.fixture
def twin(other_organization: Organization) -> Subject:
    """Someone in Globex's ledger with the same email (indexed under Globex's own key)."""
    consent_services.source_create(
        organization=other_organization, actor="test", key="web-signup", name="S", kind=SourceKind.WEB_FORM
    )
    consent_services.purpose_create(organization=other_organization, actor="test", key="marketing-email", name="M")
    consent_services.consent_record(
        organization=other_organization, item=event_input(subject_id="globex-9", subject_email=EMAIL)
    )
    return Subject.objects.get(organization=other_organization, external_id="globex-9")


def letter(organization: Organization, **overrides: Any) -> DataSubjectRequest:
    values: dict[str, Any] = {
        "organization": organization,
        "request_type": "access",
        "channel": "mail",
        "actor": "test",
        "jurisdiction": "DE",
        "requester": services.Requester(email="Requester@Example.org", name="Rhea Quest"),
    }
    return services.dsar_create(**(values | overrides))


# --- finding ---------------------------------------------------------------------------------------------------


def test_subjects_are_found_by_email_through_the_blind_index_only_exactly(
    admin_client: Client, ada: Subject, twin: Subject
) -> None:
    assert EMAIL not in ada.email_sealed  # nothing to search in clear: the index is what matches

    found = listed(admin_client.get(SUBJECTS, {"q": " ADA@example.com "}))
    near = listed(admin_client.get(SUBJECTS, {"q": "ada@example.co"}))

    assert {subject.pk for subject in found} == {ada.pk, twin.pk}  # each organization's own index
    assert near == []


def test_a_scoped_staff_user_finds_only_their_organizations_subject_by_email(
    client: Client, django_user_model: Any, organization: Organization, ada: Subject, twin: Subject
) -> None:
    staff(client, django_user_model, ["view_subject"], [organization])

    assert [subject.pk for subject in listed(client.get(SUBJECTS, {"q": EMAIL}))] == [ada.pk]


def test_subjects_are_found_by_external_id_and_by_the_id_of_a_request_about_them(
    admin_client: Client, organization: Organization, ada: Subject
) -> None:
    request = letter(organization, subject=ada)

    by_external_id = listed(admin_client.get(SUBJECTS, {"q": "cust-1"}))
    by_request_id = listed(admin_client.get(SUBJECTS, {"q": request.public_id.lower()}))

    assert [subject.pk for subject in by_external_id] == [ada.pk]
    assert [subject.pk for subject in by_request_id] == [ada.pk]


def test_consent_events_are_found_by_email_external_id_and_request_id(
    admin_client: Client, organization: Organization, ada: Subject, twin: Subject
) -> None:
    request = letter(organization, subject=ada)
    adas = set(ConsentEvent.objects.filter(subject=ada).values_list("pk", flat=True))

    by_email = {event.pk for event in listed(admin_client.get(EVENTS, {"q": EMAIL}))}
    by_external_id = {event.pk for event in listed(admin_client.get(EVENTS, {"q": "cust-1"}))}
    by_request_id = {event.pk for event in listed(admin_client.get(EVENTS, {"q": request.public_id}))}

    assert by_email == adas | set(ConsentEvent.objects.filter(subject=twin).values_list("pk", flat=True))
    assert by_external_id == adas
    assert by_request_id == adas


def test_requests_are_found_by_requester_email_subject_email_external_id_and_request_id(
    admin_client: Client, organization: Organization, ada: Subject
) -> None:
    by_requester = letter(organization)
    about_ada = letter(organization, requester=services.Requester(), subject=ada)
    letter(organization, requester=services.Requester(email="someone@else.org"))

    def found(term: str) -> set[int]:
        return {item.pk for item in listed(admin_client.get(REQUESTS, {"q": term}))}

    assert by_requester.requester_email_index == email_index(organization.pk, normalize_email("requester@example.org"))
    assert "example.org" not in by_requester.requester_email_sealed
    assert found("requester@EXAMPLE.org") == {by_requester.pk}
    assert found(EMAIL) == {about_ada.pk}  # through the linked subject's index
    assert found("cust-1") == {about_ada.pk}
    assert found(by_requester.public_id.lower()) == {by_requester.pk}


def test_reindexing_fills_the_requester_email_index_of_requests_filed_before_it_was_kept(
    admin_client: Client, organization: Organization
) -> None:
    older = letter(organization)
    DataSubjectRequest.objects.filter(pk=older.pk).update(requester_email_index="")  # as the migration leaves it
    assert listed(admin_client.get(REQUESTS, {"q": "requester@example.org"})) == []

    call_command("reindex_blind_indexes", stdout=io.StringIO())

    older.refresh_from_db()
    assert older.requester_email_index == email_index(organization.pk, "requester@example.org")
    assert [item.pk for item in listed(admin_client.get(REQUESTS, {"q": "requester@example.org"}))] == [older.pk]


# --- linking ---------------------------------------------------------------------------------------------------


def test_the_request_page_links_to_its_subject_and_the_subject_page_lists_its_requests(
    admin_client: Client, organization: Organization, ada: Subject
) -> None:
    linked = letter(organization, subject=ada)
    named = letter(organization, subject_external_id="cust-1")  # found by its external id at intake
    unrelated = letter(organization)

    request_page = admin_client.get(page(linked)).content.decode()
    subject_page = admin_client.get(f"{SUBJECTS}{ada.pk}/change/").content.decode()

    assert f'href="/admin/consent/subject/{ada.pk}/change/" id="dsar-subject-link"' in request_page
    assert named.subject_id == ada.pk
    assert 'id="subject-requests"' in subject_page
    for request in (linked, named):
        assert f'href="{page(request)}">{request.public_id}</a>' in subject_page
    assert unrelated.public_id not in subject_page


def test_the_subject_page_leaves_out_requests_for_staff_who_may_not_see_them(
    client: Client, django_user_model: Any, organization: Organization, ada: Subject
) -> None:
    letter(organization, subject=ada)
    staff(client, django_user_model, ["view_subject"], [organization])

    response = client.get(f"{SUBJECTS}{ada.pk}/change/")

    assert response.status_code == 200
    assert 'id="subject-requests"' not in response.content.decode()


def test_intake_in_the_admin_takes_a_subject_and_records_its_external_id(
    admin_client: Client, organization: Organization, ada: Subject
) -> None:
    add = admin_client.get(f"{REQUESTS}add/").content.decode()
    assert 'data-organization-field="id_organization"' in add
    assert "subject_autocomplete.js" in add

    response = admin_client.post(
        f"{REQUESTS}add/",
        {
            "organization": organization.pk,
            "type": "access",
            "jurisdiction": "DE",
            "channel": "mail",
            "received_at_0": (timezone.localdate() - timedelta(days=1)).isoformat(),
            "received_at_1": "08:00:00",
            "subject": ada.pk,
            "requester_email": "rhea@example.org",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    request = DataSubjectRequest.objects.get()
    assert (request.subject_id, request.subject_external_id, request.channel) == (ada.pk, "cust-1", "mail")


def test_intake_refuses_a_subject_of_another_organization(
    admin_client: Client, organization: Organization, twin: Subject
) -> None:
    response = admin_client.post(
        f"{REQUESTS}add/",
        {
            "organization": organization.pk,
            "type": "access",
            "jurisdiction": "DE",
            "channel": "mail",
            "subject": twin.pk,
        },
    )

    assert response.status_code == 200
    assert "subject" in response.context["adminform"].form.errors
    assert not DataSubjectRequest.objects.exists()


def test_the_subject_autocomplete_searches_the_requests_organization_only(
    admin_client: Client, organization: Organization, ada: Subject, twin: Subject
) -> None:
    def results(**params: Any) -> list[str]:
        query = {"app_label": "dsar", "model_name": "datasubjectrequest", "field_name": "subject", **params}
        response = admin_client.get(AUTOCOMPLETE, query)
        assert response.status_code == 200
        return [item["text"] for item in json.loads(response.content)["results"]]

    assert results(term=EMAIL, organization=organization.pk) == ["cust-1"]
    assert results(term=EMAIL, organization=twin.organization_id) == ["globex-9"]
    assert results(term="cust", organization=organization.pk) == ["cust-1"]
    assert results(term=EMAIL) == []  # no organization named: nothing


def test_the_autocomplete_shows_a_scoped_user_nothing_of_other_organizations(
    client: Client, django_user_model: Any, organization: Organization, ada: Subject, twin: Subject
) -> None:
    staff(client, django_user_model, ["view_subject", "view_datasubjectrequest"], [organization])
    query = {"app_label": "dsar", "model_name": "datasubjectrequest", "field_name": "subject", "term": EMAIL}

    response = client.get(AUTOCOMPLETE, {**query, "organization": twin.organization_id})

    assert json.loads(response.content)["results"] == []


def test_link_subject_shows_its_form_on_get_and_links_on_post_audited(
    admin_client: Client, organization: Organization, ada: Subject
) -> None:
    request = letter(organization)
    audit_before = AuditLogEntry.objects.count()

    form = admin_client.get(tool(request, "link_subject"))
    request.refresh_from_db()
    assert form.status_code == 200
    assert f'data-organization="{organization.pk}"' in form.content.decode()
    assert request.subject_id is None
    assert AuditLogEntry.objects.count() == audit_before

    response = admin_client.post(tool(request, "link_subject"), {"apply": "yes", "subject": ada.pk}, follow=True)

    request.refresh_from_db()
    assert (request.subject_id, request.subject_external_id) == (ada.pk, "cust-1")
    linked = AuditLogEntry.objects.get(action="dsar.subject_linked", object_id=request.public_id)
    assert linked.actor.startswith("user:")
    assert linked.data["subject"] == str(ada.uuid)
    assert any("linked to cust-1" in message for message in messages_of(response))


@pytest.mark.parametrize("status", ["in_progress", "rejected"])
def test_once_fulfilment_started_the_subject_stays(
    admin_client: Client, organization: Organization, ada: Subject, status: str
) -> None:
    """An export built or an erasure waiting for approval is for the subject it started with: relinking then would
    send one person's data, or erase another's."""
    request = letter(organization)
    if status == "rejected":
        services.dsar_transition(request=request, to_status="rejected", actor="test", reason="not ours")
    else:
        DataSubjectRequest.objects.filter(pk=request.pk).update(status=status)
        request.refresh_from_db()

    page_html = admin_client.get(page(request)).content.decode()
    response = admin_client.post(tool(request, "link_subject"), {"apply": "yes", "subject": ada.pk}, follow=True)

    request.refresh_from_db()
    assert tool(request, "link_subject") not in page_html
    assert request.subject_id is None
    assert not AuditLogEntry.objects.filter(action="dsar.subject_linked").exists()
    with pytest.raises(SubjectFixed):
        services.dsar_subject_link(request=request, subject=ada, actor="test")
    assert response.status_code in (200, 302, 403)


def test_unlinking_keeps_the_external_id_given_at_intake_and_the_audit_names_both(
    organization: Organization, ada: Subject
) -> None:
    request = letter(organization)
    services.dsar_subject_link(request=request, subject=ada, actor="test")

    services.dsar_subject_link(request=request, subject=None, actor="test")

    request.refresh_from_db()
    assert (request.subject_id, request.subject_external_id) == (None, "cust-1")
    unlinked = AuditLogEntry.objects.filter(action="dsar.subject_linked").order_by("-id").first()
    assert unlinked is not None
    assert (unlinked.data["subject"], unlinked.data["previous_subject_id"]) == (None, ada.pk)
    assert unlinked.data["previous_subject_external_id"] == "cust-1"


# --- the request page's buttons --------------------------------------------------------------------------------


def test_the_request_page_offers_the_buttons_its_status_allows(
    admin_client: Client, organization: Organization
) -> None:
    request = letter(organization)

    html = admin_client.get(page(request)).content.decode()

    for name in ("verify_requests", "extend_requests", "reject_requests", "assign_requests", "message_requester"):
        assert f'href="{tool(request, name)}"' in html
    assert tool(request, "approve_requests") not in html  # nothing to approve before it is carried out


def test_a_viewer_gets_no_buttons_and_the_tools_refuse_them(
    client: Client, django_user_model: Any, organization: Organization
) -> None:
    request = letter(organization)
    staff(client, django_user_model, ["view_datasubjectrequest"], [organization])

    html = client.get(page(request)).content.decode()

    assert "/tools/" not in html
    for name in ("verify_requests", "message_requester", "link_subject", "approve_requests"):
        assert client.get(tool(request, name)).status_code == 403
    assert client.post(tool(request, "reject_requests"), {"apply": "yes", "reason": "x"}).status_code == 403
    request.refresh_from_db()
    assert request.status == "received"


def test_the_tools_do_not_reach_another_organizations_request(
    client: Client, django_user_model: Any, organization: Organization, other_organization: Organization
) -> None:
    theirs = letter(other_organization)
    staff(client, django_user_model, ["view_datasubjectrequest", "change_datasubjectrequest"], [organization])

    assert client.get(tool(theirs, "verify_requests")).status_code == 404
    assert client.post(tool(theirs, "verify_requests"), {"apply": "yes", "note": "x"}).status_code == 404


def test_verify_and_reject_buttons_run_the_list_actions_forms_for_one_request(
    admin_client: Client, organization: Organization
) -> None:
    request = letter(organization)
    other = letter(organization)

    form = admin_client.get(tool(request, "verify_requests"))
    assert form.status_code == 200
    assert 'name="note"' in form.content.decode()
    verified = admin_client.post(tool(request, "verify_requests"), {"apply": "yes", "note": "ID seen"}, follow=True)

    request.refresh_from_db()
    other.refresh_from_db()
    assert verified.redirect_chain[-1][0] == page(request)
    assert request.transitions.filter(to_status="verified", reason__contains="ID seen").exists()
    assert other.status == "received"  # only the page's request

    admin_client.post(tool(other, "reject_requests"), {"apply": "yes", "reason": "not a customer"})
    other.refresh_from_db()
    assert other.status == "rejected"
    assert other.rejection_reason.startswith("not a customer")


def test_extend_and_assign_buttons(admin_client: Client, organization: Organization, admin_user: Any) -> None:
    request = letter(organization)
    due = request.due_on

    admin_client.post(
        tool(request, "extend_requests"),
        # The receipt date in the controller's zone (Europe/Berlin), which is not UTC's date every hour of the day.
        {"apply": "yes", "reason_code": "complexity", "notice_sent_on": request.deadlines["receipt_date"]},
    )
    admin_client.post(tool(request, "assign_requests"), {"apply": "yes", "assignee": admin_user.pk})

    request.refresh_from_db()
    assert request.is_extended
    assert request.due_on > due
    assert request.assignee_id == admin_user.pk


def test_send_a_message_goes_through_the_outbox_and_is_audited(
    admin_client: Client, organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    request = letter(organization)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            tool(request, "message_requester"),
            {"apply": "yes", "text": "Please send a copy of your ID card."},
            follow=True,
        )

    message = RequestMessage.objects.get(request=request, kind="staff")
    assert message.status == "sent"
    assert message.content_sealed == ""
    assert [m.to for m in mail.outbox] == [["Requester@Example.org"]]
    assert "Please send a copy of your ID card." in mail.outbox[0].body
    assert request.public_id in mail.outbox[0].subject
    written = AuditLogEntry.objects.get(action="dsar.message_written", object_id=request.public_id)
    assert written.actor.startswith("user:")
    assert written.data["sha256"] == message.sha256
    assert "ID card" not in json.dumps(written.data)
    assert any("Message queued" in text for text in messages_of(response))


def test_a_message_to_a_request_without_an_address_is_refused(admin_client: Client, organization: Organization) -> None:
    request = letter(organization, requester=services.Requester())

    response = admin_client.post(tool(request, "message_requester"), {"apply": "yes", "text": "Hello"}, follow=True)

    assert not RequestMessage.objects.filter(request=request).exists()
    assert any("no requester address" in text for text in messages_of(response))


# --- approval and warnings -------------------------------------------------------------------------------------


@pytest.fixture
def inline_tasks(settings: Any) -> Iterator[None]:
    """Celery runs the real tasks inline (eager): the fulfilment a worker would run happens in the test."""
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"
    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def carried_out(request: DataSubjectRequest, capture: Any) -> DataSubjectRequest:
    with capture(execute=True):
        services.dsar_identity_verify(request=request, actor="test", note="ID seen")
    request.refresh_from_db()
    assert request.status == "awaiting_review"
    return request


@pytest.mark.usefixtures("inline_tasks")
def test_approve_previews_the_export_and_its_masked_recipient_then_sends_the_link(
    admin_client: Client, organization: Organization, ada: Subject, django_capture_on_commit_callbacks: Any
) -> None:
    request = carried_out(letter(organization, subject=ada), django_capture_on_commit_callbacks)
    mail.outbox.clear()

    preview = admin_client.get(tool(request, "approve_requests"))
    html = preview.content.decode()

    request.refresh_from_db()
    assert request.status == "awaiting_review"
    assert mail.outbox == []
    assert "To: R***@Example.org" in html
    assert "Requester@Example.org" not in html
    for name in selectors.export_for_request(request).files:  # type: ignore[union-attr]
        assert f"<td>{name}</td>" in html
    assert "<td>consent records</td><td>1</td>" in html
    assert "confirm_warnings" not in html  # nothing to warn about

    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(tool(request, "approve_requests"), {"apply": "yes"})

    request.refresh_from_db()
    assert request.status == "completed"
    assert [m.to for m in mail.outbox] == [["Requester@Example.org"]]
    assert "/download/" in mail.outbox[0].body or "/exports/" in mail.outbox[0].body


@pytest.mark.usefixtures("inline_tasks")
def test_an_access_request_without_subject_stops_at_review_with_a_warning_and_needs_confirming(
    admin_client: Client, organization: Organization, django_capture_on_commit_callbacks: Any
) -> None:
    request = letter(organization)
    before = admin_client.get(page(request)).content.decode()
    assert "No subject is linked to this request" in before

    request = carried_out(request, django_capture_on_commit_callbacks)
    html = admin_client.get(page(request)).content.decode()

    assert 'id="dsar-review-warnings"' in html
    assert "The export is empty" in html
    assert request.transitions.filter(to_status="awaiting_review", reason__contains="EMPTY").exists()
    refused = admin_client.post(tool(request, "approve_requests"), {"apply": "yes"})
    request.refresh_from_db()
    assert refused.status_code == 200
    assert request.status == "awaiting_review"
    assert "Read the warnings and confirm them to approve." in refused.content.decode()

    admin_client.post(tool(request, "approve_requests"), {"apply": "yes", "confirm_warnings": "on"})
    request.refresh_from_db()
    assert request.status == "completed"


def test_approving_an_access_request_before_its_export_exists_warns_and_needs_confirming(
    admin_client: Client, organization: Organization, ada: Subject
) -> None:
    request = letter(organization, subject=ada)
    services.dsar_transition(request=request, to_status="in_progress", actor="test")  # moved by hand, no export

    preview = admin_client.get(tool(request, "approve_requests")).content.decode()
    refused = admin_client.post(tool(request, "approve_requests"), {"apply": "yes"})

    request.refresh_from_db()
    assert "No export has been built for this request yet" in preview
    assert refused.status_code == 200
    assert request.status == "in_progress"


@pytest.mark.usefixtures("inline_tasks")
def test_a_deletion_without_subject_stops_at_review_instead_of_completing(
    admin_client: Client, organization: Organization, django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.PROVENANT_DSAR_ERASURE_REVIEW = "legal"
    request = letter(organization, request_type="deletion", subject_external_id="nobody-7")
    with django_capture_on_commit_callbacks(execute=True):
        services.dsar_identity_verify(request=request, actor="test", note="ID seen")
    with django_capture_on_commit_callbacks(execute=True):
        services.dsar_erasure_approve(request=request, actor="test")

    request.refresh_from_db()
    html = admin_client.get(page(request)).content.decode()

    assert request.status == "awaiting_review"
    assert "No subject was found in the ledger" in html


def test_engine_warnings_show_on_the_page_as_the_api_returns_them(
    admin_client: Client, organization: Organization, api_client_for: Any
) -> None:
    request = letter(organization, received_at=timezone.now() - timedelta(days=12), channel="email")
    services.dsar_transition(request=request, to_status="identity_pending", actor="test")  # too late to pause
    api = api_client_for(organization, "dsar:read").get(f"/api/v1/dsar/{request.public_id}")
    warnings = api.json()["deadlines"]["warnings"]

    html = admin_client.get(page(request)).content.decode()

    assert any("later than the 5-day grace" in warning for warning in warnings)
    assert 'id="dsar-engine-warnings"' in html
    for warning in warnings:
        assert f'<li class="warning">{warning}</li>' in html
