"""Witnesses (issue #12): every signed checkpoint of an organization's log is pushed to each of its witnesses, HTTP
endpoints outside our systems (an auditor, a recipient, any service that keeps them), so a copy of every
checkpoint lives where our database can't reach and a rolled-back log contradicts what they hold.

A push is the checkpoint's signed note, POSTed as ``text/plain`` with ``Provenant-Log`` and
``Provenant-Tree-Size`` headers; the note carries its own signature, checkable with the organization's JWKS. A
witness that answers 2xx has it; otherwise the push is retried with backoff (``PROVENANT_WITNESS_PUSH_ATTEMPTS``)
and then marked failed and logged. Outbound requests go through the SSRF guard (``core.outbound``). The task that
sends is thin and idempotent; the beat sweep finds pushes whose message was lost.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from consent.enums import WitnessPushStatus
from consent.models import LedgerCheckpoint, LedgerWitness, LedgerWitnessPush
from core.enums import AuditAction
from core.models import Organization
from core.outbound import (
    OutboundFailure,
    backoff_seconds,
    destination_url_problem,
    outbound_post,
    outbound_timeout_seconds,
)
from core.problems import Conflict, InvalidInput
from core.services import audit_log
from core.tasks import enqueue_each_after_commit

logger = logging.getLogger("consent.witnesses")
PUSH_TASK = "consent.tasks.push_checkpoint_to_witness"


def _checked_url(url: str) -> str:
    problem = destination_url_problem(url)
    if problem:
        raise InvalidInput(f"The witness URL can't be used: {problem}", errors=[{"pointer": "/url", "detail": problem}])
    return url


def witness_create(*, organization: Organization, name: str, url: str, actor: str) -> LedgerWitness:
    """Register a witness; it receives every checkpoint signed from now on. Audited."""
    url = _checked_url(url.strip())
    try:
        with transaction.atomic():
            witness = LedgerWitness.objects.create(organization=organization, name=name.strip(), url=url)
            audit_log(
                actor=actor,
                action=AuditAction.LEDGER_WITNESS_CREATED,
                object_type="ledger_witness",
                object_id=witness.pk,
                organization=organization,
                data={"name": witness.name},
            )
    except IntegrityError as exc:
        raise Conflict("This organization already has a witness at this URL.") from exc
    return witness


def witness_update(*, witness: LedgerWitness, name: str, url: str, is_active: bool, actor: str) -> LedgerWitness:
    url = _checked_url(url.strip())
    with transaction.atomic():
        LedgerWitness.objects.filter(pk=witness.pk).update(name=name.strip(), url=url, is_active=is_active)
        audit_log(
            actor=actor,
            action=AuditAction.LEDGER_WITNESS_UPDATED,
            object_type="ledger_witness",
            object_id=witness.pk,
            organization=witness.organization,
            data={"name": name.strip(), "is_active": is_active},
        )
    witness.refresh_from_db()
    return witness


def checkpoint_pushes_create(checkpoint: LedgerCheckpoint) -> int:
    """One push per active witness of the checkpoint's organization, sent after commit. Idempotent."""
    witnesses = LedgerWitness.objects.filter(organization_id=checkpoint.organization_id, is_active=True)
    with transaction.atomic():
        created = LedgerWitnessPush.objects.bulk_create(
            [LedgerWitnessPush(witness=witness, checkpoint=checkpoint) for witness in witnesses],
            ignore_conflicts=True,
        )
        pending = LedgerWitnessPush.objects.filter(checkpoint=checkpoint, status=WitnessPushStatus.PENDING)
        enqueue_each_after_commit(PUSH_TASK, pending.values_list("pk", flat=True))
    return len(created)


# A claimed push is the claiming worker's for the outbound timeout and this margin; if the worker dies meanwhile, the
# push is due again then and the beat sweep sends it (a witness may receive a checkpoint twice: it is the same note).
PUSH_CLAIM_MARGIN = timedelta(seconds=30)


def checkpoint_push(push_id: int) -> str:
    """Send one push if it is pending and due; its status afterwards. The row is claimed in one short transaction
    and the outcome recorded in another: no lock or transaction is held while the witness answers."""
    claim = checkpoint_push_claim(push_id)
    if claim is None:
        return str(LedgerWitnessPush.objects.filter(pk=push_id).values_list("status", flat=True).first() or "missing")
    checkpoint = claim.checkpoint
    answer = outbound_post(
        claim.witness.url,
        content=checkpoint.note.encode("utf-8"),
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Provenant-Log": checkpoint.note.split("\n", 1)[0],
            "Provenant-Tree-Size": str(checkpoint.tree_size),
        },
        timeout=outbound_timeout_seconds(),
    )
    return checkpoint_push_record(claim, answer)


def checkpoint_push_claim(push_id: int) -> LedgerWitnessPush | None:
    """Take a pending, due push for this worker: count the attempt and move its next attempt past the time the
    call may take, so no other worker or sweep sends it meanwhile. None when it is not pending, not due, or being
    claimed by another worker right now."""
    with transaction.atomic():
        push = (
            LedgerWitnessPush.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("witness", "checkpoint")
            .filter(pk=push_id, status=WitnessPushStatus.PENDING, next_attempt_at__lte=timezone.now())
            .first()
        )
        if push is None:
            return None
        push.attempts += 1
        push.next_attempt_at = timezone.now() + timedelta(seconds=outbound_timeout_seconds()) + PUSH_CLAIM_MARGIN
        push.save(update_fields=["attempts", "next_attempt_at"])
    return push


def checkpoint_push_record(claim: LedgerWitnessPush, answer: httpx.Response | OutboundFailure) -> str:
    """Record a claimed push's outcome, unless another worker claimed it since (its claim ran out): then that
    worker records its own. The push's status afterwards."""
    with transaction.atomic():
        push = (
            LedgerWitnessPush.objects.select_for_update(of=("self",))
            .select_related("witness", "checkpoint")
            .filter(pk=claim.pk, status=WitnessPushStatus.PENDING, attempts=claim.attempts)
            .first()
        )
        if push is None:
            return str(LedgerWitnessPush.objects.filter(pk=claim.pk).values_list("status", flat=True).first())
        if not isinstance(answer, OutboundFailure) and 200 <= answer.status_code < 300:
            push.status, push.delivered_at, push.last_status_code, push.last_error = (
                WitnessPushStatus.DELIVERED,
                timezone.now(),
                answer.status_code,
                "",
            )
        else:
            push.last_status_code = None if isinstance(answer, OutboundFailure) else answer.status_code
            push.last_error = answer.detail if isinstance(answer, OutboundFailure) else f"HTTP {answer.status_code}"
            refused = isinstance(answer, OutboundFailure) and answer.refused
            if refused or push.attempts >= settings.PROVENANT_WITNESS_PUSH_ATTEMPTS:
                push.status = WitnessPushStatus.FAILED
                logger.error(
                    "checkpoint %s could not be pushed to witness %s: %s",
                    push.checkpoint.tree_size,
                    push.witness_id,
                    push.last_error,
                )
            else:
                wait = backoff_seconds(
                    push.attempts,
                    base=settings.PROVENANT_WITNESS_RETRY_BASE_SECONDS,
                    cap=settings.PROVENANT_WITNESS_RETRY_CAP_SECONDS,
                )
                push.next_attempt_at = timezone.now() + timedelta(seconds=wait)
        push.save(update_fields=["status", "delivered_at", "last_status_code", "last_error", "next_attempt_at"])
    return str(push.status)


def witness_pushes_due() -> list[int]:
    """Pending pushes whose time has come (a retry, or a message that was lost)."""
    due = LedgerWitnessPush.objects.filter(status=WitnessPushStatus.PENDING, next_attempt_at__lte=timezone.now())
    return list(due.order_by("next_attempt_at").values_list("pk", flat=True)[:1000])
