"""Tamper evidence: the canonical form of a ledger event and the per-subject hash chain. No ORM.

``hash = SHA-256(canonical_json(fields + prev_hash))``. The fields name things by stable public
identifiers (subject UUID, purpose and source keys, policy version label) so anyone holding the
history can recompute every hash. PII is covered only as its sealed ciphertext, so erasing a
subject's data key leaves the chain verifiable.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

HASH_VERSION = 1
GENESIS_HASH = "0" * 64


def format_instant(moment: datetime | None) -> str | None:
    """UTC with microseconds and a Z, the one form every hashed instant takes."""
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    if utc.year < 1000:  # strftime's %Y writes such years unpadded: the form hashed since the first version
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"  # the same text, without strftime


def instant_text(moment: datetime | str | None) -> str | None:
    """:func:`format_instant` of a datetime, or of an instant read from the database as text: already in that form
    (PostgreSQL's ``to_char`` in bulk reads, taken as is), or as the database stores it (parsed; naive is UTC)."""
    if not isinstance(moment, str):
        return format_instant(moment)
    if len(moment) == 27 and moment[10] == "T" and moment[26] == "Z" and moment[0] != "0":
        return moment  # years 1000-9999: strftime's %Y pads below 1000 differently, so those are parsed
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:  # not an instant Python can hold (a row edited by hand): it cannot match its hash
        return moment
    return format_instant(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def canonical_fields(
    *,
    event_id: str,
    subject_uuid: str,
    chain_index: int,
    purpose: str,
    action: str,
    occurred_at: datetime | str,
    recorded_at: datetime | str,
    valid_until: datetime | str | None,
    source: str,
    collection_method: str,
    policy_version: str | None,
    jurisdiction: str,
    gpc: bool,
    explicit_confirmation: bool,
    lifts_gpc_opt_out: bool,
    evidence_sealed: str,
    supersedes: str | None,
) -> dict[str, Any]:
    return {
        "v": HASH_VERSION,
        "event_id": event_id,
        "subject": subject_uuid,
        "chain_index": chain_index,
        "purpose": purpose,
        "action": action,
        "occurred_at": instant_text(occurred_at),
        "recorded_at": instant_text(recorded_at),
        "valid_until": instant_text(valid_until),
        "source": source,
        "collection_method": collection_method,
        "policy_version": policy_version,
        "jurisdiction": jurisdiction,
        "gpc": gpc,
        "explicit_confirmation": explicit_confirmation,
        "lifts_gpc_opt_out": lifts_gpc_opt_out,
        "evidence_sealed": evidence_sealed or None,
        "supersedes": supersedes,
    }


_CANONICAL_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def canonical_json(document: dict[str, Any]) -> bytes:
    """A document of strings, integers, booleans and nulls as canonical JSON, UTF-8: keys sorted, no spaces, non-ASCII
    characters written as themselves (what ``json.dumps(sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
    writes, the form every hash since the first version covers). By orjson, in a sixth of the time: a full
    verification hashes every event of the ledger, and an import a million. tests/consent/test_canonical_json.py
    compares the two encoders' bytes over every Unicode scalar value, in values and in keys."""
    # Datetimes and dataclasses are refused, as json.dumps refuses them (orjson would write its own form of them,
    # never the ledger's instant text): to the default, which raises TypeError.
    return orjson.dumps(document, option=_CANONICAL_OPTIONS)


def event_hash(fields: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256(canonical_json(dict(fields, prev_hash=prev_hash))).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    chain_index: int
    event_id: str
    fields: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    chain_index: int
    event_id: str | None
    problem: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "chain_index": self.chain_index,
            "event_id": self.event_id,
            "problem": self.problem,
            "detail": self.detail,
        }


def first_break(links: Iterable[ChainLink], *, expected_length: int, expected_head: str) -> ChainBreak | None:
    """Walk one subject's chain in ``chain_index`` order; return the first broken link, if any.

    ``changed``: a row's content no longer matches its hash. ``relinked``: a row's prev_hash does
    not match its predecessor (rows reordered or one removed and re-linked). ``missing``: a
    chain position is absent. ``truncated``: the chain is shorter or its head differs from the
    subject's recorded tip.
    """
    previous_hash = GENESIS_HASH
    expected_index = 1
    for link in links:
        if link.chain_index != expected_index:
            return ChainBreak(
                expected_index,
                link.event_id,
                "missing",
                f"expected chain position {expected_index}, found {link.chain_index}",
            )
        if link.prev_hash != previous_hash:
            return ChainBreak(
                link.chain_index, link.event_id, "relinked", "prev_hash does not match the previous event's hash"
            )
        recomputed = event_hash(link.fields, link.prev_hash)
        if recomputed != link.hash:
            return ChainBreak(link.chain_index, link.event_id, "changed", "the event's content does not match its hash")
        previous_hash = link.hash
        expected_index += 1
    length = expected_index - 1
    if length > expected_length:
        return ChainBreak(
            expected_length + 1,
            None,
            "tip_behind",
            f"the chain has {length} events ending in {previous_hash[:12]}…, more than the subject's stored "
            f"tip records ({expected_length} ending in {expected_head[:12]}…)",
        )
    if length != expected_length or previous_hash != expected_head:
        missing = expected_length - length
        reason = (
            f"{missing} event(s) at the end of the chain are gone (truncated)"
            if missing
            else "its last event is not the one the tip recorded"
        )
        return ChainBreak(
            length + 1,
            None,
            "truncated",
            f"the chain has {length} events ending in {previous_hash[:12]}…; "
            f"the subject's tip records {expected_length} ending in {expected_head[:12]}…: {reason}",
        )
    return None


def ledger_root(heads: Iterable[tuple[str, int, str]]) -> str:
    """A digest of every chain as found in the ledger, for clients to keep and compare.

    Input: one ``(subject_uuid, length, head_hash)`` per subject that has events, where ``length`` is the
    number of events walked in ``chain_index`` order and ``head_hash`` the stored ``hash`` of the last of
    them (never the tip kept on the subject row). Output: SHA-256, lowercase hex, of the UTF-8 lines
    ``"{subject_uuid}:{length}:{head_hash}\n"`` (uuid in its canonical lowercase hyphenated form, length in
    decimal) concatenated in ascending order of subject uuid. No events: the SHA-256 of the empty string.
    """
    digest = hashlib.sha256()
    for subject_uuid, length, head in sorted(heads):
        digest.update(f"{subject_uuid}:{length}:{head}\n".encode())
    return digest.hexdigest()
