#!/usr/bin/env python3
"""Audit a Provenant consent ledger offline, trusting neither Provenant nor its database (issue #12).

One file, the Python standard library and ``cryptography``: copy it anywhere and run

    python ledger_audit.py --export ledger.ndjson --checkpoint checkpoint.txt [--checkpoint older.txt] --jwks jwks.json

with the export from ``GET /api/v1/ledger/export``, checkpoints you kept yourself (``GET /api/v1/ledger/checkpoint``,
saved when you fetched them, or a witness's copy) and the JSON Web Key Set from ``/.well-known/jwks.json``.

It checks, without any of our code: every event's hash over its canonical fields; every subject's chain (positions
1, 2, 3... each linked to the one before); the leaves, numbered from 0 with no gap; the RFC 9162 Merkle tree over
them; that each checkpoint is signed (C2SP signed-note, Ed25519) by a key of the set and that its root is the
root of the export's first ``tree_size`` leaves, so that the log you hold today extends every checkpoint you kept.
A changed, deleted, reordered or inserted event, a rolled-back or rewritten log, and a forged checkpoint all fail.
Exit status 0 when everything holds, 1 with the first problem otherwise, 2 for unreadable input.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

EXPORT_FORMAT = "provenant-ledger-export/1"
GENESIS = "0" * 64


class AuditFailure(Exception):
    """The ledger, the export or a checkpoint does not hold up."""


class InputError(Exception):
    """A file that can't be read as what it should be."""


# --- RFC 9162 hashing, written independently of the server's code -------------------------------------------------


def _leaf(event_hash_hex: str) -> bytes:
    return hashlib.sha256(b"\x00" + bytes.fromhex(event_hash_hex)).digest()


class _TreeRoots:
    """Roots of every prefix asked for, computed in one pass with a stack of complete subtrees."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []  # (size, hash) of complete subtrees, largest first
        self.size = 0

    def append(self, leaf: bytes) -> None:
        size, value = 1, leaf
        while self.stack and self.stack[-1][0] == size:
            left_size, left = self.stack.pop()
            size, value = left_size + size, hashlib.sha256(b"\x01" + left + value).digest()
        self.stack.append((size, value))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return hashlib.sha256(b"").digest()
        value = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            value = hashlib.sha256(b"\x01" + left + value).digest()
        return value


# --- C2SP signed notes and checkpoints ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeptCheckpoint:
    origin: str
    tree_size: int
    root: bytes
    signed_by: str


def _jwks_keys(document: dict[str, object]) -> list[bytes]:
    keys = []
    listed = document.get("keys")
    for jwk in listed if isinstance(listed, list) else []:
        if isinstance(jwk, dict) and jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519":
            x = str(jwk.get("x", ""))
            keys.append(base64.urlsafe_b64decode(x + "=" * (-len(x) % 4)))
    return keys


def _open_checkpoint(text: str, keys: Sequence[bytes]) -> KeptCheckpoint:
    body, separator, signatures = text.rpartition("\n\n")
    if not separator or not text.endswith("\n"):
        raise AuditFailure("the checkpoint is not a signed note (body, empty line, signature lines)")
    body += "\n"
    lines = body.split("\n")
    if len(lines) < 4 or not (lines[1].isascii() and lines[1].isdigit()):
        raise AuditFailure("the checkpoint's body is not origin, tree size and root hash")
    origin, tree_size = lines[0], int(lines[1])
    try:
        root = base64.b64decode(lines[2], validate=True)
    except binascii.Error as exc:
        raise AuditFailure("the checkpoint's root hash is not base64") from exc
    for line in signatures.rstrip("\n").split("\n"):
        if not line.startswith("\u2014 "):
            raise AuditFailure("a signature line of the checkpoint does not start with an em dash")
        name, _, encoded = line[2:].rpartition(" ")
        try:
            blob = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            continue
        for public in keys:
            hint = hashlib.sha256(name.encode() + b"\n\x01" + public).digest()[:4]
            if blob[:4] != hint:
                continue
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], body.encode())
            except (InvalidSignature, ValueError):
                continue
            return KeptCheckpoint(origin, tree_size, root, name)
    raise AuditFailure(f"no signature on the checkpoint of size {tree_size} verifies with a key of the set")


# --- the audit ----------------------------------------------------------------------------------------------------


@dataclass
class AuditReport:
    log: str = ""
    events: int = 0
    subjects: int = 0
    checkpoints: list[KeptCheckpoint] = field(default_factory=list)
    root: str = ""

    def summary(self) -> str:
        kept = ", ".join(f"{c.tree_size} (signed by {c.signed_by})" for c in self.checkpoints)
        return (
            f"ledger {self.log}: {self.events} events in {self.subjects} chains verify; "
            f"root {self.root}; consistent with the checkpoints of size {kept}"
        )


def _event_hash(event: dict[str, object]) -> str:
    document = {key: value for key, value in event.items() if key != "hash"}
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def audit(export_lines: Iterable[str], checkpoint_texts: Sequence[str], jwks: dict[str, object]) -> AuditReport:
    """Raises AuditFailure at the first problem; InputError for unreadable input."""
    keys = _jwks_keys(jwks)
    if not keys:
        raise InputError("the key set holds no Ed25519 key")
    if not checkpoint_texts:
        raise InputError("give at least one checkpoint you kept")
    lines = iter(export_lines)
    try:
        header = json.loads(next(lines))
    except (StopIteration, json.JSONDecodeError) as exc:
        raise InputError("the export has no header line") from exc
    if header.get("format") != EXPORT_FORMAT:
        raise InputError(f"not a {EXPORT_FORMAT} export")
    report = AuditReport(log=str(header["log"]))
    kept = sorted((_open_checkpoint(text, keys) for text in checkpoint_texts), key=lambda c: c.tree_size)
    for checkpoint in kept:
        if checkpoint.origin != report.log:
            raise AuditFailure(f"the checkpoint names the log {checkpoint.origin!r}, the export {report.log!r}")
    due = {checkpoint.tree_size: checkpoint for checkpoint in kept}
    tree = _TreeRoots()
    tips: dict[str, tuple[int, str]] = {}
    if 0 in due and due[0].root != tree.root():
        raise AuditFailure("the empty checkpoint's root is not the empty tree's")
    for number, raw in enumerate(lines):
        try:
            line = json.loads(raw)
            event = line["event"]
            leaf_index = line["leaf_index"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InputError(f"line {number + 2} of the export is not a leaf") from exc
        if leaf_index != number:
            raise AuditFailure(f"leaf {number} is missing: the export jumps to {leaf_index}")
        if _event_hash(event) != event["hash"]:
            raise AuditFailure(f"event {event['event_id']} (leaf {number}) does not match its hash: it was changed")
        length, head = tips.get(event["subject"], (0, GENESIS))
        if event["chain_index"] != length + 1 or event["prev_hash"] != head:
            raise AuditFailure(
                f"event {event['event_id']} (leaf {number}) is position {event['chain_index']} of subject "
                f"{event['subject']}, whose chain stands at {length}: an event was removed, reordered or inserted"
            )
        tips[event["subject"]] = (length + 1, event["hash"])
        tree.append(_leaf(event["hash"]))
        reached = due.get(tree.size)
        if reached is not None and reached.root != tree.root():
            raise AuditFailure(
                f"the first {tree.size} leaves do not have the root of the signed checkpoint of that size: the log "
                "was rewritten since that checkpoint"
            )
    if tree.size != header["tree_size"]:
        raise AuditFailure(f"the export holds {tree.size} leaves, its header says {header['tree_size']}")
    if base64.b64encode(tree.root()).decode() != header["root_hash"]:
        raise AuditFailure("the export's leaves do not have the root its header states")
    if kept[-1].tree_size > tree.size:
        raise AuditFailure(
            f"a kept checkpoint covers {kept[-1].tree_size} leaves, the export only {tree.size}: the log lost leaves"
        )
    report.events, report.subjects, report.checkpoints = tree.size, len(tips), kept
    report.root = base64.b64encode(tree.root()).decode()
    return report


def main(argv: Sequence[str] | None = None, out: object = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--export", required=True, help="the NDJSON export (GET /api/v1/ledger/export)")
    parser.add_argument("--checkpoint", required=True, action="append", help="a checkpoint you kept (repeatable)")
    parser.add_argument("--jwks", required=True, help="the JSON Web Key Set (/.well-known/jwks.json)")
    options = parser.parse_args(argv)
    write = getattr(out, "write", sys.stdout.write)
    try:
        with open(options.jwks, encoding="utf-8") as handle:
            jwks = json.load(handle)
        texts = []
        for path in options.checkpoint:
            with open(path, encoding="utf-8") as handle:
                texts.append(handle.read())
        with open(options.export, encoding="utf-8") as handle:
            report = audit(handle, texts, jwks)
    except (OSError, json.JSONDecodeError, InputError) as exc:
        write(f"unreadable input: {exc}\n")
        return 2
    except AuditFailure as exc:
        write(f"FAILED: {exc}\n")
        return 1
    write(f"OK: {report.summary()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
