"""Ledger integrity: recompute every subject's hash chain and report the first broken link."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from consent import ledger
from consent.models import ConsentEvent, LedgerLogHead, Subject
from consent.selectors.log_integrity import log_problem, projection_problem
from core.models import Organization


@dataclass(frozen=True)
class LedgerIntegrityReport:
    """The outcome of recomputing hash chains: the first broken link, if any, and the root of every tip."""

    is_valid: bool
    subjects_checked: int
    events_checked: int
    ledger_root: str
    first_break: dict[str, Any] | None
    verified_at: datetime
    log_size: int | None = None  # the transparency log's size and root this report vouches for (one organization)
    log_root: str = ""
    mode: str = "full"


_LINK_FIELDS = (
    "subject_id",
    "chain_index",
    "event_id",
    "subject__uuid",
    "purpose__key",
    "action",
    "occurred_at",
    "recorded_at",
    "valid_until",
    "source__key",
    "collection_method",
    "policy_version__version",
    "jurisdiction",
    "gpc",
    "explicit_confirmation",
    "lifts_gpc_opt_out",
    "evidence_sealed",
    "supersedes__event_id",
    "prev_hash",
    "hash",
)


def _links(organization: Organization | None) -> Iterator[tuple[int, ledger.ChainLink]]:
    events = ConsentEvent.objects.all()
    if organization is not None:
        events = events.filter(organization=organization)
    for row in events.order_by("subject_id", "chain_index").values_list(*_LINK_FIELDS).iterator(chunk_size=5000):
        (
            subject_id,
            chain_index,
            event_id,
            subject_uuid,
            purpose,
            action,
            occurred_at,
            recorded_at,
            valid_until,
            source,
            method,
            version,
            jurisdiction,
            gpc,
            explicit_confirmation,
            lifts_gpc_opt_out,
            evidence,
            supersedes,
            prev_hash,
            event_hash,
        ) = row
        fields = ledger.canonical_fields(
            event_id=event_id,
            subject_uuid=str(subject_uuid),
            chain_index=chain_index,
            purpose=purpose,
            action=action,
            occurred_at=occurred_at,
            recorded_at=recorded_at,
            valid_until=valid_until,
            source=source,
            collection_method=method,
            policy_version=version,
            jurisdiction=jurisdiction,
            gpc=gpc,
            explicit_confirmation=explicit_confirmation,
            lifts_gpc_opt_out=lifts_gpc_opt_out,
            evidence_sealed=evidence,
            supersedes=supersedes,
        )
        yield subject_id, ledger.ChainLink(chain_index, event_id, fields, prev_hash, event_hash)


PROGRESS_EVERY = 10_000


def ledger_integrity_report(
    *,
    organization: Organization | None = None,
    progress: Callable[[int], None] | None = None,
    progress_every: int = PROGRESS_EVERY,
) -> LedgerIntegrityReport:
    """Recompute every hash chain; report the first broken link (changed, removed or reordered rows, or a
    subject whose stored tip disagrees with its events). Reads only: it records nothing. ``progress`` is told
    the number of events checked every PROGRESS_EVERY events (a background job shows it).

    ``ledger_root`` is computed from the events as walked (each chain's length and last hash), never from
    the tips stored on the subjects (see :func:`consent.ledger.ledger_root` for its exact input)."""
    subjects = Subject.objects.all()
    if organization is not None:
        subjects = subjects.filter(organization=organization)
    tips = {
        pk: (external_id, str(uuid), length, head)
        for pk, external_id, uuid, length, head in subjects.values_list(
            "pk", "external_id", "uuid", "ledger_length", "ledger_head_hash"
        )
    }
    events_checked = 0
    first: dict[str, Any] | None = None
    heads: list[tuple[str, int, str]] = []  # (subject uuid, length, last hash) as found in the events
    grouped: dict[int, list[ledger.ChainLink]] = defaultdict(list)
    uuids: dict[int, str] = {}
    current_subject: int | None = None

    def check(subject_id: int, links: list[ledger.ChainLink]) -> dict[str, Any] | None:
        heads.append((uuids[subject_id], len(links), links[-1].hash))
        tip = tips.get(subject_id)
        if tip is None:
            return {
                "subject_id": None,
                "chain_index": links[0].chain_index,
                "event_id": links[0].event_id,
                "problem": "orphaned",
                "detail": "events of a subject that no longer exists",
            }
        broken = ledger.first_break(links, expected_length=tip[2], expected_head=tip[3])
        return {"subject_id": tip[0], "subject_uuid": tip[1], **broken.as_dict()} if broken else None

    seen: set[int] = set()
    for subject_id, link in _links(organization):
        events_checked += 1
        if progress is not None and events_checked % progress_every == 0:
            progress(events_checked)
        if current_subject is not None and subject_id != current_subject:
            found = check(current_subject, grouped.pop(current_subject))  # always: it adds the chain's head
            first = first or found
            seen.add(current_subject)
        current_subject = subject_id
        uuids[subject_id] = link.fields["subject"]
        grouped[subject_id].append(link)
    if current_subject is not None:
        found = check(current_subject, grouped.pop(current_subject))
        first = first or found
        seen.add(current_subject)
    if first is None:
        for pk, (external_id, uuid, length, head) in tips.items():
            if pk not in seen and length > 0:
                broken = ledger.first_break([], expected_length=length, expected_head=head)
                assert broken is not None
                first = {"subject_id": external_id, "subject_uuid": uuid, **broken.as_dict()}
                break
    if first is None:  # the chains hold: then the log, its checkpoints and the projection
        organizations = [organization] if organization is not None else list(Organization.objects.order_by("pk"))
        for each in organizations:
            first = log_problem(each) or projection_problem(each)
            if first is not None:
                break
    log_head = LedgerLogHead.objects.filter(organization=organization).first() if organization is not None else None
    return LedgerIntegrityReport(
        is_valid=first is None,
        subjects_checked=len(tips),
        events_checked=events_checked,
        ledger_root=ledger.ledger_root(heads),
        first_break=first,
        verified_at=timezone.now(),
        log_size=(log_head.tree_size if log_head else 0) if organization is not None else None,
        log_root=log_head.root_hash if log_head else "",
    )
