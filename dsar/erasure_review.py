"""How a verified deletion request's erasure waits before it runs (issue #11): for staff approval ("legal", the
default) or for a cooling-off period ("none"), cancellable until it runs. The settings and the gate; no queries."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Final

from django.conf import settings

ERASURE_REVIEW_MODES: Final = ("legal", "none")


class ErasureGate(StrEnum):
    """Where a deletion request's erasure stands."""

    OPEN = "open"  # it may run now
    AWAITING_APPROVAL = "awaiting_approval"
    COOLING_OFF = "cooling_off"
    CANCELLED = "cancelled"


def review_mode_problem(value: Any) -> str | None:
    if value not in ERASURE_REVIEW_MODES:
        return f"must be one of {', '.join(repr(mode) for mode in ERASURE_REVIEW_MODES)}, not {value!r}"
    return None


def cooling_off_problem(value: Any) -> str | None:
    try:
        hours = float(str(value).strip())
    except ValueError:
        return f"must be a number of hours (0 allowed), not {value!r}"
    if not math.isfinite(hours) or hours < 0 or hours > 24 * 365:
        return f"must be between 0 and {24 * 365} hours, not {value!r}"
    return None


def erasure_review_mode() -> str:
    """PROVENANT_DSAR_ERASURE_REVIEW (validated at startup by ``dsar.checks``)."""
    return str(settings.PROVENANT_DSAR_ERASURE_REVIEW)


def erasure_cooling_off() -> timedelta:
    """PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS as a period."""
    return timedelta(hours=float(str(settings.PROVENANT_DSAR_ERASURE_COOLING_OFF_HOURS).strip()))


def erasure_gate(
    *,
    review: str,
    not_before: datetime | None,
    approved_at: datetime | None,
    cancelled_at: datetime | None,
    now: datetime,
) -> ErasureGate:
    """Cancelled never runs; approved runs now (either mode); "none" runs once its cooling-off ended; anything
    else (``legal``, or a request whose fulfilment started before the review existed) waits for approval."""
    if cancelled_at is not None:
        return ErasureGate.CANCELLED
    if approved_at is not None:
        return ErasureGate.OPEN
    if review == "none" and not_before is not None:
        return ErasureGate.OPEN if now >= not_before else ErasureGate.COOLING_OFF
    return ErasureGate.AWAITING_APPROVAL
