"""A stored request's deadlines: its jurisdiction's time zone and calendar, the clock events of its history and its
extension, run through the deadline engine. No queries: the caller passes the request and its history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone

from core.jurisdiction_rules import jurisdiction_rules
from dsar.deadlines import (
    ID_RECEIVED,
    ID_REQUESTED,
    RESPONSE_SENT,
    ClockEvent,
    DeadlineError,
    DeadlineResult,
    ExtensionNotice,
    compute_deadlines,
)
from dsar.deadlines.types import SOURCE_JURISDICTION
from dsar.deadlines.zone_resolution import SettingLayer
from dsar.enums import FINAL_STATUSES, RequestStatus
from dsar.problems import deadline_problem

if TYPE_CHECKING:
    from dsar.models import DataSubjectRequest


class HistoryStep(Protocol):
    """What the clock reads of a ``RequestTransition``."""

    @property
    def at(self) -> datetime: ...

    @property
    def from_status(self) -> str: ...

    @property
    def to_status(self) -> str: ...


def deadline_zone(deadlines: object) -> tzinfo:
    """The zone a request's deadlines are counted in (its stored ``deadlines``: its receipt date and due date are
    days there); UTC when none is recorded."""
    name = deadlines.get("time_zone") if isinstance(deadlines, dict) else None
    try:
        return ZoneInfo(str(name)) if name else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def request_today(request: DataSubjectRequest) -> date:
    """Today where the request's deadlines are counted: the day a notice sent now is dated (a notice dated by the
    server's UTC date would, near midnight, fall before a receipt date counted in Berlin, or after today there)."""
    return timezone.localtime(timezone.now(), deadline_zone(request.deadlines)).date()


def zone_and_calendar(regime: str, jurisdiction: str) -> tuple[str | None, str | None]:
    """The jurisdiction's deadline time zone and holiday calendar when it is under that regime (GDPR A1)."""
    if not jurisdiction:
        return None, None
    dsar = jurisdiction_rules().rule_for(jurisdiction).dsar
    if dsar.regime != regime:
        return None, None
    return dsar.time_zone, dsar.holiday_calendar


def settings_layers(
    *,
    regime: str,
    jurisdiction: str,
    organization_settings: SettingLayer | None = None,
    stored: Mapping[str, Any] | None = None,
) -> list[SettingLayer]:
    """Where a stored request's zone and calendar come from. Once its deadlines were computed they are pinned: a
    later change of the organization's settings doesn't move a received request's dates. Before that (intake):
    the organization's settings, then the jurisdiction's rule."""
    if stored and stored.get("time_zone") and stored.get("calendar"):
        return [
            SettingLayer(str(stored.get("tz_source") or SOURCE_JURISDICTION), time_zone=str(stored["time_zone"])),
            SettingLayer(str(stored.get("calendar_source") or SOURCE_JURISDICTION), calendar=str(stored["calendar"])),
        ]
    layers = [organization_settings] if organization_settings is not None else []
    zone, calendar = zone_and_calendar(regime, jurisdiction)
    if zone or calendar:
        layers.append(SettingLayer(SOURCE_JURISDICTION, time_zone=zone, calendar=calendar))
    return layers


def clock_events(transitions: Iterable[HistoryStep]) -> list[ClockEvent]:
    """Identity requests and answers pause the GDPR clock; a completion or a rejection is the response."""
    events: list[ClockEvent] = []
    for step in transitions:
        if step.from_status == step.to_status:  # an extension, not a move
            continue
        if step.to_status == RequestStatus.IDENTITY_PENDING:
            events.append(ClockEvent(ID_REQUESTED, step.at))
        elif step.from_status == RequestStatus.IDENTITY_PENDING:
            events.append(ClockEvent(ID_RECEIVED, step.at))
        if step.to_status in FINAL_STATUSES:
            events.append(ClockEvent(RESPONSE_SENT, step.at))
    return events


def extension_of(request: DataSubjectRequest) -> ExtensionNotice | None:
    """The request's extension notice, once it was extended."""
    if not request.is_extended or request.extension_notice_sent_on is None:
        return None
    return ExtensionNotice(request.extension_notice_sent_on, request.extension_reason_code)


def request_deadlines(
    *,
    regime: str,
    request_type: str,
    jurisdiction: str,
    received_at: datetime,
    transitions: Iterable[HistoryStep] = (),
    extension: ExtensionNotice | None = None,
    as_of: date | None = None,
    organization_settings: SettingLayer | None = None,
    stored: Mapping[str, Any] | None = None,
) -> DeadlineResult:
    """Every deadline of the request; the engine's refusals become problem documents (409/422). ``stored`` is the
    request's deadlines as last computed (their zone and calendar are kept); ``organization_settings`` counts at
    intake only."""
    layers = settings_layers(
        regime=regime, jurisdiction=jurisdiction, organization_settings=organization_settings, stored=stored
    )
    try:
        return compute_deadlines(
            regime=regime,
            request_type=request_type,
            received_at=received_at,
            settings=layers,
            events=clock_events(transitions),
            extension=extension,
            as_of=as_of,
        )
    except DeadlineError as exc:
        raise deadline_problem(exc) from exc
