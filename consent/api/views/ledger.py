"""Consent events (one, bulk, detail), a subject's consent and its hash chain, ledger verification."""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast

from django.conf import settings
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from consent import selectors, services
from consent.api import serializers as s
from consent.api.bulk_input import plain_bulk_events, plain_event
from consent.api.views.base import ConsentApi
from consent.catalog import organization_catalog
from consent.models import Subject
from core.api.pagination import PAGINATION_PARAMETERS, list_operation, page_limit, paginated_response
from core.api.schema import IDEMPOTENCY_HEADER, SUBJECT_ID, api_operation
from core.api.views import parse_instant_param
from core.cursors import decode_cursor, encode_cursor
from core.problems import Conflict, InvalidInput, NotFound

# ------------------------------------------------------------------------------------------------
# Events
# ------------------------------------------------------------------------------------------------


class ConsentEventCreateApi(ConsentApi):
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
        header_key = request.headers.get("Idempotency-Key")
        body = request.data
        # A plainly valid body skips DRF's validation, as the bulk endpoint's items do (issue #16); anything else,
        # and any body naming an idempotency key, goes to the serializer, whose errors are the answer.
        item = None
        if isinstance(body, dict) and "idempotency_key" not in body:
            item = plain_event(body, pointer="", idempotency_key=header_key)
        if item is None:
            data = self.validated(s.ConsentEventInputSerializer, body)
            if data.get("idempotency_key"):
                raise InvalidInput(
                    "Send the idempotency key in the Idempotency-Key header.",
                    errors=[{"pointer": "/idempotency_key", "detail": "use the Idempotency-Key header"}],
                )
            item = s.event_input(data, raw=body, pointer="", idempotency_key=header_key)
        if header_key is not None and not (0 < len(header_key) <= 255):
            raise InvalidInput("Idempotency-Key must be 1-255 characters.")
        result = services.consent_record_with_signals(
            organization=self.organization, items=[item], gpc_header=self.gpc_header()
        )
        recorded = result.recorded[0]
        outcome = result.gpc.get(item.subject_id)
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


class ConsentEventBulkCreateApi(ConsentApi):
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
        items = plain_bulk_events(request.data)
        if items is None:  # not plainly valid: the serializer decides, and words the errors
            data = self.validated(s.ConsentEventBulkInputSerializer, request.data)
            raw_items = cast(dict[str, Any], request.data)["events"]
            items = [
                s.event_input(item, raw=raw_items[i], pointer=f"/events/{i}", idempotency_key=None)
                for i, item in enumerate(data["events"])
            ]
        recorded = services.consent_record_with_signals(organization=self.organization, items=items).recorded
        results = [
            {"index": i, "event_id": r.event.event_id, "hash": r.event.hash, "replayed": r.replayed}
            for i, r in enumerate(recorded)
        ]
        replayed = sum(1 for r in recorded if r.replayed)
        return Response(
            {"created": len(recorded) - replayed, "replayed": replayed, "events": results},
            status=status.HTTP_201_CREATED,
        )


class ConsentEventDetailApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @api_operation(
        scope="consent:read",
        summary="One ledger event, with its evidence and its place in the transparency log",
        description="`ledger_log` carries the event's leaf and its RFC 9162 inclusion proof against the latest "
        "signed checkpoint that covers it (the note included), so one answer proves the event is in the log.",
        responses={200: s.ConsentEventDetailOutputSerializer},
        problems={404: "No such event in your organization."},
    )
    def get(self, request: Request, event_id: str) -> Response:
        event = selectors.consent_event_by_id(organization=self.organization, event_id=event_id)
        if event is None:
            raise NotFound("No event with this id in your organization.")
        placement = selectors.event_placement(self.organization, event=event)
        return Response(
            {
                **s.event_representation(event, with_evidence=True),
                "ledger_log": placement.to_dict() if placement is not None else None,
            }
        )


# ------------------------------------------------------------------------------------------------
# Subjects
# ------------------------------------------------------------------------------------------------


class SubjectConsentApi(ConsentApi):
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
        at = parse_instant_param(request.query_params.get("at"), "at")
        purpose_key = request.query_params.get("purpose")
        projected = None
        if at is None:  # the subject and its projection rows in one round trip
            subject, projected = self.subject_with_projection_or_404(subject_id)
        else:
            subject = self.subject_or_404(subject_id)
        preview = self.gpc_signal_on_read(subject)
        states = selectors.consent_state_for_subject(
            organization=self.organization, subject=subject, at=at, purpose_key=purpose_key, projected=projected
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
                "gpc_signal_on_read": s.gpc_signal_on_read_representation(preview),
            }
        )


HISTORY_CURSOR = "subject-history"


def _legacy_cursor(cursor: str) -> int:
    """A cursor of the history's first format (``c<chain index>``, base64), still accepted as ``?cursor=``."""
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


def _history_position(request: Request, subject: Subject) -> int:
    """Where a history page starts: ``?after=`` (or its older name ``?cursor=``), a signed cursor bound to this
    subject; 0 without one."""
    name = "after" if request.query_params.get("after") else "cursor"
    raw = request.query_params.get(name)
    if not raw:
        return 0
    try:
        position = decode_cursor(raw, HISTORY_CURSOR, parameter=name)
    except InvalidInput:
        if name == "cursor":
            return _legacy_cursor(raw)
        raise
    if not isinstance(position, list) or len(position) != 2 or position[0] != str(subject.uuid):
        raise InvalidInput("Invalid cursor.", errors=[{"pointer": f"?{name}", "detail": "not a cursor of this list"}])
    return int(position[1])


class SubjectConsentEventsApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @list_operation(
        scope="consent:read",
        summary="A subject's consent history (the hash chain), cursor-paginated",
        description="Events in chain order with `prev_hash` and `hash`: a client can recompute every hash "
        "(see README, 'Verifying the ledger yourself').",
        parameters=[
            SUBJECT_ID,
            *PAGINATION_PARAMETERS,
            OpenApiParameter("cursor", OpenApiTypes.STR, description="The older name of `after`"),
        ],
        responses={200: s.ConsentHistoryOutputSerializer},
        problems={404: "No such subject in your organization.", 422: "Bad cursor or limit."},
    )
    def get(self, request: Request, subject_id: str) -> Response:
        limit = page_limit(request)
        subject = self.subject_or_404(subject_id)
        after = _history_position(request, subject)
        preview = self.gpc_signal_on_read(subject)
        events, has_more = selectors.consent_history(subject=subject, after_chain_index=after, limit=limit)
        cursor = encode_cursor(HISTORY_CURSOR, [str(subject.uuid), events[-1].chain_index]) if has_more else None
        return paginated_response(
            request,
            [s.event_representation(e, with_evidence=True) for e in events],
            cursor=cursor,
            limit=limit,
            extra={
                "subject_id": subject.external_id,
                "ledger_length": subject.ledger_length,
                "ledger_head_hash": subject.ledger_head_hash,
                "gpc_signal_on_read": s.gpc_signal_on_read_representation(preview),
            },
        )


class VerifyInBackground(Conflict):
    slug = "verify-in-background"
    title = "Verify this ledger in the background"


class LedgerVerifyApi(ConsentApi):
    required_scopes = {"GET": "consent:read", "POST": "consent:write"}

    def refuse_a_large_ledger(self) -> None:
        """A full verification of a large ledger would outlast the request (issue #12): it runs in a worker."""
        limit = settings.PROVENANT_LEDGER_VERIFY_IN_REQUEST_MAX_EVENTS
        if selectors.ledger_event_count(self.organization) > limit:
            raise VerifyInBackground(
                f"The ledger holds more than {limit:,} events: verify it in the background with "
                "POST /api/v1/ledger/verifications and poll the job it answers with.",
                verify_with="/api/v1/ledger/verifications",
            )

    @api_operation(
        scope="consent:read",
        summary="Verify your organization's ledger",
        description="Recomputes every subject's hash chain and reports the first broken link (a row "
        "changed, removed or reordered, or a subject whose stored chain tip disagrees with its events). "
        "`ledger_root` is computed from the events themselves: SHA-256 (hex) of the lines "
        "`{subject_uuid}:{length}:{head_hash}\\n`, one per subject with events, sorted by subject uuid. Store it "
        "and compare later. A GET records nothing; `POST` runs the same check and keeps the outcome. A ledger "
        "larger than PROVENANT_LEDGER_VERIFY_IN_REQUEST_MAX_EVENTS is verified in the background only "
        "(`POST /ledger/verifications`).",
        responses={200: s.LedgerVerificationOutputSerializer},
        problems={409: "The ledger is too large to verify inside a request (`verify-in-background`)."},
    )
    def get(self, request: Request) -> Response:
        self.refuse_a_large_ledger()
        report = selectors.ledger_integrity_report(organization=self.organization)
        return Response(
            {
                "valid": report.is_valid,
                "verified_at": report.verified_at.isoformat(),
                "subjects_checked": report.subjects_checked,
                "events_checked": report.events_checked,
                "ledger_root": report.ledger_root,
                "first_break": report.first_break,
            }
        )

    @api_operation(
        scope="consent:write",
        summary="Verify your organization's ledger and record the run",
        description="The check of `GET /ledger/verify`, kept as a verification run (for reports and audits) "
        "with an audit-log entry `ledger.verified`.",
        request=None,
        responses={201: s.LedgerVerificationOutputSerializer},
        problems={409: "The ledger is too large to verify inside a request (`verify-in-background`)."},
    )
    def post(self, request: Request) -> Response:
        self.refuse_a_large_ledger()
        run = services.ledger_integrity_check(organization=self.organization, actor=self.client.actor)
        return Response(
            {
                "valid": run.is_valid,
                "verified_at": run.verified_at.isoformat(),
                "subjects_checked": run.subjects_checked,
                "events_checked": run.events_checked,
                "ledger_root": run.ledger_root,
                "first_break": run.first_break,
            },
            status=status.HTTP_201_CREATED,
        )
