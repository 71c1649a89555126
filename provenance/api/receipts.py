"""Consent receipts for the person (Kantara CR v1.1, ISO/IEC TS 27560, optionally signed): the view and the
serializers that document its answers."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from consent.api.serializers.ledger import EventLogPlacementSerializer
from core.api.renderers import JOSE_CONTENT_TYPE, FormatParameterNegotiation, JoseRenderer
from core.api.schema import api_operation
from core.api.views import OrganizationApi
from core.problems import InvalidInput, NotFound
from provenance import selectors
from provenance.receipts import DEFAULT_FORMAT, RECEIPT_FORMATS, build_receipt, receipt_jws
from provenance.services.keys import active_signing_key

LEDGER_LOG_HELP = (
    "An extension member beside the standard fields: the event's leaf in the organization's transparency log and "
    "its RFC 9162 inclusion proof against the latest signed checkpoint that covers it (the note included), as the "
    "event's detail carries it; null until sequenced (within PROVENANT_LEDGER_SEQUENCE_SECONDS). Signed receipts "
    "cover it too."
)
_FLAGS = {"true": True, "1": True, "false": False, "0": False}


# ------------------------------------------------------------------------------------------------
# Receipt response shapes (documentation: the pure builders in provenance.receipts make the bodies)
# ------------------------------------------------------------------------------------------------


class KantaraPiiControllerSerializer(serializers.Serializer):
    piiController = serializers.CharField()
    contact = serializers.CharField(allow_blank=True, help_text="Empty: not held by Provenant")
    address = serializers.DictField(help_text="A PostalAddress; empty: not held by Provenant")
    email = serializers.CharField(allow_blank=True, help_text="Empty: not held by Provenant")
    phone = serializers.CharField(allow_blank=True, help_text="Empty: not held by Provenant")
    piiControllerUrl = serializers.CharField(required=False)


class KantaraPurposeSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    purposeCategory = serializers.ListField(child=serializers.CharField(), help_text="The DPV purpose IRI, when set")
    consentType = serializers.CharField()
    piiCategory = serializers.ListField(child=serializers.CharField())
    primaryPurpose = serializers.BooleanField()
    termination = serializers.CharField(help_text="When consent ends: valid_until, or 'withdrawal'")
    thirdPartyDisclosure = serializers.BooleanField()
    thirdPartyName = serializers.CharField(allow_blank=True)


class KantaraServiceSerializer(serializers.Serializer):
    service = serializers.CharField()
    purposes = KantaraPurposeSerializer(many=True)


class KantaraReceiptSerializer(serializers.Serializer):
    """Kantara Initiative Consent Receipt v1.1.0."""

    version = serializers.CharField()
    jurisdiction = serializers.CharField()
    consentTimestamp = serializers.IntegerField(help_text="Unix seconds")
    collectionMethod = serializers.CharField()
    consentReceiptID = serializers.CharField(help_text="The ledger event's ULID")
    language = serializers.CharField()
    piiPrincipalId = serializers.CharField(help_text="The subject id")
    piiControllers = KantaraPiiControllerSerializer(many=True)
    policyUrl = serializers.CharField(allow_blank=True)
    services = KantaraServiceSerializer(many=True)
    sensitive = serializers.BooleanField()
    ledger_log = EventLogPlacementSerializer(allow_null=True, help_text=LEDGER_LOG_HELP)


class Iso27560MetadataSerializer(serializers.Serializer):
    schema_version = serializers.CharField()
    record_id = serializers.CharField()
    receipt_id = serializers.CharField()
    pii_principal_id = serializers.CharField()


class Iso27560PrivacyNoticeSerializer(serializers.Serializer):
    url = serializers.CharField(allow_null=True)
    version = serializers.CharField()
    sha256 = serializers.CharField()


class Iso27560ProcessingSerializer(serializers.Serializer):
    privacy_notice = Iso27560PrivacyNoticeSerializer(allow_null=True)
    language = serializers.CharField()
    purpose = serializers.CharField()
    purpose_type = serializers.CharField(allow_null=True)
    lawful_basis = serializers.CharField(allow_null=True)
    pii_information = serializers.ListField(child=serializers.CharField(), allow_null=True)
    pii_controllers = serializers.ListField(child=serializers.CharField())
    collection_method = serializers.CharField()
    storage_locations = serializers.ListField(child=serializers.CharField(), allow_null=True)
    retention_period = serializers.CharField(allow_null=True)
    jurisdiction = serializers.CharField()
    recipient_third_parties = serializers.ListField(child=serializers.CharField())
    withdrawal_method = serializers.CharField(allow_null=True)


class Iso27560PartySerializer(serializers.Serializer):
    party_id = serializers.CharField()
    name = serializers.CharField()
    type = serializers.CharField()
    role = serializers.CharField()
    address = serializers.CharField(allow_null=True)
    contact = serializers.CharField(allow_null=True)
    email = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)


class Iso27560EventSerializer(serializers.Serializer):
    event_time = serializers.CharField()
    validity_duration = serializers.CharField(allow_null=True, help_text="ISO 8601; null: until withdrawn")
    entity_id = serializers.CharField()
    event_type = serializers.CharField()
    event_state = serializers.CharField(allow_null=True, help_text="DPV consent status IRI")


class Iso27560ReceiptSerializer(serializers.Serializer):
    """ISO/IEC TS 27560 consent record (DPV implementation guide field names)."""

    metadata = Iso27560MetadataSerializer()
    processing = Iso27560ProcessingSerializer()
    party = Iso27560PartySerializer()
    event = Iso27560EventSerializer()
    ledger_log = EventLogPlacementSerializer(allow_null=True, help_text=LEDGER_LOG_HELP)


ConsentReceiptSerializer = PolymorphicProxySerializer(
    component_name="ConsentReceipt",
    serializers=[KantaraReceiptSerializer, Iso27560ReceiptSerializer],
    resource_type_field_name=None,
)


RECEIPT_RESPONSES: dict[Any, Any] = {
    (200, "application/json"): OpenApiResponse(ConsentReceiptSerializer, description="The receipt"),
    (200, JOSE_CONTENT_TYPE): OpenApiResponse(OpenApiTypes.STR, description="With signed=true: compact JWS"),
}


def _flag(value: str | None, name: str) -> bool:
    if value is None:
        return False
    if value.lower() not in _FLAGS:
        raise InvalidInput(
            f"'{name}' must be true or false.", errors=[{"pointer": f"?{name}", "detail": "expected true or false"}]
        )
    return _FLAGS[value.lower()]


class ConsentReceiptApi(OrganizationApi):
    required_scopes = {"GET": "consent:read"}
    renderer_classes = [JSONRenderer, JoseRenderer]
    content_negotiation_class = FormatParameterNegotiation

    @api_operation(
        scope="consent:read",
        summary="A consent receipt for one ledger event",
        description="The receipt to hand to the person: Kantara Consent Receipt v1.1 (`kantara-1.1`, the "
        "default) or an ISO/IEC TS 27560 consent record (`iso27560`). Both carry `ledger_log`: the event's leaf "
        "and its inclusion proof against a signed checkpoint, so the person can check the event is in the "
        "organization's log (null until sequenced). With `signed=true` the receipt "
        "is a compact JWS (`application/jose`, EdDSA, payload = the receipt's RFC 8785 JCS bytes) "
        "signed with the organization's current stamping key; verify it with "
        "`/.well-known/jwks/<issuer>.json` (header `kid`; `/.well-known/jwks.json` lists every organization's "
        "keys).",
        parameters=[
            OpenApiParameter("event_id", OpenApiTypes.STR, OpenApiParameter.PATH),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(RECEIPT_FORMATS), default=DEFAULT_FORMAT),
            OpenApiParameter("signed", OpenApiTypes.BOOL, default=False, description="Return a compact JWS"),
        ],
        responses=RECEIPT_RESPONSES,
        problems={404: "No such event in your organization.", 422: "Unknown `format`, or `signed` not a boolean."},
    )
    def get(self, request: Request, event_id: str) -> Response | HttpResponse:
        receipt_format = request.query_params.get("format", DEFAULT_FORMAT)
        if receipt_format not in RECEIPT_FORMATS:
            raise InvalidInput(
                f"Unknown receipt format; use one of: {', '.join(RECEIPT_FORMATS)}.",
                errors=[{"pointer": "?format", "detail": f"one of {', '.join(RECEIPT_FORMATS)}"}],
            )
        signed = _flag(request.query_params.get("signed"), "signed")
        facts = selectors.receipt_facts(organization=self.organization, event_id=event_id)
        if facts is None:
            raise NotFound("No event with this id in your organization.")
        receipt = build_receipt(facts, receipt_format)
        response: Response | HttpResponse
        if signed:
            key = active_signing_key(organization=self.organization)
            response = HttpResponse(
                receipt_jws(receipt, private_key=key.private_key, kid=key.kid), content_type=JOSE_CONTENT_TYPE
            )
        else:
            response = Response(receipt, content_type="application/json")
        response["Cache-Control"] = "no-store"  # it names the person
        return response
