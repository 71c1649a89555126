"""HTTP connectors and erasure webhooks: the systems outside Provenant that hold the subject's data.

During collection (access, portability) and erasure (deletion) Provenant POSTs
``{request_id, type, subject_id, email}`` to every active connector, with an ``Idempotency-Key`` of
``{request public id}:{connector key}:{step}`` (stable when a step is redone), ``provenant-timestamp`` and
``provenant-signature: v1,<base64 HMAC-SHA256(secret, f"{idempotency_key}.{timestamp}.{body}")>``: the signed
content is Standard Webhooks' ``id.timestamp.body`` with the Idempotency-Key as the id, so a relay can't replay a
signed body under another key (the receiver would carry it out twice). The connector answers with JSON.
Erasure also tells every active recipient with a ``webhook_url`` (type ``subject.erased``, Standard Webhooks
headers, signed by the provenance helper). What each answered is recorded as a ``ConnectorCall`` (connector or
recipient set) by ``services.connector_calls_record``, in the step's transaction.

Calls run before that transaction (no HTTP inside a transaction). Transient failures (network, 5xx, 429) are
retried a few times with jittered backoff inside the step's lease; a call that still fails is recorded as
``failed`` and the step carries on with the others: a connector being down never blocks the request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from django.conf import settings
from django.utils import timezone

from core.crypto import CryptoError
from core.outbound import OutboundFailure, backoff_seconds, outbound_post, outbound_timeout_seconds
from dsar.enums import ConnectorCallStatus
from dsar.models import Connector, DataSubjectRequest
from dsar.selectors import connector_secret, connectors_active, recipients_with_webhook
from provenance.models import Recipient
from provenance.services.webhook_secrets import (
    WEBHOOK_SECRET_PREFIX,
    recipient_webhook_signing_secrets,
    sign_webhook_with,
)
from provenance.verify import canonical_json

ERASED_EVENT: Final = "subject.erased"
MAX_ANSWER_BYTES: Final = 5 * 1024 * 1024
DETAIL_LENGTH: Final = 200


# --- pure rules ---------------------------------------------------------------------------------------------------


def sign_connector_call(secret: str, idempotency_key: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256>`` over ``{idempotency_key}.{timestamp}.{body}``, keyed with the base64-decoded
    ``whsec_`` secret: the key, the time and the body are all covered."""
    key = base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX))
    signed = f"{idempotency_key}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def idempotency_key(request_public_id: str, target_key: str, step: str) -> str:
    return f"{request_public_id}:{target_key}:{step}"


# --- calling ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallOutcome:
    """One target's final outcome in one step, not yet stored (the step's transaction stores it)."""

    target_key: str
    status: str
    attempts: int
    http_status: int | None
    detail: str
    answer: Any = None
    answered_at: datetime | None = None
    connector: Connector | None = None
    recipient: Recipient | None = None

    @property
    def is_answered(self) -> bool:
        return self.status == ConnectorCallStatus.ANSWERED


def _max_attempts() -> int:
    return max(1, int(settings.PROVENANT_DSAR_CONNECTOR_ATTEMPTS))


def _retry_base() -> float:
    return float(settings.PROVENANT_DSAR_CONNECTOR_RETRY_SECONDS)


@dataclass(frozen=True)
class _Try:
    ok: bool
    transient: bool
    http_status: int | None
    detail: str
    answer: Any = None


def _post_once(url: str, body: bytes, headers: dict[str, str]) -> _Try:
    """POST through the SSRF-guarded client (core.outbound) without following redirects; never raises for
    network errors; a refused destination is not retried. The detail never holds a body."""
    response = outbound_post(url, content=body, headers=headers, timeout=outbound_timeout_seconds())
    if isinstance(response, OutboundFailure):
        return _Try(False, response.transient, None, response.detail)
    status = response.status_code
    if not 200 <= status < 300:
        transient = status >= 500 or status == 429
        return _Try(False, transient, status, f"HTTP {status} {response.reason_phrase}".strip()[:DETAIL_LENGTH])
    if len(response.content) > MAX_ANSWER_BYTES:
        return _Try(False, False, status, f"HTTP {status}: answer larger than {MAX_ANSWER_BYTES} bytes")
    if not response.content.strip():
        return _Try(True, False, status, f"HTTP {status}", None)
    try:
        return _Try(True, False, status, f"HTTP {status}", response.json())
    except ValueError:
        return _Try(False, False, status, f"HTTP {status}: the answer is not JSON")


def _post_with_retries(url: str, make: Any) -> tuple[_Try, int]:
    """``make()`` builds (body, headers) afresh for each try (a new timestamp); transient failures are retried."""
    attempts = _max_attempts()
    outcome = _Try(False, False, None, "not tried")
    for attempt in range(1, attempts + 1):
        body, headers = make()
        outcome = _post_once(url, body, headers)
        if outcome.ok or not outcome.transient or attempt == attempts:
            return outcome, attempt
        time.sleep(backoff_seconds(attempt, base=_retry_base(), cap=30.0))
    return outcome, attempts


def subject_payload(request: DataSubjectRequest, email: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "request_id": request.public_id,
        "type": request.type,
        "subject_id": request.subject_external_id or None,
    }
    if email:
        payload["email"] = email
    return payload


def _outcome(result: _Try, attempts: int, target_key: str, **target: Any) -> CallOutcome:
    return CallOutcome(
        target_key=target_key,
        status=ConnectorCallStatus.ANSWERED if result.ok else ConnectorCallStatus.FAILED,
        attempts=attempts,
        http_status=result.http_status,
        detail=result.detail,
        answer=result.answer,
        answered_at=timezone.now() if result.ok else None,
        **target,
    )


def call_connectors(*, request: DataSubjectRequest, step: str, email: str | None) -> list[CallOutcome]:
    """POST the subject's identifiers to every active connector of the organization, in key order."""
    body = canonical_json(subject_payload(request, email))
    outcomes: list[CallOutcome] = []
    for connector in connectors_active(request.organization):
        try:
            secret = connector_secret(connector)
        except CryptoError as exc:
            secret, problem = None, f"the connector secret cannot be opened: {exc}"
        else:
            problem = "no connector secret issued"
        if secret is None:
            failed = ConnectorCallStatus.FAILED
            outcomes.append(CallOutcome(connector.key, failed, 0, None, problem, connector=connector))
            continue
        key = idempotency_key(request.public_id, connector.key, step)

        def make(secret: str = secret, key: str = key) -> tuple[bytes, dict[str, str]]:
            timestamp = int(time.time())
            return body, {
                "Content-Type": "application/json",
                "Idempotency-Key": key,
                "provenant-timestamp": str(timestamp),
                "provenant-signature": sign_connector_call(secret, key, timestamp, body),
            }

        result, attempts = _post_with_retries(connector.url, make)
        outcomes.append(_outcome(result, attempts, connector.key, connector=connector))
    return outcomes


def notify_recipients_erased(*, request: DataSubjectRequest, step: str, email: str | None) -> list[CallOutcome]:
    """Tell every active recipient with a webhook that the subject was erased (Standard Webhooks, signed)."""
    recipients = recipients_with_webhook(request.organization)
    outcomes: list[CallOutcome] = []
    for recipient in recipients:
        try:
            # The current secret and, during the overlap after a rotation, the one it replaced.
            secrets = recipient_webhook_signing_secrets(recipient)
        except CryptoError as exc:
            secrets, problem = [], f"the webhook secret cannot be opened: {exc}"
        else:
            problem = "no webhook secret issued"
        if not secrets:
            failed = ConnectorCallStatus.FAILED
            outcomes.append(CallOutcome(recipient.key, failed, 0, None, problem, recipient=recipient))
            continue
        msg_id = idempotency_key(request.public_id, recipient.key, step)

        def make(secrets: list[str] = secrets, msg_id: str = msg_id) -> tuple[bytes, dict[str, str]]:
            timestamp = int(time.time())
            body = canonical_json(
                {
                    "type": ERASED_EVENT,
                    "timestamp": timezone.now().isoformat(),
                    "data": subject_payload(request, email),
                }
            )
            return body, {
                "Content-Type": "application/json",
                "Idempotency-Key": msg_id,
                "webhook-id": msg_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign_webhook_with(secrets, msg_id, timestamp, body),
            }

        result, attempts = _post_with_retries(recipient.webhook_url, make)
        outcomes.append(_outcome(result, attempts, recipient.key, recipient=recipient))
    return outcomes


def calls_summary(outcomes: list[CallOutcome]) -> dict[str, Any]:
    """For the step's result and audit row: who answered and who failed (keys only, never data)."""
    return {
        "answered": [o.target_key for o in outcomes if o.is_answered],
        "failed": [o.target_key for o in outcomes if not o.is_answered],
    }
