"""For the receiving system: verify a stamped body (offline, with the issuer's JWKS), verify a Standard
Webhooks signature, and parse a consent-change notice."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx

from provenant_client.errors import ProvenantError
from provenant_client.models import Notice
from provenant_client.stamp_verifier import Reason, VerificationResult
from provenant_client.stamp_verifier import verify_stamp as verify_stamp_body

__all__ = [
    "JwksCache",
    "WebhookVerificationError",
    "parse_notice",
    "verify_stamp",
    "verify_webhook",
]

WEBHOOK_SECRET_PREFIX = "whsec_"
WEBHOOK_TOLERANCE_SECONDS = 300  # Standard Webhooks: refuse a timestamp more than 5 minutes off


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((value for key, value in headers.items() if key.lower() == lowered), None)


def verify_stamp(
    body: bytes | str | Mapping[str, Any],
    headers: Mapping[str, str],
    jwks: Mapping[str, Any],
    *,
    expected_issuer: str | None,
    expected_recipient: str | None,
    max_age: timedelta | float | None,
) -> VerificationResult:
    """Check a received body against its ``Privacy-Stamp`` and ``Content-Digest`` headers (the project's
    single-file verifier, :mod:`provenant_client.stamp_verifier`). Issuer, recipient and age are required
    arguments (pass None deliberately to skip one). A missing ``Privacy-Stamp`` is ``MALFORMED``."""
    stamp = _header(headers, "Privacy-Stamp")
    if stamp is None:
        return VerificationResult(valid=False, reason=Reason.MALFORMED)
    if isinstance(body, (bytes, str)):
        try:
            parsed = json.loads(body)
        except ValueError:
            return VerificationResult(valid=False, reason=Reason.MALFORMED)
    else:
        parsed = body
    if not isinstance(parsed, Mapping):
        return VerificationResult(valid=False, reason=Reason.MALFORMED)
    return verify_stamp_body(
        parsed,
        stamp,
        jwks,
        content_digest_header=_header(headers, "Content-Digest"),
        expected_issuer=expected_issuer,
        expected_recipient=expected_recipient,
        max_age=max_age,
    )


class JwksCache:
    """The issuer's public keys, fetched from ``{base_url}/.well-known/jwks/{issuer}.json`` and kept for
    ``ttl`` seconds; an unknown ``kid`` refetches at most once a ``min_refresh`` seconds (a new key after a
    rotation is seen at once, a flood of bad stamps does not hammer the server)."""

    def __init__(self, base_url: str, issuer: str, *, ttl: float = 3600.0, min_refresh: float = 30.0) -> None:
        self.url = f"{base_url.rstrip('/')}/.well-known/jwks/{quote(issuer, safe='')}.json"
        self.issuer = issuer
        self.ttl = ttl
        self.min_refresh = min_refresh
        self._jwks: dict[str, Any] | None = None
        self._fetched_at = 0.0
        self._lock = threading.Lock()

    def get(self, *, refresh: bool = False) -> dict[str, Any]:
        with self._lock:
            age = time.monotonic() - self._fetched_at
            if self._jwks is not None and age <= self.ttl and not (refresh and age > self.min_refresh):
                return self._jwks
            response = httpx.get(self.url, timeout=10.0)
            response.raise_for_status()
            self._jwks = dict(response.json())
            self._fetched_at = time.monotonic()
            return self._jwks

    def verify(
        self,
        body: bytes | str | Mapping[str, Any],
        headers: Mapping[str, str],
        *,
        expected_recipient: str | None,
        max_age: timedelta | float | None,
    ) -> VerificationResult:
        """:func:`verify_stamp` with this issuer and its keys (refetched once on ``UNKNOWN_KEY``)."""
        result = verify_stamp(
            body,
            headers,
            self.get(),
            expected_issuer=self.issuer,
            expected_recipient=expected_recipient,
            max_age=max_age,
        )
        if result.reason is Reason.UNKNOWN_KEY:
            result = verify_stamp(
                body,
                headers,
                self.get(refresh=True),
                expected_issuer=self.issuer,
                expected_recipient=expected_recipient,
                max_age=max_age,
            )
        return result


class WebhookVerificationError(ProvenantError):
    """A webhook whose signature, timestamp or headers do not check out: answer it 401 and ignore it."""


def _secret_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(WEBHOOK_SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookVerificationError("the webhook secret is not whsec_<base64>") from exc


def verify_webhook(
    secrets: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = WEBHOOK_TOLERANCE_SECONDS,
    now: float | None = None,
) -> str:
    """Check a Standard Webhooks signature (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``:
    space-separated ``v1,<base64 HMAC-SHA256 of id.timestamp.body>``) against one secret or several (during a
    rotation, both). Any matching ``v1`` signature passes. Returns the ``webhook-id`` (deduplicate on it);
    raises :class:`WebhookVerificationError` otherwise. ``body`` is the raw bytes, before any parsing."""
    msg_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not msg_id or not timestamp_text or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(timestamp_text)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not an integer") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    expected = [
        base64.b64encode(hmac.new(_secret_key(secret), signed, hashlib.sha256).digest())
        for secret in ([secrets] if isinstance(secrets, str) else secrets)
    ]
    for offered in signatures.split():
        version, _, value = offered.partition(",")
        if version != "v1":
            continue
        if any(hmac.compare_digest(value.encode(), candidate) for candidate in expected):
            return msg_id
    raise WebhookVerificationError("no webhook-signature matches")


def _optional_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def parse_notice(body: bytes | str | Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Notice:
    """A consent-change notice as a :class:`Notice` (verify it with :func:`verify_webhook` first).
    Raises ``ValueError`` when the body is not a notice."""
    raw = json.loads(body) if isinstance(body, (bytes, str)) else dict(body)
    if not isinstance(raw, dict):
        raise ValueError("a notice is a JSON object")
    for name in ("type", "subject_id", "purpose"):
        if not isinstance(raw.get(name), str):
            raise ValueError(f"a notice names its {name}")
    state = raw.get("state", raw.get("consent"))
    return Notice(
        id=_header(headers, "webhook-id") if headers is not None else None,
        type=raw["type"],
        subject_id=raw["subject_id"],
        purpose=raw["purpose"],
        event_id=_optional_str(raw.get("event_id")),
        occurred_at=_optional_str(raw.get("occurred_at")),
        jurisdiction=_optional_str(raw.get("jurisdiction")),
        legal_deadline=_optional_str(raw.get("legal_deadline")),
        legal_rule=_optional_str(raw.get("legal_rule")),
        chain_index=_optional_int(raw.get("chain_index")),
        sequence=_optional_int(raw.get("sequence")),
        state=state,
        raw=raw,
    )
