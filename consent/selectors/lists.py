"""The consent app's collections as integrators list them (issue #17): subjects, consent states and the change
feed of ledger events in commit order. Each is scoped by organization; pages are keyset pages (core.api.pagination)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from consent.feed import events_recorded_between, events_recorded_by, feed_is_exact, ledger_position
from consent.models import ConsentEvent, ConsentState, Purpose, Subject
from consent.selectors.ledger import consent_states_by_status_now
from core.models import Organization

# The change feed's cursors (core.cursors) name this list; an export's cursor is one of them.
FEED_CURSOR_KIND = "consent-events"


def subject_list(
    *, organization: Organization, updated_since: datetime | None = None, jurisdiction: str | None = None
) -> QuerySet[Subject]:
    """The organization's subjects; ``updated_since``: those with a ledger event recorded at or after it."""
    subjects = Subject.objects.filter(organization=organization)
    if jurisdiction is not None:
        subjects = subjects.filter(jurisdiction=jurisdiction)
    if updated_since is not None:
        recent = ConsentEvent.objects.filter(subject=OuterRef("pk"), recorded_at__gte=updated_since)
        subjects = subjects.filter(Exists(recent))
    return subjects


def consent_state_list(
    *,
    organization: Organization,
    purpose: Purpose | None = None,
    status: str | None = None,
    changed_since: datetime | None = None,
) -> QuerySet[ConsentState]:
    """The organization's consent states (one per subject and purpose) with what their representation names."""
    states = ConsentState.objects.filter(organization=organization).select_related(
        "organization", "subject", "purpose", "source", "policy_version", "event", "basis_event__policy_version"
    )
    if purpose is not None:
        states = states.filter(purpose=purpose)
    if status is not None:
        states = consent_states_by_status_now(states, status)
    if changed_since is not None:
        states = states.filter(updated_at__gte=changed_since)
    return states


@dataclass(frozen=True)
class FeedPage:
    """A page of the change feed and the position to read on from. ``caught_up``: every event committed by the
    time of the read is in this page or an earlier one."""

    events: list[ConsentEvent]
    position: dict[str, Any]
    caught_up: bool


def consent_feed_page(
    *, organization: Organization, position: dict[str, Any] | None, limit: int, purpose: Purpose | None = None
) -> FeedPage:
    """The events committed after ``position`` (None: from the start), in commit order, at most ``limit``.

    A position is a window of snapshots (``s``: the read before, None at the start; ``u``: the snapshot this
    window ends at) and the last event id read in it (``i``). Events are read window by window (those that
    committed between two snapshots, in id order): a transaction that started early and commits late falls in
    the window of its commit, so it is read once and never skipped."""
    events = ConsentEvent.objects.filter(organization=organization)
    if purpose is not None:
        events = events.filter(purpose=purpose)
    position = position or {}
    since, until, last = position.get("s"), position.get("u"), int(position.get("i") or 0)
    if not feed_is_exact():  # SQLite (development): the sequence order stands in for commit order
        page = list(_feed_rows(events.filter(id__gt=last), limit))
        return _page(page, limit, {"s": None, "u": "", "i": page[-1].pk if page else last}, since="", until="")
    if not until:
        until, last = ledger_position(), 0
    window = (
        events_recorded_by(events, until=until)
        if since is None
        else events_recorded_between(events, since=since, until=until)
    )
    page = list(_feed_rows(window.filter(id__gt=last), limit))
    return _page(page, limit, {"s": since, "u": until, "i": page[-1].pk if page else last}, since=since, until=until)


def _feed_rows(events: QuerySet[ConsentEvent], limit: int) -> QuerySet[ConsentEvent]:
    return events.select_related("subject", "purpose", "source", "policy_version", "supersedes").order_by("id")[
        : limit + 1
    ]


def _page(page: list[ConsentEvent], limit: int, within: dict[str, Any], *, since: str | None, until: str) -> FeedPage:
    if len(page) > limit:
        page = page[:limit]
        return FeedPage(page, {**within, "i": page[-1].pk}, caught_up=False)
    if not until:  # SQLite: the next read goes on after the last id
        return FeedPage(page, {"s": None, "u": "", "i": within["i"]}, caught_up=True)
    return FeedPage(page, {"s": until, "u": None, "i": 0}, caught_up=True)
