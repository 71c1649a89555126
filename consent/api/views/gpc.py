"""Global Privacy Control signals, subject links, privacy status, solicitation and /.well-known/gpc.json."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent import selectors, services
from consent.api import serializers as s
from consent.api.views.base import ConsentApi, is_normal_subject_id
from consent.enums import GpcChannel
from core.api.schema import SUBJECT_ID, api_operation
from core.problems import InvalidInput, NotFound

# ------------------------------------------------------------------------------------------------
# Global Privacy Control, links, privacy status, solicitation
# ------------------------------------------------------------------------------------------------


class SignalCreateApi(ConsentApi):
    required_scopes = {"POST": "consent:write"}

    @api_operation(
        scope="consent:write",
        summary="Report a Global Privacy Control signal seen client-side",
        description="`navigator.globalPrivacyControl === true` reported by a front end or SDK. Where the "
        "signal binds in the subject's jurisdiction (or the organization honors it everywhere) Provenant "
        "records one opt-out event per covered purpose for the subject and every subject linked to it, and "
        "not again while they are already opted out by GPC. `gpc: false` records nothing: absence of a "
        "signal is never an opt-in.",
        request=s.SignalInputSerializer,
        responses={200: s.SignalOutputSerializer},
        problems={422: "Invalid fields, or no jurisdiction known for a new subject."},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.SignalInputSerializer, request.data)
        if not data["gpc"]:
            return Response(s.signal_representation(data["subject_id"], None) | {"gpc": False})
        outcome = services.gpc_signal_record(
            organization=self.organization,
            subject_id=data["subject_id"],
            channel=GpcChannel.JAVASCRIPT,
            jurisdiction=data.get("jurisdiction"),
            occurred_at=data.get("occurred_at"),
        )
        if outcome is None:
            raise InvalidInput(
                "The subject's jurisdiction is unknown: send it with the signal.",
                errors=[{"pointer": "/jurisdiction", "detail": "required for a subject never seen before"}],
            )
        return Response(s.signal_representation(data["subject_id"], outcome))


class SubjectLinksApi(ConsentApi):
    required_scopes = {"GET": "consent:read", "POST": "consent:write"}

    @api_operation(
        scope="consent:read",
        summary="Subjects known to be the same person",
        parameters=[SUBJECT_ID],
        responses={200: s.SubjectLinksOutputSerializer},
        problems={404: "No such subject in your organization."},
    )
    def get(self, request: Request, subject_id: str) -> Response:
        subject = self.subject_or_404(subject_id)
        linked = selectors.linked_subject_ids(organization=self.organization, subject=subject)
        return Response({"subject_id": subject.external_id, "linked_subjects": linked})

    @api_operation(
        scope="consent:write",
        summary="Link a pseudonymous subject (device, cookie) to another, e.g. the known person",
        description="A GPC signal applies to the device, every profile linked to it and, when known, the "
        "person (CCPA regs §7025(c)(1)): an opt-out already on record for one is carried to the others.",
        parameters=[SUBJECT_ID],
        request=s.SubjectLinkInputSerializer,
        responses={201: s.SubjectLinksOutputSerializer},
        problems={
            404: "The path's subject id is not a normal subject id.",
            422: "Invalid subject id, or a subject linked to itself.",
        },
    )
    def post(self, request: Request, subject_id: str) -> Response:
        if not is_normal_subject_id(subject_id):
            # A path id that is not a normal subject id names nobody (and is never created).
            raise NotFound("No subject with this id in your organization.")
        data = self.validated(s.SubjectLinkInputSerializer, request.data)
        cluster = services.subject_link(
            organization=self.organization,
            subject_id=subject_id,
            linked_subject_id=data["subject_id"],
            actor=self.client.actor,
        )
        return Response({"subject_id": subject_id, "linked_subjects": cluster}, status=status.HTTP_201_CREATED)


class PrivacyStatusApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="Whether a GPC signal was received and honored, for front ends to display",
        description="Since 1 January 2026 California requires showing whether the opt-out preference signal "
        "was processed (CCPA regs §7025(c)(6)); `display_text` is ready to show.",
        parameters=[SUBJECT_ID],
        responses={200: s.PrivacyStatusOutputSerializer},
        problems={404: "No such subject in your organization."},
    )
    def get(self, request: Request, subject_id: str) -> Response:
        subject = self.subject_or_404(subject_id)
        preview = self.gpc_signal_on_read(subject)
        status_ = selectors.privacy_status(organization=self.organization, subject=subject)
        return Response(s.privacy_status_representation(subject.external_id, status_, preview))


class SolicitationApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="Whether the person may be asked to opt in to a purpose now",
        description="After an opt-out of sale or sharing the person may not be asked to opt in again for "
        "12 months (Cal. Civ. Code §1798.135); `earliest` is the first date it may.",
        parameters=[SUBJECT_ID, OpenApiParameter("purpose", {"type": "string", "minLength": 1}, required=True)],
        responses={200: s.SolicitationOutputSerializer},
        problems={404: "No such subject in your organization.", 422: "Missing or unknown `purpose`."},
    )
    def get(self, request: Request, subject_id: str) -> Response:
        purpose_key = request.query_params.get("purpose")
        if not purpose_key:
            raise InvalidInput(
                "Name the purpose: ?purpose=<key>.", errors=[{"pointer": "?purpose", "detail": "required"}]
            )
        subject = self.subject_or_404(subject_id)
        states = selectors.consent_state_for_subject(
            organization=self.organization, subject=subject, purpose_key=purpose_key
        )
        if not states:
            raise InvalidInput(
                f"Unknown purpose '{purpose_key}'.", errors=[{"pointer": "?purpose", "detail": "unknown"}]
            )
        answer = selectors.solicitation(
            organization=self.organization, subject=subject, purpose_key=purpose_key, state=states[0]
        )
        return Response(
            {
                "subject_id": subject.external_id,
                "purpose": purpose_key,
                "may_solicit": answer.may_solicit,
                "earliest": answer.earliest.isoformat() if answer.earliest else None,
                "reason": answer.reason,
                "rule": answer.rule,
            }
        )


class GpcWellKnownView(APIView):
    """``/.well-known/gpc.json`` (GPC specification): public, no key."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="GPC support resource",
        description='`{"gpc": true, "lastUpdate": "YYYY-MM-DD"}` for the organization whose `site_domain` '
        "is the request's host (`lastUpdate` moves when its GPC settings change), else for the deployment.",
        responses={200: s.GpcWellKnownSerializer},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        last_update = selectors.gpc_last_update(host=request.get_host().split(":")[0].lower())
        response = Response({"gpc": True, "lastUpdate": last_update.isoformat()}, content_type="application/json")
        response["Cache-Control"] = "public, max-age=3600"
        return response


class UnsubscribeLinkApi(ConsentApi):
    """A capability to withdraw the subject's consent: minting one needs ``consent:write``."""

    required_scopes = {"GET": "consent:write"}

    @api_operation(
        scope="consent:write",
        summary="A signed unsubscribe link for the subject and purpose, with its email headers",
        description="For the emails you send the person: put `list_unsubscribe` in a `List-Unsubscribe` header and "
        "`list_unsubscribe_post` in `List-Unsubscribe-Post` (RFC 8058 one-click), and the `url` in the message. "
        "A POST of `List-Unsubscribe=One-Click` to the URL withdraws the consent (source `unsubscribe_link`, method "
        "`email`); a GET shows a page that asks to confirm. Replays change nothing. The link stays valid for "
        "PROVENANT_UNSUBSCRIBE_LINK_DAYS and carries no personal data. Nothing is stored by this call: it needs "
        "`consent:write` because the link can record a withdrawal.",
        parameters=[SUBJECT_ID, OpenApiParameter("purpose", {"type": "string", "minLength": 1}, required=True)],
        responses={200: s.UnsubscribeLinkOutputSerializer},
        problems={404: "No such subject in your organization.", 422: "Missing or unknown `purpose`."},
    )
    def get(self, request: Request, subject_id: str) -> Response:
        purpose_key = request.query_params.get("purpose")
        if not purpose_key:
            raise InvalidInput(
                "Name the purpose: ?purpose=<key>.", errors=[{"pointer": "?purpose", "detail": "required"}]
            )
        subject = self.subject_or_404(subject_id)
        purpose = selectors.purpose_by_key(organization=self.organization, key=purpose_key)
        if purpose is None:
            raise InvalidInput(
                f"Unknown purpose '{purpose_key}'.", errors=[{"pointer": "?purpose", "detail": "unknown"}]
            )
        link = selectors.unsubscribe_link(organization=self.organization, subject=subject, purpose=purpose)
        return Response(
            {
                "url": link.url,
                "list_unsubscribe": link.list_unsubscribe,
                "list_unsubscribe_post": link.list_unsubscribe_post,
            }
        )
