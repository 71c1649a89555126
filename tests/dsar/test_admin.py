"""The DSAR admin queue, driven through Django's test client as a staff superuser on PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone

from core.models import AuditLogEntry, Organization, StaffOrganizationScope
from core.staff_roles import DSAR_OPERATOR
from dsar import services
from dsar.admin import countdown_level
from dsar.models import DataSubjectRequest, RequestTransition
from dsar.request_deadlines import request_today

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/dsar/datasubjectrequest/"
ADD = f"{CHANGELIST}add/"
CHANGELIST_MAX_QUERIES = 10


def _messages(response: Any) -> list[str]:
    return [str(message) for message in response.context["messages"]] if response.context else []


def _listed(response: Any) -> list[DataSubjectRequest]:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def _action(admin_client: Client, action: str, pks: list[int], **extra: str) -> Any:
    return admin_client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0", **extra},
        follow=True,
    )


def _ccpa(organization: Organization, days_ago: int, request_type: str = "access") -> DataSubjectRequest:
    """A CCPA request received ``days_ago`` days ago: due 45 calendar days after receipt, not rolled."""
    return services.dsar_create(
        organization=organization,
        request_type=request_type,
        channel="email",
        actor="test",
        regime="ccpa",
        received_at=timezone.now() - timedelta(days=days_ago),
        requester=services.Requester(email="ada@example.com", name="Ada Lovelace"),
    )


@pytest.fixture
def queue(organization: Organization) -> dict[str, DataSubjectRequest]:
    """Overdue (red), due within three days (orange), on track (green) and a completed deletion (GDPR)."""
    done = services.dsar_create(
        organization=organization, request_type="deletion", channel="api", actor="test", jurisdiction="DE"
    )
    services.dsar_transition(request=done, to_status="in_progress", actor="test")
    services.dsar_transition(request=done, to_status="completed", actor="test")
    return {
        "green": _ccpa(organization, 1),
        "red": _ccpa(organization, 50),
        "orange": _ccpa(organization, 43),
        "done": done,
    }


# --- the queue -------------------------------------------------------------------------------------------------


def test_queue_lists_the_nearest_due_date_first(admin_client: Client, queue: dict[str, DataSubjectRequest]) -> None:
    listed = _listed(admin_client.get(CHANGELIST))

    assert [item.pk for item in listed] == [
        item.pk for item in sorted(queue.values(), key=lambda item: (item.due_on, item.pk))
    ]
    assert listed[0].pk == queue["red"].pk


def test_countdown_is_red_when_overdue_orange_within_three_days_green_otherwise(
    admin_client: Client, queue: dict[str, DataSubjectRequest]
) -> None:
    page = admin_client.get(CHANGELIST).content.decode()

    assert page.count("dsar-countdown dsar-overdue") == 1
    assert page.count("dsar-countdown dsar-due_soon") == 1
    assert page.count("dsar-countdown dsar-on_track") == 1
    assert "days overdue" in page
    assert (countdown_level(-1), countdown_level(0), countdown_level(3), countdown_level(4)) == (
        "overdue",
        "due_soon",
        "due_soon",
        "on_track",
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status__exact=completed", {"done"}),
        ("type__exact=deletion", {"done"}),
        ("regime__exact=ccpa", {"green", "red", "orange"}),
        ("overdue=yes", {"red"}),
        ("overdue=no", {"green", "orange", "done"}),
    ],
)
def test_filters_by_status_type_regime_and_overdue(
    admin_client: Client, queue: dict[str, DataSubjectRequest], query: str, expected: set[str]
) -> None:
    listed = {item.pk for item in _listed(admin_client.get(f"{CHANGELIST}?{query}"))}

    assert listed == {queue[name].pk for name in expected}


def test_changelist_makes_no_query_per_row(
    admin_client: Client, organization: Organization, django_assert_max_num_queries: Any
) -> None:
    for days in range(12):
        _ccpa(organization, days)

    with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES):
        assert len(_listed(admin_client.get(CHANGELIST))) == 12


# --- the request page ------------------------------------------------------------------------------------------


def test_request_page_shows_the_contact_masked_every_deadline_rule_and_the_audit_trail(
    admin_client: Client, admin_user: Any, queue: dict[str, DataSubjectRequest]
) -> None:
    request = queue["green"]
    services.dsar_transition(request=request, to_status="in_progress", actor=f"user:{admin_user.pk}")

    page = admin_client.get(f"{CHANGELIST}{request.pk}/change/").content.decode()

    assert "a***@example.com" in page
    assert "A*** L***" in page
    assert "ada@example.com" not in page
    assert "Ada Lovelace" not in page
    assert 'id="dsar-deadlines"' in page
    for key, rule in request.deadlines["rules"].items():
        if request.deadlines.get(key) and key not in ("receipt_date", "enforced_due"):
            assert key in page
            assert rule.split(";")[0] in page
    actors = re.findall(r'class="field-actor_name">\s*<p>([^<]*)</p>', page)
    assert actors == ["test", admin_user.username]  # the audit trail names its actors
    assert f"user:{admin_user.pk}" not in page
    assert "Response due" in page  # deadlines by name, their keys beside them
    assert "In progress" in page
    assert "audit trail" in page.lower()


def test_request_page_is_view_only(admin_client: Client, queue: dict[str, DataSubjectRequest]) -> None:
    request = queue["green"]

    response = admin_client.post(f"{CHANGELIST}{request.pk}/change/", {"status": "completed"})

    assert response.status_code == 403
    request.refresh_from_db()
    assert request.status == "received"


# --- actions ---------------------------------------------------------------------------------------------------


def test_extend_asks_for_a_reason_and_notice_date_first(
    admin_client: Client, queue: dict[str, DataSubjectRequest]
) -> None:
    request = queue["green"]

    asked = _action(admin_client, "extend_requests", [request.pk])
    refused = _action(admin_client, "extend_requests", [request.pk], apply="yes", notice_sent_on="")

    assert "admin/dsar/datasubjectrequest/action_form.html" in [t.name for t in asked.templates]
    assert refused.context["form"].errors.keys() == {"reason_code", "notice_sent_on"}
    request.refresh_from_db()
    assert not request.is_extended
    assert RequestTransition.objects.filter(request=request).count() == 1


def test_extend_form_proposes_today_where_the_deadlines_are_counted_not_the_servers_utc_date(
    admin_client: Client, organization: Organization, other_organization: Organization
) -> None:
    """The notice date proposed is the request's own today (UTC's date falls, near midnight, before a receipt date
    counted in Berlin or after today in California); for requests whose todays differ, none is proposed. Two zones
    25 hours apart always have different dates, whatever the hour of the test."""
    ahead, behind = (
        services.dsar_create(
            organization=owner, request_type="access", channel="api", actor="test", regime="ccpa", jurisdiction=""
        )
        for owner in (organization, other_organization)
    )
    for request, zone in ((ahead, "Pacific/Kiritimati"), (behind, "Pacific/Pago_Pago")):  # UTC+14, UTC-11
        request.deadlines = {**request.deadlines, "time_zone": zone}
        request.save(update_fields=["deadlines"])
    assert request_today(ahead) != request_today(behind)

    for request in (ahead, behind):
        proposed = _action(admin_client, "extend_requests", [request.pk]).context["form"].initial["notice_sent_on"]
        assert proposed == request_today(request)
    both = _action(admin_client, "extend_requests", [ahead.pk, behind.pk])
    assert both.context["form"].initial["notice_sent_on"] is None


def test_extend_with_reason_writes_a_transition_through_the_service(
    admin_client: Client, admin_user: Any, queue: dict[str, DataSubjectRequest]
) -> None:
    request = queue["green"]
    before = request.due_on
    today = request_today(request)

    response = _action(
        admin_client,
        "extend_requests",
        [request.pk],
        apply="yes",
        reason_code="complexity",
        notice_sent_on=today.isoformat(),
    )

    assert response.status_code == 200
    request.refresh_from_db()
    assert (request.is_extended, request.extension_reason_code, request.extension_notice_sent_on) == (
        True,
        "complexity",
        today,
    )
    assert request.due_on == before + timedelta(days=45)
    step = RequestTransition.objects.filter(request=request).latest("at", "id")
    assert (step.from_status, step.to_status, step.actor) == ("received", "received", f"user:{admin_user.pk}")
    assert "complexity" in step.reason
    assert AuditLogEntry.objects.filter(action="dsar.extended", object_id=request.public_id).count() == 1


def test_extending_twice_is_reported_not_a_500(admin_client: Client, queue: dict[str, DataSubjectRequest]) -> None:
    request = queue["green"]
    today = request_today(request).isoformat()
    _action(admin_client, "extend_requests", [request.pk], apply="yes", reason_code="volume", notice_sent_on=today)

    again = _action(
        admin_client, "extend_requests", [request.pk], apply="yes", reason_code="volume", notice_sent_on=today
    )

    assert any("extended already" in message for message in _messages(again))
    assert RequestTransition.objects.filter(request=request).count() == 2


def test_reject_needs_a_reason(admin_client: Client, queue: dict[str, DataSubjectRequest]) -> None:
    request = queue["green"]

    asked = _action(admin_client, "reject_requests", [request.pk])
    refused = _action(admin_client, "reject_requests", [request.pk], apply="yes", reason="   ")

    assert "admin/dsar/datasubjectrequest/action_form.html" in [t.name for t in asked.templates]
    assert "reason" in refused.context["form"].errors
    request.refresh_from_db()
    assert request.status == "received"
    assert RequestTransition.objects.filter(request=request).count() == 1


def test_reject_with_reason_writes_the_transition(admin_client: Client, queue: dict[str, DataSubjectRequest]) -> None:
    request = queue["green"]

    _action(admin_client, "reject_requests", [request.pk], apply="yes", reason="Manifestly unfounded")

    request.refresh_from_db()
    assert request.status == "rejected"
    assert request.rejection_reason.startswith("Manifestly unfounded ")
    assert "Notice:" in request.rejection_reason  # the person's remedies are added
    step = RequestTransition.objects.filter(request=request).latest("at", "id")
    assert (step.from_status, step.to_status, step.reason) == ("received", "rejected", request.rejection_reason)


def test_approve_completes_open_work_and_reports_illegal_moves(
    admin_client: Client, queue: dict[str, DataSubjectRequest]
) -> None:
    working, fresh = queue["orange"], queue["green"]
    services.dsar_transition(request=working, to_status="in_progress", actor="test")

    preview = _action(admin_client, "approve_requests", [working.pk, fresh.pk])
    assert preview.status_code == 200
    assert 'id="preview-' in preview.content.decode()
    response = _action(admin_client, "approve_requests", [working.pk, fresh.pk], apply="yes", confirm_warnings="on")

    working.refresh_from_db()
    fresh.refresh_from_db()
    assert (working.status, fresh.status) == ("completed", "received")
    assert any(fresh.public_id in message and "cannot move" in message for message in _messages(response))
    assert any("1 request(s) now completed" in message for message in _messages(response))


def test_actions_need_the_change_permission(
    client: Client, django_user_model: Any, queue: dict[str, DataSubjectRequest]
) -> None:
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename="view_datasubjectrequest"))
    client.force_login(viewer)

    response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert "reject_requests" not in response.content.decode()


# --- intake ----------------------------------------------------------------------------------------------------


def test_add_form_creates_the_request_through_the_service(admin_client: Client, organization: Organization) -> None:
    received = timezone.localtime() - timedelta(days=2)

    response = admin_client.post(
        ADD,
        {
            "organization": str(organization.pk),
            "type": "access",
            "jurisdiction": "de",
            "regime": "",
            "channel": "mail",
            "received_at_0": received.date().isoformat(),
            "received_at_1": received.strftime("%H:%M:%S"),
            "requester_email": "grace@example.com",
            "requester_name": "Grace Hopper",
            "_save": "Save",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    created = DataSubjectRequest.objects.get()
    assert (created.regime, created.jurisdiction, created.channel, created.status) == ("gdpr", "DE", "mail", "received")
    assert timezone.localtime(created.received_at).date() == received.date()
    assert created.requester_email_sealed
    assert "grace" not in created.requester_email_sealed
    assert list(created.transitions.values_list("from_status", "to_status")) == [("", "received")]
    assert AuditLogEntry.objects.filter(action="dsar.received", object_id=created.public_id).count() == 1


def test_add_form_shows_the_services_refusal_and_creates_nothing(
    admin_client: Client, organization: Organization
) -> None:
    response = admin_client.post(
        ADD,
        {
            "organization": str(organization.pk),
            "type": "access",
            "jurisdiction": "DE",
            "regime": "",
            "channel": "api",
            "received_at_0": timezone.localdate().isoformat(),
            "received_at_1": "00:00:00",
            "_save": "Save",
        },
    )

    assert response.status_code == 200
    assert "received_at" in response.context["adminform"].form.errors
    assert DataSubjectRequest.objects.count() == 0


def test_verify_needs_a_note_then_verifies_through_the_service(
    admin_client: Client, queue: dict[str, DataSubjectRequest]
) -> None:
    request, closed = queue["green"], queue["done"]

    refused = _action(admin_client, "verify_requests", [request.pk], apply="yes", note=" ")
    request.refresh_from_db()
    assert "note" in refused.context["form"].errors
    assert request.status == "received"

    response = _action(admin_client, "verify_requests", [request.pk, closed.pk], apply="yes", note="Passport seen")

    request.refresh_from_db()
    assert request.status == "verified"
    step = RequestTransition.objects.filter(request=request).latest("at", "id")
    assert (step.from_status, step.to_status, step.reason) == ("received", "verified", "Passport seen")
    closed.refresh_from_db()
    assert closed.status == "completed"  # verified or later already: left as it is
    assert any("Verified 1 request(s)" in message for message in _messages(response))


def test_assign_hands_requests_to_a_staff_member_and_is_audited(
    admin_client: Client, queue: dict[str, DataSubjectRequest], django_user_model: Any
) -> None:
    lawyer = django_user_model.objects.create_user("lawyer", password="x", is_staff=True)
    lawyer.groups.add(Group.objects.get(name=DSAR_OPERATOR))
    request = next(iter(queue.values()))

    _action(admin_client, "assign_requests", [request.pk], apply="yes", assignee=str(lawyer.pk))

    request.refresh_from_db()
    assert request.assignee == lawyer
    assert AuditLogEntry.objects.filter(action="dsar.assigned", object_id=request.public_id).count() == 1
    # Unassigning (empty choice) is allowed too.
    _action(admin_client, "assign_requests", [request.pk], apply="yes", assignee="")
    request.refresh_from_db()
    assert request.assignee is None


def test_only_staff_who_may_work_the_request_and_see_its_organization_are_offered(
    admin_client: Client,
    queue: dict[str, DataSubjectRequest],
    django_user_model: Any,
    other_organization: Organization,
) -> None:
    request = queue["green"]
    operator = django_user_model.objects.create_user("operator", password="x", is_staff=True, first_name="Olga")
    operator.groups.add(Group.objects.get(name=DSAR_OPERATOR))
    elsewhere = django_user_model.objects.create_user("elsewhere", password="x", is_staff=True)
    elsewhere.groups.add(Group.objects.get(name=DSAR_OPERATOR))
    StaffOrganizationScope.objects.create(user=elsewhere).organizations.set([other_organization])
    bystander = django_user_model.objects.create_user("bystander", password="x", is_staff=True)

    form = _action(admin_client, "assign_requests", [request.pk]).content.decode()
    refused = _action(admin_client, "assign_requests", [request.pk], apply="yes", assignee=str(elsewhere.pk))

    assert f'value="{operator.pk}">Olga<' in form
    assert f'value="{elsewhere.pk}"' not in form  # cannot see the request's organization
    assert f'value="{bystander.pk}"' not in form  # may not work requests
    request.refresh_from_db()
    assert request.assignee is None
    assert refused.status_code == 200
    assert "Select a valid choice" in refused.content.decode()


def test_only_staff_can_be_assigned(queue: dict[str, DataSubjectRequest], django_user_model: Any) -> None:
    from core.problems import InvalidInput
    from dsar.services import dsar_assign

    outsider = django_user_model.objects.create_user("outsider", password="x", is_staff=False)
    request = next(iter(queue.values()))
    with pytest.raises(InvalidInput):
        dsar_assign(request=request, assignee=outsider, actor="test")
    request.refresh_from_db()
    assert request.assignee is None
