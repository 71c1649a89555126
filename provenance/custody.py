"""The provenance columns that hold keys wrapped by the master key, registered with core.key_custody so that
``manage.py rewrap_keys`` re-wraps them (after which a previous master key can be retired) and binds each to
its owner. Keys written before #11 were bound to the master key only; they keep opening until ``rewrap_keys``
binds them (lazy, then re-wrapped: no migration needs the master key)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from django.db.models import F, TextField, Value
from django.db.models.functions import Concat, StrIndex, Substr

from core.key_custody import WrappedKeyColumn, register_wrapped_key_column
from provenance.models import Delivery, Recipient, SigningKey
from provenance.services.deliveries import PAYLOAD_KEY_PURPOSE
from provenance.services.keys import SIGNING_KEY_PURPOSE
from provenance.services.webhook_secrets import WEBHOOK_SECRET_PURPOSE


@dataclass(frozen=True)
class SealedPayloadKeyColumn(WrappedKeyColumn):
    """``Delivery.payload_sealed`` is ``<wrapped key, base64>.<sealed payload>``: the key is the part before
    the dot; re-wrapping replaces that part only, in the same UPDATE (the row is locked meanwhile)."""

    def read(self, stored: Any) -> bytes | None:
        wrapped, dot, _sealed = str(stored or "").partition(".")
        if not dot or not wrapped:
            return None  # purged once delivered or blocked
        try:
            return base64.b64decode(wrapped, validate=True)
        except (binascii.Error, ValueError):
            return None

    def write(self, wrapped: bytes) -> Any:
        column = F(self.field)
        return Concat(
            Value(base64.b64encode(wrapped).decode()),
            Substr(column, StrIndex(column, Value("."))),
            output_field=TextField(),
        )


COLUMNS = (
    WrappedKeyColumn(SigningKey, "private_key_sealed", SIGNING_KEY_PURPOSE, owner_field="kid"),
    WrappedKeyColumn(Recipient, "webhook_secret_sealed", WEBHOOK_SECRET_PURPOSE, owner_field="pk", encoding="base64"),
    WrappedKeyColumn(
        Recipient, "previous_webhook_secret_sealed", WEBHOOK_SECRET_PURPOSE, owner_field="pk", encoding="base64"
    ),
    SealedPayloadKeyColumn(Delivery, "payload_sealed", PAYLOAD_KEY_PURPOSE, owner_field="public_id"),
)


def register_key_custody() -> None:
    for column in COLUMNS:
        register_wrapped_key_column(column)
