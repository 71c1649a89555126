"""Reads of connectors and their calls: who is called during collection and erasure, with which secret, and what
each answered."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.db.models import QuerySet

from core.crypto import CryptoError, master_keyring, unseal, unwrap_data_key
from core.models import Organization
from dsar.enums import ConnectorCallStatus
from dsar.models import Connector, ConnectorCall, DataSubjectRequest
from dsar.seal_contexts import call_answer_context, connector_secret_owner, request_key_owner
from provenance.models import Recipient
from provenance.services.webhook_secrets import WEBHOOK_SECRET_PREFIX


def connectors_active(organization: Organization) -> QuerySet[Connector]:
    """The organization's active connectors, in key order."""
    return Connector.objects.filter(organization=organization, is_active=True).order_by("key")


def recipients_with_webhook(organization: Organization) -> QuerySet[Recipient]:
    """The organization's active recipients with a webhook URL (told of an erasure), in key order."""
    return Recipient.objects.filter(organization=organization, is_active=True).exclude(webhook_url="").order_by("key")


def connector_secret(connector: Connector) -> str | None:
    """The connector's ``whsec_`` secret, or None when none was issued."""
    if not connector.secret_sealed:
        return None
    try:
        wrapped = base64.b64decode(connector.secret_sealed, validate=True)
        raw = master_keyring().unwrap(wrapped, owner=connector_secret_owner(connector.public_id))
    except (binascii.Error, ValueError) as exc:
        raise CryptoError("the connector secret is malformed") from exc
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(raw).decode()


def connector_call_answer(call: ConnectorCall) -> Any:
    """The answer a call recorded, in clear; None when it had none."""
    if not call.answer_sealed:
        return None
    request = call.request
    kind = "connector" if call.connector_id is not None else "recipient"
    data_key = unwrap_data_key(request.wrapped_data_key, owner=request_key_owner(request.public_id))
    context = call_answer_context(request.public_id, kind, call.target_key, call.step)
    return json.loads(unseal(data_key, call.answer_sealed, context=context))


def failed_call_keys(request: DataSubjectRequest) -> list[str]:
    """The connectors and recipients whose calls for the request failed, by key."""
    return sorted(
        ConnectorCall.objects.filter(request=request, status=ConnectorCallStatus.FAILED).values_list(
            "target_key", flat=True
        )
    )
