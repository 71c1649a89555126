"""Writes of the provenance app. Import from here."""

from provenance.services.keys import active_signing_key, signing_key_retire, signing_key_rotate
from provenance.services.recipients import recipient_create, recipient_update
from provenance.services.stamping import StampRequest, StampResult, stamp_many

__all__ = [
    "StampRequest",
    "StampResult",
    "active_signing_key",
    "recipient_create",
    "recipient_update",
    "signing_key_retire",
    "signing_key_rotate",
    "stamp_many",
]
