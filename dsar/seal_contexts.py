"""The AEAD contexts DSAR data is sealed under: each binds a ciphertext to its request (or export) and field, so
a sealed value moved to another row or field does not open. Sealing and opening must name the same one."""

from __future__ import annotations

from core.crypto import key_owner


def requester_context(request_public_id: str, field: str) -> str:
    """The requester's contact details: ``field`` is ``email`` or ``name``."""
    return f"dsar:{request_public_id}:{field}"


def correction_context(request_public_id: str) -> str:
    """The change a correction request asks for."""
    return f"dsar:{request_public_id}:correction"


def call_answer_context(request_public_id: str, kind: str, target_key: str, step: str) -> str:
    """What a connector (``kind`` connector) or a recipient's webhook (``kind`` recipient) answered in a step."""
    return f"dsar:{request_public_id}:{kind}:{target_key}:{step}"


def request_message_context(request_public_id: str, message_public_id: str) -> str:
    """A message to the requester waiting to be sent (its subject and body hold links, which are credentials)."""
    return f"dsar:{request_public_id}:message:{message_public_id}"


def export_context(export_public_id: str) -> bytes:
    """The export archive, bound to the export's id."""
    return f"dsar-export:{export_public_id}".encode()


# --- the owners wrapped keys are bound to (core.crypto.key_owner: table, stable public id, purpose) ---------------

REQUEST_TABLE = "dsar_datasubjectrequest"
EXPORT_TABLE = "dsar_dsarexport"
CONNECTOR_TABLE = "dsar_connector"
DATA_KEY_PURPOSE = "data-key"
CONNECTOR_SECRET_PURPOSE = "connector-secret"


def request_key_owner(request_public_id: str) -> str:
    """The owner of a request's data key (requester contact, correction, connector answers)."""
    return key_owner(REQUEST_TABLE, request_public_id, DATA_KEY_PURPOSE)


def export_key_owner(export_public_id: str) -> str:
    """The owner of an export archive's data key."""
    return key_owner(EXPORT_TABLE, export_public_id, DATA_KEY_PURPOSE)


def connector_secret_owner(connector_public_id: str) -> str:
    """The owner of a connector's signing secret (wrapped by the master key itself)."""
    return key_owner(CONNECTOR_TABLE, connector_public_id, CONNECTOR_SECRET_PURPOSE)
