"""The DSAR workflow API: integrations move a request the way legal does in the admin, through the same services.

Each operation answers the request as ``GET /api/v1/dsar/{id}`` does, read again after the move, so the caller
sees the status, the recomputed deadlines and the history row it added.
"""

from __future__ import annotations

from typing import Final

from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api.fields import BoundedDateField, StrictCharField, StrictSerializer
from core.api.schema import api_operation
from core.api.views import OrganizationApi
from core.problems import NotFound
from dsar import selectors, services
from dsar.api import serializers as s
from dsar.deadlines import EXTENSION_REASON_CODES
from dsar.enums import RequestStatus
from dsar.models import DataSubjectRequest

# The moves legal makes by hand in the admin (approve, reject) and the way back from review. The other statuses
# are the system's: received (intake), identity_pending (the verification link), verified (POST .../verify),
# awaiting_review (the fulfilment run) and in_progress from verified or received (POST .../fulfil).
MANUAL_STATUSES: Final = (RequestStatus.COMPLETED, RequestStatus.REJECTED, RequestStatus.IN_PROGRESS)
# in_progress by hand only back from review: from anywhere else it is a fulfilment start, with its steps.
MANUAL_IN_PROGRESS_FROM: Final = frozenset({RequestStatus.AWAITING_REVIEW})
NOT_FOUND_DETAIL: Final = "No data-subject request with this id in your organization."

# --- input -----------------------------------------------------------------------------------------------------


class DsarVerifyInputSerializer(StrictSerializer):
    note = StrictCharField(
        max_length=2000,
        help_text="How the identity was verified (documents seen, call-back); kept in the request's history.",
    )
    method = serializers.ChoiceField(
        choices=["manual"],
        required=False,
        default="manual",
        help_text="Recorded in the audit log; `link` is reserved for the requester's signed link.",
    )


class DsarFulfilInputSerializer(StrictSerializer):
    requested_change = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="Correction requests: the change the person asks for; stored sealed, never answered.",
    )


class DsarExtendInputSerializer(StrictSerializer):
    reason_code = serializers.ChoiceField(
        choices=sorted(EXTENSION_REASON_CODES), help_text="Why the request needs the extension."
    )
    notice_sent_on = BoundedDateField(help_text="The day the requester was told of the extension and why.")


class DsarTransitionInputSerializer(StrictSerializer):
    to_status = serializers.ChoiceField(
        choices=list(MANUAL_STATUSES),
        help_text="completed (approve), rejected (with a reason) or in_progress (back from awaiting_review).",
    )
    reason = StrictCharField(
        required=False,
        allow_blank=True,
        max_length=5000,
        help_text="Kept in the history; required for rejected (it is sent to the requester with their remedies).",
    )
    expected_status = serializers.ChoiceField(
        choices=RequestStatus.choices,
        required=False,
        help_text="Compare-and-set: the move happens only while the request is in this status.",
    )


# --- views -----------------------------------------------------------------------------------------------------


class DsarWorkflowApi(OrganizationApi):
    """Base: the caller's request (404 for another organization's) and the answer after the move."""

    required_scopes = {"POST": "dsar:write"}

    def dsar_or_404(self, request_id: str) -> DataSubjectRequest:
        found = selectors.dsar_for_organization(organization=self.organization, public_id=request_id)
        if found is None:
            raise NotFound(NOT_FOUND_DETAIL)
        return found

    def answer(self, request_id: str) -> Response:
        """Read again after the move: the service's instance holds the history prefetched before it."""
        return Response(s.dsar_representation(self.dsar_or_404(request_id)))


class DsarVerifyApi(DsarWorkflowApi):
    @api_operation(
        scope="dsar:write",
        summary="Record the requester's identity as verified by hand",
        description="received or identity_pending -> verified, with the note in the history (it resumes a GDPR "
        "clock paused for the identity request). As with the signed link, a verified request is then carried out "
        "automatically after commit, so the answer may already show in_progress. A request verified already "
        "(or further along) is answered as it is and nothing is written.",
        request=DsarVerifyInputSerializer,
        responses={200: s.DsarDetailOutputSerializer},
        problems={
            400: "Malformed JSON.",
            404: "No such request in your organization (`not-found`).",
            409: "The request is rejected (`request-closed`), or its status changed meanwhile (`status-changed`).",
            422: "Invalid fields (`validation-error`): a blank note, an unknown method.",
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        data = self.validated(DsarVerifyInputSerializer, request.data)
        dsar = self.dsar_or_404(request_id)
        services.dsar_identity_verify(request=dsar, actor=self.client.actor, note=data["note"], method=data["method"])
        return self.answer(request_id)


class DsarFulfilApi(DsarWorkflowApi):
    @api_operation(
        scope="dsar:write",
        summary="Start carrying the request out",
        description="verified -> in_progress (an opt-out of sale or limit-sensitive request also from received: it "
        "needs no verification), with the request type's steps recorded; the work is enqueued after commit. "
        "The body is optional.",
        request=DsarFulfilInputSerializer,
        responses={200: s.DsarDetailOutputSerializer},
        problems={
            400: "Malformed JSON.",
            404: "No such request in your organization (`not-found`).",
            409: "Not ready (`fulfilment-not-ready`, with `status_now`): verify the identity first, or the request "
            "was started or closed already; or its status changed meanwhile (`status-changed`).",
            422: "Invalid fields (`validation-error`).",
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        data = self.validated(DsarFulfilInputSerializer, request.data)
        dsar = self.dsar_or_404(request_id)
        services.dsar_fulfil_start(
            request=dsar, actor=self.client.actor, requested_change=data.get("requested_change") or ""
        )
        return self.answer(request_id)


class DsarExtendApi(DsarWorkflowApi):
    @api_operation(
        scope="dsar:write",
        summary="Extend the request's deadline once",
        description="GDPR Art. 12(3), Civ. Code §1798.130 and the US state laws allow one extension, noticed to the "
        "requester in time with its reason. Recorded as a history row from the status to itself; the enforced due "
        "date moves.",
        request=DsarExtendInputSerializer,
        responses={200: s.DsarDetailOutputSerializer},
        problems={
            400: "Malformed JSON.",
            404: "No such request in your organization (`not-found`).",
            409: "Extended already (`already-extended`), the notice went out after the date the law allows "
            "(`extension-notice-late`, code `EXTENSION_NOTICE_LATE`, with `due`), the request is completed or "
            "rejected (`request-closed`), or it changed meanwhile (`status-changed`).",
            422: "Invalid fields (`validation-error`: unknown reason code, notice date in the future), or no "
            "extension for this regime or request type (`extension-not-available`).",
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        data = self.validated(DsarExtendInputSerializer, request.data)
        dsar = self.dsar_or_404(request_id)
        services.dsar_extend(
            request=dsar,
            reason_code=data["reason_code"],
            notice_sent_on=data["notice_sent_on"],
            actor=self.client.actor,
        )
        return self.answer(request_id)


class DsarTransitionApi(DsarWorkflowApi):
    @api_operation(
        scope="dsar:write",
        summary="Approve, reject, or send back from review",
        description="The moves legal makes by hand in the admin: `completed` (approve), `rejected` (needs a "
        "`reason`; the requester is emailed the rejection with their remedies, as from the admin) and "
        "`in_progress` only from `awaiting_review` (more work after review). The other statuses are set by the "
        "system and refused here: `received` (intake), `identity_pending` (the verification link is sent), "
        "`verified` (use `POST /dsar/{id}/verify`), `awaiting_review` (the fulfilment run) and `in_progress` from "
        "`verified` or `received` (use `POST /dsar/{id}/fulfil`, which records and enqueues the steps). "
        "`expected_status` makes the move a compare-and-set: when the request is in another status, nothing "
        "changes and the answer is 409 `status-changed` with `status_now`.",
        request=DsarTransitionInputSerializer,
        responses={200: s.DsarDetailOutputSerializer},
        problems={
            400: "Malformed JSON.",
            404: "No such request in your organization (`not-found`).",
            409: "The workflow does not allow the move (`illegal-transition`, with `from_status` and `to_status`), "
            "or the request is not in `expected_status` or changed meanwhile (`status-changed`).",
            422: "Invalid fields (`validation-error`): a status not settable here, a rejection without a reason.",
        },
    )
    def post(self, request: Request, request_id: str) -> Response:
        data = self.validated(DsarTransitionInputSerializer, request.data)
        dsar = self.dsar_or_404(request_id)
        to_status = data["to_status"]
        if to_status == RequestStatus.IN_PROGRESS and dsar.status not in MANUAL_IN_PROGRESS_FROM:
            raise services.IllegalTransition(
                f"A request in status {dsar.status} is not moved to in_progress by hand; "
                f"start its fulfilment with POST /api/v1/dsar/{dsar.public_id}/fulfil.",
                from_status=dsar.status,
                to_status=to_status,
            )
        # The service checks expected_status against the status read above, and its compare-and-set holds it
        # until the write.
        services.dsar_transition(
            request=dsar,
            to_status=to_status,
            actor=self.client.actor,
            reason=data.get("reason") or "",
            notify_requester=to_status == RequestStatus.REJECTED,
            expected_status=data.get("expected_status"),
        )
        return self.answer(request_id)
