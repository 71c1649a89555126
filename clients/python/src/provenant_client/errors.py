"""Exceptions: every RFC 9457 problem the API answers becomes a :class:`ProblemError` carrying its fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PROBLEM_BASE = "https://provenant.dev/problems/"


class ProvenantError(Exception):
    """Base class of every error this package raises."""


class ProblemError(ProvenantError):
    """An ``application/problem+json`` answer (or any other 4xx/5xx, described as one).

    ``type`` is the stable problem URI (``https://provenant.dev/problems/<slug>``), ``slug`` its last part,
    ``errors`` the list of ``{"pointer", "detail", ...}`` members naming each failing field."""

    def __init__(
        self,
        *,
        status: int,
        type: str,
        title: str,
        detail: str = "",
        errors: Sequence[Mapping[str, Any]] = (),
        request_id: str | None = None,
        retry_after: float | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.type = type
        self.title = title
        self.detail = detail
        self.errors = [dict(error) for error in errors]
        self.request_id = request_id
        self.retry_after = retry_after
        self.body = dict(body) if body is not None else {}
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")

    @property
    def slug(self) -> str:
        return self.type.removeprefix(PROBLEM_BASE)


class ValidationError(ProblemError):
    """400 ``validation-error`` (and the other 400s): the request changed nothing."""


class AuthenticationError(ProblemError):
    """401: no key, or an unknown or revoked key."""


class PermissionDenied(ProblemError):
    """403, e.g. ``insufficient-scope``."""


class NotFound(ProblemError):
    """404: missing, or another organization's."""


class Conflict(ProblemError):
    """409, e.g. ``idempotency-key-reused``."""


class RateLimited(ProblemError):
    """429 after the retries were spent; ``retry_after`` says when the server will take more."""


class ServerError(ProblemError):
    """5xx after the retries were spent (503 during an outage carries ``retry_after``)."""


_BY_STATUS: dict[int, type[ProblemError]] = {
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    429: RateLimited,
}


def problem_class(status: int) -> type[ProblemError]:
    """The exception class for an HTTP status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if status == 400 or status == 422:
        return ValidationError
    return ProblemError


class TransportError(ProvenantError):
    """Provenant could not be reached (connection refused, timeout) after the retries were spent."""


class StampBlocked(ProvenantError):
    """The stamp's decision was ``block``: the outgoing request was not sent.

    ``reasons`` are the API's ``[{"purpose", "reason", "rule"}]``; ``reason_codes`` their codes
    (``NO_CONSENT``, ``CONSENT_WITHDRAWN``, ``SALE_SHARE_OPTED_OUT``, ...)."""

    def __init__(self, *, recipient: str, stamp_id: str | None, reasons: Sequence[Mapping[str, Any]]) -> None:
        self.recipient = recipient
        self.stamp_id = stamp_id
        self.reasons = [dict(reason) for reason in reasons]
        codes = ", ".join(f"{reason.get('purpose')}: {reason.get('reason')}" for reason in self.reasons)
        super().__init__(f"stamp blocked for recipient {recipient!r} ({codes or 'no reason given'}); nothing was sent")

    @property
    def reason_codes(self) -> list[str]:
        return [str(reason.get("reason")) for reason in self.reasons]


class StampInvalid(ProvenantError):
    """A batch item the API refused as invalid (``errors`` names its fields); nothing was sent for it."""

    def __init__(self, *, index: int, errors: Sequence[Mapping[str, Any]]) -> None:
        self.index = index
        self.errors = [dict(error) for error in errors]
        super().__init__(f"stamp batch item {index} is invalid: {self.errors}")


class StampMarkError(ProvenantError):
    """An outgoing request was marked for stamping but cannot be stamped (no JSON body, no recipient)."""
