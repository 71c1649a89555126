"""Integrator reads (issue #17): subjects, consent states, the change feed of consent events and its NDJSON export.

Every list answers the envelope of :mod:`core.api.pagination`. GET handlers only: the writes on the same paths stay
in their own views (``ConsentEventCollectionApi`` joins the feed to the event-recording POST)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from consent import selectors
from consent.api import serializers as s
from consent.api.views.base import ConsentApi
from consent.api.views.ledger import ConsentEventCreateApi
from consent.enums import ConsentStatus
from consent.ledger import format_instant
from consent.models import ConsentState, Purpose, Subject
from core.api.pagination import (
    PAGINATION_PARAMETERS,
    choice_param,
    envelope,
    invalid_parameter,
    keyset_response,
    known_key_param,
    list_binding,
    list_operation,
    page_limit,
    paginated_response,
    request_cursor,
    response_cursor,
)
from core.api.renderers import NdjsonRenderer
from core.api.views import parse_instant_param
from core.cursors import encode_cursor

# Below gunicorn's worker timeout (GUNICORN_TIMEOUT, 30 s), so a long poll never gets its worker killed.
MAX_WAIT_SECONDS = 20


class LongPollSlots:
    """How many requests of this process may be waiting in a long poll at once
    (PROVENANT_FEED_LONG_POLLS_PER_PROCESS): a waiting request holds a server thread, so the rest stay free for
    everyone else's writes and reads. A request that finds no slot free answers at once, as with ``wait=0``."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting = 0

    @contextmanager
    def slot(self) -> Iterator[bool]:
        with self.lock:
            granted = self.waiting < settings.PROVENANT_FEED_LONG_POLLS_PER_PROCESS
            if granted:
                self.waiting += 1
        try:
            yield granted
        finally:
            if granted:
                with self.lock:
                    self.waiting -= 1


LONG_POLLS = LongPollSlots()
_JURISDICTION = re.compile(r"^[A-Z]{2}(?:-[A-Z0-9]{1,3})?$")


def purpose_param(api: ConsentApi, request: Request) -> Purpose | None:
    return known_key_param(
        request, "purpose", lambda key: selectors.purpose_by_key(organization=api.organization, key=key)
    )


# ------------------------------------------------------------------------------------------------
# Subjects and consent states
# ------------------------------------------------------------------------------------------------


class SubjectListItemSerializer(serializers.Serializer):
    subject_id = serializers.CharField()
    subject_uuid = serializers.UUIDField(help_text="What the ledger hashes instead of the external id")
    jurisdiction = serializers.CharField(allow_null=True, help_text="Last reported")
    ledger_length = serializers.IntegerField()
    ledger_head_hash = serializers.CharField()
    is_erased = serializers.BooleanField()
    created_at = serializers.DateTimeField()


def subject_item(subject: Subject) -> dict[str, Any]:
    return {
        "subject_id": subject.external_id,
        "subject_uuid": str(subject.uuid),
        "jurisdiction": subject.jurisdiction or None,
        "ledger_length": subject.ledger_length,
        "ledger_head_hash": subject.ledger_head_hash,
        "is_erased": subject.is_erased,
        "created_at": format_instant(subject.created_at),
    }


class SubjectListApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @list_operation(
        scope="consent:read",
        summary="List subjects",
        operation_id="subjects_list",
        description="In creation order. `updated_since`: subjects with a ledger event recorded since then.",
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("updated_since", OpenApiTypes.DATETIME, description="RFC 3339 with offset"),
            OpenApiParameter("jurisdiction", OpenApiTypes.STR, description="e.g. DE or US-CA (last reported)"),
        ],
        responses={200: envelope(SubjectListItemSerializer, "PaginatedSubjectList")},
        problems={422: "Bad `limit`, `after`, `updated_since` or `jurisdiction`."},
    )
    def get(self, request: Request) -> Response:
        updated_since = parse_instant_param(request.query_params.get("updated_since"), "updated_since")
        jurisdiction = request.query_params.get("jurisdiction")
        if jurisdiction is not None and not _JURISDICTION.match(jurisdiction):
            raise invalid_parameter("jurisdiction", "e.g. DE or US-CA", "`jurisdiction` is not a jurisdiction code.")
        subjects = selectors.subject_list(
            organization=self.organization, updated_since=updated_since, jurisdiction=jurisdiction
        )
        return keyset_response(
            request,
            subjects,
            organization=self.organization,
            kind="subjects",
            order=("id",),
            render=lambda rows: [subject_item(r) for r in rows],
        )


class ConsentStateListItemSerializer(serializers.Serializer):
    subject_id = serializers.CharField()
    purpose = serializers.CharField()
    status = serializers.ChoiceField(choices=ConsentStatus.choices, help_text="As read now (expiry applied)")
    since = serializers.DateTimeField()
    valid_until = serializers.DateTimeField(allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]
    policy_version = serializers.CharField(allow_null=True)
    jurisdiction = serializers.CharField()
    gpc = serializers.BooleanField()
    gpc_conflict = serializers.BooleanField()
    event_id = serializers.CharField(help_text="The last event folded into this state")
    chain_index = serializers.IntegerField(help_text="That event's place in the subject's chain")
    updated_at = serializers.DateTimeField()


def state_item(state: ConsentState) -> dict[str, Any]:
    return {
        "subject_id": state.subject.external_id,
        "purpose": state.purpose.key,
        "status": selectors.consent_state_status_now(state=state),
        "since": format_instant(state.since),
        "valid_until": format_instant(state.valid_until),
        "source": state.source.key,
        "policy_version": state.policy_version.version if state.policy_version else None,
        "jurisdiction": state.jurisdiction,
        "gpc": state.gpc,
        "gpc_conflict": state.gpc_conflict,
        "event_id": state.event.event_id,
        "chain_index": state.event.chain_index,
        "updated_at": format_instant(state.updated_at),
    }


class ConsentStateListApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @list_operation(
        scope="consent:read",
        summary="List consent states (one per subject and purpose with events)",
        operation_id="consent_states_list",
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter("purpose", OpenApiTypes.STR, description="A purpose key"),
            OpenApiParameter("status", OpenApiTypes.STR, enum=ConsentStatus.values),
            OpenApiParameter("changed_since", OpenApiTypes.DATETIME, description="RFC 3339 with offset"),
        ],
        responses={200: envelope(ConsentStateListItemSerializer, "PaginatedConsentStateList")},
        problems={422: "Bad `limit`, `after`, `purpose`, `status` or `changed_since`."},
    )
    def get(self, request: Request) -> Response:
        purpose = purpose_param(self, request)
        status = choice_param(request, "status", ConsentStatus.values)
        changed_since = parse_instant_param(request.query_params.get("changed_since"), "changed_since")
        states = selectors.consent_state_list(
            organization=self.organization, purpose=purpose, status=status, changed_since=changed_since
        )
        return keyset_response(
            request,
            states,
            organization=self.organization,
            kind="consent-states",
            order=("id",),
            render=lambda rows: [state_item(r) for r in rows],
        )


# ------------------------------------------------------------------------------------------------
# The change feed and its export
# ------------------------------------------------------------------------------------------------


def wait_param(request: Request) -> float:
    raw = request.query_params.get("wait")
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        wait = -1.0
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        raise invalid_parameter("wait", f"seconds from 0 to {MAX_WAIT_SECONDS}", "Bad `wait`.")
    return wait


class ConsentEventFeedApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}

    @list_operation(
        scope="consent:read",
        summary="The change feed: consent events in commit order, each once",
        operation_id="consent_events_feed",
        description="Pass the answer's `cursor` back as `after` to read what was committed since: a transaction "
        "that commits late is read when it commits, never skipped and never twice. `next` is null when you "
        "are caught up (keep the `cursor`). With `wait` (seconds, at most 20) an empty answer waits for new "
        "events first (a long poll; when this server's long-poll slots are all taken it answers at once: ask "
        "again).",
        parameters=[
            *PAGINATION_PARAMETERS,
            OpenApiParameter(
                "wait",
                {"type": "number", "minimum": 0, "maximum": MAX_WAIT_SECONDS},
                description="When nothing is new, wait up to this many seconds for an event",
            ),
            OpenApiParameter("purpose", OpenApiTypes.STR, description="Only this purpose's events"),
        ],
        responses={200: envelope(s.ConsentEventOutputSerializer, "PaginatedConsentEventList")},
        problems={422: "Bad `limit`, `after`, `wait` or `purpose`."},
    )
    def get(self, request: Request) -> Response:
        limit = page_limit(request)
        wait = wait_param(request)
        purpose = purpose_param(self, request)
        position = request_cursor(request, selectors.FEED_CURSOR_KIND, organization=self.organization)
        page = selectors.consent_feed_page(
            organization=self.organization, position=position, limit=limit, purpose=purpose
        )
        if wait and not page.events:
            with LONG_POLLS.slot() as may_wait:
                deadline = time.monotonic() + (wait if may_wait else 0)
                pause = 0.05
                # A long poll: no transaction is held and no connection busy: each try is one short query.
                while not page.events and time.monotonic() + pause < deadline:
                    time.sleep(pause)
                    pause = min(pause * 2, 1.0)
                    page = selectors.consent_feed_page(
                        organization=self.organization, position=page.position, limit=limit, purpose=purpose
                    )
        return paginated_response(
            request,
            [s.event_representation(event) for event in page.events],
            cursor=response_cursor(request, selectors.FEED_CURSOR_KIND, page.position, organization=self.organization),
            limit=limit,
            has_next=not page.caught_up,
        )


class ConsentEventCollectionApi(ConsentEventFeedApi, ConsentEventCreateApi):
    """``/consent-events``: the feed (GET) and recording one event (POST)."""

    required_scopes = {**ConsentEventCreateApi.required_scopes, **ConsentEventFeedApi.required_scopes}


class ConsentEventExportApi(ConsentApi):
    required_scopes = {"GET": "consent:read"}
    renderer_classes = [NdjsonRenderer, JSONRenderer]

    @list_operation(
        scope="consent:read",
        summary="Export consent events as NDJSON (all, since a feed cursor, or one purpose's)",
        operation_id="consent_events_export",
        description="A header line (`format`, `organization`, `purpose`, `since`, and the `cursor` the export "
        "reaches, to pass back as `after`), then one line per event in commit order with every canonical field, "
        "`prev_hash` and `hash`: recompute each hash and re-link each subject's chain (README, 'Verifying the "
        "ledger yourself'). `python manage.py export_consents` writes the same lines.",
        parameters=[
            OpenApiParameter("after", OpenApiTypes.STR, description="A change-feed or export `cursor`"),
            OpenApiParameter("purpose", OpenApiTypes.STR, description="Only this purpose's events"),
        ],
        responses={(200, "application/x-ndjson"): OpenApiTypes.STR},
        problems={404: "An unknown `format`.", 422: "Bad `after` or `purpose`."},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        purpose = purpose_param(self, request)
        position = request_cursor(request, selectors.FEED_CURSOR_KIND, organization=self.organization)
        binding = list_binding(request, self.organization)  # the feed's: its cursor reads on in the feed
        lines = selectors.consent_export_lines(
            self.organization,
            position=position,
            purpose=purpose,
            encode_position=lambda reached: encode_cursor(selectors.FEED_CURSOR_KIND, reached, binding=binding),
            since=request.query_params.get("after") or None,
        )
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="consent-events-{self.organization.slug}.ndjson"'
        response["Cache-Control"] = "private, no-store"
        return response
