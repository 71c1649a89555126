"""Deliveries API (Provenant sends a stamped payload on the integration's behalf) and webhook secrets."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from consent.services import request_digest
from core.api.schema import IDEMPOTENCY_HEADER, api_operation
from core.api.views import OrganizationApi
from core.problems import InvalidInput, NotFound
from provenance import selectors
from provenance.api.serializers import StampInputSerializer, stamp_request
from provenance.enums import DELIVERY_TERMINAL_STATUSES
from provenance.models import Delivery
from provenance.services import deliveries, webhook_secrets


class DeliveryInputSerializer(StampInputSerializer):
    """The body of a stamp: Provenant stamps and sends it when consent allows at the moment of sending."""


class DeliveryAttemptOutputSerializer(serializers.Serializer):
    attempted_at = serializers.DateTimeField()
    outcome = serializers.CharField(help_text="delivered, blocked, rejected, retryable_error, network_error, invalid")
    http_status = serializers.IntegerField(allow_null=True)
    duration_ms = serializers.IntegerField(allow_null=True)
    detail = serializers.CharField()


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.CharField(source="public_id", help_text="ULID")
    status = serializers.CharField(
        help_text="queued, sending, retrying, delivered, blocked (no consent when sending) or dead"
    )
    recipient = serializers.CharField(source="recipient.key")
    subject_id = serializers.CharField(source="subject_external_id")
    purposes = serializers.ListField(child=serializers.CharField())
    attempts = serializers.IntegerField()
    next_attempt_at = serializers.SerializerMethodField(help_text="null once the delivery has ended")
    give_up_at = serializers.DateTimeField()
    stamp_id = serializers.CharField(help_text="The stamp of the last decision; empty before the first")
    last_error = serializers.CharField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)

    def get_next_attempt_at(self, delivery: Delivery) -> str | None:
        if delivery.status in DELIVERY_TERMINAL_STATUSES:
            return None
        return serializers.DateTimeField().to_representation(delivery.next_attempt_at)


class DeliveryDetailOutputSerializer(DeliveryOutputSerializer):
    log = DeliveryAttemptOutputSerializer(many=True, help_text="Every attempt, oldest first")


class WebhookSecretOutputSerializer(serializers.Serializer):
    recipient = serializers.CharField()
    webhook_secret = serializers.CharField(help_text="whsec_<base64>: shown this once; sign checks use it")
    rotated_at = serializers.DateTimeField()
    previous_secret_valid_until = serializers.DateTimeField(
        allow_null=True,
        help_text="Until then notices carry a second signature made with the secret this one replaced "
        "(PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS after the rotation); null when no secret was replaced",
    )


class DeliveryCreateApi(OrganizationApi):
    required_scopes = {"POST": "deliver"}

    @api_operation(
        scope="deliver",
        summary="Have Provenant deliver a payload to a recipient",
        description="Same body as a stamp. The payload is stored sealed and sent to the recipient's "
        "`endpoint_url` by a worker, which decides consent again at the moment of sending: a withdrawal "
        "while the item waits means `blocked` and no call. The body is POSTed as RFC 8785 JCS with "
        "Content-Digest, Privacy-Stamp and `Idempotency-Key: <delivery id>`; failures are retried with "
        "backoff for up to 24 hours. The payload is purged once the delivery ends. Send an "
        "`Idempotency-Key` (1-255 characters, scoped to your organization) to retry safely after a "
        "timeout: the same key and body answer the first delivery and nothing is sent twice.",
        request=DeliveryInputSerializer,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            202: OpenApiResponse(
                DeliveryOutputSerializer,
                description="Accepted; an idempotent replay answers the same delivery (as it stands now) with "
                "`Idempotent-Replayed: true`.",
            )
        },
        problems={
            409: "Idempotency key reused with another body (`idempotency-key-reused`).",
            422: "Invalid fields, unknown recipient or purpose, a recipient without endpoint_url, or an "
            "Idempotency-Key outside 1-255 characters (`validation-error`).",
        },
    )
    def post(self, request: Request) -> Response:
        data = self.validated(DeliveryInputSerializer, request.data)
        header_key = request.headers.get("Idempotency-Key")
        if header_key is not None and not (0 < len(header_key) <= 255):
            raise InvalidInput("Idempotency-Key must be 1-255 characters.")
        accepted = deliveries.delivery_accept(
            organization=self.organization,
            request=stamp_request(data, ""),
            actor=self.client.actor,
            idempotency_key=header_key or "",
            request_digest=request_digest(request.data),
        )
        delivery = accepted.delivery
        response = Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
        response["Location"] = f"/api/v1/deliveries/{delivery.public_id}"
        if accepted.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class DeliveryDetailApi(OrganizationApi):
    required_scopes = {"GET": "deliver"}

    @api_operation(
        scope="deliver",
        summary="A delivery's outcome and every attempt",
        responses={200: DeliveryDetailOutputSerializer},
        problems={404: "No such delivery in your organization."},
    )
    def get(self, request: Request, public_id: str) -> Response:
        delivery = selectors.delivery_for_organization(organization=self.organization, public_id=public_id)
        if delivery is None:
            raise NotFound("No delivery with this id in your organization.")
        return Response(DeliveryDetailOutputSerializer(delivery).data)


class RecipientWebhookSecretRotateApi(OrganizationApi):
    required_scopes = {"POST": "provenance:write"}

    @api_operation(
        scope="provenance:write",
        summary="Issue a new webhook signing secret for a recipient (shown once)",
        description="Consent notices are signed per the Standard Webhooks specification with this "
        "secret: `webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`. Until "
        "`previous_secret_valid_until` (PROVENANT_WEBHOOK_SECRET_OVERLAP_HOURS, default 24, after the "
        "rotation) each notice carries two space-separated signatures, the new secret's first and then "
        "the replaced one's, so receivers can switch without a gap; after that only the new secret signs. "
        "Only the immediately previous secret is kept: rotating again drops the older one at once.",
        request=None,
        responses={200: WebhookSecretOutputSerializer},
        problems={404: "No such recipient."},
    )
    def post(self, request: Request, key: str) -> Response:
        recipient = selectors.recipient_by_key(organization=self.organization, key=key)
        if recipient is None:
            raise NotFound("No recipient with this key in your organization.")
        secret = webhook_secrets.recipient_webhook_secret_rotate(recipient=recipient, actor=self.client.actor)
        body: dict[str, Any] = {
            "recipient": recipient.key,
            "webhook_secret": secret,
            "rotated_at": recipient.webhook_secret_rotated_at,
            "previous_secret_valid_until": webhook_secrets.previous_webhook_secret_valid_until(recipient),
        }
        response = Response(WebhookSecretOutputSerializer(body).data)
        response["Cache-Control"] = "no-store"
        return response
