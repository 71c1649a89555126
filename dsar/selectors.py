"""Reads for data-subject requests, always scoped by organization, and the what-if deadline calculator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from core.crypto import CryptoError, unseal, unwrap_data_key
from core.models import Organization
from dsar.deadlines import ClockEvent, DeadlineError, DeadlineResult, ExtensionNotice, compute_deadlines
from dsar.models import DataSubjectRequest
from dsar.services import deadline_problem


def dsar_for_organization(*, organization: Organization, public_id: str) -> DataSubjectRequest | None:
    """The request with its history (one extra query), or None when another organization owns it."""
    return (
        DataSubjectRequest.objects.filter(organization=organization, public_id=public_id)
        .prefetch_related("transitions")
        .first()
    )


@dataclass(frozen=True)
class MaskedRequester:
    email: str
    name: str


def _mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def _mask_name(name: str) -> str:
    return " ".join(f"{part[:1]}***" for part in name.split())


def dsar_requester_masked(request: DataSubjectRequest) -> MaskedRequester:
    """The requester's contact, masked for display (``j***@example.com``); never the plaintext."""
    try:
        data_key = unwrap_data_key(request.wrapped_data_key)
    except CryptoError:
        return MaskedRequester(email="", name="")

    def opened(token: str, field: str) -> str:
        if not token:
            return ""
        try:
            return unseal(data_key, token, context=f"dsar:{request.public_id}:{field}")
        except CryptoError:
            return ""

    email = opened(request.requester_email_sealed, "email")
    name = opened(request.requester_name_sealed, "name")
    return MaskedRequester(email=_mask_email(email) if email else "", name=_mask_name(name))


def deadlines_what_if(
    *,
    regime: str,
    request_type: str,
    received_at: datetime,
    tz: str | None = None,
    calendar: str | None = None,
    events: Iterable[tuple[str, date]] = (),
    extension: tuple[date, str] | None = None,
    as_of: date | None = None,
) -> DeadlineResult:
    """The deadline engine on a hypothetical request; its refusals become problem documents (409/422)."""
    try:
        return compute_deadlines(
            regime=regime,
            request_type=request_type,
            received_at=received_at,
            tz=tz,
            calendar=calendar,
            events=[ClockEvent(kind, day) for kind, day in events],
            extension=ExtensionNotice(*extension) if extension is not None else None,
            as_of=as_of,
        )
    except DeadlineError as exc:
        raise deadline_problem(exc) from exc
