"""Recording consent: the public entry points to the ledger.

``consent_record_many`` appends a batch all-or-nothing (a single event is a batch of one) and
``consent_record_with_signals`` also honours, in the same transaction, the Global Privacy Control signals
that came with the events. Each runs in one transaction, retried whole after a deadlock or a lost race.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from consent.enums import GpcChannel
from consent.gpc import GpcOutcome
from consent.services.appending import RecordedEvent, append_events, atomic_with_retries
from consent.services.gpc import gpc_signal_apply
from consent.services.validation import ConsentEventInput
from core.models import Organization


@dataclass
class SignalledRecording:
    """Events appended with the GPC signals they carried: ``gpc`` says what the signal did, by subject id."""

    recorded: list[RecordedEvent]
    gpc: dict[str, GpcOutcome]


def consent_record(*, organization: Organization, item: ConsentEventInput) -> RecordedEvent:
    """Append one event. Same rules as a batch; returns the event and the purpose's new state."""
    return consent_record_many(organization=organization, items=[item])[0]


def consent_record_many(
    *,
    organization: Organization,
    items: Sequence[ConsentEventInput],
    allow_system_actions: bool = False,
    now: datetime | None = None,
) -> list[RecordedEvent]:
    """Append events all-or-nothing. Retries the whole transaction on a deadlock or a lost race."""
    moment = now or timezone.now()
    return atomic_with_retries(
        lambda: append_events(
            organization=organization, items=items, allow_system_actions=allow_system_actions, now=moment
        )
    )


def consent_record_with_signals(
    *, organization: Organization, items: Sequence[ConsentEventInput], gpc_header: str | None = None
) -> SignalledRecording:
    """Append client events and honour the GPC signals that came with them, all in one transaction.

    ``gpc_header`` is the raw value of a ``Sec-GPC: 1`` header on the call (made on the person's behalf):
    it is honoured for every subject named. An item with ``gpc: true`` (navigator.globalPrivacyControl seen
    by the client) is honoured for its subject when the header was not."""
    moment = timezone.now()

    def write() -> SignalledRecording:
        recorded = append_events(organization=organization, items=items, allow_system_actions=False, now=moment)
        outcomes: dict[str, GpcOutcome] = {}
        if gpc_header is not None:
            for subject_id, item in {item.subject_id: item for item in items}.items():
                outcome = gpc_signal_apply(
                    organization=organization,
                    subject_id=subject_id,
                    channel=GpcChannel.HEADER,
                    raw_value=gpc_header,
                    jurisdiction=item.jurisdiction,
                )
                if outcome is not None:
                    outcomes[subject_id] = outcome
        for subject_id, item in {item.subject_id: item for item in items if item.gpc}.items():
            if subject_id in outcomes:
                continue
            outcome = gpc_signal_apply(
                organization=organization,
                subject_id=subject_id,
                channel=GpcChannel.JAVASCRIPT,
                jurisdiction=item.jurisdiction,
                occurred_at=item.occurred_at,
            )
            if outcome is not None:
                outcomes[subject_id] = outcome
        return SignalledRecording(recorded=recorded, gpc=outcomes)

    return atomic_with_retries(write)
