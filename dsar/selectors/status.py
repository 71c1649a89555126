"""What a request's status page shows through its signed link: the steps (received, verified, due, completed or
closed) and dates, never the requester's contact, the subject's data or a rejection's wording."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo

from django.utils import timezone

from core.models import Organization
from core.selectors import privacy_center_base_url
from dsar.enums import NO_VERIFICATION_NEEDED, VERIFIED_OR_LATER, RequestStatus
from dsar.models import DataSubjectRequest, RequestTransition
from dsar.problems import StatusLinkInvalid
from dsar.request_deadlines import deadline_zone
from dsar.status_links import public_id_from_status_token


def privacy_center_url(organization: Organization) -> str:
    """The root of the organization's privacy center as links we send name it (its own host when it has one,
    else PROVENANT_PUBLIC_BASE_URL; never a request's Host header)."""
    return f"{privacy_center_base_url(organization)}/privacy/{organization.slug}"


@dataclass(frozen=True)
class RequestStatusView:
    organization: Organization
    public_id: str
    request_type: str
    regime: str
    status: str
    received_on: date
    needs_verification: bool
    is_verified: bool
    verified_on: date | None
    due_on: date
    is_extended: bool
    completed_on: date | None
    closed_on: date | None


def _first_day(transitions: list[RequestTransition], to_status: str, zone: tzinfo) -> date | None:
    found = next((step for step in transitions if step.to_status == to_status and step.from_status != to_status), None)
    return timezone.localdate(found.at, zone) if found is not None else None


def request_status_of_link(token: str) -> RequestStatusView:
    """The status of the request a status link names; StatusLinkInvalid (400) or StatusLinkExpired (410)
    otherwise. Reads only."""
    request = (
        DataSubjectRequest.objects.select_related("organization")
        .filter(public_id=public_id_from_status_token(token))
        .first()
    )
    if request is None:
        raise StatusLinkInvalid("This status link is not valid.")
    transitions = list(RequestTransition.objects.filter(request=request).order_by("at", "id"))
    receipt = request.deadlines.get("receipt_date") if isinstance(request.deadlines, dict) else None
    zone = deadline_zone(request.deadlines)
    return RequestStatusView(
        organization=request.organization,
        public_id=request.public_id,
        request_type=request.type,
        regime=request.regime,
        status=request.status,
        received_on=date.fromisoformat(receipt) if receipt else timezone.localdate(request.received_at, zone),
        needs_verification=request.type not in NO_VERIFICATION_NEEDED,
        is_verified=request.status in VERIFIED_OR_LATER and request.type not in NO_VERIFICATION_NEEDED,
        verified_on=_first_day(transitions, RequestStatus.VERIFIED, zone),
        due_on=request.due_on,
        is_extended=request.is_extended,
        completed_on=_first_day(transitions, RequestStatus.COMPLETED, zone),
        closed_on=_first_day(transitions, RequestStatus.REJECTED, zone),
    )
