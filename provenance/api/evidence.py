"""A subject's evidence pack (issue #14): JSON with its compact JWS, or the signed PDF; the view and the serializers
that document its answer."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from consent.api.serializers.ledger import EventLogPlacementSerializer, EvidenceOutputSerializer
from consent.api.views import ConsentApi
from core.api.renderers import FormatParameterNegotiation, PdfRenderer
from core.api.schema import SUBJECT_ID, api_operation
from core.problems import InvalidInput
from provenance.evidence import EVIDENCE_PACK_JWS_TYPE, PDF_ATTACHMENT_NAME, parse_evidence_at
from provenance.evidence_pdf import evidence_pack_pdf
from provenance.services.evidence import evidence_pack_produce

EVIDENCE_SCOPE = "evidence:read"
MAX_PURPOSES = 50


class EvidenceStateSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    status = serializers.CharField()
    permitted = serializers.BooleanField()
    basis = serializers.CharField()
    since = serializers.CharField(allow_null=True)
    valid_until = serializers.CharField(allow_null=True)
    source = serializers.CharField(allow_null=True)  # type: ignore[assignment]
    policy_version = serializers.CharField(allow_null=True)
    jurisdiction = serializers.CharField(allow_null=True)
    gpc = serializers.BooleanField()
    event_id = serializers.CharField(allow_null=True, help_text="The event the state stood on at that date")


class EvidenceEventSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    chain_index = serializers.IntegerField()
    purpose = serializers.CharField()
    action = serializers.CharField()
    occurred_at = serializers.CharField()
    recorded_at = serializers.CharField()
    valid_until = serializers.CharField(allow_null=True)
    source = serializers.CharField()  # type: ignore[assignment]
    collection_method = serializers.CharField()
    policy_version = serializers.CharField(allow_null=True)
    jurisdiction = serializers.CharField()
    gpc = serializers.BooleanField()
    explicit_confirmation = serializers.BooleanField()
    supersedes = serializers.CharField(allow_null=True)
    evidence_status = serializers.ChoiceField(
        choices=["decrypted", "none", "erased", "unavailable"],
        help_text="decrypted; none recorded; shredded with the erased subject; or a data key that does not open",
    )
    evidence = EvidenceOutputSerializer(allow_null=True, help_text="In clear (IP, user agent, the document)")
    evidence_sealed = serializers.CharField(allow_null=True, help_text="The ciphertext the hash covers")
    prev_hash = serializers.CharField()
    hash = serializers.CharField()
    ledger_log = EventLogPlacementSerializer(allow_null=True, help_text="Inclusion proof; null until sequenced")
    recorded_after_at = serializers.BooleanField(
        help_text="Occurred by the pack's date but recorded after it (e.g. a letter entered later)"
    )
    receipts = serializers.DictField(
        child=serializers.DictField(), help_text="The event's consent receipts by format: kantara-1.1 and iso27560"
    )


class EvidenceNoticeSerializer(serializers.Serializer):
    purpose = serializers.CharField()
    version = serializers.CharField()
    effective_at = serializers.CharField()
    is_material = serializers.BooleanField()
    notice_sha256 = serializers.CharField()
    notice_url = serializers.CharField(allow_null=True)
    notice_text = serializers.CharField(allow_null=True)
    in_force_at_pack_date = serializers.BooleanField()


class EvidenceChainLinkSerializer(serializers.Serializer):
    chain_index = serializers.IntegerField()
    event_id = serializers.CharField()
    prev_hash = serializers.CharField()
    hash = serializers.CharField()


class EvidenceChainSerializer(serializers.Serializer):
    genesis_hash = serializers.CharField()
    links = EvidenceChainLinkSerializer(many=True, help_text="The subject's chain from the genesis hash")
    checkpoint = serializers.CharField(allow_null=True, help_text="The log's latest signed checkpoint")


class EvidenceReliedOnSerializer(serializers.Serializer):
    event_id = serializers.CharField()
    purpose = serializers.CharField(allow_null=True)
    action = serializers.CharField(allow_null=True)
    occurred_at = serializers.CharField(allow_null=True)
    in_pack = serializers.BooleanField(help_text="The event is among the pack's events")


class EvidenceStampSerializer(serializers.Serializer):
    stamp_id = serializers.CharField()
    stamped_at = serializers.CharField()
    recipient = serializers.CharField()
    purposes = serializers.ListField(child=serializers.CharField())
    decision = serializers.CharField()
    reasons = serializers.ListField(child=serializers.DictField())
    relied_on_event_ids = serializers.ListField(child=serializers.CharField())
    relied_on = EvidenceReliedOnSerializer(many=True, help_text="The consent events the decision rested on")
    data_categories = serializers.ListField(child=serializers.CharField(), help_text="Sent; empty when blocked")
    data_digest = serializers.CharField()
    kid = serializers.CharField(allow_null=True)
    jurisdiction = serializers.CharField(allow_null=True)


class EvidenceDeliverySerializer(serializers.Serializer):
    delivery_id = serializers.CharField()
    created_at = serializers.CharField()
    finished_at = serializers.CharField(allow_null=True)
    recipient = serializers.CharField()
    purposes = serializers.ListField(child=serializers.CharField())
    status = serializers.CharField()
    attempts = serializers.IntegerField()
    stamp_id = serializers.CharField(allow_null=True, help_text="The stamp made when it was sent")


class EvidenceRecipientSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField()
    is_third_party = serializers.BooleanField()
    data_categories = serializers.ListField(child=serializers.CharField())
    stamps = EvidenceStampSerializer(many=True)
    deliveries = EvidenceDeliverySerializer(many=True)


class EvidenceSubjectSerializer(serializers.Serializer):
    id = serializers.CharField()
    uuid = serializers.CharField()
    jurisdiction = serializers.CharField(allow_null=True)
    is_erased = serializers.BooleanField()


class EvidencePackOutputSerializer(serializers.Serializer):
    type = serializers.CharField(help_text="consent-evidence-pack")
    version = serializers.IntegerField()
    issued_at = serializers.CharField()
    issuer = serializers.CharField(help_text="The organization's public identifier (its JWKS is named after it)")
    organization = serializers.CharField()
    at = serializers.CharField(help_text="The instant the pack is as of")
    purposes = serializers.ListField(child=serializers.CharField())
    subject = EvidenceSubjectSerializer()
    state = EvidenceStateSerializer(many=True)
    events = EvidenceEventSerializer(many=True)
    notices = EvidenceNoticeSerializer(many=True)
    chain = EvidenceChainSerializer()
    recipients = EvidenceRecipientSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
    verification = serializers.DictField(help_text="How to check the signature")
    jws = serializers.CharField(
        help_text=f"Compact JWS (EdDSA, typ `{EVIDENCE_PACK_JWS_TYPE}`) whose payload is the RFC 8785 canonical JSON "
        "of this object without `jws`"
    )


def evidence_query(request: Request) -> tuple[Any, list[str]]:
    """``at`` (a date or an RFC 3339 instant; default now) and ``purposes`` (comma-separated or repeated)."""
    errors = []
    raw_at = request.query_params.get("at")
    at = None
    if raw_at is not None:
        at = parse_evidence_at(raw_at)
        if at is None:
            errors.append({"pointer": "?at", "detail": "expected a date (2026-03-03) or an RFC 3339 instant"})
        elif len(raw_at.strip()) == 10 and at.date() == timezone.now().astimezone(UTC).date():
            at = timezone.now()  # today: as of now, the end of the day is still to come
    purposes = [
        key.strip() for value in request.query_params.getlist("purposes") for key in value.split(",") if key.strip()
    ]
    if len(purposes) > MAX_PURPOSES:
        errors.append({"pointer": "?purposes", "detail": f"at most {MAX_PURPOSES} purposes"})
    if errors:
        raise InvalidInput("Bad evidence pack query; see errors.", errors=errors)
    return at, list(dict.fromkeys(purposes))


class SubjectEvidenceApi(ConsentApi):
    required_scopes = {"GET": EVIDENCE_SCOPE}
    renderer_classes = [JSONRenderer, PdfRenderer]
    content_negotiation_class = FormatParameterNegotiation

    @api_operation(
        scope=EVIDENCE_SCOPE,
        summary="A subject's evidence pack: consent on a date, its evidence, and what was sent to whom",
        description="The state on `at` (replayed from the ledger), every event of the purposes that occurred by "
        "then with its evidence decrypted (IP, user agent, the document the legal team recorded), its hash, its "
        "inclusion proof in the transparency log and its consent receipts, the notices in force, the subject's "
        "chain from the genesis hash, and every stamp and delivery to each recipient with the consent events each "
        "stamp relied on and the data categories sent. Signed as a compact JWS (EdDSA, typ "
        f"`{EVIDENCE_PACK_JWS_TYPE}`, the organization's current key) in `jws`: verify it with "
        "`/.well-known/jwks/<issuer>.json`. With `Accept: application/pdf` the pack as a PDF that prints the JWS "
        f"and carries it as the attachment `{PDF_ATTACHMENT_NAME}`. Decrypting evidence is audited: each pack "
        "writes an audit entry (`subject.evidence_pack_produced`), the one write this GET makes.",
        parameters=[
            SUBJECT_ID,
            OpenApiParameter(
                "at",
                OpenApiTypes.STR,
                description="A date (`2026-03-03`: the end of that day, UTC) or an RFC 3339 instant; default now",
            ),
            OpenApiParameter(
                "purposes", OpenApiTypes.STR, description="Purpose keys, comma-separated; default every purpose"
            ),
        ],
        responses={
            (200, "application/json"): EvidencePackOutputSerializer,
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The signed PDF"),
        },
        problems={
            404: "No such subject in your organization.",
            409: "The subject's data key does not open for it (`subject-key-unavailable`).",
            422: "Bad `at` (malformed, or in the future) or unknown `purposes` (`validation-error`).",
        },
    )
    def get(self, request: Request, subject_id: str) -> Response | HttpResponse:
        at, purposes = evidence_query(request)
        subject = self.subject_or_404(subject_id)
        produced = evidence_pack_produce(
            organization=self.organization,
            subject=subject,
            at=at or timezone.now(),
            purposes=purposes,
            actor=self.client.actor,
            jwks_url=request.build_absolute_uri(reverse("organization-jwks", args=[self.organization.slug])),
            channel="api",
        )
        response: Response | HttpResponse
        if request.accepted_renderer.format == "pdf":
            pdf = evidence_pack_pdf(produced.pack, jws=produced.jws, kid=produced.kid)
            response = HttpResponse(pdf, content_type="application/pdf")
            response["Content-Disposition"] = 'attachment; filename="evidence-pack.pdf"'
        else:
            response = Response({**produced.pack, "jws": produced.jws}, content_type="application/json")
        response["Cache-Control"] = "no-store"  # it names the person and carries their evidence
        return response
