"""The consent events as NDJSON (issue #17): all of them, those committed after a feed position, or one purpose's.

A header line names the format, the selection and the feed position the export reaches (``cursor`` of the change
feed: pass it back to export or read what came after); then one line per event in commit order with the fields
of :func:`consent.selectors.event_rows.canonical_event` (the ledger export's): each event's hash can be recomputed
and, for a complete export, each subject's chain re-linked from ``prev_hash``. Nothing sealed is opened."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from consent.feed import events_recorded_between, events_recorded_by, feed_is_exact, ledger_position
from consent.models import ConsentEvent, Purpose
from consent.selectors.event_rows import canonical_columns, canonical_event
from core.models import Organization

CONSENT_EXPORT_FORMAT = "provenant-consent-export/1"


def consent_export_lines(
    organization: Organization,
    *,
    position: dict[str, Any] | None,
    purpose: Purpose | None,
    encode_position: Callable[[dict[str, Any]], str],
    since: str | None = None,
) -> Iterator[str]:
    """The export, line by line (each ending in a newline), streamed in chunks. ``position`` is a change-feed
    position (None: from the start); ``encode_position`` turns the position reached into the header's cursor."""
    events = ConsentEvent.objects.filter(organization=organization)
    if purpose is not None:
        events = events.filter(purpose=purpose)
    position = position or {}
    if feed_is_exact():
        until = ledger_position()
        start, last = position.get("s"), int(position.get("i") or 0)
        if position.get("u"):  # a cursor in the middle of a window: finish it, then take the rest
            start, until_first = position["s"], position["u"]
            first = (
                events_recorded_by(events, until=until_first)
                if start is None
                else events_recorded_between(events, since=start, until=until_first)
            )
            selections = [first.filter(id__gt=last), events_recorded_between(events, since=until_first, until=until)]
        elif start is None:
            selections = [events_recorded_by(events, until=until)]
        else:
            selections = [events_recorded_between(events, since=start, until=until)]
        reached: dict[str, Any] = {"s": until, "u": None, "i": 0}
    else:
        selections = [events.filter(id__gt=int(position.get("i") or 0))]
        reached = {"s": None, "u": "", "i": events.order_by("-id").values_list("id", flat=True).first() or 0}
    header = {
        "format": CONSENT_EXPORT_FORMAT,
        "organization": organization.slug,
        "purpose": purpose.key if purpose is not None else None,
        "since": since,
        "cursor": encode_position(reached),
    }
    yield json.dumps(header, sort_keys=True) + "\n"
    instants, columns = canonical_columns()
    for selection in selections:
        rows = selection.annotate(**instants).order_by("id").values_list(*columns)
        for values in rows.iterator(chunk_size=5000):
            yield json.dumps(canonical_event(tuple(values)), sort_keys=True, ensure_ascii=False) + "\n"
