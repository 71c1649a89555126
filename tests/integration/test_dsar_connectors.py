"""HTTP connectors and erasure webhooks with a real Celery worker and real HTTP servers on 127.0.0.1: the
workflow runs from intake to the end without manual service calls (auto-wiring), connectors get the subject's
identifiers signed with HMAC-SHA256 and answer with data that lands in the export, erasure tells connectors and
recipients and records their answers, and a connector that keeps failing is retried, then recorded as failed
while the rest carries on (the deletion then waits for legal review instead of completing)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import re
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.core import mail
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose, Source, Subject, SuppressedIdentifier
from core.models import AuditLogEntry, Organization
from core.tasks import enqueue
from dsar import selectors, services
from dsar.connector_calls import call_connectors
from dsar.models import ConnectorCall, DataSubjectRequest, RequestMessage
from provenance.enums import RecipientRole
from provenance.services import recipients as recipient_services
from provenance.services.webhook_secrets import recipient_webhook_secret_rotate
from tests.conftest import event_input
from tests.integration.conftest import CeleryWorker, wait_until, worker_mail
from tests.integration.http_receiver import HttpReceiver

EMAIL = "ada@example.com"
LINK = re.compile(r"https?://[^/\s]+(/api/v1/dsar/verify/\S+)")
CONFIRMATION = re.compile(r'name="confirmation" value="([^"]+)"')
EXPORT_LINK = re.compile(r"https?://[^/\s]+(/api/v1/dsar/exports/\S+)")
CRM_ANSWER = {"records": [{"table": "customers", "id": 42, "name": "Ada Lovelace", "tier": "gold"}]}


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.PROVENANT_PUBLIC_BASE_URL = "http://testserver"
    # Erasures here run as soon as the request is verified (no review, no cooling-off): this file is about the
    # connectors; the review and the cooling-off are tested in test_dsar_fulfilment and tests/dsar.
    settings.PROVENANT_DSAR_ERASURE_REVIEW = "none"
    settings.PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS = 0


def open_and_confirm(path: str) -> None:
    """What the requester does with the link: open it (a page; nothing changes), then press its button (POST)."""
    page = APIClient().get(path)
    assert page.status_code == 200
    confirmation = CONFIRMATION.search(page.content.decode())
    assert confirmation is not None
    assert APIClient().post(path, {"confirmation": confirmation.group(1)}, format="multipart").status_code == 200


def approved_link(request: DataSubjectRequest) -> str:
    """Legal approves the reviewed export: its one download link is signed and emailed to the requester."""
    services.dsar_transition(request=request, to_status="completed", actor="user:legal")
    sent = [m for m in mail.outbox if request.public_id in m.subject and "is ready" in m.subject]
    assert len(sent) == 1
    match = EXPORT_LINK.search(sent[0].body)
    assert match is not None
    return match.group(1)


@pytest.fixture
def ledger(organization: Organization, source: Source, purpose: Purpose) -> Subject:
    consent_services.consent_record(organization=organization, item=event_input(subject_email=EMAIL))
    return Subject.objects.get(organization=organization, external_id="cust-1")


@pytest.fixture
def dsar_client(organization: Organization, api_client_for: Callable[..., APIClient]) -> APIClient:
    return api_client_for(organization, "dsar:read", "dsar:write")


def _secret_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix("whsec_"))


def connector_signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The connector's side, written from the documented scheme (not the helper): v1,b64 HMAC of
    idempotency-key.timestamp.body."""
    timestamp = headers.get("provenant-timestamp", "")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > 300:
        return False
    signed = f"{headers.get('idempotency-key', '')}.{timestamp}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    return hmac.compare_digest(headers.get("provenant-signature", ""), "v1," + base64.b64encode(digest).decode())


def webhook_signature_ok(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks: v1,b64 HMAC of id.timestamp.body; any of the space-separated signatures may match."""
    signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
    digest = hmac.new(_secret_key(secret), signed, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return any(hmac.compare_digest(offered, expected) for offered in headers.get("webhook-signature", "").split())


class ConnectorServer:
    """A connector on 127.0.0.1 that checks the signature and answers with its data (401 when unsigned)."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.secret = ""
        self.received: list[tuple[dict[str, str], bytes, bool]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                valid = connector_signature_ok(server.secret, headers, body)
                server.received.append((headers, body, valid))
                payload = json.dumps(server.answer if valid else {"error": "bad signature"}).encode()
                self.send_response(200 if valid else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/dsar"

    def __enter__(self) -> ConnectorServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def crm(organization: Organization) -> Iterator[ConnectorServer]:
    with ConnectorServer(CRM_ANSWER) as server:
        _, server.secret = services.connector_create(
            organization=organization, key="crm", name="CRM", url=server.url, actor="test"
        )
        yield server


def intake_and_click(client: APIClient, request_type: str, tmp_path: Path) -> DataSubjectRequest:
    """POST the request (the worker emails the link), open the link from that email (fulfilment starts)."""
    response = client.post(
        "/api/v1/dsar",
        {"type": request_type, "jurisdiction": "DE", "subject_id": "cust-1", "requester": {"email": EMAIL}},
        format="json",
    )
    assert response.status_code == 201, response.content
    emails = wait_until(lambda: worker_mail(tmp_path))
    assert len(emails) == 1
    match = LINK.search(emails[0])
    assert match is not None
    open_and_confirm(match.group(1))
    return DataSubjectRequest.objects.get(public_id=response.json()["id"])


def settled(request: DataSubjectRequest, status: str, timeout: float = 60.0) -> DataSubjectRequest:
    def reached() -> DataSubjectRequest | None:
        request.refresh_from_db()
        return request if request.status == status else None

    return wait_until(reached, timeout=timeout)


@pytest.mark.django_db(transaction=True)
def test_access_request_sends_signed_identifiers_and_the_connector_answer_is_in_the_zip(
    celery_worker: CeleryWorker, ledger: Subject, dsar_client: APIClient, crm: ConnectorServer, tmp_path: Path
) -> None:
    request = intake_and_click(dsar_client, "access", tmp_path)
    request = settled(request, "awaiting_review")

    assert len(crm.received) == 1
    headers, body, valid = crm.received[0]
    assert valid
    expected = {"request_id": request.public_id, "type": "access", "subject_id": "cust-1", "email": EMAIL}
    assert json.loads(body) == expected
    assert headers["idempotency-key"] == f"{request.public_id}:crm:export"
    response = APIClient().get(approved_link(request))
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert json.loads(archive.read("connectors/crm.json")) == CRM_ANSWER
    assert json.loads(archive.read("manifest.json"))["connectors"] == {"crm": "answered"}
    call = ConnectorCall.objects.select_related("request").get(request=request)
    assert (call.target_key, call.step, call.status, call.http_status, call.attempts) == (
        "crm",
        "export",
        "answered",
        200,
        1,
    )
    assert "Lovelace" not in call.answer_sealed
    assert selectors.connector_call_answer(call) == CRM_ANSWER


@pytest.mark.django_db(transaction=True)
def test_erasure_calls_the_connector_and_the_recipient_webhook_and_records_their_answers(
    celery_worker: CeleryWorker,
    ledger: Subject,
    organization: Organization,
    dsar_client: APIClient,
    crm: ConnectorServer,
    tmp_path: Path,
) -> None:
    crm.answer = {"erased": True, "rows": 3}
    with HttpReceiver() as hook:
        recipient = recipient_services.recipient_create(
            organization=organization,
            actor="test",
            purposes=[],
            key="adtech",
            name="Ad partner",
            role=RecipientRole.THIRD_PARTY,
            webhook_url=hook.url,
        )
        old_secret = recipient_webhook_secret_rotate(recipient=recipient, actor="test")
        # Rotated just before the erasure: within the overlap, receivers holding either secret verify it.
        hook_secret = recipient_webhook_secret_rotate(recipient=recipient, actor="test")
        hook.check = lambda headers, body: (
            webhook_signature_ok(hook_secret, headers, body) and webhook_signature_ok(old_secret, headers, body)
        )

        request = intake_and_click(dsar_client, "deletion", tmp_path)
        request = settled(request, "completed")

        [delivered] = hook.wait_for(1)
    assert delivered.checked
    assert delivered.status == 200
    notice = json.loads(delivered.body)
    assert notice["type"] == "subject.erased"
    expected = {"request_id": request.public_id, "type": "deletion", "subject_id": "cust-1", "email": EMAIL}
    assert notice["data"] == expected
    assert delivered.headers["webhook-id"] == f"{request.public_id}:adtech:erase"
    assert [valid for _, _, valid in crm.received] == [True]
    calls = {
        call.target_key: call
        for call in ConnectorCall.objects.filter(request=request).select_related("request", "connector", "recipient")
    }
    assert calls["crm"].connector is not None
    assert calls["crm"].status == "answered"
    assert selectors.connector_call_answer(calls["crm"]) == {"erased": True, "rows": 3}
    assert calls["adtech"].recipient == recipient
    assert calls["adtech"].status == "answered"
    assert selectors.connector_call_answer(calls["adtech"]) == {"ok": True}
    assert SuppressedIdentifier.objects.filter(organization=organization).count() == 2

    # The worker that completed the request told the person what was erased and which recipients were told.
    def completions() -> list[str]:
        return [m for m in worker_mail(tmp_path) if "Acme completed your request (deletion of your data)" in m]

    [completion] = wait_until(lambda: completions() or None)
    assert "your data in CRM (confirmed)" in completion
    assert "- Ad partner (confirmed)" in completion
    # The run replayed and the message sweep retried in the worker: still one message and one history row.
    enqueue("dsar.tasks.fulfil", request.pk)
    enqueue("dsar.tasks.messages_sweep")
    wait_until(lambda: celery_worker.results("dsar.tasks.messages_sweep") or None)
    wait_until(lambda: len(celery_worker.results("dsar.tasks.fulfil")) >= 2 or None)
    assert len(completions()) == 1
    assert list(RequestMessage.objects.filter(request=request, kind="completion").values_list("status")) == [("sent",)]
    sent = AuditLogEntry.objects.filter(action="dsar.message_sent", object_id=request.public_id)
    assert sorted(sent.values_list("data__kind", flat=True)) == ["completion", "identity.link", "receipt"]


@pytest.mark.django_db(transaction=True)
def test_a_failing_connector_is_retried_then_recorded_failed_and_the_rest_carries_on(
    celery_worker: CeleryWorker,
    ledger: Subject,
    organization: Organization,
    dsar_client: APIClient,
    crm: ConnectorServer,
    tmp_path: Path,
) -> None:
    crm.answer = {"erased": True}
    with HttpReceiver(fail_times=100, fail_status=503) as broken:
        services.connector_create(organization=organization, key="billing", name="Billing", url=broken.url, actor="t")

        request = intake_and_click(dsar_client, "deletion", tmp_path)
        # A deletion some system did not confirm is not closed: legal follows up.
        request = settled(request, "awaiting_review")

        assert broken.arrived == 3, "the default of three attempts within the step"
    keys = {r.headers["idempotency-key"] for r in broken.requests}
    assert keys == {f"{request.public_id}:billing:erase"}
    statuses = dict(ConnectorCall.objects.filter(request=request).values_list("target_key", "status"))
    assert statuses == {"billing": "failed", "crm": "answered"}
    failed = ConnectorCall.objects.get(request=request, target_key="billing")
    assert (failed.attempts, failed.http_status, failed.answer_sealed) == (3, 503, "")
    assert SuppressedIdentifier.objects.filter(organization=organization).count() == 2, "the local erasure still ran"
    assert "billing" in request.transitions.get(to_status="awaiting_review").reason


@pytest.mark.django_db(transaction=True)
def test_an_opt_out_runs_from_intake_without_verification(
    celery_worker: CeleryWorker, ledger: Subject, organization: Organization, dsar_client: APIClient, tmp_path: Path
) -> None:
    consent_services.purpose_create(
        organization=organization, actor="test", key="data-sale", name="Sale", is_sale_or_sharing=True
    )
    response = dsar_client.post(
        "/api/v1/dsar",
        {"type": "opt_out_of_sale", "jurisdiction": "US-CA", "subject_id": "cust-1", "requester": {"email": EMAIL}},
        format="json",
    )
    assert response.status_code == 201, response.content
    settled(DataSubjectRequest.objects.get(public_id=response.json()["id"]), "completed")
    # No verification link (CCPA §7026): the worker that carried it out sends only the completion.
    [completion] = wait_until(lambda: worker_mail(tmp_path) or None)
    assert "You are opted out of: data-sale." in completion
    assert "/api/v1/dsar/verify/" not in completion


@pytest.mark.django_db
def test_a_connector_refuses_a_signed_call_replayed_under_another_idempotency_key(
    organization: Organization, crm: ConnectorServer
) -> None:
    """Security audit item 12: the signature covers the Idempotency-Key. A relay that replays a captured call
    with a fresh key (so the connector would carry it out again) fails the receiver's signature check."""
    request = services.dsar_create(
        organization=organization,
        request_type="deletion",
        channel="api",
        actor="test",
        jurisdiction="DE",
        subject_external_id="cust-1",
    )
    [outcome] = call_connectors(request=request, step="erase", email=EMAIL)
    [(headers, body, valid)] = crm.received
    assert outcome.is_answered
    assert valid
    assert headers["idempotency-key"] == f"{request.public_id}:crm:erase"

    replayed = {**headers, "idempotency-key": f"{request.public_id}:crm:erase-again"}
    answer = httpx.post(crm.url, content=body, headers=replayed, timeout=5)

    assert answer.status_code == 401
    assert crm.received[-1][2] is False
    # The untouched call still verifies: only the changed key is refused.
    assert connector_signature_ok(crm.secret, headers, body)
