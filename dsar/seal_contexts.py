"""The AEAD contexts DSAR data is sealed under: each binds a ciphertext to its request (or export) and field, so
a sealed value moved to another row or field does not open. Sealing and opening must name the same one."""

from __future__ import annotations


def requester_context(request_public_id: str, field: str) -> str:
    """The requester's contact details: ``field`` is ``email`` or ``name``."""
    return f"dsar:{request_public_id}:{field}"


def correction_context(request_public_id: str) -> str:
    """The change a correction request asks for."""
    return f"dsar:{request_public_id}:correction"


def call_answer_context(request_public_id: str, kind: str, target_key: str, step: str) -> str:
    """What a connector (``kind`` connector) or a recipient's webhook (``kind`` recipient) answered in a step."""
    return f"dsar:{request_public_id}:{kind}:{target_key}:{step}"


def export_context(export_public_id: str) -> bytes:
    """The export archive, bound to the export's id."""
    return f"dsar-export:{export_public_id}".encode()
