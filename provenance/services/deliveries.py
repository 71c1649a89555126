"""Deliveries: Provenant sends a stamped payload to a recipient's endpoint on the integration's behalf.

The payload waits sealed (a fresh data key wrapped by the master key, kept beside the ciphertext) and
is purged once the delivery ends. Consent is decided again at the moment of sending, through
``stamp_many``: a withdrawal while the item waited blocks it and the recipient gets no call. Sending
is at least once: a worker claims a delivery with a compare-and-set UPDATE, every try is logged as a
``DeliveryAttempt``, transient failures are retried with exponential backoff and full jitter until
``give_up_at``, permanent ones are dead-lettered with a ``ProvenanceAlert``. Receivers can drop
repeats by the ``Idempotency-Key`` header (the delivery id). Clients, in turn, may send their own
``Idempotency-Key`` when they hand a payload over: a retry after a timeout gets the first delivery back.

The outbound mechanics (claim, classify an answer, back off, enqueue) are shared with consent notices.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone
from ulid import ULID

from consent.catalog import organization_catalog
from consent.services import IdempotencyKeyReused
from core.crypto import CryptoError, master_keyring, new_data_key, seal, unseal
from core.enums import AuditAction
from core.models import Organization
from core.outbound import OutboundFailure, backoff_seconds, outbound_post, outbound_timeout_seconds
from core.problems import InvalidInput
from core.services import audit_log
from core.tasks import enqueue, enqueue_after_commit
from provenance.models import ConsentNotice, Delivery, DeliveryAttempt, ProvenanceAlert, Recipient
from provenance.services.stamping import StampRequest, stamp_many
from provenance.verify import canonical_json

logger = logging.getLogger(__name__)

GIVE_UP_AFTER = timedelta(hours=24)
CLAIM_FOR = timedelta(minutes=5)
DETAIL_LENGTH = 200
DELIVERY_TASK = "provenance.tasks.deliver"
NOTICE_TASK = "provenance.tasks.send_consent_notice"
SWEEP_BATCH = 1000
MAX_ETA = timedelta(minutes=10)
INTERRUPTED = "the worker stopped before recording the outcome; the recipient may have received the request"

TERMINAL_STATUSES = frozenset({Delivery.Status.DELIVERED, Delivery.Status.BLOCKED, Delivery.Status.DEAD})


# ---------------------------------------------------------------------------------------------------
# Outbound mechanics shared with consent notices


def retry_base_seconds() -> float:
    return float(settings.PROVENANT_RETRY_BASE_SECONDS)


def retry_cap_seconds() -> float:
    return float(settings.PROVENANT_RETRY_CAP_SECONDS)


@dataclass(frozen=True)
class HttpOutcome:
    """One POST and what it means: ``ok`` (2xx), else ``transient`` (5xx, 429, network) or permanent;
    ``refused`` when the destination is not a public address (no connection was made)."""

    ok: bool
    transient: bool
    http_status: int | None
    duration_ms: int
    detail: str
    retry_after: float | None = None
    refused: bool = False

    @property
    def label(self) -> str:
        if self.ok:
            return "delivered"
        if self.refused:
            return "refused"
        if self.http_status is None:
            return "network_error"
        return "retryable_error" if self.transient else "rejected"

    @property
    def problem(self) -> str:
        """The alert's ``problem`` when this outcome dead-letters the item."""
        if self.refused:
            return "refused"
        return "network_error" if self.http_status is None else f"http_{self.http_status}"


def post(url: str, content: bytes, headers: dict[str, str]) -> HttpOutcome:
    """POST through the SSRF-guarded client (core.outbound), without following redirects (data goes only
    where the recipient said); never raises for network errors or a refused destination, which is
    permanent. The detail never holds the payload or the answer's body."""
    started = time.monotonic()
    response = outbound_post(url, content=content, headers=headers, timeout=outbound_timeout_seconds())
    if isinstance(response, OutboundFailure):
        return HttpOutcome(
            False, response.transient, None, _elapsed(started), response.detail, refused=response.refused
        )
    status = response.status_code
    duration = _elapsed(started)
    if 200 <= status < 300:
        return HttpOutcome(True, False, status, duration, f"HTTP {status}")
    transient = status >= 500 or status == 429
    detail = f"HTTP {status} {response.reason_phrase}".strip()
    if 300 <= status < 400:
        detail += " (redirects are not followed)"
    return HttpOutcome(False, transient, status, duration, detail[:DETAIL_LENGTH], _retry_after(response))


def _elapsed(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _retry_after(response: httpx.Response) -> float | None:
    """Retry-After in delta-seconds (RFC 9110 10.2.3); an HTTP-date is ignored."""
    value = response.headers.get("Retry-After", "").strip()
    return float(value) if value.isdigit() else None


def next_attempt_delay(attempt: int, *, retry_after: float | None = None) -> float:
    """Seconds until the next try after ``attempt`` tries; a receiver's Retry-After is honoured up to the cap."""
    cap = retry_cap_seconds()
    delay = backoff_seconds(attempt, base=retry_base_seconds(), cap=cap)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def schedule_retry(task_name: str, object_id: int, retry_at: datetime) -> None:
    """Enqueue the next try with an ETA when it is near. A later one is left to ``outbox_sweep``: a
    worker holds ETA messages unacknowledged, and past Redis's visibility timeout (1 h) they would
    be delivered again."""
    if retry_at - timezone.now() <= MAX_ETA:
        enqueue_after_commit(task_name, object_id, eta=retry_at)


def alert_failures(*, what: str, problem: str, detail: str) -> list[dict[str, str]]:
    return [{"field": what, "problem": problem, "detail": detail[:DETAIL_LENGTH]}]


# ---------------------------------------------------------------------------------------------------
# Creating a delivery


def _payload_context(public_id: str) -> str:
    return f"provenance.delivery:{public_id}"


def seal_payload(public_id: str, payload: dict[str, Any]) -> str:
    """``<wrapped data key, base64>.<sealed JSON>``: the key is fresh for each delivery."""
    data_key, wrapped = new_data_key()
    sealed = seal(data_key, json.dumps(payload, separators=(",", ":")), context=_payload_context(public_id))
    return f"{base64.b64encode(wrapped).decode()}.{sealed}"


def unseal_payload(public_id: str, token: str) -> dict[str, Any]:
    wrapped, _, sealed = token.partition(".")
    if not sealed:
        raise CryptoError("the payload is missing or malformed")
    data_key = master_keyring().unwrap(base64.b64decode(wrapped))
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
    recipient = (
        Recipient.objects.filter(organization=organization, key=request.recipient, is_active=True)
        .prefetch_related("purposes")
        .first()
    )
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
                status=Delivery.Status.QUEUED,
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
        first = _delivery_by_idempotency_key(organization, idempotency_key)
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


def _delivery_by_idempotency_key(organization: Organization, idempotency_key: str) -> Delivery | None:
    if not idempotency_key:
        return None
    return (
        Delivery.objects.filter(organization=organization, idempotency_key=idempotency_key)
        .select_related("recipient")
        .first()
    )


# ---------------------------------------------------------------------------------------------------
# Sending


def claim_or_take_over(
    model: type[Delivery] | type[ConsentNotice],
    object_id: int,
    *,
    due: Q,
    now: datetime,
    claim: datetime,
    **values: Any,
) -> bool:
    """Compare-and-set claim: a due, unclaimed row, or one whose claim ran out, which means the
    worker holding it died mid-attempt; that attempt is logged as interrupted."""
    owner = "delivery_id" if model is Delivery else "notice_id"
    with transaction.atomic():
        if model.objects.filter(due, pk=object_id, claimed_until__lt=now).update(
            claimed_until=claim, attempts=F("attempts") + 1, **values
        ):
            DeliveryAttempt.objects.create(
                **{owner: object_id}, attempted_at=now, outcome="interrupted", detail=INTERRUPTED
            )
            return True
    return bool(
        model.objects.filter(due, pk=object_id, claimed_until__isnull=True, next_attempt_at__lte=now).update(
            claimed_until=claim, **values
        )
    )


def delivery_attempt(*, delivery_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Claim one delivery and try it once. Idempotent: a delivery that is finished, not yet due or
    held by another worker is left alone."""
    now = now or timezone.now()
    claim = now + CLAIM_FOR
    open_statuses = [Delivery.Status.QUEUED, Delivery.Status.RETRYING, Delivery.Status.SENDING]
    claimed = claim_or_take_over(
        Delivery, delivery_id, due=Q(status__in=open_statuses), now=now, claim=claim, status=Delivery.Status.SENDING
    )
    if not claimed:
        current = Delivery.objects.filter(pk=delivery_id).values_list("status", flat=True).first()
        return {"delivery": delivery_id, "skipped": True, "status": current}

    delivery = Delivery.objects.select_related("recipient", "organization").get(pk=delivery_id)
    if now >= delivery.give_up_at:
        detail = "gave up: not sent before give_up_at"
        _finish(delivery, claim, Delivery.Status.DEAD, attempt=None, error=detail, alert_problem="gave_up")
        return _summary(delivery, Delivery.Status.DEAD)
    try:
        payload = unseal_payload(delivery.public_id, delivery.payload_sealed)
    except (CryptoError, ValueError) as exc:
        detail = f"the sealed payload cannot be opened: {exc}"
        _finish(delivery, claim, Delivery.Status.DEAD, attempt=None, error=detail, alert_problem="unreadable")
        return _summary(delivery, Delivery.Status.DEAD)

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
    if result.decision == "error":
        detail = "; ".join(e["detail"] for e in (result.error or {}).get("errors", []))
        attempt = DeliveryAttempt(delivery=delivery, attempted_at=now, outcome="invalid", detail=detail[:500])
        _finish(delivery, claim, Delivery.Status.DEAD, attempt=attempt, error=detail, alert_problem="invalid")
        return _summary(delivery, Delivery.Status.DEAD)
    if result.decision == "block":
        detail = "; ".join(f"{r['purpose']}: {r['reason']}" for r in result.reasons)
        attempt = DeliveryAttempt(delivery=delivery, attempted_at=now, outcome="blocked", detail=detail[:500])
        _finish(delivery, claim, Delivery.Status.BLOCKED, attempt=attempt, error=detail, stamp_id=result.stamp_id)
        return _summary(delivery, Delivery.Status.BLOCKED)

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
        _finish(delivery, claim, Delivery.Status.DELIVERED, attempt=attempt, stamp_id=result.stamp_id)
        return _summary(delivery, Delivery.Status.DELIVERED)
    if not outcome.transient:
        _finish(
            delivery,
            claim,
            Delivery.Status.DEAD,
            attempt=attempt,
            error=outcome.detail,
            alert_problem=outcome.problem,
            stamp_id=result.stamp_id,
        )
        return _summary(delivery, Delivery.Status.DEAD)
    tries = delivery.attempts + 1
    retry_at = timezone.now() + timedelta(seconds=next_attempt_delay(tries, retry_after=outcome.retry_after))
    if retry_at >= delivery.give_up_at:
        error = f"gave up after {tries} attempts; last: {outcome.detail}"
        _finish(
            delivery,
            claim,
            Delivery.Status.DEAD,
            attempt=attempt,
            error=error,
            alert_problem="gave_up",
            stamp_id=result.stamp_id,
        )
        return _summary(delivery, Delivery.Status.DEAD)
    _finish(
        delivery,
        claim,
        Delivery.Status.RETRYING,
        attempt=attempt,
        error=outcome.detail,
        retry_at=retry_at,
        stamp_id=result.stamp_id,
    )
    return {**_summary(delivery, Delivery.Status.RETRYING), "retry_at": retry_at.isoformat()}


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
    if status in TERMINAL_STATUSES:
        values["finished_at"] = now
        if status != Delivery.Status.DEAD:  # a dead letter keeps its sealed payload so it can be replayed
            values["payload_sealed"] = ""
    else:
        values["next_attempt_at"] = retry_at
    with transaction.atomic():
        if attempt is not None:
            attempt.save()
        updated = Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING, claimed_until=claim).update(
            **values
        )
        if not updated:
            logger.warning("delivery %s: claim lost before the outcome was recorded", delivery.public_id)
            return
        if alert_problem is not None:
            ProvenanceAlert.objects.create(
                organization_id=delivery.organization_id,
                kind=ProvenanceAlert.Kind.DELIVERY_DEAD,
                subject_external_id=delivery.subject_external_id,
                failures=alert_failures(what="delivery", problem=alert_problem, detail=error),
                note=f"Delivery {delivery.public_id} to recipient '{delivery.recipient.key}' was dead-lettered.",
            )
        if status in TERMINAL_STATUSES:
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


# ---------------------------------------------------------------------------------------------------
# Reads


def delivery_for_organization(*, organization: Organization, public_id: str) -> Delivery | None:
    """One delivery with its log; another organization's is None."""
    return (
        Delivery.objects.filter(organization=organization, public_id=public_id)
        .select_related("recipient")
        .prefetch_related(Prefetch("log", queryset=DeliveryAttempt.objects.order_by("attempted_at", "id")))
        .first()
    )


def deliveries_due(*, now: datetime, grace: timedelta) -> QuerySet[Delivery]:
    """Deliveries whose message seems lost: due for longer than ``grace``, or held by a dead worker."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    overdue = Q(status__in=[Delivery.Status.QUEUED, Delivery.Status.RETRYING], next_attempt_at__lte=now - grace)
    return Delivery.objects.filter((overdue & free) | Q(status=Delivery.Status.SENDING, claimed_until__lt=now))


def notices_due(*, now: datetime, grace: timedelta) -> QuerySet[ConsentNotice]:
    """Consent notices whose message seems lost (a notice in flight keeps its status and holds a claim)."""
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    return ConsentNotice.objects.filter(
        free,
        status__in=[ConsentNotice.Status.PENDING, ConsentNotice.Status.RETRYING],
        next_attempt_at__lte=now - grace,
    )


def outbox_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Enqueue the deliveries and notices that are due without a message on its way: lost messages,
    claims of dead workers, retries too far ahead for an ETA. Duplicates are harmless: each task
    claims its row with a compare-and-set before doing anything."""
    now = now or timezone.now()
    grace = timedelta(seconds=float(settings.PROVENANT_SWEEP_GRACE_SECONDS))
    deliveries = list(
        deliveries_due(now=now, grace=grace).order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    notices = list(
        notices_due(now=now, grace=grace).order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    for delivery_id in deliveries:
        enqueue(DELIVERY_TASK, delivery_id)
    for notice_id in notices:
        enqueue(NOTICE_TASK, notice_id)
    return {"deliveries": len(deliveries), "notices": len(notices)}
