"""Provenance API: recipients, stamps, stamp verification, JWKS and the stamp schema."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent import selectors as consent_selectors
from core.api.pagination import PAGINATION_PARAMETERS, envelope, keyset_response, list_operation
from core.api.schema import api_operation
from core.api.views import OrganizationApi
from core.problems import InvalidInput, NotFound
from provenance import selectors
from provenance.api import serializers as s
from provenance.api.batch_input import plain_stamp_items
from provenance.enums import STAMP_ERROR, StampDecision
from provenance.models import Recipient
from provenance.services import recipients, stamping
from provenance.verify import verify_stamp

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schemas" / "privacy-stamp-1.json"


class RecipientListCreateApi(OrganizationApi):
    required_scopes = {"GET": "provenance:read", "POST": "provenance:write"}

    @list_operation(
        scope="provenance:read",
        summary="List recipients",
        operation_id="recipients_list",
        description="By key, in the envelope every list shares.",
        parameters=PAGINATION_PARAMETERS,
        responses={200: envelope(s.RecipientSerializer, "PaginatedRecipientList")},
        problems={422: "Bad `limit` or `after`."},
    )
    def get(self, request: Request) -> Response:
        return keyset_response(
            request,
            selectors.recipient_list(organization=self.organization),
            organization=self.organization,
            kind="recipients",
            order=("key",),
            render=lambda rows: list(s.RecipientSerializer(rows, many=True).data),
        )

    @api_operation(
        scope="provenance:write",
        summary="Register a recipient (a downstream system)",
        request=s.RecipientInputSerializer,
        responses={201: s.RecipientSerializer},
        problems={409: "A recipient with this key exists.", 422: "Invalid fields or unknown purposes."},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.RecipientInputSerializer, request.data)
        recipient = recipients.recipient_create(organization=self.organization, actor=self.client.actor, **data)
        return Response(s.RecipientSerializer(recipient).data, status=status.HTTP_201_CREATED)


class RecipientDetailApi(OrganizationApi):
    required_scopes = {"GET": "provenance:read", "PATCH": "provenance:write", "PUT": "provenance:write"}

    def recipient_or_404(self, key: str) -> Recipient:
        recipient = selectors.recipient_by_key(organization=self.organization, key=key)
        if recipient is None:
            raise NotFound("No recipient with this key in your organization.")
        return recipient

    @api_operation(
        scope="provenance:read",
        summary="One recipient",
        responses={200: s.RecipientSerializer},
        problems={404: "No such recipient."},
    )
    def get(self, request: Request, key: str) -> Response:
        return Response(s.RecipientSerializer(self.recipient_or_404(key)).data)

    @api_operation(
        scope="provenance:write",
        summary="Replace a recipient (the key never changes)",
        request=s.RecipientInputSerializer,
        responses={200: s.RecipientSerializer},
        problems={404: "No such recipient.", 422: "Invalid fields."},
    )
    def put(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=False)

    @api_operation(
        scope="provenance:write",
        summary="Change a recipient (the key never changes)",
        request=s.RecipientInputSerializer,
        responses={200: s.RecipientSerializer},
        problems={404: "No such recipient.", 422: "Invalid fields."},
    )
    def patch(self, request: Request, key: str) -> Response:
        return self._update(request, key, partial=True)

    def _update(self, request: Request, key: str, *, partial: bool) -> Response:
        recipient = self.recipient_or_404(key)
        data = self.validated(s.RecipientInputSerializer, request.data, partial=partial)
        if "key" in data and data["key"] != recipient.key:
            raise InvalidInput("A recipient's key never changes.", errors=[{"pointer": "/key", "detail": "immutable"}])
        recipient = recipients.recipient_update(recipient=recipient, actor=self.client.actor, **data)
        return Response(s.RecipientSerializer(selectors.recipient_by_key(organization=self.organization, key=key)).data)


class StampCreateApi(OrganizationApi):
    required_scopes = {"POST": "stamp"}

    @api_operation(
        scope="stamp",
        summary="Stamp a payload for a recipient",
        description="Decides from the ledger whether the subject's data may go to the recipient for the "
        "purposes named. `allow`: `body` ({data, privacy}) and `headers` (Content-Digest, Privacy-Stamp, "
        "Sec-GPC when the subject's GPC opt-out is on record) to send, signed with Ed25519 (verify with "
        "/.well-known/jwks/{issuer}.json). `block`: nothing to send, a reason per purpose and the rule it comes from.",
        request=s.StampInputSerializer,
        responses={200: s.StampOutputSerializer},
        problems={
            422: "Invalid fields, unknown recipient or purpose.",
            503: "Ledger verification found the subject's consent state does not match its events "
            "(`consent-state-inconsistent`): no decision until the state is rebuilt from the ledger.",
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.StampInputSerializer, request.data)
        result = stamping.stamp_many(
            organization=self.organization, requests=[s.stamp_request(data, "")], stop_on_error=True
        )[0]
        return Response(s.stamp_representation(result))


class StampBatchApi(OrganizationApi):
    required_scopes = {"POST": "stamp"}

    @api_operation(
        scope="stamp",
        summary="Stamp up to 1,000 payloads; per-item results in order",
        description="Each item is decided on its own: a blocked or invalid item never stops the others.",
        request=s.StampBatchInputSerializer,
        responses={200: s.StampBatchOutputSerializer},
        problems={422: "The body is not a list of stamp requests."},
    )
    def post(self, request: Request) -> Response:
        items = plain_stamp_items(request.data)
        if items is None:  # not plainly valid: the serializer decides, and words the errors
            items = self.validated(s.StampBatchInputSerializer, request.data)["items"]
        requests = [s.stamp_request(item, f"/items/{i}") for i, item in enumerate(items)]
        results = stamping.stamp_many(organization=self.organization, requests=requests)
        rendered = []
        for index, result in enumerate(results):
            item = {"index": index, **s.stamp_representation(result)}
            if result.error:
                item["errors"] = result.error["errors"]
            rendered.append(item)
        return Response(
            {
                "allowed": sum(1 for r in results if r.decision == StampDecision.ALLOW),
                "blocked": sum(1 for r in results if r.decision == StampDecision.BLOCK),
                "invalid": sum(1 for r in results if r.decision == STAMP_ERROR),
                "results": rendered,
            }
        )


class StampVerifyApi(OrganizationApi):
    required_scopes = {"POST": "stamp"}

    @api_operation(
        scope="stamp",
        summary="Verify a stamp, and whether the consent it claims still holds",
        description="Only stamps your organization issued verify, with its own keys: another organization's "
        "stamp is refused (ISSUER_MISMATCH) and nothing is looked up about its subject. `reason`: "
        "ISSUER_MISMATCH, RECIPIENT_MISMATCH (`expected_recipient` given), EXPIRED (`max_age` given), "
        "UNKNOWN_KEY (also a revoked key), BAD_SIGNATURE, DATA_DIGEST_MISMATCH, ENVELOPE_CHANGED or MALFORMED.",
        request=s.StampVerifyInputSerializer,
        responses={200: s.StampVerifyOutputSerializer},
        problems={422: "A field missing or of the wrong type (`validation-error`)."},
    )
    def post(self, request: Request) -> Response:
        data = self.validated(s.StampVerifyInputSerializer, request.data)
        body = data["body"]
        max_age = data.get("max_age")
        result = verify_stamp(
            body if isinstance(body, dict) else {},
            data["privacy_stamp"],
            selectors.jwks(organization=self.organization),
            content_digest_header=data.get("content_digest"),
            expected_issuer=self.organization.slug,
            expected_recipient=data.get("expected_recipient"),
            max_age=timedelta(seconds=max_age) if max_age is not None else None,
        )
        holds, now = None, None
        if result.valid:
            holds, now = self._consent_now(body["privacy"])
        return Response(
            {
                "valid": result.valid,
                "reason": result.reason,
                "kid": result.kid,
                "stamp_id": result.stamp_id,
                "consent_still_holds": holds,
                "purposes_now": now,
            }
        )

    def _consent_now(self, privacy: dict[str, Any]) -> tuple[bool, list[dict[str, Any]]]:
        subject = consent_selectors.subject_by_external_id(
            organization=self.organization, external_id=str(privacy.get("subject_id", ""))
        )
        claimed = [str(p.get("purpose")) for p in privacy.get("purposes", []) if isinstance(p, dict)]
        if subject is None:
            return False, [{"purpose": key, "permitted": False, "basis": "no_consent_on_record"} for key in claimed]
        states = {
            state.purpose: state
            for state in consent_selectors.consent_state_for_subject(organization=self.organization, subject=subject)
        }
        now = [
            {
                "purpose": key,
                "permitted": bool(states.get(key) and states[key].permitted),
                "basis": states[key].basis if key in states else "no_consent_on_record",
            }
            for key in claimed
        ]
        return all(item["permitted"] for item in now), now


class JwksView(APIView):
    """Public keys of every organization's stamp signing keys (RFC 7517, OKP/Ed25519); revoked keys are not
    published."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Stamp signing keys of every organization (JWKS)",
        description="Kept for receivers that fetched it before per-organization keys. Prefer the issuer's "
        "own set, /.well-known/jwks/{issuer}.json, and check `privacy.issuer` (verify_stamp's `expected_issuer`).",
        responses={(200, "application/jwk-set+json"): OpenApiTypes.OBJECT},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        response = Response(selectors.jwks(), content_type="application/jwk-set+json")
        response["Cache-Control"] = "public, max-age=300"
        return response


class OrganizationJwksView(APIView):
    """One organization's stamp signing keys (RFC 7517, OKP/Ed25519): current and retired, never revoked."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Stamp signing keys of one issuer (JWKS)",
        description="The keys that sign the stamps, receipts and certificates whose `issuer` is `{issuer}` "
        "(the organization's public identifier). A receiver that verifies with this set accepts no other "
        "organization's key. An unknown issuer has an empty set.",
        responses={
            (200, "application/jwk-set+json"): OpenApiTypes.OBJECT,
            404: OpenApiResponse(description="An issuer that is not a public identifier (no such URL)."),
        },
        auth=[],
    )
    def get(self, request: Request, issuer: str) -> Response:
        organization = selectors.organization_by_issuer(issuer)
        # An unknown issuer has no keys: the same answer as an issuer without any, so no one can probe which
        # organizations use the service.
        keys = selectors.jwks(organization=organization) if organization is not None else {"keys": []}
        response = Response(keys, content_type="application/jwk-set+json")
        response["Cache-Control"] = "public, max-age=300"
        return response


class StampSchemaView(APIView):
    """The versioned JSON Schema of the `privacy` envelope."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="JSON Schema of privacy stamps, version 1",
        responses={(200, "application/schema+json"): OpenApiTypes.OBJECT},
        auth=[],
    )
    def get(self, request: Request) -> Response:
        response = Response(json.loads(SCHEMA_FILE.read_text()), content_type="application/schema+json")
        response["Cache-Control"] = "public, max-age=86400"
        return response
