"""DSAR API: intake, a request's status with deadlines and history, and the what-if deadline calculator."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from consent.services import request_digest
from core.api.schema import IDEMPOTENCY_HEADER, api_operation
from core.api.views import OrganizationApi
from core.problems import InvalidInput, NotFound
from dsar import selectors, services
from dsar.api import serializers as s


class DsarCreateApi(OrganizationApi):
    required_scopes = {"POST": "dsar:write"}

    @api_operation(
        scope="dsar:write",
        summary="Record a data-subject request",
        description="The regime follows from the requester's jurisdiction (DE: gdpr, US-CA: ccpa) unless given. "
        "Every deadline is computed at intake and again on every change. The requester's contact is stored "
        "encrypted and answered only masked.",
        request=s.DsarCreateInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            201: s.DsarDetailOutputSerializer,
            200: OpenApiResponse(
                s.DsarDetailOutputSerializer,
                description="An idempotent replay: the first request with this `Idempotency-Key` (as it stands "
                "now), with `Idempotent-Replayed: true`; nothing recorded or sent again.",
            ),
        },
        problems={
            400: "Malformed JSON.",
            409: "Idempotency key reused with another body (`idempotency-key-reused`).",
            422: "Invalid fields (`validation-error`): unknown type, received_at in the future or set for a "
            "channel other than email or mail, no regime for the jurisdiction; an Idempotency-Key outside 1-255 "
            "characters.",
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.DsarCreateInputSerializer, request.data)
        header_key = request.headers.get("Idempotency-Key")
        if header_key is not None and not (0 < len(header_key) <= 255):
            raise InvalidInput(
                "Idempotency-Key must be 1-255 characters.",
                errors=[{"pointer": "Idempotency-Key", "detail": "1-255 characters"}],
            )
        requester = data.get("requester") or {}
        accepted = services.dsar_accept(
            idempotency_key=header_key or "",
            request_digest=request_digest(request.data),
            organization=self.organization,
            request_type=data["type"],
            channel=data["channel"],
            actor=self.client.actor,
            jurisdiction=data.get("jurisdiction") or "",
            regime=data.get("regime"),
            subject_external_id=data.get("subject_id") or "",
            received_at=data.get("received_at"),
            requester=services.Requester(email=requester.get("email") or "", name=requester.get("name") or ""),
            language=data.get("language") or "",
        )
        created = accepted.request
        if accepted.recorded is not None:  # as intake wrote it: nothing after the commit changed it here
            body = s.dsar_representation(
                created, history=accepted.recorded.history, messages=accepted.recorded.messages
            )
        else:  # as intake and what ran after its commit (an opt-out started, a message sent) left it
            body = s.dsar_representation(selectors.dsar_with_history(created))
        response = Response(body, status=status.HTTP_200_OK if accepted.replayed else status.HTTP_201_CREATED)
        response["Location"] = f"/api/v1/dsar/{created.public_id}"
        if accepted.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class DsarDetailApi(OrganizationApi):
    required_scopes = {"GET": "dsar:read"}

    @api_operation(
        scope="dsar:read",
        summary="A data-subject request: status, every deadline with its rule, and its history",
        responses={200: s.DsarDetailOutputSerializer},
        problems={404: "No such request in your organization."},
    )
    def get(self, request: Request, request_id: str) -> Response:
        found = selectors.dsar_for_organization(organization=self.organization, public_id=request_id)
        if found is None:
            raise NotFound("No data-subject request with this id in your organization.")
        return Response(s.dsar_representation(found))


class DeadlineComputeApi(OrganizationApi):
    required_scopes = {"POST": "dsar:read"}

    @api_operation(
        scope="dsar:read",
        summary="What-if: every deadline of a hypothetical request",
        description="Runs the deadline engine without storing anything: the deadlines of a request under one "
        "regime, each with its rule, given identity-verification events, an extension notice and a date to "
        "report the status on.",
        request=s.DeadlineComputeInputSerializer,
        responses={200: s.DeadlineResultOutputSerializer},
        problems={
            400: "Malformed JSON.",
            409: "The extension notice went out after the date the law allows (`extension-notice-late`, "
            "code `EXTENSION_NOTICE_LATE`, with `due`).",
            422: "Invalid fields (`validation-error`), input the engine refuses (`deadline-input-invalid`: "
            "unknown time zone or calendar, events before receipt), or no extension for this regime or type "
            "(`extension-not-available`).",
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.DeadlineComputeInputSerializer, request.data)
        extension = data.get("extension")
        result = selectors.deadlines_what_if(
            organization=self.organization,
            regime=data["regime"],
            request_type=data["request_type"],
            received_at=data["received_at"],
            tz=data.get("tz") or None,
            calendar=data.get("calendar") or None,
            events=[(event["type"], event["date"]) for event in data.get("events") or []],
            extension=(extension["notice_sent_on"], extension["reason_code"]) if extension else None,
            as_of=data.get("as_of"),
        )
        return Response(s.DeadlineResultOutputSerializer(result.to_dict()).data)


class DeadlineSettingsApi(OrganizationApi):
    required_scopes = {"GET": "dsar:read", "PUT": "dsar:configure"}

    @api_operation(
        scope="dsar:read",
        summary="The organization's deadline calendar and time zone",
        description="Used by intake and by POST /deadlines/compute when a request names none. With each, what "
        "it implies for the other when that one is unset (IE -> Europe/Dublin; Europe/Dublin -> IE).",
        responses={200: s.DeadlineSettingsOutputSerializer},
    )
    def get(self, request: Request) -> Response:
        return Response(s.DeadlineSettingsOutputSerializer(selectors.deadline_settings_summary(self.organization)).data)

    @api_operation(
        scope="dsar:configure",
        summary="Set the organization's deadline calendar and time zone",
        description="Both fields are required; null clears one. Audited. Requests already received keep the zone "
        "and calendar their deadlines were computed with; the change applies to requests received after it.",
        request=s.DeadlineSettingsSerializer,
        responses={200: s.DeadlineSettingsOutputSerializer},
        problems={
            400: "Malformed JSON.",
            422: "Invalid fields (`validation-error`): an unknown calendar id or time zone.",
        },
    )
    def put(self, request: Request) -> Response:
        data = self.validated(s.DeadlineSettingsSerializer, request.data)
        services.deadline_settings_update(
            organization=self.organization,
            calendar=data.get("calendar") or "",
            time_zone=data.get("time_zone") or "",
            actor=self.client.actor,
        )
        return Response(s.DeadlineSettingsOutputSerializer(selectors.deadline_settings_summary(self.organization)).data)
