"""Deliveries: Provenant sends a stamped payload to a recipient's endpoint on the integration's behalf.

The payload waits sealed (a fresh data key wrapped by the master key, kept beside the ciphertext) and
is purged once the delivery ends. Consent is decided again at the moment of sending, through
``stamp_many``: a withdrawal while the item waited blocks it and the recipient gets no call. Sending
is at least once: a worker claims a delivery with a compare-and-set UPDATE, every try is logged as a
``DeliveryAttempt``, transient failures are retried with exponential backoff and full jitter until
``give_up_at``, permanent ones are dead-lettered with a ``ProvenanceAlert``. Receivers can drop
repeats by the ``Idempotency-Key`` header (the delivery id). Clients, in turn, may send their own
``Idempotency-Key`` when they hand a payload over: a retry after a timeout gets the first delivery back.

The outbound mechanics (claim, classify an answer, back off, enqueue, sweep) are the outbox's, shared with
consent notices.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from ulid import ULID

from consent.catalog import organization_catalog
from consent.services import IdempotencyKeyReused
from core.crypto import CryptoError, key_owner, new_data_key, seal, unseal, unwrap_data_key
from core.enums import AuditAction
from core.models import Organization
from core.problems import InvalidInput
from core.services import audit_log
from core.tasks import enqueue_after_commit
from provenance import selectors
from provenance.enums import (
    DELIVERY_OPEN_STATUSES,
    DELIVERY_TERMINAL_STATUSES,
    STAMP_ERROR,
    AlertKind,
    AttemptOutcome,
    DeliveryStatus,
    StampDecision,
)
from provenance.models import Delivery, DeliveryAttempt
from provenance.services.alerts import alert_failures, provenance_alert_open
from provenance.services.outbox import (
    CLAIM_FOR,
    DELIVERY_TASK,
    GIVE_UP_AFTER,
    claim_or_take_over,
    next_attempt_delay,
    post,
    schedule_retry,
)
from provenance.services.stamping import StampRequest, stamp_many
from provenance.verify import canonical_json

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------------
# Creating a delivery


def _payload_context(public_id: str) -> str:
    return f"provenance.delivery:{public_id}"


PAYLOAD_KEY_PURPOSE = "payload-key"


def payload_key_owner(public_id: str) -> str:
    """What a delivery's payload key is bound to: that delivery (its public id, known before it is saved)."""
    return key_owner(Delivery._meta.db_table, public_id, PAYLOAD_KEY_PURPOSE)


def seal_payload(public_id: str, payload: dict[str, Any]) -> str:
    """``<wrapped data key, base64>.<sealed JSON>``: the key is fresh for each delivery and bound to it."""
    data_key, wrapped = new_data_key(owner=payload_key_owner(public_id))
    sealed = seal(data_key, json.dumps(payload, separators=(",", ":")), context=_payload_context(public_id))
    return f"{base64.b64encode(wrapped).decode()}.{sealed}"


def unseal_payload(public_id: str, token: str) -> dict[str, Any]:
    wrapped, _, sealed = token.partition(".")
    if not sealed:
        raise CryptoError("the payload is missing or malformed")
    try:
        wrapped_key = base64.b64decode(wrapped, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("the payload key is malformed") from exc
    data_key = unwrap_data_key(wrapped_key, owner=payload_key_owner(public_id))
    payload = json.loads(unseal(data_key, sealed, context=_payload_context(public_id)))
    if not isinstance(payload, dict):
        raise CryptoError("the payload is malformed")
    return payload


@dataclass(frozen=True)
class AcceptedDelivery:
    """A delivery as ``delivery_accept`` answers it: new, or the first one of an idempotent retry."""

    delivery: Delivery
    replayed: bool = False


def delivery_create(
    *,
    organization: Organization,
    request: StampRequest,
    actor: str,
    idempotency_key: str = "",
    request_digest: str = "",
) -> Delivery:
    """``delivery_accept`` for callers that need not know whether it was a replay."""
    return delivery_accept(
        organization=organization,
        request=request,
        actor=actor,
        idempotency_key=idempotency_key,
        request_digest=request_digest,
    ).delivery


def delivery_accept(
    *,
    organization: Organization,
    request: StampRequest,
    actor: str,
    idempotency_key: str = "",
    request_digest: str = "",
) -> AcceptedDelivery:
    """Accept a payload for delivery: validate, store it sealed, enqueue it after commit.

    Consent is not decided here but when sending, so that a change while the item waits counts. With an
    ``idempotency_key`` (unique per organization), a retry of the same request (same ``request_digest``)
    gets the first delivery back and nothing is stored or sent again; another request under the same key
    is refused with ``IdempotencyKeyReused``."""
    recipient = selectors.active_recipient_by_key(organization=organization, key=request.recipient)
    errors: list[dict[str, str]] = []
    if recipient is None:
        errors.append({"pointer": "/recipient", "detail": f"unknown recipient '{request.recipient}'"})
    elif not recipient.endpoint_url:
        errors.append({"pointer": "/recipient", "detail": f"recipient '{recipient.key}' has no endpoint_url"})
    purposes = organization_catalog(organization).purposes
    errors.extend(
        {"pointer": "/purposes", "detail": f"unknown purpose '{key}'"}
        for key in request.purposes
        if key not in purposes
    )
    if not request.purposes:
        errors.append({"pointer": "/purposes", "detail": "name at least one purpose"})
    if errors or recipient is None:
        raise InvalidInput("The delivery request is invalid; see errors.", errors=errors)

    now = timezone.now()
    public_id = str(ULID())
    payload = {"data": request.data, "provenance": request.provenance, "jurisdiction": request.jurisdiction}
    try:
        with transaction.atomic():
            delivery = Delivery.objects.create(
                organization=organization,
                public_id=public_id,
                recipient=recipient,
                subject_external_id=request.subject_id,
                purposes=list(request.purposes),
                payload_sealed=seal_payload(public_id, payload),
                status=DeliveryStatus.QUEUED,
                next_attempt_at=now,
                give_up_at=now + GIVE_UP_AFTER,
                idempotency_key=idempotency_key,
                request_digest=request_digest if idempotency_key else "",
                created_at=now,
            )
            audit_log(
                actor=actor,
                action=AuditAction.DELIVERY_CREATED,
                object_type="delivery",
                object_id=public_id,
                organization=organization,
                data={"recipient": recipient.key, "purposes": list(request.purposes)},
            )
            enqueue_after_commit(DELIVERY_TASK, delivery.pk)
    except IntegrityError:
        # The key was taken, by an earlier request or a concurrent one that committed first (the insert
        # waited for it): that request's delivery is the answer; nothing of this one was kept.
        first = selectors.delivery_by_idempotency_key(organization=organization, idempotency_key=idempotency_key)
        if first is None:
            raise
        if first.request_digest != request_digest:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used before with a different request body.",
                idempotency_key=idempotency_key,
                pointer="/",
            ) from None
        return AcceptedDelivery(first, replayed=True)
    return AcceptedDelivery(delivery)


# ---------------------------------------------------------------------------------------------------
# Sending


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Claim one delivery and try it once. Idempotent: a delivery that is finished, not yet due or
    held by another worker is left alone."""
    now = now or timezone.now()
    claim = now + CLAIM_FOR
    claimed = claim_or_take_over(
        Delivery,
        delivery_id,
        due=Q(status__in=DELIVERY_OPEN_STATUSES),
        now=now,
        claim=claim,
        status=DeliveryStatus.SENDING,
    )
    if not claimed:
        current = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return {"delivery": delivery_id, "skipped": True, "status": current}

    delivery = Delivery.objects.select_related("recipient", "organization").get(pk=delivery_id)
    if now >= delivery.give_up_at:
        detail = "gave up: not sent before give_up_at"
        _finish(delivery, claim, DeliveryStatus.DEAD, attempt=None, error=detail, alert_problem="gave_up")
        return _summary(delivery, DeliveryStatus.DEAD)
    try:
        payload = unseal_payload(delivery.public_id, delivery.payload_sealed)
    except (CryptoError, ValueError) as exc:
        detail = f"the sealed payload cannot be opened: {exc}"
        _finish(delivery, claim, DeliveryStatus.DEAD, attempt=None, error=detail, alert_problem="unreadable")
        return _summary(delivery, DeliveryStatus.DEAD)

    # Consent as it stands now: a fresh decision and StampRecord for this one item.
    result = stamp_many(
        organization=delivery.organization,
        requests=[
            StampRequest(
                recipient=delivery.recipient.key,
                purposes=tuple(delivery.purposes),
                subject_id=delivery.subject_external_id,
                data=payload.get("data"),
                provenance=payload.get("provenance"),
                jurisdiction=payload.get("jurisdiction"),
            )
        ],
    )[0]
    if result.decision == STAMP_ERROR:
        detail = "; ".join(e["detail"] for e in (result.error or {}).get("errors", []))
        attempt = DeliveryAttempt(
            delivery=delivery, attempted_at=now, outcome=AttemptOutcome.INVALID, detail=detail[:500]
        )
        _finish(delivery, claim, DeliveryStatus.DEAD, attempt=attempt, error=detail, alert_problem="invalid")
        return _summary(delivery, DeliveryStatus.DEAD)
    if result.decision == StampDecision.BLOCK:
        detail = "; ".join(f"{r['purpose']}: {r['reason']}" for r in result.reasons)
        attempt = DeliveryAttempt(
            delivery=delivery, attempted_at=now, outcome=AttemptOutcome.BLOCKED, detail=detail[:500]
        )
        _finish(delivery, claim, DeliveryStatus.BLOCKED, attempt=attempt, error=detail, stamp_id=result.stamp_id)
        return _summary(delivery, DeliveryStatus.BLOCKED)

    assert result.body is not None
    headers = {**result.headers, "Idempotency-Key": delivery.public_id}
    outcome = post(delivery.recipient.endpoint_url, canonical_json(result.body), headers)
    attempt = DeliveryAttempt(
        delivery=delivery,
        attempted_at=now,
        outcome=outcome.label,
        http_status=outcome.http_status,
        duration_ms=outcome.duration_ms,
        detail=outcome.detail,
    )
    if outcome.ok:
        _finish(delivery, claim, DeliveryStatus.DELIVERED, attempt=attempt, stamp_id=result.stamp_id)
        return _summary(delivery, DeliveryStatus.DELIVERED)
    if not outcome.transient:
        _finish(
            delivery,
            claim,
            DeliveryStatus.DEAD,
            attempt=attempt,
            error=outcome.detail,
            alert_problem=outcome.problem,
            stamp_id=result.stamp_id,
        )
        return _summary(delivery, DeliveryStatus.DEAD)
    tries = delivery.attempts + 1
    retry_at = timezone.now() + timedelta(seconds=next_attempt_delay(tries, retry_after=outcome.retry_after))
    if retry_at >= delivery.give_up_at:
        error = f"gave up after {tries} attempts; last: {outcome.detail}"
        _finish(
            delivery,
            claim,
            DeliveryStatus.DEAD,
            attempt=attempt,
            error=error,
            alert_problem="gave_up",
            stamp_id=result.stamp_id,
        )
        return _summary(delivery, DeliveryStatus.DEAD)
    _finish(
        delivery,
        claim,
        DeliveryStatus.RETRYING,
        attempt=attempt,
        error=outcome.detail,
        retry_at=retry_at,
        stamp_id=result.stamp_id,
    )
    return {**_summary(delivery, DeliveryStatus.RETRYING), "retry_at": retry_at.isoformat()}


def _finish(
    delivery: Delivery,
    claim: datetime,
    status: str,
    *,
    attempt: DeliveryAttempt | None,
    error: str = "",
    retry_at: datetime | None = None,
    alert_problem: str | None = None,
    stamp_id: str = "",
) -> None:
    """Record the attempt and the new status, if this worker still holds the claim."""
    now = timezone.now()
    values: dict[str, Any] = {"status": status, "claimed_until": None, "last_error": error[:500]}
    if attempt is not None:
        values["attempts"] = F("attempts") + 1
    if stamp_id:
        values["stamp_id"] = stamp_id
    if status in DELIVERY_TERMINAL_STATUSES:
        values["finished_at"] = now
        if status != DeliveryStatus.DEAD:  # a dead letter keeps its sealed payload so it can be replayed
            values["payload_sealed"] = ""
    else:
        values["next_attempt_at"] = retry_at
    with transaction.atomic():
        if attempt is not None:
            attempt.save()
        updated = Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SENDING, claimed_until=claim).update(
            **values
        )
        if not updated:
            logger.warning("delivery %s: claim lost before the outcome was recorded", delivery.public_id)
            return
        if alert_problem is not None:
            provenance_alert_open(
                organization_id=delivery.organization_id,
                kind=AlertKind.DELIVERY_DEAD,
                subject_external_id=delivery.subject_external_id,
                failures=alert_failures(what="delivery", problem=alert_problem, detail=error),
                note=f"Delivery {delivery.public_id} to recipient '{delivery.recipient.key}' was dead-lettered.",
            )
        if status in DELIVERY_TERMINAL_STATUSES:
            audit_log(
                actor="task:provenance.deliver",
                action=AuditAction(f"delivery.{status}"),
                object_type="delivery",
                object_id=delivery.public_id,
                organization=delivery.organization,
                data={"recipient": delivery.recipient.key},
            )
        elif retry_at is not None:
            schedule_retry(DELIVERY_TASK, delivery.pk, retry_at)


def _summary(delivery: Delivery, status: str) -> dict[str, Any]:
    return {"delivery": delivery.pk, "public_id": delivery.public_id, "status": status}
