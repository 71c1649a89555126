"""DSAR compliance certificates: clock events, met/missed deadlines, and a JWS an auditor verifies with the JWKS."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.utils import timezone
from rest_framework.test import APIClient

from core.models import Organization
from dsar import services
from dsar.certificate import (
    CERTIFICATE_JWS_TYPE,
    CertificateFacts,
    CertificateStep,
    build_certificate,
    certificate_jws,
)
from dsar.deadlines import compute_deadlines
from dsar.models import DataSubjectRequest
from provenance.services import keys
from provenance.verify import canonical_json
from tests.consent.api_contract import assert_problem


@pytest.fixture(autouse=True)
def fresh_signing_key_cache() -> Iterator[None]:
    """The current signing key is cached per process; a key cached by an earlier test was rolled back."""
    keys._cache.clear()
    yield
    keys._cache.clear()


# --- helpers ---------------------------------------------------------------------------------------------------


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def verify_with_jwks(jws: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """What an auditor does: find the key by ``kid``, check Ed25519 over ``header.payload``, read the payload."""
    header_part, payload_part, signature_part = jws.split(".")
    header = json.loads(b64url_decode(header_part))
    assert header["alg"] == "EdDSA"
    jwk = next(key for key in jwks["keys"] if key["kid"] == header["kid"])
    public_key = Ed25519PublicKey.from_public_bytes(b64url_decode(jwk["x"]))
    public_key.verify(b64url_decode(signature_part), f"{header_part}.{payload_part}".encode("ascii"))
    payload: dict[str, Any] = json.loads(b64url_decode(payload_part))
    return payload


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def facts(
    *, regime: str = "gdpr", received: str, steps: list[tuple[str, str, str]], **overrides: Any
) -> CertificateFacts:
    """A request under ``regime`` received at ``received`` (UTC), with ``(at, from, to)`` steps after the intake."""
    received_at = at(received)
    result = compute_deadlines(
        regime=regime,
        request_type=overrides.pop("request_type", "access"),
        received_at=received_at,
        tz="UTC",
        calendar="WEEKENDS_ONLY",
    )
    history = [CertificateStep(at=received_at, actor="test", from_status="", to_status="received")]
    history += [CertificateStep(at=at(when), actor="user:1", from_status=a, to_status=b) for when, a, b in steps]
    values: dict[str, Any] = {
        "request_id": "01TEST",
        "organization": "acme",
        "request_type": result.request_type,
        "regime": regime,
        "jurisdiction": "",
        "channel": "email",
        "received_at": received_at,
        "status": history[-1].to_status,
        "deadlines": result.to_dict(),
        "steps": history,
    }
    values.update(overrides)
    return CertificateFacts(**values)


def row(certificate: dict[str, Any], key: str) -> dict[str, Any]:
    return next(item for item in certificate["deadlines"] if item["key"] == key)


# --- the pure builder ------------------------------------------------------------------------------------------


def test_request_completed_before_its_due_date_is_met() -> None:
    given = facts(
        received="2026-01-15T10:00:00",
        steps=[("2026-01-16T09:00:00", "received", "in_progress"), ("2026-02-10T09:00:00", "in_progress", "completed")],
    )

    certificate = build_certificate(given, issued_at=at("2026-03-01T00:00:00"))

    assert row(certificate, "initial_due") | {"rule": ""} == {
        "key": "initial_due",
        "due": "2026-02-16",  # 15 Feb 2026 is a Sunday: rolled to Monday
        "rule": "",
        "is_enforced": True,
        "answered_by": "completed",
        "met": True,
    }
    assert row(certificate, "initial_due")["rule"].startswith("GDPR Art. 12(3)")
    assert certificate["outcome"] == {
        "status": "completed",
        "responded_on": "2026-02-10",
        "enforced_key": "initial_due",
        "enforced_due": "2026-02-16",
        "paused_days": 0,
        "met": True,
    }
    assert [event["kind"] for event in certificate["events"]] == ["received", "acknowledged", "completed"]


def test_request_completed_after_its_due_date_is_missed() -> None:
    given = facts(
        received="2026-01-15T10:00:00",
        steps=[("2026-01-16T09:00:00", "received", "in_progress"), ("2026-02-17T09:00:00", "in_progress", "completed")],
    )

    certificate = build_certificate(given, issued_at=at("2026-03-01T00:00:00"))

    assert row(certificate, "initial_due")["met"] is False
    assert certificate["outcome"]["met"] is False
    assert certificate["outcome"]["responded_on"] == "2026-02-17"


def test_open_request_is_pending_until_due_then_missed() -> None:
    given = facts(received="2026-01-15T10:00:00", steps=[("2026-01-16T09:00:00", "received", "in_progress")])

    before = build_certificate(given, issued_at=at("2026-02-01T00:00:00"))
    after = build_certificate(given, issued_at=at("2026-02-17T00:00:00"))

    assert before["outcome"]["met"] is None
    assert after["outcome"]["met"] is False
    assert row(after, "initial_due")["answered_by"] is None


def test_every_clock_event_is_listed_with_pause_extension_and_rejection() -> None:
    given = facts(
        received="2026-01-15T10:00:00",
        steps=[
            ("2026-01-16T09:00:00", "received", "identity_pending"),
            ("2026-01-20T09:00:00", "identity_pending", "verified"),
            ("2026-02-01T09:00:00", "verified", "verified"),
            ("2026-02-20T09:00:00", "verified", "rejected"),
        ],
        extension_reason_code="complexity",
        extension_notice_sent_on=date(2026, 2, 1),
    )

    certificate = build_certificate(given, issued_at=at("2026-03-01T00:00:00"))

    kinds = [event["kind"] for event in certificate["events"]]
    assert kinds == ["received", "acknowledged", "paused", "verified", "extended", "rejected"]
    paused = certificate["events"][2]
    assert paused["pauses_clock"] is True
    extended = certificate["events"][4]
    assert (extended["reason_code"], extended["notice_sent_on"]) == ("complexity", "2026-02-01")
    notice = row(certificate, "extension_notice_due")
    assert (notice["answered_by"], notice["met"]) == ("extended", True)


def test_us_law_identity_check_does_not_pause_and_confirmation_is_checked() -> None:
    given = facts(
        regime="ccpa",
        received="2026-01-05T18:00:00",
        steps=[
            ("2026-01-30T18:00:00", "received", "identity_pending"),
            ("2026-02-02T18:00:00", "identity_pending", "verified"),
        ],
    )

    certificate = build_certificate(given, issued_at=at("2026-02-03T00:00:00"))

    assert certificate["events"][2]["pauses_clock"] is False
    confirm = row(certificate, "confirm_legal_due")
    assert (confirm["answered_by"], confirm["met"]) == ("acknowledged", False)  # 10 business days passed first
    assert row(certificate, "response_due")["is_enforced"] is True


def test_certificate_jws_embeds_the_canonical_payload_and_tampering_breaks_it() -> None:
    key = Ed25519PrivateKey.generate()
    certificate = build_certificate(
        facts(received="2026-01-15T10:00:00", steps=[]), issued_at=at("2026-01-20T00:00:00")
    )
    jwks = {"keys": [{"kid": "k1", "x": b64url(key.public_key().public_bytes_raw())}]}

    jws = certificate_jws(certificate, private_key=key, kid="k1")

    header, payload, _ = jws.split(".")
    assert json.loads(b64url_decode(header)) == {"alg": "EdDSA", "kid": "k1", "typ": CERTIFICATE_JWS_TYPE}
    assert b64url_decode(payload) == canonical_json(certificate)
    assert verify_with_jwks(jws, jwks) == certificate
    forged = dict(certificate, outcome={**certificate["outcome"], "met": True})
    with pytest.raises(InvalidSignature):
        verify_with_jwks(f"{header}.{b64url(canonical_json(forged))}.{jws.split('.')[2]}", jwks)


# --- the API ---------------------------------------------------------------------------------------------------


@pytest.fixture
def reader(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "dsar:read")


def completed_request(organization: Organization, *, received_days_ago: int) -> DataSubjectRequest:
    request = services.dsar_create(
        organization=organization,
        request_type="access",
        channel="email",
        actor="test",
        jurisdiction="DE",
        received_at=timezone.now() - timedelta(days=received_days_ago),
    )
    services.dsar_transition(request=request, to_status="in_progress", actor="test")
    return services.dsar_transition(request=request, to_status="completed", actor="test")


@pytest.mark.django_db
def test_certificate_signature_verifies_with_the_published_jwks(organization: Organization, reader: APIClient) -> None:
    request = completed_request(organization, received_days_ago=2)

    response = reader.get(f"/api/v1/dsar/{request.public_id}/certificate")

    assert response.status_code == 200, response.content
    body = response.json()
    jwks = APIClient().get("/.well-known/jwks.json").json()
    assert verify_with_jwks(body["signature"], jwks) == body["certificate"]
    assert json.loads(b64url_decode(body["signature"].split(".")[0]))["kid"] == body["kid"]
    assert body["certificate"]["request"]["id"] == request.public_id
    assert body["certificate"]["outcome"]["met"] is True
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db
def test_tampered_certificate_fails_verification(organization: Organization, reader: APIClient) -> None:
    request = completed_request(organization, received_days_ago=60)
    body = reader.get(f"/api/v1/dsar/{request.public_id}/certificate").json()
    jwks = APIClient().get("/.well-known/jwks.json").json()
    header, _, signature = body["signature"].split(".")
    assert body["certificate"]["outcome"]["met"] is False  # received 60 days ago: one month was missed

    forged = dict(body["certificate"], outcome={**body["certificate"]["outcome"], "met": True})

    with pytest.raises(InvalidSignature):
        verify_with_jwks(f"{header}.{b64url(canonical_json(forged))}.{signature}", jwks)


@pytest.mark.django_db
def test_late_and_timely_completions_are_flagged_missed_and_met(organization: Organization, reader: APIClient) -> None:
    timely = completed_request(organization, received_days_ago=1)
    late = completed_request(organization, received_days_ago=45)

    timely_body = reader.get(f"/api/v1/dsar/{timely.public_id}/certificate").json()["certificate"]
    late_body = reader.get(f"/api/v1/dsar/{late.public_id}/certificate").json()["certificate"]

    assert row(timely_body, "initial_due")["met"] is True
    assert row(late_body, "initial_due")["met"] is False
    assert late_body["outcome"]["responded_on"] > late_body["outcome"]["enforced_due"]


@pytest.mark.django_db
def test_format_jws_returns_the_bare_jws_as_application_jose(organization: Organization, reader: APIClient) -> None:
    request = completed_request(organization, received_days_ago=2)

    response = reader.get(f"/api/v1/dsar/{request.public_id}/certificate?format=jws")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/jose"
    payload = verify_with_jwks(response.content.decode("ascii"), APIClient().get("/.well-known/jwks.json").json())
    assert payload["request"]["id"] == request.public_id


@pytest.mark.django_db
def test_unknown_format_is_refused(organization: Organization, reader: APIClient) -> None:
    request = completed_request(organization, received_days_ago=2)

    assert_problem(reader.get(f"/api/v1/dsar/{request.public_id}/certificate?format=pdf"), 422)


@pytest.mark.django_db
def test_another_organizations_request_is_not_found(
    organization: Organization, other_organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    request = completed_request(organization, received_days_ago=2)
    outsider = api_client_for(other_organization, "dsar:read")

    assert_problem(outsider.get(f"/api/v1/dsar/{request.public_id}/certificate"), 404)


@pytest.mark.django_db
def test_certificate_needs_the_dsar_read_scope(
    organization: Organization, api_client_for: Callable[..., APIClient]
) -> None:
    request = completed_request(organization, received_days_ago=2)

    assert_problem(api_client_for(organization, "dsar:write").get(f"/api/v1/dsar/{request.public_id}/certificate"), 403)
    assert_problem(APIClient().get(f"/api/v1/dsar/{request.public_id}/certificate"), 401)
