"""Stamp-then-send: an httpx transport (sync and async), a requests adapter and a batch helper that ask
Provenant for a stamp before data leaves, and refuse to send when the decision is ``block``.

Mark an outgoing request with the subject and purpose, either through httpx request extensions
(``extensions={"provenant": StampMark(subject_id=..., purpose=...)}``) or through the ``Provenant-Subject``,
``Provenant-Purpose`` (comma-separated for several), ``Provenant-Recipient`` and ``Provenant-Jurisdiction``
headers (see :func:`mark_headers`), which are removed before the request is sent. The JSON body is the
``data`` to stamp; what goes out is the canonical stamped body ``{"data", "privacy"}`` with ``Privacy-Stamp``,
``Content-Digest`` (RFC 9530, of the bytes sent) and ``Sec-GPC`` when the subject's opt-out is on record.
Unmarked requests pass through untouched."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx

from provenant_client.client import AsyncProvenantClient, ProvenantClient
from provenant_client.errors import StampBlocked, StampInvalid, StampMarkError
from provenant_client.models import StampRequest, StampResult
from provenant_client.stamp_verifier import canonical_json, content_digest

__all__ = [
    "MARK_HEADERS",
    "AsyncStampingTransport",
    "BatchOutcome",
    "StampMark",
    "StampedPayload",
    "StampingTransport",
    "mark_headers",
    "mark_of",
    "send_batch",
    "stamp_request_for",
    "stamped_payload",
]

EXTENSION = "provenant"
SUBJECT_HEADER = "Provenant-Subject"
PURPOSE_HEADER = "Provenant-Purpose"
RECIPIENT_HEADER = "Provenant-Recipient"
JURISDICTION_HEADER = "Provenant-Jurisdiction"
MARK_HEADERS = (SUBJECT_HEADER, PURPOSE_HEADER, RECIPIENT_HEADER, JURISDICTION_HEADER)
# Headers of the stamp answer that travel with the data.
STAMP_HEADERS = ("Privacy-Stamp", "Sec-GPC")

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class StampMark:
    """Which subject's data this request carries, for which purpose(s), to which recipient (the
    transport's own recipient when None)."""

    subject_id: str
    purpose: str | Sequence[str]
    recipient: str | None = None
    jurisdiction: str | None = None


def mark_headers(
    *, subject_id: str, purpose: str | Sequence[str], recipient: str | None = None, jurisdiction: str | None = None
) -> dict[str, str]:
    """The marker headers for a request (for requests, which has no extensions); never sent onwards."""
    purposes = [purpose] if isinstance(purpose, str) else list(purpose)
    headers = {SUBJECT_HEADER: subject_id, PURPOSE_HEADER: ",".join(purposes)}
    if recipient is not None:
        headers[RECIPIENT_HEADER] = recipient
    if jurisdiction is not None:
        headers[JURISDICTION_HEADER] = jurisdiction
    return headers


@dataclass(frozen=True, slots=True)
class StampedPayload:
    """What to send for an allowed stamp: the canonical body bytes and the headers that go with them."""

    content: bytes
    headers: dict[str, str]


def stamped_payload(result: StampResult, *, recipient: str = "") -> StampedPayload:
    """The bytes and headers to send for an ``allow``; raises :class:`StampBlocked` (naming ``recipient``)
    for a ``block`` and :class:`StampInvalid` for an invalid batch item."""
    if not result.is_allowed:
        if result.decision == "invalid":
            raise StampInvalid(index=result.index or 0, errors=result.errors)
        raise StampBlocked(recipient=recipient, stamp_id=result.stamp_id, reasons=result.reasons)
    content = canonical_json(result.body)
    headers = {name: value for name, value in result.headers.items() if name in STAMP_HEADERS}
    headers["Content-Digest"] = content_digest(content)
    headers["Content-Type"] = "application/json"
    return StampedPayload(content=content, headers=headers)


def mark_of(headers: Mapping[str, str], extensions: Mapping[str, Any]) -> StampMark | None:
    mark = extensions.get(EXTENSION)
    if isinstance(mark, StampMark):
        return mark
    subject = headers.get(SUBJECT_HEADER)
    purpose = headers.get(PURPOSE_HEADER)
    if subject is None and purpose is None:
        return None
    if not subject or not purpose:
        raise StampMarkError(f"a request marked for stamping needs both {SUBJECT_HEADER} and {PURPOSE_HEADER}")
    purposes = [item.strip() for item in purpose.split(",") if item.strip()]
    return StampMark(
        subject_id=subject,
        purpose=purposes[0] if len(purposes) == 1 else purposes,
        recipient=headers.get(RECIPIENT_HEADER),
        jurisdiction=headers.get(JURISDICTION_HEADER),
    )


def stamp_request_for(mark: StampMark, default_recipient: str | None, body: bytes) -> StampRequest:
    recipient = mark.recipient or default_recipient
    if not recipient:
        raise StampMarkError("no recipient: give the transport one, or mark the request with it")
    try:
        data = json.loads(body) if body else None
    except ValueError as exc:
        raise StampMarkError("a request marked for stamping must carry a JSON body (the data to stamp)") from exc
    if isinstance(mark.purpose, str):
        return StampRequest(
            recipient=recipient,
            subject_id=mark.subject_id,
            data=data,
            purpose=mark.purpose,
            jurisdiction=mark.jurisdiction,
        )
    return StampRequest(
        recipient=recipient,
        subject_id=mark.subject_id,
        data=data,
        purposes=list(mark.purpose),
        jurisdiction=mark.jurisdiction,
    )


def _stamped_request(request: httpx.Request, payload: StampedPayload) -> httpx.Request:
    headers = httpx.Headers(request.headers)
    for name in (*MARK_HEADERS, "Content-Length", "Transfer-Encoding"):
        headers.pop(name, None)
    headers.update(payload.headers)
    extensions = {name: value for name, value in request.extensions.items() if name != EXTENSION}
    return httpx.Request(request.method, request.url, headers=headers, content=payload.content, extensions=extensions)


class StampingTransport(httpx.BaseTransport):
    """``httpx.Client(transport=StampingTransport(provenant, recipient="crm"))``: marked requests are stamped
    for ``recipient`` (or the mark's) and sent through ``transport`` (a plain ``httpx.HTTPTransport``)."""

    def __init__(
        self, provenant: ProvenantClient, *, recipient: str | None = None, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.provenant = provenant
        self.recipient = recipient
        self.transport = transport or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        mark = mark_of(request.headers, request.extensions)
        if mark is not None:
            stamp_request = stamp_request_for(mark, self.recipient, request.read())
            result = self.provenant.stamp(stamp_request)
            request = _stamped_request(request, stamped_payload(result, recipient=stamp_request.recipient))
        return self.transport.handle_request(request)

    def close(self) -> None:
        self.transport.close()


class AsyncStampingTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`StampingTransport`, for ``httpx.AsyncClient``."""

    def __init__(
        self,
        provenant: AsyncProvenantClient,
        *,
        recipient: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provenant = provenant
        self.recipient = recipient
        self.transport = transport or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        mark = mark_of(request.headers, request.extensions)
        if mark is not None:
            stamp_request = stamp_request_for(mark, self.recipient, await request.aread())
            result = await self.provenant.stamp(stamp_request)
            request = _stamped_request(request, stamped_payload(result, recipient=stamp_request.recipient))
        return await self.transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self.transport.aclose()


@dataclass(frozen=True, slots=True)
class BatchOutcome(Generic[R]):
    """One record of :func:`send_batch`: its stamp decision and either what ``send`` returned or why
    nothing was sent (:class:`StampBlocked` or :class:`StampInvalid`)."""

    request: StampRequest
    result: StampResult
    sent: R | None
    refused: StampBlocked | StampInvalid | None

    @property
    def was_sent(self) -> bool:
        return self.refused is None


def send_batch(
    provenant: ProvenantClient,
    records: Sequence[StampRequest],
    send: Callable[[StampRequest, StampedPayload], R],
) -> list[BatchOutcome[R]]:
    """Stamp every record in one ``stamps/batch`` call (per 1,000), then ``send`` each allowed one with its
    stamped payload; blocked and invalid records are never sent. Outcomes come back in the records' order."""
    outcomes: list[BatchOutcome[R]] = []
    for record, result in zip(records, provenant.stamp_batch(records), strict=True):
        try:
            payload = stamped_payload(result, recipient=record.recipient)
        except (StampBlocked, StampInvalid) as refused:
            outcomes.append(BatchOutcome(request=record, result=result, sent=None, refused=refused))
            continue
        outcomes.append(BatchOutcome(request=record, result=result, sent=send(record, payload), refused=None))
    return outcomes
