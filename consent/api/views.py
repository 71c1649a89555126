"""Consent API: thin views that validate, call one service or selector, and render."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Any, cast

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent import selectors, services
from consent.api import serializers as s
from consent.catalog import organization_catalog
from consent.models import ConsentEvent, Purpose, Source, Subject
from core.api.schema import api_operation
from core.authentication import ApiClient
from core.models import Organization
from core.problems import InvalidInput, NotFound

IDEMPOTENCY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description="A retry with the same key and body returns the first response and creates nothing; "
    "the same key with another body answers 409.",
)
SUBJECT_ID = OpenApiParameter("subject_id", OpenApiTypes.STR, OpenApiParameter.PATH)


class OrganizationApi(APIView):
    """Base: the caller's organization scopes every query."""

    required_scopes: dict[str, str] = {}

    @property
    def client(self) -> ApiClient:
        return self.request.user  # type: ignore[return-value]

    @property
    def organization(self) -> Organization:
        return self.client.organization

    def validated(self, serializer_class: type, data: Any, **kwargs: Any) -> Any:
        serializer = serializer_class(data=data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def honor_gpc_header(self, subject_id: str, *, jurisdiction: str | None = None) -> services.GpcOutcome | None:
        """The call is made on the person's behalf: a ``Sec-GPC: 1`` it carries is their signal."""
        if not getattr(self.request, "gpc", False):
            return None
        return services.gpc_signal_record(
            organization=self.organization,
            subject_id=subject_id,
            channel="header",
            raw_value=getattr(self.request, "gpc_raw", None) or "1",
            jurisdiction=jurisdiction,
        )

    def subject_or_404(self, subject_id: str) -> Subject:
        subject = selectors.subject_by_external_id(organization=self.organization, external_id=subject_id)
        if subject is None:
            raise NotFound("No subject with this id in your organization.", subject_id=subject_id)
        return subject


def _parse_instant(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = parse_datetime(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(
            f"'{name}' must be an RFC 3339 date-time with offset.",
            errors=[{"pointer": f"?{name}", "detail": "expected e.g. 2026-05-01T12:00:00Z"}],
        )
    return parsed


# ------------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------------


class ConsentEventCreateApi(OrganizationApi):
    required_scopes = {"POST": "consent:write"}

    @api_operation(
        scope="consent:write",
        summary="Record one consent event",
        description="Appends a grant, refusal, withdrawal or invalidation to the subject's hash-chained "
        "ledger and returns the event with the purpose's new state.",
        request=s.ConsentEventInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: OpenApiResponse(
                s.ConsentEventCreatedSerializer,
                description="Appended; an idempotent replay answers the same body with `Idempotent-Replayed: true`.",
            )
        },
        problems={
            400: "Malformed JSON (`malformed-request`).",
            409: "Idempotency key reused with another body (`idempotency-key-reused`).",
            413: "Body too large (`payload-too-large`).",
            422: "Invalid fields (`validation-error`), unknown source (`unknown-source`, lists "
            "`known_sources`), or occurred_at too far ahead (`occurred-at-in-future`).",
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.ConsentEventInputSerializer, request.data)
        if data.get("idempotency_key"):
            raise InvalidInput(
                "Send the idempotency key in the Idempotency-Key header.",
                errors=[{"pointer": "/idempotency_key", "detail": "use the Idempotency-Key header"}],
            )
        header_key = request.headers.get("Idempotency-Key")
        if header_key is not None and not (0 < len(header_key) <= 255):
            raise InvalidInput("Idempotency-Key must be 1-255 characters.")
        item = s.event_input(data, raw=request.data, pointer="", idempotency_key=header_key)
        recorded = services.consent_record(organization=self.organization, item=item)
        outcome = self.honor_gpc_header(item.subject_id, jurisdiction=item.jurisdiction)
        if item.gpc and outcome is None:  # navigator.globalPrivacyControl === true seen by the client
            outcome = services.gpc_signal_record(
                organization=self.organization,
                subject_id=item.subject_id,
                channel="javascript",
                jurisdiction=item.jurisdiction,
                occurred_at=item.occurred_at,
            )
        body = s.event_representation(recorded.event)
        if outcome is None and recorded.state is not None and recorded.folded is not None:
            state = selectors.consent_state_of_row(
                state=recorded.state,
                folded=recorded.folded,
                subject=recorded.event.subject,
                catalog=organization_catalog(self.organization),
            )
        else:  # an idempotent replay, or GPC changed it since: read the state as it is now
            state = selectors.consent_state_for_subject(
                organization=self.organization, subject=recorded.event.subject, purpose_key=recorded.event.purpose.key
            )[0]
        body["consent"] = s.state_representation(state)
        response = Response(body, status=status.HTTP_201_CREATED)
        if recorded.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class ConsentEventBulkCreateApi(OrganizationApi):
    required_scopes = {"POST": "consent:write"}

    @api_operation(
        scope="consent:write",
        summary="Record up to 1,000 consent events, all or nothing",
        description="One transaction: either every event is appended or none is. Errors point at the "
        "failing item (`/events/<index>/<field>`). Items may carry their own `idempotency_key`.",
        request=s.ConsentEventBulkInputSerializer,
        responses={201: s.BulkResultSerializer},
        problems={
            400: "Malformed JSON.",
            409: "An item's idempotency key was used with another body.",
            413: "Body too large.",
            422: "An item is invalid; `errors[].pointer` names it.",
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.ConsentEventBulkInputSerializer, request.data)
        raw_items = cast(dict[str, Any], request.data)["events"]
        items = [
            s.event_input(item, raw=raw_items[i], pointer=f"/events/{i}", idempotency_key=None)
            for i, item in enumerate(data["events"])
        ]
        recorded = services.consent_record_many(organization=self.organization, items=items)
        signalled = {item.subject_id: item for item in items if item.gpc}
        for item in signalled.values():  # navigator.globalPrivacyControl === true seen by the client
            services.gpc_signal_record(
                organization=self.organization,
                subject_id=item.subject_id,
                channel="javascript",
                jurisdiction=item.jurisdiction,
                occurred_at=item.occurred_at,
            )
        results = [
            {"index": i, "event_id": r.event.event_id, "hash": r.event.hash, "replayed": r.replayed}
            for i, r in enumerate(recorded)
        ]
        replayed = sum(1 for r in recorded if r.replayed)
        return Response(
            {"created": len(recorded) - replayed, "replayed": replayed, "events": results},
            status=status.HTTP_201_CREATED,
        )


class ConsentEventDetailApi(OrganizationApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="One ledger event, with its evidence",
        responses={200: s.ConsentEventOutputSerializer},
        problems={404: "No such event in your organization."},
    )
    def get(self, request: Request, event_id: str) -> Response:
        event = (
            ConsentEvent.objects.filter(organization=self.organization, event_id=event_id)
            .select_related("subject", "purpose", "source", "policy_version", "supersedes")
            .first()
        )
        if event is None:
            raise NotFound("No event with this id in your organization.")
        return Response(s.event_representation(event, with_evidence=True))


# ------------------------------------------------------------------------------------------------
# Subjects
# ------------------------------------------------------------------------------------------------


class SubjectConsentApi(OrganizationApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="A subject's consent for every purpose",
        description="Current state from the projection, or with `at` the state at a past instant "
        "replayed from the ledger. Purposes without events read `unknown`.",
        parameters=[
            SUBJECT_ID,
            OpenApiParameter("at", OpenApiTypes.DATETIME, description="A past instant (RFC 3339)"),
            OpenApiParameter("purpose", OpenApiTypes.STR, description="Only this purpose key"),
        ],
        responses={200: s.SubjectConsentOutputSerializer},
        problems={404: "No such subject in your organization.", 422: "Bad `at` or unknown `purpose`."},
    )
    def get(self, request: Request, subject_id: str) -> Response:
        at = _parse_instant(request.query_params.get("at"), "at")
        purpose_key = request.query_params.get("purpose")
        subject = self.subject_or_404(subject_id)
        if self.honor_gpc_header(subject.external_id):
            subject.refresh_from_db()
        states = selectors.consent_state_for_subject(
            organization=self.organization, subject=subject, at=at, purpose_key=purpose_key
        )
        if purpose_key is not None and not states:
            raise InvalidInput(
                f"Unknown purpose '{purpose_key}'.", errors=[{"pointer": "?purpose", "detail": "unknown"}]
            )
        gpc_honored = any(state.basis == "gpc_opt_out" for state in states)
        # The GPP GPC sub-section passes along a signal that is present (IAB California spec).
        gpc_present = gpc_honored or bool(getattr(request, "gpc", False))
        iab = selectors.iab_signals(
            organization=self.organization, jurisdiction=subject.jurisdiction, states=states, gpc_received=gpc_present
        )
        return Response(
            {
                "subject_id": subject.external_id,
                "at": (at or timezone.now()).isoformat(),
                "jurisdiction": subject.jurisdiction or None,
                "gpc_honored": gpc_honored,
                "iab": {"us_privacy": iab.us_privacy, "gpp": iab.gpp, "gpp_sid": iab.gpp_sid} if iab else None,
                "purposes": [s.state_representation(state) for state in states],
            }
        )


def _encode_cursor(chain_index: int) -> str:
    return base64.urlsafe_b64encode(f"c{chain_index}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not text.startswith("c"):
            raise ValueError(text)
        value = int(text[1:])
        if value < 0:
            raise ValueError(text)
        return value
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput("Invalid cursor.", errors=[{"pointer": "?cursor", "detail": "not a cursor"}]) from exc


class SubjectConsentEventsApi(OrganizationApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="A subject's consent history (the hash chain), cursor-paginated",
        description="Events in chain order with `prev_hash` and `hash`: a client can recompute every hash "
        "(see README, 'Verifying the ledger yourself').",
        parameters=[
            SUBJECT_ID,
            OpenApiParameter("cursor", OpenApiTypes.STR),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1-500, default 50"),
        ],
        responses={200: s.ConsentHistoryOutputSerializer},
        problems={404: "No such subject in your organization.", 422: "Bad cursor or limit."},
    )
    def get(self, request: Request, subject_id: str) -> Response:
        after = _decode_cursor(request.query_params.get("cursor"))
        try:
            limit = int(request.query_params.get("limit", "50"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 500:
            raise InvalidInput(
                "limit must be an integer from 1 to 500.", errors=[{"pointer": "?limit", "detail": "1-500"}]
            )
        subject = self.subject_or_404(subject_id)
        if self.honor_gpc_header(subject.external_id):
            subject.refresh_from_db()
        events, has_more = selectors.consent_history(subject=subject, after_chain_index=after, limit=limit)
        next_url = None
        if has_more:
            next_url = request.build_absolute_uri(
                f"{request.path}?cursor={_encode_cursor(events[-1].chain_index)}&limit={limit}"
            )
        return Response(
            {
                "subject_id": subject.external_id,
                "ledger_length": subject.ledger_length,
                "ledger_head_hash": subject.ledger_head_hash,
                "next": next_url,
                "results": [s.event_representation(e, with_evidence=True) for e in events],
            }
        )


# ------------------------------------------------------------------------------------------------
# Catalog
# ------------------------------------------------------------------------------------------------


class SourceListCreateApi(OrganizationApi):
    required_scopes = {"GET": "consent:read", "POST": "consent:write"}

    @api_operation(
        scope="consent:read",
        summary="List sources",
        operation_id="sources_list",
        responses={200: s.SourceSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(s.SourceSerializer(selectors.source_list(organization=self.organization), many=True).data)

    @api_operation(
        scope="consent:write",
        summary="Register a source",
        request=s.SourceInputSerializer,
        responses={201: s.SourceSerializer},
        problems={409: "A source with this key exists.", 422: "Invalid fields."},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.SourceInputSerializer, request.data)
        source = services.source_create(organization=self.organization, actor=self.client.actor, **data)
        return Response(s.SourceSerializer(source).data, status=status.HTTP_201_CREATED)


class SourceDetailApi(OrganizationApi):
    required_scopes = {
        "GET": "consent:read",
        "PATCH": "consent:write",
        "PUT": "consent:write",
        "DELETE": "consent:write",
    }

    def source_or_404(self, key: str) -> Source:
        source = selectors.source_by_key(organization=self.organization, key=key)
        if source is None:
            raise NotFound("No source with this key in your organization.")
        return source

    @api_operation(
        scope="consent:read",
        summary="One source",
        responses={200: s.SourceSerializer},
        problems={404: "No such source."},
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(s.SourceSerializer(self.source_or_404(key)).data)

    @api_operation(
        scope="consent:write",
        summary="Replace a source's details (the key never changes)",
        request=s.SourceInputSerializer,
        responses={200: s.SourceSerializer},
        problems={404: "No such source.", 409: "Built-in source.", 422: "Invalid fields."},
    )
    def put(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=False)

    @api_operation(
        scope="consent:write",
        summary="Change a source's details (the key never changes)",
        request=s.SourceInputSerializer,
        responses={200: s.SourceSerializer},
        problems={404: "No such source.", 409: "Built-in source.", 422: "Invalid fields."},
    )
    def patch(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=True)

    def _update(self, request: Request, key: str, *, partial: bool) -> Response:
        source = self.source_or_404(key)
        data = self.validated(s.SourceInputSerializer, request.data, partial=partial)
        if "key" in data and data["key"] != source.key:
            raise InvalidInput("A source's key never changes.", errors=[{"pointer": "/key", "detail": "immutable"}])
        source = services.source_update(source=source, actor=self.client.actor, **data)
        return Response(s.SourceSerializer(source).data)

    @api_operation(
        scope="consent:write",
        summary="Retire a source (kept for the ledger; refuses new events)",
        responses={200: s.SourceSerializer},
        problems={404: "No such source.", 409: "Built-in source."},
    )
    def delete(self, request: Request, key: str) -> Response:
        source = services.source_retire(source=self.source_or_404(key), actor=self.client.actor)
        return Response(s.SourceSerializer(source).data)


def _purpose_data(purposes: list[Purpose], many: bool) -> Any:
    current = selectors.current_policy_versions(purposes=purposes, at=timezone.now())
    serializer = s.PurposeSerializer(
        purposes if many else purposes[0], many=many, context={"current_versions": current}
    )
    return serializer.data


class PurposeListCreateApi(OrganizationApi):
    required_scopes = {"GET": "consent:read", "POST": "consent:write"}

    @api_operation(
        scope="consent:read",
        summary="List purposes",
        operation_id="purposes_list",
        responses={200: s.PurposeSerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(_purpose_data(list(selectors.purpose_list(organization=self.organization)), many=True))

    @api_operation(
        scope="consent:write",
        summary="Create a purpose",
        request=s.PurposeInputSerializer,
        responses={201: s.PurposeSerializer},
        problems={409: "A purpose with this key exists.", 422: "Invalid fields."},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.PurposeInputSerializer, request.data)
        purpose = services.purpose_create(organization=self.organization, actor=self.client.actor, **data)
        return Response(_purpose_data([purpose], many=False), status=status.HTTP_201_CREATED)


class PurposeScopedApi(OrganizationApi):
    def purpose_or_404(self, key: str) -> Purpose:
        purpose = selectors.purpose_by_key(organization=self.organization, key=key)
        if purpose is None:
            raise NotFound("No purpose with this key in your organization.")
        return purpose


class PurposeDetailApi(PurposeScopedApi):
    required_scopes = {"GET": "consent:read", "PATCH": "consent:write", "PUT": "consent:write"}

    @api_operation(
        scope="consent:read",
        summary="One purpose",
        responses={200: s.PurposeSerializer},
        problems={404: "No such purpose."},
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(_purpose_data([self.purpose_or_404(key)], many=False))

    @api_operation(
        scope="consent:write",
        summary="Replace a purpose's details (the key never changes)",
        request=s.PurposeInputSerializer,
        responses={200: s.PurposeSerializer},
        problems={404: "No such purpose.", 422: "Invalid fields."},
    )
    def put(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=False)

    @api_operation(
        scope="consent:write",
        summary="Change a purpose's details (the key never changes)",
        request=s.PurposeInputSerializer,
        responses={200: s.PurposeSerializer},
        problems={404: "No such purpose.", 422: "Invalid fields."},
    )
    def patch(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=True)

    def _update(self, request: Request, key: str, *, partial: bool) -> Response:
        purpose = self.purpose_or_404(key)
        data = self.validated(s.PurposeInputSerializer, request.data, partial=partial)
        if "key" in data and data["key"] != purpose.key:
            raise InvalidInput("A purpose's key never changes.", errors=[{"pointer": "/key", "detail": "immutable"}])
        purpose = services.purpose_update(purpose=purpose, actor=self.client.actor, **data)
        return Response(_purpose_data([purpose], many=False))


class PolicyVersionListCreateApi(PurposeScopedApi):
    required_scopes = {"GET": "consent:read", "POST": "consent:write"}

    @api_operation(
        scope="consent:read",
        summary="A purpose's policy versions",
        responses={200: s.PolicyVersionSerializer(many=True)},
        problems={404: "No such purpose."},
    )
    def get(self, request: Request, key: str) -> Response:
        purpose = self.purpose_or_404(key)
        return Response(s.PolicyVersionSerializer(selectors.policy_version_list(purpose=purpose), many=True).data)

    @api_operation(
        scope="consent:write",
        summary="Publish a policy version of a purpose",
        description="A version with `is_material: true` makes grants under earlier versions read `stale` "
        "once it takes effect.",
        request=s.PolicyVersionInputSerializer,
        responses={201: s.PolicyVersionSerializer},
        problems={404: "No such purpose.", 409: "This version label exists.", 422: "Invalid fields."},
    )
    def post(self, request: Request, key: str) -> Response:
        purpose = self.purpose_or_404(key)
        data = self.validated(s.PolicyVersionInputSerializer, request.data)
        version = services.policy_version_create(purpose=purpose, actor=self.client.actor, **data)
        return Response(s.PolicyVersionSerializer(version).data, status=status.HTTP_201_CREATED)


class LedgerVerifyApi(OrganizationApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="Verify your organization's ledger",
        description="Recomputes every subject's hash chain and reports the first broken link (a row "
        "changed, removed or reordered). `ledger_root` digests every chain tip: store it and compare later.",
        responses={200: s.LedgerVerificationOutputSerializer},
    )
    def get(self, request: Request) -> Response:
        run = services.ledger_verify(organization=self.organization, actor=self.client.actor)
        return Response(
            {
                "valid": run.is_valid,
                "verified_at": run.verified_at.isoformat(),
                "subjects_checked": run.subjects_checked,
                "events_checked": run.events_checked,
                "ledger_root": run.ledger_root,
                "first_break": run.first_break,
            }
        )


# ------------------------------------------------------------------------------------------------
# Global Privacy Control, links, privacy status, solicitation
# ------------------------------------------------------------------------------------------------


class SignalCreateApi(OrganizationApi):
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
            channel="javascript",
            jurisdiction=data.get("jurisdiction"),
            occurred_at=data.get("occurred_at"),
        )
        if outcome is None:
            raise InvalidInput(
                "The subject's jurisdiction is unknown: send it with the signal.",
                errors=[{"pointer": "/jurisdiction", "detail": "required for a subject never seen before"}],
            )
        return Response(s.signal_representation(data["subject_id"], outcome))


class SubjectLinksApi(OrganizationApi):
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
        problems={422: "Invalid subject id, or a subject linked to itself."},
    )
    def post(self, request: Request, subject_id: str) -> Response:
        data = self.validated(s.SubjectLinkInputSerializer, request.data)
        if not s.SUBJECT_ID_PATTERN.match(subject_id):
            raise InvalidInput(
                "The subject id in the path is not valid.", errors=[{"pointer": "/", "detail": "invalid subject id"}]
            )
        cluster = services.subject_link(
            organization=self.organization,
            subject_id=subject_id,
            linked_subject_id=data["subject_id"],
            actor=self.client.actor,
        )
        return Response({"subject_id": subject_id, "linked_subjects": cluster}, status=status.HTTP_201_CREATED)


class PrivacyStatusApi(OrganizationApi):
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
        self.honor_gpc_header(subject.external_id)
        status_ = selectors.privacy_status(organization=self.organization, subject=subject)
        return Response(s.privacy_status_representation(subject.external_id, status_))


class SolicitationApi(OrganizationApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="Whether the person may be asked to opt in to a purpose now",
        description="After an opt-out of sale or sharing the person may not be asked to opt in again for "
        "12 months (Cal. Civ. Code §1798.135); `earliest` is the first date it may.",
        parameters=[SUBJECT_ID, OpenApiParameter("purpose", OpenApiTypes.STR, required=True)],
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
