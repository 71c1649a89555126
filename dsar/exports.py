"""The access/portability export: the subject's data from Provenant's own ledger as a ZIP of JSON and CSV files,
sealed at rest, and the signed, expiring link the requester downloads it with.

The link carries only the export's public id, signed with Django's ``TimestampSigner`` under its own salt.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core import signing
from django.utils import timezone

from consent.models import ConsentEvent, Source, Subject
from consent.selectors.ledger import consent_history, consent_state_for_subject, event_evidence, subject_email
from core.crypto import NONCE_BYTES, CryptoError, new_data_key, unwrap_data_key
from core.models import Organization
from core.problems import DomainError
from provenance.models import StampRecord

SALT: Final = "provenant.dsar.export-download"
LINK_LIFETIME: Final = timedelta(days=7)
HISTORY_PAGE: Final = 500


class ExportLinkInvalid(DomainError):
    status = 400
    slug = "export-link-invalid"
    title = "The download link is not valid"


class ExportLinkExpired(DomainError):
    status = 410
    slug = "export-link-expired"
    title = "The download link has expired"


class ExportPurged(DomainError):
    status = 410
    slug = "export-purged"
    title = "The export was deleted"


# --- collection ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Table:
    """One data set of the export, written as ``<name>.json`` and ``<name>.csv``."""

    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]]


def _instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _event_row(event: ConsentEvent) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "chain_index": event.chain_index,
        "purpose": event.purpose.key,
        "action": event.action,
        "occurred_at": _instant(event.occurred_at),
        "recorded_at": _instant(event.recorded_at),
        "valid_until": _instant(event.valid_until),
        "source": event.source.key,
        "collection_method": event.collection_method,
        "policy_version": event.policy_version.version if event.policy_version else None,
        "jurisdiction": event.jurisdiction,
        "gpc": event.gpc,
        "supersedes": event.supersedes.event_id if event.supersedes else None,
        "evidence": event_evidence(event),
        "hash": event.hash,
    }


def _history(subject: Subject) -> list[ConsentEvent]:
    events: list[ConsentEvent] = []
    after = 0
    while True:
        page, has_more = consent_history(subject=subject, after_chain_index=after, limit=HISTORY_PAGE)
        events.extend(page)
        if not has_more or not page:
            return events
        after = page[-1].chain_index


def subject_tables(*, organization: Organization, subject: Subject | None) -> list[Table]:
    """Everything Provenant itself holds about the subject: profile, consent history with evidence in clear,
    current consent state, the stamp log (decisions only, never the data) and the sources involved."""
    events = _history(subject) if subject is not None else []
    profile: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    stamps: list[dict[str, Any]] = []
    if subject is not None:
        profile = [
            {
                "external_id": subject.external_id,
                "uuid": str(subject.uuid),
                "email": subject_email(subject),
                "jurisdiction": subject.jurisdiction,
                "created_at": _instant(subject.created_at),
            }
        ]
        states = [
            {
                "purpose": state.purpose,
                "status": state.status,
                "permitted": state.permitted,
                "basis": state.basis,
                "since": _instant(state.since),
                "valid_until": _instant(state.valid_until),
                "source": state.source,
                "policy_version": state.policy_version,
                "jurisdiction": state.jurisdiction,
                "gpc": state.gpc,
                "event_id": state.event_id,
            }
            for state in consent_state_for_subject(organization=organization, subject=subject)
        ]
        stamps = [
            {
                "stamp_id": record.stamp_id,
                "created_at": _instant(record.created_at),
                "recipient": record.recipient.key,
                "purposes": record.purposes,
                "decision": record.decision,
                "reasons": record.reasons,
                "jurisdiction": record.jurisdiction,
            }
            for record in StampRecord.objects.filter(organization=organization, subject=subject)
            .select_related("recipient")
            .order_by("created_at", "id")
        ]
    source_ids = {event.source_id for event in events}
    sources = [
        {
            "key": source.key,
            "name": source.name,
            "kind": source.kind,
            "vendor_name": source.vendor_name,
            "collection_point": source.collection_point,
            "lawful_basis": source.lawful_basis,
        }
        for source in Source.objects.filter(organization=organization, pk__in=source_ids).order_by("key")
    ]
    return [
        Table("subject", ("external_id", "uuid", "email", "jurisdiction", "created_at"), profile),
        Table(
            "consent_history",
            (
                "event_id",
                "chain_index",
                "purpose",
                "action",
                "occurred_at",
                "recorded_at",
                "valid_until",
                "source",
                "collection_method",
                "policy_version",
                "jurisdiction",
                "gpc",
                "supersedes",
                "evidence",
                "hash",
            ),
            [_event_row(event) for event in events],
        ),
        Table(
            "consent_state",
            (
                "purpose",
                "status",
                "permitted",
                "basis",
                "since",
                "valid_until",
                "source",
                "policy_version",
                "jurisdiction",
                "gpc",
                "event_id",
            ),
            states,
        ),
        Table(
            "stamp_log",
            ("stamp_id", "created_at", "recipient", "purposes", "decision", "reasons", "jurisdiction"),
            stamps,
        ),
        Table("sources", ("key", "name", "kind", "vendor_name", "collection_point", "lawful_basis"), sources),
    ]


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
) -> Archive:
    """A ZIP with each table as JSON and CSV (UTF-8), each connector's answer as ``connectors/<key>.json`` and a
    manifest (which also lists connectors that failed, so the reviewer sees what is missing); GDPR Art. 20."""
    members: list[tuple[str, str]] = []
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


def _context(export_public_id: str) -> bytes:
    return f"dsar-export:{export_public_id}".encode()


def seal_archive(content: bytes, *, export_public_id: str) -> tuple[bytes, bytes]:
    """AES-256-GCM under a fresh data key bound to the export's id; returns (nonce || ciphertext, wrapped key)."""
    data_key, wrapped = new_data_key()
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(data_key).encrypt(nonce, content, _context(export_public_id)), wrapped


def open_archive(sealed: bytes | memoryview, wrapped_key: bytes | memoryview, *, export_public_id: str) -> bytes:
    raw = bytes(sealed)
    data_key = unwrap_data_key(wrapped_key)
    try:
        return AESGCM(data_key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _context(export_public_id))
    except InvalidTag as exc:
        raise CryptoError("the export does not open under its key") from exc


# --- the download link --------------------------------------------------------------------------------------------


def download_token(export_public_id: str) -> str:
    return signing.dumps({"x": export_public_id}, salt=SALT)


def download_url(export_public_id: str) -> str:
    base = settings.PROVENANT_PUBLIC_BASE_URL.rstrip("/")
    return f"{base}/api/v1/dsar/exports/{download_token(export_public_id)}"


def export_id_from_token(token: str) -> str:
    """The export the token names; ExportLinkExpired (410) after seven days, ExportLinkInvalid (400) if tampered."""
    try:
        payload = signing.loads(token, salt=SALT, max_age=LINK_LIFETIME)
    except signing.SignatureExpired as exc:
        raise ExportLinkExpired("This download link has expired; ask us for a new one.") from exc
    except signing.BadSignature as exc:
        raise ExportLinkInvalid("This download link is not valid.") from exc
    export_id = payload.get("x") if isinstance(payload, dict) else None
    if not isinstance(export_id, str) or not export_id:
        raise ExportLinkInvalid("This download link is not valid.")
    return export_id
