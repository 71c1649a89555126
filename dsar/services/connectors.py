"""Writes for HTTP connectors: registration with a fresh signing secret, rotation, and the record of what each
connector (or recipient's webhook) answered in a fulfilment step. The calls themselves are ``dsar.connector_calls``."""

from __future__ import annotations

import base64
import json
import secrets

from django.db import transaction
from django.utils import timezone
from ulid import ULID

from core.crypto import master_keyring, seal, unwrap_data_key
from core.enums import AuditAction
from core.models import Organization
from core.outbound import destination_url_problem
from core.problems import InvalidInput
from core.services import audit_log
from dsar.connector_calls import DETAIL_LENGTH, CallOutcome
from dsar.models import Connector, ConnectorCall, DataSubjectRequest
from dsar.seal_contexts import call_answer_context, connector_secret_owner, request_key_owner
from provenance.services.webhook_secrets import WEBHOOK_SECRET_BYTES, WEBHOOK_SECRET_PREFIX


def connector_secret_rotate(*, connector: Connector, actor: str) -> str:
    """Give the connector a new signing secret and return it, the only time it is shown."""
    raw = secrets.token_bytes(WEBHOOK_SECRET_BYTES)
    sealed = base64.b64encode(master_keyring().wrap(raw, owner=connector_secret_owner(connector.public_id))).decode()
    with transaction.atomic():
        Connector.objects.filter(pk=connector.pk).update(secret_sealed=sealed, updated_at=timezone.now())
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_CONNECTOR_SECRET_ROTATED,
            object_type="connector",
            object_id=connector.pk,
            organization=connector.organization,
            data={"key": connector.key},
        )
    connector.secret_sealed = sealed
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(raw).decode()


def connector_create(*, organization: Organization, key: str, name: str, url: str, actor: str) -> tuple[Connector, str]:
    """Register a connector with a fresh secret; returns it and the secret (shown once). The URL must be
    http(s) and, unless PROVENANT_OUTBOUND_ALLOW_PRIVATE, not name a local or private address."""
    problem = destination_url_problem(url)
    if problem is not None:
        raise InvalidInput(f"The connector URL is refused: {problem}.", errors=[{"pointer": "/url", "detail": problem}])
    with transaction.atomic():
        connector = Connector.objects.create(
            organization=organization, public_id=str(ULID()), key=key, name=name, url=url
        )
        audit_log(
            actor=actor,
            action=AuditAction.DSAR_CONNECTOR_CREATED,
            object_type="connector",
            object_id=connector.pk,
            organization=organization,
            data={"key": key},
        )
        secret = connector_secret_rotate(connector=connector, actor=actor)
    return connector, secret


def connector_calls_record(*, request: DataSubjectRequest, step: str, outcomes: list[CallOutcome]) -> None:
    """Store the outcomes (one row per target and step, overwritten when the step is redone); call inside the
    step's transaction. Answers are sealed under the request's data key."""
    has_answers = any(o.answer is not None for o in outcomes)
    data_key = (
        unwrap_data_key(request.wrapped_data_key, owner=request_key_owner(request.public_id)) if has_answers else None
    )
    for outcome in outcomes:
        sealed = ""
        if outcome.answer is not None and data_key is not None:
            text = json.dumps(outcome.answer, sort_keys=True, ensure_ascii=False)
            kind = "connector" if outcome.connector is not None else "recipient"
            sealed = seal(
                data_key, text, context=call_answer_context(request.public_id, kind, outcome.target_key, step)
            )
        target = {"connector": outcome.connector} if outcome.connector is not None else {"recipient": outcome.recipient}
        ConnectorCall.objects.update_or_create(
            request=request,
            step=step,
            **target,
            defaults={
                "target_key": outcome.target_key,
                "status": outcome.status,
                "attempts": outcome.attempts,
                "http_status": outcome.http_status,
                "answered_at": outcome.answered_at,
                "detail": outcome.detail[:DETAIL_LENGTH],
                "answer_sealed": sealed,
            },
        )


def connector_update(*, connector: Connector, name: str, url: str, is_active: bool, actor: str) -> Connector:
    """Rename a connector, point it at another URL (checked as at creation) or switch it off or on; its key
    and secret stay. Audited with what changed; nothing changed, nothing written."""
    name = name.strip()
    if not name:
        raise InvalidInput("A connector needs a name.", errors=[{"pointer": "/name", "detail": "required"}])
    problem = destination_url_problem(url)
    if problem is not None:
        raise InvalidInput(f"The connector URL is refused: {problem}.", errors=[{"pointer": "/url", "detail": problem}])
    with transaction.atomic():
        current = Connector.objects.select_for_update().get(pk=connector.pk)
        changed = {
            field: {"from": getattr(current, field), "to": value}
            for field, value in (("name", name), ("url", url), ("is_active", is_active))
            if getattr(current, field) != value
        }
        if changed:
            Connector.objects.filter(pk=current.pk).update(
                name=name, url=url, is_active=is_active, updated_at=timezone.now()
            )
            audit_log(
                actor=actor,
                action=AuditAction.DSAR_CONNECTOR_UPDATED,
                object_type="connector",
                object_id=current.pk,
                organization=current.organization,
                data={"key": current.key, **changed},
            )
    connector.refresh_from_db()
    return connector
