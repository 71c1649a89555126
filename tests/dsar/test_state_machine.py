"""The DSAR workflow: every legal transition is allowed and writes one history row, illegal ones change
nothing, stale writers lose the compare-and-set, and the one extension is refused when late or repeated."""

from __future__ import annotations

from datetime import timedelta
from itertools import product
from typing import Any

import pytest
from django.utils import timezone

from core.models import AuditLogEntry, Organization
from core.problems import DomainError, InvalidInput
from dsar import services
from dsar.deadlines import ExtensionNotice, SettingLayer, compute_deadlines
from dsar.enums import RequestStatus
from dsar.models import DataSubjectRequest, RequestTransition
from dsar.request_deadlines import request_today
from dsar.services import LEGAL_TRANSITIONS

STATUSES = list(RequestStatus.values)
LEGAL = [(a, b) for a, b in product(STATUSES, STATUSES) if b in LEGAL_TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in product(STATUSES, STATUSES) if b not in LEGAL_TRANSITIONS[a]]
# A path from intake to each status.
PATHS: dict[str, list[str]] = {
    "received": [],
    "identity_pending": ["identity_pending"],
    "verified": ["verified"],
    "in_progress": ["in_progress"],
    "awaiting_review": ["in_progress", "awaiting_review"],
    "completed": ["in_progress", "completed"],
    "rejected": ["rejected"],
}


def new_request(organization: Organization, **overrides: Any) -> DataSubjectRequest:
    values: dict[str, Any] = {"request_type": "access", "channel": "api", "actor": "test", "jurisdiction": "DE"}
    values.update(overrides)
    return services.dsar_create(organization=organization, **values)


def request_in(organization: Organization, status: str, **overrides: Any) -> DataSubjectRequest:
    request = new_request(organization, **overrides)
    for step in PATHS[status]:
        services.dsar_transition(request=request, to_status=step, actor="setup", reason="setup")
    assert request.status == status
    return request


def snapshot(request: DataSubjectRequest) -> tuple[Any, ...]:
    row = DataSubjectRequest.objects.get(pk=request.pk)
    return (
        row.status,
        row.rejection_reason,
        row.deadlines,
        row.due_on,
        row.is_extended,
        row.updated_at,
        RequestTransition.objects.filter(request=request).count(),
        AuditLogEntry.objects.count(),
    )


def test_the_workflow_names_every_status_and_ends_in_completed_or_rejected() -> None:
    assert set(LEGAL_TRANSITIONS) == set(STATUSES)
    assert LEGAL_TRANSITIONS["completed"] == LEGAL_TRANSITIONS["rejected"] == frozenset()
    assert all("rejected" in LEGAL_TRANSITIONS[status] for status in STATUSES if status not in services.FINAL_STATUSES)


@pytest.mark.parametrize(("from_status", "to_status"), LEGAL, ids=lambda s: s)
def test_every_legal_transition_is_allowed_and_writes_exactly_one_history_row(
    organization: Organization, from_status: str, to_status: str
) -> None:
    request = request_in(organization, from_status)
    steps = RequestTransition.objects.filter(request=request).count()

    services.dsar_transition(request=request, to_status=to_status, actor="agent:7", reason="because")

    row = DataSubjectRequest.objects.get(pk=request.pk)
    assert row.status == request.status == to_status
    assert RequestTransition.objects.filter(request=request).count() == steps + 1
    last = RequestTransition.objects.filter(request=request).last()
    assert last is not None
    assert (last.from_status, last.to_status, last.actor) == (from_status, to_status, "agent:7")
    if to_status == "rejected":  # a denial also states the person's remedies
        assert last.reason.startswith("because ")
        assert "Notice:" in last.reason
    else:
        assert last.reason == "because"
    assert row.due_on.isoformat() == row.deadlines["enforced_due"]
    assert AuditLogEntry.objects.filter(action="dsar.transitioned", object_id=request.public_id).exists()


@pytest.mark.parametrize(("from_status", "to_status"), ILLEGAL, ids=lambda s: s)
def test_every_illegal_transition_is_refused_and_changes_nothing(
    organization: Organization, from_status: str, to_status: str
) -> None:
    request = request_in(organization, from_status)
    before = snapshot(request)

    with pytest.raises(DomainError) as refused:
        services.dsar_transition(request=request, to_status=to_status, actor="agent:7", reason="because")

    assert (refused.value.status, refused.value.slug) == (409, "illegal-transition")
    assert snapshot(request) == before
    assert request.status == from_status


def test_an_unknown_status_is_invalid_input(organization: Organization) -> None:
    request = new_request(organization)

    with pytest.raises(InvalidInput):
        services.dsar_transition(request=request, to_status="archived", actor="agent:7")


def test_a_rejection_needs_a_reason_and_keeps_it(organization: Organization) -> None:
    request = new_request(organization)
    before = snapshot(request)

    with pytest.raises(InvalidInput):
        services.dsar_transition(request=request, to_status="rejected", actor="agent:7", reason="  ")
    assert snapshot(request) == before

    services.dsar_transition(request=request, to_status="rejected", actor="agent:7", reason="manifestly unfounded")
    stored = DataSubjectRequest.objects.get(pk=request.pk).rejection_reason
    assert stored.startswith("manifestly unfounded ")
    assert "Notice:" in stored


def test_a_stale_copy_loses_the_compare_and_set_and_writes_nothing(organization: Organization) -> None:
    request = new_request(organization)
    stale = DataSubjectRequest.objects.get(pk=request.pk)
    services.dsar_transition(request=request, to_status="verified", actor="agent:1")
    before = snapshot(request)

    with pytest.raises(DomainError) as refused:
        services.dsar_transition(request=stale, to_status="identity_pending", actor="agent:2")

    assert (refused.value.status, refused.value.slug) == (409, "status-changed")
    assert snapshot(request) == before


def test_completion_is_the_response_and_the_deadline_is_met(organization: Organization) -> None:
    request = request_in(organization, "completed")

    assert request.deadlines["status"] == "met"
    assert "response sent" in request.deadlines["rules"]["status"]


def test_identity_verification_is_recorded_as_a_pause_of_the_gdpr_clock(organization: Organization) -> None:
    request = request_in(organization, "identity_pending")

    assert request.deadlines["pause_applied"] is True
    assert request.deadlines["identity_cutoff"] is not None
    services.dsar_transition(request=request, to_status="verified", actor="agent:1")
    assert request.deadlines["identity_cutoff"] is None
    assert request.deadlines["paused_days"] == 0  # answered the same day


def test_extension_moves_the_due_date_once_and_a_second_is_refused(organization: Organization) -> None:
    request = request_in(organization, "in_progress")
    today = request_today(request)
    expected = compute_deadlines(
        regime="gdpr",
        request_type="access",
        received_at=request.received_at,
        settings=[SettingLayer("jurisdiction", time_zone="Europe/Berlin", calendar="EU-DE")],
        extension=ExtensionNotice(today, "volume"),
    )
    steps = RequestTransition.objects.filter(request=request).count()

    services.dsar_extend(request=request, reason_code="volume", notice_sent_on=today, actor="agent:1")

    row = DataSubjectRequest.objects.get(pk=request.pk)
    assert (row.is_extended, row.extension_reason_code, row.extension_notice_sent_on) == (True, "volume", today)
    assert row.due_on == expected.enforced_due == expected.extended_due
    assert row.deadlines == expected.to_dict()
    assert row.status == "in_progress"
    assert RequestTransition.objects.filter(request=request).count() == steps + 1
    before = snapshot(request)

    with pytest.raises(DomainError) as refused:
        services.dsar_extend(request=request, reason_code="complexity", notice_sent_on=today, actor="agent:1")

    assert (refused.value.status, refused.value.slug) == (409, "already-extended")
    assert snapshot(request) == before


def test_the_extension_survives_later_transitions(organization: Organization) -> None:
    request = request_in(organization, "in_progress")
    services.dsar_extend(request=request, reason_code="volume", notice_sent_on=request_today(request), actor="agent:1")
    extended = request.due_on

    services.dsar_transition(request=request, to_status="awaiting_review", actor="agent:1")

    assert request.due_on == extended
    assert request.deadlines["enforced_key"] == "extended_due"


def test_a_late_extension_notice_is_409_with_the_due_date_and_changes_nothing(organization: Organization) -> None:
    received = timezone.now() - timedelta(days=70)
    request = new_request(organization, channel="email", received_at=received)
    expected_due = compute_deadlines(
        regime="gdpr", request_type="access", received_at=received, tz="Europe/Berlin", calendar="EU-DE"
    ).extension_notice_due
    assert expected_due is not None
    before = snapshot(request)

    with pytest.raises(DomainError) as refused:
        services.dsar_extend(
            request=request, reason_code="complexity", notice_sent_on=request_today(request), actor="agent:1"
        )

    assert (refused.value.status, refused.value.slug) == (409, "extension-notice-late")
    assert refused.value.extra == {"code": "EXTENSION_NOTICE_LATE", "due": expected_due.isoformat()}
    assert snapshot(request) == before


def test_a_ccpa_opt_out_has_no_extension(organization: Organization) -> None:
    request = new_request(organization, jurisdiction="US-CA", request_type="opt_out_of_sale")
    before = snapshot(request)

    with pytest.raises(DomainError) as refused:
        services.dsar_extend(
            request=request, reason_code="volume", notice_sent_on=request_today(request), actor="agent:1"
        )

    assert (refused.value.status, refused.value.slug) == (422, "extension-not-available")
    assert snapshot(request) == before


@pytest.mark.parametrize("status", ["completed", "rejected"])
def test_a_closed_request_cannot_be_extended(organization: Organization, status: str) -> None:
    request = request_in(organization, status)

    with pytest.raises(DomainError) as refused:
        services.dsar_extend(
            request=request, reason_code="volume", notice_sent_on=request_today(request), actor="agent:1"
        )

    assert refused.value.status == 409


def test_an_unknown_extension_reason_or_a_future_notice_is_invalid(organization: Organization) -> None:
    request = new_request(organization)
    before = snapshot(request)

    with pytest.raises(InvalidInput):
        services.dsar_extend(request=request, reason_code="busy", notice_sent_on=request_today(request), actor="a")
    with pytest.raises(InvalidInput):
        services.dsar_extend(
            request=request, reason_code="volume", notice_sent_on=request_today(request) + timedelta(days=2), actor="a"
        )
    assert snapshot(request) == before


def test_the_database_refuses_a_second_completion(organization: Organization) -> None:
    from django.db import IntegrityError, transaction

    request = new_request(organization)
    for status in PATHS["completed"]:
        request = services.dsar_transition(request=request, to_status=status, actor="test")

    with pytest.raises(IntegrityError), transaction.atomic():
        RequestTransition.objects.create(
            request=request, actor="test", from_status="completed", to_status=RequestStatus.COMPLETED
        )
    assert RequestTransition.objects.filter(request=request, to_status=RequestStatus.COMPLETED).count() == 1
