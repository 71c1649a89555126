"""Reading a file of consent history for an import (issue #17): CSV or NDJSON rows, each turned into the body
``POST /api/v1/consent-events`` would take for the same event. No ORM: the rules an event must meet are the API's
(its serializer, then ``consent.services.validation``), applied by the import service."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
import zlib
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from consent.enums import ImportFormat
from core.problems import InvalidInput

# The documented columns: the fields of a consent event as the API takes them, the evidence flattened.
COLUMNS = (
    "subject_id",
    "purpose",
    "action",
    "occurred_at",
    "source",
    "collection_method",
    "jurisdiction",
    "policy_version",
    "subject_email",
    "gpc",
    "explicit_confirmation",
    "ip_address",
    "user_agent",
    "supersedes",
    "idempotency_key",
)
REQUIRED_COLUMNS = ("subject_id", "purpose", "action", "occurred_at", "source", "collection_method", "jurisdiction")
BOOLEAN_COLUMNS = ("gpc", "explicit_confirmation")
EVIDENCE_COLUMNS = ("ip_address", "user_agent")
_CSV_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


@dataclass(frozen=True)
class FileRow:
    """One data row: its line in the file and the API body it stands for, or why it cannot be read at all."""

    line: int
    body: dict[str, Any] | None
    problem: str = ""


def format_of(name: str, declared: str | None = None) -> str:
    """The file's format: as declared, else by its extension (``.csv``, ``.ndjson``/``.jsonl``)."""
    if declared:
        if declared not in ImportFormat.values:
            raise InvalidInput(f"Unknown format '{declared}': use csv or ndjson.")
        return declared
    lowered = name.lower()
    if lowered.endswith(".csv"):
        return ImportFormat.CSV
    if lowered.endswith((".ndjson", ".jsonl")):
        return ImportFormat.NDJSON
    raise InvalidInput("Cannot tell the file's format from its name: name it .csv or .ndjson, or give the format.")


def api_body(row: dict[str, Any]) -> dict[str, Any]:
    """The consent-event body of a flat row: evidence columns nested under ``evidence``, absent values left out."""
    body = {k: v for k, v in row.items() if k not in EVIDENCE_COLUMNS and v is not None}
    evidence = {k: row[k] for k in EVIDENCE_COLUMNS if row.get(k) is not None}
    if evidence:
        body["evidence"] = evidence
    return body


def partition_of(line: int, subject_id: object, partitions: int) -> int:
    """The partition of a row (``partitions`` side by side): its subject's, so every row of a subject is in one
    partition, in file order; a row without a subject id (or one that cannot be read), by its line."""
    if partitions <= 1:
        return 0
    if not isinstance(subject_id, str) or not subject_id:
        return line % partitions
    if not subject_id.isascii():
        subject_id = unicodedata.normalize("NFC", subject_id)  # the form the subject is stored under
    return zlib.crc32(subject_id.encode("utf-8", "surrogatepass")) % partitions


def read_rows(
    stream: IO[bytes], file_format: str, *, partition: tuple[int, int] | None = None
) -> Generator[FileRow, None, None]:
    """The file's data rows in order, streamed (memory does not grow with the file). ``partition`` (number, count):
    only that partition's rows; the others are passed over before their bodies are built (each partition's process
    reads the whole file)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
    try:
        yield from _csv_rows(text, partition) if file_format == ImportFormat.CSV else _ndjson_rows(text, partition)
    finally:
        text.detach()  # the caller's stream stays the caller's to close


def _csv_rows(text: Iterable[str], partition: tuple[int, int] | None) -> Iterator[FileRow]:
    reader = csv.reader(text, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(f"The CSV header cannot be read: {exc}.") from exc
    unknown = sorted(set(header) - set(COLUMNS))
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        raise InvalidInput(
            "The CSV header must name documented columns, each once.",
            unknown_columns=unknown,
            missing_columns=missing,
            known_columns=list(COLUMNS),
        )
    subject_at = header.index("subject_id")
    number, count = partition or (0, 1)
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            # The reader cannot go on past a byte it cannot decode or a broken quote: the row and the rest fail.
            raise InvalidInput(f"Line {reader.line_num}: the CSV cannot be read: {exc}.") from exc
        line = reader.line_num
        if not values:
            continue
        if count > 1:
            subject = values[subject_at] if len(values) == len(header) else None
            if partition_of(line, subject, count) != number:
                continue
        if len(values) != len(header):
            yield FileRow(line, None, f"expected {len(header)} values, found {len(values)}")
            continue
        row: dict[str, Any] = {}
        for name, value in zip(header, values, strict=True):
            if value == "":
                continue
            if name in BOOLEAN_COLUMNS:
                row[name] = _CSV_BOOLEANS.get(value.lower(), value)
            else:
                row[name] = value
        yield FileRow(line, api_body(row))


def _ndjson_rows(text: Iterable[str], partition: tuple[int, int] | None) -> Iterator[FileRow]:
    number, count = partition or (0, 1)
    line = 0
    lines = iter(text)
    while True:
        try:
            raw = next(lines)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"Line {line + 1}: the file is not UTF-8 ({exc.reason}).") from exc
        line += 1
        if not raw.strip():
            continue
        try:
            value = json.loads(raw)
        except ValueError as exc:
            if partition_of(line, None, count) == number:
                yield FileRow(line, None, f"Malformed JSON: {exc}")
            continue
        if not isinstance(value, dict):
            if partition_of(line, None, count) == number:
                yield FileRow(line, None, "Expected a JSON object.")
            continue
        if count > 1 and partition_of(line, value.get("subject_id"), count) != number:
            continue
        if "evidence" in value:
            yield FileRow(line, value)
            continue
        yield FileRow(line, api_body(value))
