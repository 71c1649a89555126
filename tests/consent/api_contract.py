"""Shared pieces of the REST API contract tests: the endpoint table, a seeded organization,
problem+json assertions and row counts for "a denied call changed nothing"."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpResponse
from django.utils import timezone

from consent import services as consent_services
from consent.models import ConsentEvent, ConsentImport, ConsentState, PolicyVersion, Purpose, Source, Subject
from core.models import AuditLogEntry, Organization
from core.problems import PROBLEM_CONTENT_TYPE, problem_type
from dsar import services as dsar_services
from dsar.models import DataSubjectRequest, DsarLegalContact, RequestTransition
from provenance.models import Delivery, Recipient, StampRecord
from provenance.services.deliveries import delivery_create
from provenance.services.recipients import recipient_create
from provenance.services.stamping import StampRequest
from tests.conftest import event_body, event_input

READ = "consent:read"
WRITE = "consent:write"
PROVENANCE_READ = "provenance:read"
PROVENANCE_WRITE = "provenance:write"
STAMP = "stamp"
DSAR_READ = "dsar:read"
DSAR_WRITE = "dsar:write"
SUBJECT_ID = "cust-1"
NOTICE_SHA256 = "a" * 64
RECIPIENT_KEY = "crm"


def iso(moment: Any) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def source_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"key": "crm-import", "name": "CRM import", "kind": "import"}
    body.update(overrides)
    return body


def purpose_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"key": "analytics", "name": "Product analytics"}
    body.update(overrides)
    return body


def policy_version_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "version": "2026-01",
        "notice_sha256": NOTICE_SHA256,
        "effective_at": iso(timezone.now() - timedelta(days=1)),
    }
    body.update(overrides)
    return body


def recipient_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"key": "mailer", "name": "Mailer", "role": "processor", "purposes": ["marketing-email"]}
    body.update(overrides)
    return body


def stamp_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient": RECIPIENT_KEY,
        "purpose": "marketing-email",
        "subject_id": SUBJECT_ID,
        "data": {"plan": "pro"},
    }
    body.update(overrides)
    return body


def dsar_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "access",
        "jurisdiction": "DE",
        "channel": "web_form",
        "subject_id": SUBJECT_ID,
        "requester": {"email": "ada@example.com", "name": "Ada Lovelace"},
    }
    body.update(overrides)
    return body


def deadline_compute_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "regime": "gdpr",
        "request_type": "access",
        "received_at": "2026-01-15T10:00:00Z",
        "tz": "Europe/Berlin",
        "calendar": "EU-DE",
    }
    body.update(overrides)
    return body


def import_upload() -> bytes:
    """A one-row CSV import (bytes: ``call`` sends it as ``text/csv``)."""
    row = event_body(subject_id="cust-2")
    header = ",".join(row)
    return f"{header}\n{','.join(str(v) for v in row.values())}\n".encode()


def stamp_verify_body() -> dict[str, Any]:
    """A well-formed request whose stamp does not parse: the answer is 200 with valid false."""
    return {"body": {"data": {}, "privacy": {"data_digest": "sha-256=:x:"}}, "privacy_stamp": "e30..c2ln"}


@dataclass(frozen=True)
class World:
    """One organization's catalog (source, purpose, policy version), one recorded event and one
    recipient registered for the purpose."""

    organization: Organization
    source: Source
    purpose: Purpose
    policy_version: PolicyVersion
    event_id: str
    subject_id: str = SUBJECT_ID
    recipient_key: str = RECIPIENT_KEY
    delivery_id: str = ""
    dsar_id: str = ""
    verified_dsar_id: str = ""
    verification_job_id: str = ""
    legal_contact_id: str = ""
    import_id: str = ""


def seed_world(organization: Organization, source: Source, purpose: Purpose) -> World:
    version = consent_services.policy_version_create(
        purpose=purpose,
        actor="test",
        version="2025-01",
        notice_sha256=NOTICE_SHA256,
        effective_at=timezone.now() - timedelta(days=30),
    )
    recorded = consent_services.consent_record(
        organization=organization, item=event_input(subject_id=SUBJECT_ID, idempotency_key="seed")
    )
    recipient_create(
        organization=organization,
        actor="test",
        key=RECIPIENT_KEY,
        name="CRM",
        role="processor",
        purposes=[purpose.key],
        endpoint_url="http://127.0.0.1:9/never-called",  # deliveries in these tests are never sent
    )
    delivery = delivery_create(
        organization=organization,
        request=StampRequest(
            recipient=RECIPIENT_KEY, purposes=(purpose.key,), subject_id=SUBJECT_ID, data={"plan": "pro"}
        ),
        actor="test",
    )
    dsar = dsar_services.dsar_create(
        organization=organization, request_type="access", channel="api", actor="test", jurisdiction="DE"
    )
    verified = dsar_services.dsar_create(
        organization=organization, request_type="access", channel="api", actor="test", jurisdiction="DE"
    )
    dsar_services.dsar_identity_verify(request=verified, actor="test", note="passport checked")
    consent_services.ledger_sequence(organization)  # the seed event is leaf 0 of the organization's log
    consent_services.ledger_checkpoint(organization)
    job = consent_services.verification_job_create(organization=organization, actor="test")
    contact = dsar_services.legal_contact_create(organization=organization, email="legal@acme.test", actor="test")
    consent_import = consent_services.consent_import_create(
        organization=organization, sha256="b" * 64, file_format="csv", actor="test"
    ).job
    return World(
        organization,
        source,
        purpose,
        version,
        recorded.event.event_id,
        delivery_id=delivery.public_id,
        dsar_id=dsar.public_id,
        verified_dsar_id=verified.public_id,
        verification_job_id=job.public_id,
        legal_contact_id=contact.public_id,
        import_id=consent_import.public_id,
    )


# ---------------------------------------------------------------------------------------------
# The endpoint table: one line per (method, route). Routes are spelled as in consent/api/urls.py.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    route: str
    scope: str
    success: int
    body: Callable[[], Any] | None = None
    query: str = ""
    # A write that names subjects in the caller's own namespace and creates them when new (like
    # recording an event): another organization's key gets its own subjects, not a 404.
    upserts_subjects: bool = False
    # What a success answers with: JSON, or a text document (a signed checkpoint).
    content_type: str = "application/json"

    @property
    def addresses_object(self) -> bool:
        return "<" in self.route and not self.upserts_subjects

    @property
    def is_write(self) -> bool:
        return self.method != "GET"

    def url(self, world: World) -> str:
        key = world.source.key if self.route.startswith("sources/") else world.purpose.key
        if self.route.startswith("recipients/"):
            key = world.recipient_key
        path = (
            self.route.replace("<str:event_id>", world.event_id)
            .replace("<str:public_id>", world.delivery_id)
            .replace("<str:subject_id>", world.subject_id)
            .replace("<str:key>", key)
            .replace("<str:request_id>", world.dsar_id)
            .replace("<str:job_id>", world.verification_job_id)
            .replace("<str:contact_id>", world.legal_contact_id)
            .replace("<str:import_id>", world.import_id)
        )
        return f"/api/v1/{path}?{self.query}" if self.query else f"/api/v1/{path}"

    def __str__(self) -> str:
        return f"{self.method} {self.route}"


@dataclass(frozen=True)
class VerifiedDsarEndpoint(Endpoint):
    """Addresses the world's verified request (starting fulfilment needs one) instead of the received one."""

    def url(self, world: World) -> str:
        return super().url(replace(world, dsar_id=world.verified_dsar_id))


@dataclass(frozen=True)
class InclusionEndpoint(Endpoint):
    """Asks for the inclusion proof of the world's event."""

    def url(self, world: World) -> str:
        return f"{super().url(world)}?event_id={world.event_id}"


def dsar_verify_body() -> dict[str, Any]:
    return {"note": "passport checked by phone", "method": "manual"}


def dsar_extend_body() -> dict[str, Any]:
    # dated today where the world's requests (jurisdiction DE) count their days, as legal dates a notice
    today_in_berlin = timezone.localtime(timezone.now(), ZoneInfo("Europe/Berlin")).date()
    return {"reason_code": "complexity", "notice_sent_on": today_in_berlin.isoformat()}


def dsar_transition_body() -> dict[str, Any]:
    return {"to_status": "rejected", "reason": "Manifestly unfounded.", "expected_status": "received"}


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "consent-events", WRITE, 201, lambda: event_body(subject_id="cust-2")),
    Endpoint("POST", "consent-events/bulk", WRITE, 201, lambda: {"events": [event_body(subject_id="cust-2")]}),
    Endpoint("GET", "consent-events", READ, 200),
    Endpoint("GET", "consent-events/export", READ, 200, content_type="application/x-ndjson"),
    Endpoint("GET", "consent-events/<str:event_id>", READ, 200),
    Endpoint("GET", "subjects", READ, 200),
    Endpoint("GET", "consent-states", READ, 200),
    Endpoint("GET", "subjects/<str:subject_id>/consent", READ, 200),
    Endpoint("GET", "subjects/<str:subject_id>/consent-events", READ, 200),
    Endpoint("GET", "sources", READ, 200),
    Endpoint("POST", "sources", WRITE, 201, source_body),
    Endpoint("GET", "sources/<str:key>", READ, 200),
    Endpoint("PUT", "sources/<str:key>", WRITE, 200, lambda: source_body(key="web-signup", kind="web_form")),
    Endpoint("PATCH", "sources/<str:key>", WRITE, 200, lambda: {"name": "Renamed"}),
    Endpoint("DELETE", "sources/<str:key>", WRITE, 200),
    Endpoint("GET", "purposes", READ, 200),
    Endpoint("POST", "purposes", WRITE, 201, purpose_body),
    Endpoint("GET", "purposes/<str:key>", READ, 200),
    Endpoint("PUT", "purposes/<str:key>", WRITE, 200, lambda: purpose_body(key="marketing-email")),
    Endpoint("PATCH", "purposes/<str:key>", WRITE, 200, lambda: {"description": "Monthly newsletter"}),
    Endpoint("GET", "purposes/<str:key>/policy-versions", READ, 200),
    Endpoint("POST", "purposes/<str:key>/policy-versions", WRITE, 201, policy_version_body),
    Endpoint("GET", "ledger/verify", READ, 200),
    Endpoint("POST", "ledger/verify", WRITE, 201),
    Endpoint("GET", "ledger/log", READ, 200),
    Endpoint("GET", "ledger/checkpoint", READ, 200, content_type="text/plain; charset=utf-8"),
    Endpoint("GET", "ledger/export", READ, 200, content_type="application/x-ndjson"),
    Endpoint("POST", "ledger/verifications", WRITE, 202),
    Endpoint("GET", "ledger/verifications/<str:job_id>", READ, 200),
    Endpoint("GET", "ledger/proofs/consistency", READ, 200, query="from=1"),
    InclusionEndpoint("GET", "ledger/proofs/inclusion", READ, 200),
    Endpoint("POST", "signals", WRITE, 200, lambda: {"subject_id": "cust-2", "gpc": True, "jurisdiction": "US-CA"}),
    Endpoint("GET", "subjects/<str:subject_id>/links", READ, 200),
    Endpoint(
        "POST", "subjects/<str:subject_id>/links", WRITE, 201, lambda: {"subject_id": "device-1"}, upserts_subjects=True
    ),
    Endpoint("GET", "subjects/<str:subject_id>/privacy-status", READ, 200),
    Endpoint("GET", "subjects/<str:subject_id>/solicitation", READ, 200, query="purpose=marketing-email"),
    Endpoint("GET", "subjects/<str:subject_id>/unsubscribe-link", WRITE, 200, query="purpose=marketing-email"),
    Endpoint("POST", "imports", WRITE, 202, import_upload),
    Endpoint("GET", "imports/<str:import_id>", READ, 200),
    Endpoint("GET", "imports/<str:import_id>/report", READ, 200),
    # provenance/api/urls.py
    Endpoint("GET", "recipients", PROVENANCE_READ, 200),
    Endpoint("POST", "recipients", PROVENANCE_WRITE, 201, recipient_body),
    Endpoint("GET", "recipients/<str:key>", PROVENANCE_READ, 200),
    Endpoint("PUT", "recipients/<str:key>", PROVENANCE_WRITE, 200, lambda: recipient_body(key=RECIPIENT_KEY)),
    Endpoint("PATCH", "recipients/<str:key>", PROVENANCE_WRITE, 200, lambda: {"name": "Renamed"}),
    Endpoint("GET", "stamps", PROVENANCE_READ, 200),
    Endpoint("POST", "stamps", STAMP, 200, stamp_body),
    Endpoint("POST", "stamps/batch", STAMP, 200, lambda: {"items": [stamp_body(), stamp_body(recipient="nobody")]}),
    Endpoint("POST", "stamps/verify", STAMP, 200, stamp_verify_body),
    # provenance/api/receipt_urls.py
    Endpoint("GET", "consent-events/<str:event_id>/receipt", READ, 200),
    # provenance/api/delivery_urls.py
    Endpoint("GET", "deliveries", "deliver", 200),
    Endpoint("POST", "deliveries", "deliver", 202, stamp_body),
    Endpoint("GET", "deliveries/<str:public_id>", "deliver", 200),
    Endpoint("POST", "recipients/<str:key>/webhook-secret", PROVENANCE_WRITE, 200),
    # provenance/api/evidence.py
    Endpoint("GET", "subjects/<str:subject_id>/evidence", "evidence:read", 200, query="purposes=marketing-email"),
    Endpoint(
        "POST", "provenance/validate", STAMP, 200, lambda: {"subject_id": "cust-1", "purposes": ["marketing-email"]}
    ),
    Endpoint("GET", "provenance/alerts", PROVENANCE_READ, 200),
    # dsar/api/urls.py
    Endpoint("GET", "dsar", DSAR_READ, 200),
    Endpoint("POST", "dsar", DSAR_WRITE, 201, dsar_body),
    Endpoint("GET", "dsar/<str:request_id>", DSAR_READ, 200),
    Endpoint("POST", "deadlines/compute", DSAR_READ, 200, deadline_compute_body),
    Endpoint("GET", "deadlines/settings", DSAR_READ, 200),
    Endpoint("PUT", "deadlines/settings", "dsar:configure", 200, lambda: {"calendar": "IE", "time_zone": None}),
    Endpoint("GET", "legal-contacts", DSAR_READ, 200),
    Endpoint("POST", "legal-contacts", "dsar:configure", 201, lambda: {"email": "dpo@acme.test", "receives": "digest"}),
    Endpoint("GET", "legal-contacts/<str:contact_id>", DSAR_READ, 200),
    Endpoint("PUT", "legal-contacts/<str:contact_id>", "dsar:configure", 200, lambda: {"email": "counsel@acme.test"}),
    Endpoint("PATCH", "legal-contacts/<str:contact_id>", "dsar:configure", 200, lambda: {"receives": "escalation"}),
    Endpoint("DELETE", "legal-contacts/<str:contact_id>", "dsar:configure", 200),
    # dsar/api/certificate_urls.py
    Endpoint("GET", "dsar/<str:request_id>/certificate", DSAR_READ, 200),
    # dsar/api/workflow_urls.py
    Endpoint("POST", "dsar/<str:request_id>/verify", DSAR_WRITE, 200, dsar_verify_body),
    VerifiedDsarEndpoint("POST", "dsar/<str:request_id>/fulfil", DSAR_WRITE, 200),
    Endpoint("POST", "dsar/<str:request_id>/extend", DSAR_WRITE, 200, dsar_extend_body),
    Endpoint("POST", "dsar/<str:request_id>/transitions", DSAR_WRITE, 200, dsar_transition_body),
    # core/api/urls.py
    Endpoint("GET", "audit-log", "audit:read", 200),
    # reports/api/urls.py
    Endpoint("GET", "reports/compliance", "reports:read", 200),
]


def call(client: Any, endpoint: Endpoint, world: World, **extra: Any) -> HttpResponse:
    method = getattr(client, endpoint.method.lower())
    body = endpoint.body() if endpoint.body else None
    if body is None:
        return method(endpoint.url(world), **extra)
    if isinstance(body, bytes):  # a file upload (an import): sent as it is, as CSV
        return method(endpoint.url(world), body, content_type="text/csv", **extra)
    return method(endpoint.url(world), body, format="json", **extra)


# ---------------------------------------------------------------------------------------------
# Assertions
# ---------------------------------------------------------------------------------------------


def assert_problem(response: HttpResponse, status: int, slug: str | None = None) -> dict[str, Any]:
    """An RFC 9457 document with the expected status and stable type URI; returns its body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].split(";")[0] == PROBLEM_CONTENT_TYPE, response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict)
    assert body["status"] == status
    assert body["type"].startswith("https://provenant.dev/problems/")
    if slug is not None:
        assert body["type"] == problem_type(slug), body
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response["X-Request-Id"]
    return body


def pointers(body: dict[str, Any]) -> set[str]:
    return {error["pointer"] for error in body.get("errors", [])}


def row_counts() -> dict[str, int]:
    """Rows of every table an API write can touch."""
    models = [
        ConsentEvent,
        ConsentState,
        Subject,
        Source,
        Purpose,
        PolicyVersion,
        AuditLogEntry,
        Recipient,
        StampRecord,
        Delivery,
        DataSubjectRequest,
        RequestTransition,
        DsarLegalContact,
        ConsentImport,
    ]
    return {model.__name__: model.objects.count() for model in models}
