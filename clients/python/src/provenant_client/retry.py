"""When to retry and how long to wait: exponential backoff with full jitter, unless the server says when.

A 429 or 503 names its wait in ``Retry-After`` (seconds or an HTTP date, RFC 9110 10.2.3) and, on the API,
in ``RateLimit-Reset`` (seconds from now) once ``RateLimit-Remaining`` is 0; the longest such wait wins,
capped by ``max_wait``. Other retryable answers (502, 504, a refused connection, a timeout) back off
``base * 2**attempt`` seconds, jittered over [0, that] (AWS "full jitter")."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` is the total number of tries (1 = no retry)."""

    attempts: int = 4
    base: float = 0.5
    cap: float = 30.0
    max_wait: float = 120.0
    statuses: frozenset[int] = field(default_factory=lambda: frozenset({429, 502, 503, 504}))

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """Full-jitter wait before try ``attempt + 1`` (``attempt`` counts from 0)."""
        ceiling = min(self.cap, self.base * (2**attempt))
        return (rng or random).uniform(0, ceiling)  # jitter, not a secret

    def wait(self, attempt: int, status: int | None, headers: Mapping[str, str] | None) -> float:
        """Seconds to wait before retrying after this answer (``status`` None: no answer at all)."""
        told = server_wait(headers) if headers is not None and status in (429, 503) else None
        if told is not None:
            return min(told, self.max_wait)
        return self.backoff(attempt)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def server_wait(headers: Mapping[str, str]) -> float | None:
    """The wait the server asked for: the longest of ``Retry-After`` and, when nothing remains,
    ``RateLimit-Reset``; None when it named none."""
    waits: list[float] = []
    retry_after = _header(headers, "Retry-After")
    if retry_after is not None:
        parsed = parse_retry_after(retry_after)
        if parsed is not None:
            waits.append(parsed)
    remaining = _header(headers, "RateLimit-Remaining")
    reset = _header(headers, "RateLimit-Reset")
    if remaining is not None and remaining.strip() == "0" and reset is not None and reset.strip().isdigit():
        waits.append(float(reset.strip()))
    return max(waits) if waits else None
