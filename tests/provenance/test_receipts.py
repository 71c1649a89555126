"""Consent receipts: Kantara CR v1.1 and ISO/IEC TS 27560 field by field for a known event, the signed
form verified with the published JWKS, and the refusals (another organization, unknown format, scope)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from consent import merkle
from consent import services as consent_services
from consent.models import ConsentEvent, PolicyVersion, Purpose, Source
from core.models import AuditLogEntry, Organization
from provenance.models import SigningKey
from provenance.receipts import (
    ISO27560_FORMAT,
    KANTARA_FORMAT,
    ReceiptFacts,
    UnknownReceiptFormat,
    build_receipt,
    iso27560_receipt,
    kantara_receipt,
    receipt_jws,
    validity_duration,
)
from provenance.services.keys import active_signing_key
from provenance.services.recipients import recipient_create
from provenance.verify import canonical_json
from tests.conftest import event_input
from tests.consent.api_contract import assert_problem
from tests.consent.test_openapi import assert_matches, response_schema

# Routed here as well as wherever the lead includes them, so these tests do not depend on config.urls.
urlpatterns = [
    path("api/v1/", include("provenance.api.urls")),
    path("", include("config.urls")),
]
pytestmark = pytest.mark.urls(__name__)

GRANTED_AT = datetime(2025, 3, 1, 9, 30, 15, tzinfo=UTC)
GRANTED_AT_UNIX = 1740821415
VALID_UNTIL = datetime(2025, 9, 1, 9, 30, 15, tzinfo=UTC)  # P6M later
NOTICE_URL = "https://acme.example/privacy/2025-02"
NOTICE_SHA256 = "c" * 64
PURPOSE_IRI = "https://w3id.org/dpv#PersonalisedAdvertising"
CONSENT_IRI = "https://w3id.org/dpv/legal/eu/gdpr#A6-1-a"


def receipt_url(event_id: str, query: str = "") -> str:
    return f"/api/v1/consent-events/{event_id}/receipt" + (f"?{query}" if query else "")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ---------------------------------------------------------------------------------------------
# Pure builders: a hand-made event in, the expected receipt out
# ---------------------------------------------------------------------------------------------

FACTS = ReceiptFacts(
    event_id="01JNC8Q5M4XW3TQ6Z9R2B7K1VD",
    action="grant",
    occurred_at=GRANTED_AT,
    valid_until=VALID_UNTIL,
    jurisdiction="DE",
    collection_method="web_form",
    subject_id="cust-1",
    controller_id="acme",
    controller_name="Acme",
    controller_url=None,
    purpose_key="personalised-ads",
    purpose_name="Personalised ads",
    purpose_description="Ads chosen from what you browse",
    dpv_purpose_iri=PURPOSE_IRI,
    legal_basis="consent",
    dpv_legal_basis_iri="",
    is_sale_or_sharing=True,
    is_sensitive=False,
    purpose_validity="P6M",
    source_key="web-signup",
    policy_version="2025-02",
    notice_url=NOTICE_URL,
    notice_sha256=NOTICE_SHA256,
    third_parties=("Ad Network", "Data Broker"),
)

KANTARA_REQUIRED = {
    "version",
    "jurisdiction",
    "consentTimestamp",
    "collectionMethod",
    "consentReceiptID",
    "language",
    "piiPrincipalId",
    "piiControllers",
    "policyUrl",
    "services",
    "sensitive",
}
ISO27560_MANDATORY = {
    "metadata": {"schema_version", "record_id", "receipt_id", "pii_principal_id"},
    "processing": {
        "privacy_notice",
        "language",
        "purpose",
        "pii_information",
        "pii_controllers",
        "storage_locations",
        "retention_period",
        "jurisdiction",
        "recipient_third_parties",
        "withdrawal_method",
    },
    "party": {"party_id", "address", "name", "contact", "type"},
    "event": {"event_time", "validity_duration", "entity_id", "event_type", "event_state"},
}


def expected_kantara(facts: ReceiptFacts) -> dict[str, Any]:
    return {
        "version": "KI-CR-v1.1.0",
        "jurisdiction": "DE",
        "consentTimestamp": GRANTED_AT_UNIX,
        "collectionMethod": "Web form",
        "consentReceiptID": facts.event_id,
        "language": "en",
        "piiPrincipalId": "cust-1",
        "piiControllers": [{"piiController": "Acme", "contact": "", "address": {}, "email": "", "phone": ""}],
        "policyUrl": NOTICE_URL,
        "services": [
            {
                "service": "Personalised ads",
                "purposes": [
                    {
                        "purpose": "Ads chosen from what you browse",
                        "purposeCategory": [PURPOSE_IRI],
                        "consentType": "EXPLICIT",
                        "piiCategory": [],
                        "primaryPurpose": True,
                        "termination": "2025-09-01T09:30:15.000000Z",
                        "thirdPartyDisclosure": True,
                        "thirdPartyName": "Ad Network, Data Broker",
                    }
                ],
            }
        ],
        "sensitive": False,
        "ledger_log": facts.ledger_log,
    }


def expected_iso27560(facts: ReceiptFacts) -> dict[str, Any]:
    return {
        "metadata": {
            "schema_version": "ISO/IEC TS 27560:2023",
            "record_id": facts.event_id,
            "receipt_id": facts.event_id,
            "pii_principal_id": "cust-1",
        },
        "processing": {
            "privacy_notice": {"url": NOTICE_URL, "version": "2025-02", "sha256": NOTICE_SHA256},
            "language": "en",
            "purpose": "Ads chosen from what you browse",
            "purpose_type": PURPOSE_IRI,
            "lawful_basis": CONSENT_IRI,
            "pii_information": None,
            "pii_controllers": ["org:acme"],
            "collection_method": "web_form",
            "storage_locations": None,
            "retention_period": None,
            "jurisdiction": "DE",
            "recipient_third_parties": ["Ad Network", "Data Broker"],
            "withdrawal_method": None,
        },
        "party": {
            "party_id": "org:acme",
            "name": "Acme",
            "type": "pii_controller",
            "role": "controller",
            "address": None,
            "contact": None,
            "email": None,
            "phone": None,
            "url": None,
        },
        "event": {
            "event_time": "2025-03-01T09:30:15.000000Z",
            "validity_duration": "P6M",
            "entity_id": "cust-1",
            "event_type": "grant",
            "event_state": "https://w3id.org/dpv#ConsentGiven",
        },
        "ledger_log": facts.ledger_log,
    }


def test_kantara_receipt_of_a_known_event_has_every_required_field_with_its_value() -> None:
    receipt = kantara_receipt(FACTS)

    assert receipt == expected_kantara(FACTS)
    assert set(receipt) >= KANTARA_REQUIRED


def test_iso27560_record_of_a_known_event_has_every_mandatory_field_with_its_value() -> None:
    record = iso27560_receipt(FACTS)

    assert record == expected_iso27560(FACTS)
    for section, fields in ISO27560_MANDATORY.items():
        assert set(record[section]) >= fields, section


def test_unknown_receipt_format_is_refused_by_the_builder() -> None:
    with pytest.raises(UnknownReceiptFormat):
        build_receipt(FACTS, "kantara-1.0")


def test_receipt_without_expiry_terminates_on_withdrawal_and_has_no_validity_duration() -> None:
    facts = replace(FACTS, valid_until=None, purpose_validity="")

    assert kantara_receipt(facts)["services"][0]["purposes"][0]["termination"] == "withdrawal"
    assert iso27560_receipt(facts)["event"]["validity_duration"] is None


def test_receipt_without_a_policy_version_has_an_empty_policy_url_and_no_notice() -> None:
    facts = replace(FACTS, policy_version=None, notice_url="", notice_sha256=None)

    assert kantara_receipt(facts)["policyUrl"] == ""
    assert iso27560_receipt(facts)["processing"]["privacy_notice"] is None


def test_purpose_without_dpv_iri_has_no_purpose_category_and_the_basis_iri_comes_from_the_legal_basis() -> None:
    facts = replace(FACTS, dpv_purpose_iri="", legal_basis="legitimate_interest")

    assert kantara_receipt(facts)["services"][0]["purposes"][0]["purposeCategory"] == []
    assert iso27560_receipt(facts)["processing"]["purpose_type"] is None
    assert iso27560_receipt(facts)["processing"]["lawful_basis"] == "https://w3id.org/dpv/legal/eu/gdpr#A6-1-f"


def test_validity_duration_is_the_exact_span_when_the_purpose_validity_did_not_fix_it() -> None:
    facts = replace(FACTS, purpose_validity="P1Y", valid_until=datetime(2025, 3, 11, 10, 31, 16, tzinfo=UTC))

    assert validity_duration(facts) == "P10DT1H1M1S"


def test_controller_recorded_events_name_the_controller_as_the_acting_entity() -> None:
    facts = replace(FACTS, action="expire", collection_method="system")

    event = iso27560_receipt(facts)["event"]

    assert event == event | {"entity_id": "org:acme", "event_type": "expire"}
    assert event["event_state"] == "https://w3id.org/dpv#ConsentExpired"


def test_receipt_jws_embeds_the_jcs_payload_and_verifies_with_the_public_key() -> None:
    private_key = Ed25519PrivateKey.generate()
    receipt = kantara_receipt(FACTS)

    header, payload, signature = receipt_jws(receipt, private_key=private_key, kid="k1").split(".")

    assert json.loads(b64url_decode(header)) == {"alg": "EdDSA", "kid": "k1", "typ": "consent-receipt+jws"}
    assert b64url_decode(payload) == canonical_json(receipt)
    private_key.public_key().verify(b64url_decode(signature), f"{header}.{payload}".encode())


# ---------------------------------------------------------------------------------------------
# Over the API
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptWorld:
    organization: Organization
    purpose: Purpose
    version: PolicyVersion
    event: ConsentEvent


@pytest.fixture
def receipt_world(organization: Organization, source: Source) -> ReceiptWorld:
    purpose = consent_services.purpose_create(
        organization=organization,
        actor="test",
        key="personalised-ads",
        name="Personalised ads",
        description="Ads chosen from what you browse",
        dpv_purpose_iri=PURPOSE_IRI,
        is_sale_or_sharing=True,
        validity="P6M",
    )
    version = consent_services.policy_version_create(
        purpose=purpose,
        actor="test",
        version="2025-02",
        notice_sha256=NOTICE_SHA256,
        notice_url=NOTICE_URL,
        effective_at=datetime(2025, 2, 1, tzinfo=UTC),
    )
    for key, name, role in (
        ("ad-network", "Ad Network", "third_party"),
        ("data-broker", "Data Broker", "controller"),
        ("crm", "CRM", "processor"),  # a processor is no third party
    ):
        recipient_create(
            organization=organization, actor="test", key=key, name=name, role=role, purposes=["personalised-ads"]
        )
    recorded = consent_services.consent_record(
        organization=organization,
        item=event_input(purpose="personalised-ads", occurred_at=GRANTED_AT, policy_version="2025-02"),
    )
    return ReceiptWorld(organization, purpose, version, recorded.event)


@pytest.fixture
def reader(receipt_world: ReceiptWorld, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(receipt_world.organization, "consent:read")


def world_facts(world: ReceiptWorld) -> ReceiptFacts:
    return replace(FACTS, event_id=world.event.event_id)


def test_kantara_receipt_over_the_api_matches_the_expected_receipt(
    receipt_world: ReceiptWorld, reader: APIClient
) -> None:
    response = reader.get(receipt_url(receipt_world.event.event_id, "format=kantara-1.1"))

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    assert response.json() == expected_kantara(world_facts(receipt_world))


def test_kantara_is_the_default_format(receipt_world: ReceiptWorld, reader: APIClient) -> None:
    response = reader.get(receipt_url(receipt_world.event.event_id))

    assert response.status_code == 200
    assert response.json()["version"] == "KI-CR-v1.1.0"
    assert response.json()["consentReceiptID"] == receipt_world.event.event_id


def test_iso27560_record_over_the_api_matches_the_expected_record(
    receipt_world: ReceiptWorld, reader: APIClient
) -> None:
    response = reader.get(receipt_url(receipt_world.event.event_id, f"format={ISO27560_FORMAT}"))

    assert response.status_code == 200, response.content
    assert response.json() == expected_iso27560(world_facts(receipt_world))


def test_withdrawal_receipt_reads_withdrawn_in_the_27560_event(receipt_world: ReceiptWorld, reader: APIClient) -> None:
    withdrawal = consent_services.consent_record(
        organization=receipt_world.organization,
        item=event_input(purpose="personalised-ads", action="withdraw", occurred_at=datetime(2025, 4, 1, tzinfo=UTC)),
    ).event

    event = reader.get(receipt_url(withdrawal.event_id, "format=iso27560")).json()["event"]

    assert event["event_type"] == "withdraw"
    assert event["event_state"] == "https://w3id.org/dpv#ConsentWithdrawn"
    assert event["validity_duration"] is None


@pytest.mark.parametrize("receipt_format", [KANTARA_FORMAT, ISO27560_FORMAT])
def test_signed_receipt_is_a_compact_jws_that_verifies_with_the_published_jwks(
    receipt_world: ReceiptWorld, reader: APIClient, receipt_format: str
) -> None:
    event_id = receipt_world.event.event_id
    plain = reader.get(receipt_url(event_id, f"format={receipt_format}")).json()

    response = reader.get(receipt_url(event_id, f"format={receipt_format}&signed=true"))

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/jose"
    header_b64, payload_b64, signature_b64 = response.content.decode("ascii").split(".")
    header = json.loads(b64url_decode(header_b64))
    assert header["alg"] == "EdDSA"
    assert header["kid"] == active_signing_key(organization=receipt_world.organization).kid
    assert b64url_decode(payload_b64) == canonical_json(plain)  # embedded JCS payload, not detached
    jwks = APIClient().get("/.well-known/jwks.json").json()
    jwk = next(key for key in jwks["keys"] if key["kid"] == header["kid"])
    public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    public_key.verify(b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode("ascii"))


def test_a_changed_signed_receipt_no_longer_verifies(receipt_world: ReceiptWorld, reader: APIClient) -> None:
    token = reader.get(receipt_url(receipt_world.event.event_id, "signed=true")).content.decode("ascii")
    header_b64, payload_b64, signature_b64 = token.split(".")
    changed = json.loads(b64url_decode(payload_b64)) | {"piiPrincipalId": "someone-else"}
    forged_payload = base64.urlsafe_b64encode(canonical_json(changed)).rstrip(b"=").decode("ascii")
    jwk = APIClient().get("/.well-known/jwks.json").json()["keys"][0]
    public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))

    with pytest.raises(InvalidSignature):
        public_key.verify(b64url_decode(signature_b64), f"{header_b64}.{forged_payload}".encode("ascii"))


def test_signed_receipt_is_served_to_a_client_that_accepts_only_jose(
    receipt_world: ReceiptWorld, reader: APIClient
) -> None:
    response = reader.get(receipt_url(receipt_world.event.event_id, "signed=true"), HTTP_ACCEPT="application/jose")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jose"
    assert response.content.count(b".") == 2


def test_another_organizations_event_is_not_found(
    receipt_world: ReceiptWorld, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    outsider = api_client_for(other_organization, "consent:read")

    for query in ("", "format=iso27560", "signed=true"):
        assert_problem(outsider.get(receipt_url(receipt_world.event.event_id, query)), 404, "not-found")


def test_an_unknown_event_id_is_not_found(receipt_world: ReceiptWorld, reader: APIClient) -> None:
    assert_problem(reader.get(receipt_url("01JNC8Q5M4XW3TQ6Z9R2B7K1VD")), 404, "not-found")


@pytest.mark.parametrize("query", ["format=kantara-1.0", "format=json", "format=", "signed=maybe"])
def test_an_unknown_format_or_flag_is_a_422(receipt_world: ReceiptWorld, reader: APIClient, query: str) -> None:
    body = assert_problem(reader.get(receipt_url(receipt_world.event.event_id, query)), 422, "validation-error")

    assert body["errors"][0]["pointer"].startswith("?")


def test_receipts_need_the_consent_read_scope(
    receipt_world: ReceiptWorld, api_client_for: Callable[..., APIClient]
) -> None:
    url = receipt_url(receipt_world.event.event_id)

    assert_problem(APIClient().get(url), 401, "unauthenticated")
    assert_problem(api_client_for(receipt_world.organization, "stamp").get(url), 403, "insufficient-scope")


# ---------------------------------------------------------------------------------------------
# The OpenAPI document describes what is served
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("receipt_format", [KANTARA_FORMAT, ISO27560_FORMAT])
def test_receipts_match_their_documented_schema(
    receipt_world: ReceiptWorld, reader: APIClient, receipt_format: str
) -> None:
    schema = SchemaGenerator(urlconf=__name__).get_schema(request=None, public=True)
    path_ = "/api/v1/consent-events/{event_id}/receipt"
    content = schema["paths"][path_]["get"]["responses"]["200"]["content"]

    body = reader.get(receipt_url(receipt_world.event.event_id, f"format={receipt_format}")).json()

    assert list(content) == ["application/json", "application/jose"]
    assert_matches(schema, body, response_schema(schema, "GET", path_, 200))
    assert_matches(schema, reader.get(receipt_url("nope")).json(), response_schema(schema, "GET", path_, 404))


def test_a_new_organization_has_its_key_from_the_start_so_a_signed_receipt_writes_nothing(
    receipt_world: ReceiptWorld, reader: APIClient
) -> None:
    """A GET never writes: the organization's signing key is made with the organization (organization_create's
    signal), not on the first signed receipt."""
    organization = receipt_world.organization
    assert SigningKey.objects.filter(organization=organization, is_current=True).count() == 1
    keys_before, audit_before = SigningKey.objects.count(), AuditLogEntry.objects.count()

    response = reader.get(receipt_url(receipt_world.event.event_id, "signed=true"))

    assert response.status_code == 200
    assert (SigningKey.objects.count(), AuditLogEntry.objects.count()) == (keys_before, audit_before)


@pytest.mark.parametrize("receipt_format", [KANTARA_FORMAT, ISO27560_FORMAT])
def test_a_sequenced_event_s_receipt_proves_it_is_in_the_signed_log(
    receipt_world: ReceiptWorld, reader: APIClient, receipt_format: str
) -> None:
    """Issue #12: the receipt carries the event's leaf and its inclusion proof against the signed checkpoint that
    covers it; the person checks it with the checkpoint's root alone, and the signed receipt covers the proof."""
    event_id = receipt_world.event.event_id
    before = reader.get(receipt_url(event_id, f"format={receipt_format}")).json()
    assert before["ledger_log"] is None  # not sequenced yet
    consent_services.consent_record(  # a later event, so the proof has a path
        organization=receipt_world.organization, item=event_input(subject_id="cust-2", purpose="personalised-ads")
    )
    consent_services.ledger_sequence(receipt_world.organization)
    checkpoint = consent_services.ledger_checkpoint(receipt_world.organization)
    assert checkpoint is not None

    log = reader.get(receipt_url(event_id, f"format={receipt_format}")).json()["ledger_log"]

    assert (log["event_id"], log["leaf_index"], log["tree_size"]) == (event_id, 0, checkpoint.tree_size)
    assert log["checkpoint"] == checkpoint.note
    root = base64.b64decode(log["root_hash"])
    assert root.hex() == checkpoint.root_hash
    leaf = base64.b64decode(log["leaf_hash"])
    assert leaf == merkle.leaf_hash(bytes.fromhex(receipt_world.event.hash))
    path = [base64.b64decode(step) for step in log["proof"]]
    assert path
    assert merkle.verify_inclusion(leaf, log["leaf_index"], log["tree_size"], path, root)
    assert not merkle.verify_inclusion(leaf, 1, log["tree_size"], path, root)
    token = reader.get(receipt_url(event_id, f"format={receipt_format}&signed=true")).content.decode("ascii")
    assert json.loads(b64url_decode(token.split(".")[1]))["ledger_log"] == log
