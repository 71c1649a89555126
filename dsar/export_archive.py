"""The access/portability export as a file: a ZIP of JSON and CSV tables with the connectors' answers and a
manifest, and its sealing at rest (AES-256-GCM under its own data key). Pure: the caller passes the tables."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.utils import timezone

from core.crypto import NONCE_BYTES, CryptoError, new_data_key, unwrap_data_key
from dsar.cover_letter import cover_letter_text
from dsar.seal_contexts import export_context, export_key_owner


@dataclass(frozen=True)
class Table:
    """One data set of the export, written as ``<name>.json`` and ``<name>.csv``."""

    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


# --- the archive --------------------------------------------------------------------------------------------------


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Archive:
    content: bytes
    files: list[str]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class ConnectorAnswer:
    """What one HTTP connector answered (``answer``), or that it could not be reached (``status`` failed)."""

    key: str
    status: str
    answer: Any = None


def build_archive(
    *,
    request_public_id: str,
    request_type: str,
    tables: Sequence[Table],
    generated_at: datetime,
    connectors: Sequence[ConnectorAnswer] = (),
    cover_letter: Mapping[str, Any] | None = None,
) -> Archive:
    """A ZIP with each table as JSON and CSV (UTF-8), each connector's answer as ``connectors/<key>.json``, the
    cover letter (``dsar.cover_letter``: GDPR Art. 15(1)-(2), as cover_letter.txt and cover_letter.json) and a
    manifest (which also lists connectors that failed, so the reviewer sees what is missing); GDPR Art. 20."""
    members: list[tuple[str, str]] = []
    if cover_letter is not None:
        members.append(("cover_letter.txt", cover_letter_text(dict(cover_letter))))
        members.append(("cover_letter.json", _json(cover_letter)))
    for table in tables:
        members.append((f"{table.name}.json", _json(table.rows)))
        members.append((f"{table.name}.csv", _csv(table.columns, table.rows)))
    for connector in connectors:
        if connector.status == "answered":
            members.append((f"connectors/{connector.key}.json", _json(connector.answer)))
    manifest = {
        "request_id": request_public_id,
        "request_type": request_type,
        "generated_at": generated_at.isoformat(),
        "files": [name for name, _ in members],
        "counts": {table.name: len(table.rows) for table in tables},
        "connectors": {connector.key: connector.status for connector in connectors},
    }
    members.insert(0, ("manifest.json", _json(manifest)))
    buffer = io.BytesIO()
    stamp = timezone.localtime(generated_at).timetuple()[:6]
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in members:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, text.encode())
    return Archive(buffer.getvalue(), [name for name, _ in members])


# --- sealing at rest ----------------------------------------------------------------------------------------------


def seal_archive(content: bytes, *, export_public_id: str) -> tuple[bytes, bytes]:
    """AES-256-GCM under a fresh data key bound to the export's id; returns (nonce || ciphertext, wrapped key)."""
    data_key, wrapped = new_data_key(owner=export_key_owner(export_public_id))
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, content, export_context(export_public_id)), wrapped


def open_archive(sealed: bytes | memoryview, wrapped_key: bytes | memoryview, *, export_public_id: str) -> bytes:
    raw = bytes(sealed)
    data_key = unwrap_data_key(wrapped_key, owner=export_key_owner(export_public_id))
    try:
        return AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], export_context(export_public_id))
    except InvalidTag as exc:
        raise CryptoError("the export does not open under its key") from exc
