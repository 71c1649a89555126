"""A ``requests`` transport adapter that stamps marked requests before they leave (needs ``requests``).

``session.mount("https://crm.example.com/", StampingAdapter(provenant, recipient="crm"))``, then send with
``headers=mark_headers(subject_id=..., purpose=...)``: the marker headers are removed, the body becomes the
canonical stamped body and ``Privacy-Stamp``, ``Content-Digest`` and ``Sec-GPC`` are attached. A ``block``
raises :class:`~provenant_client.errors.StampBlocked` and nothing is sent."""

from __future__ import annotations

from typing import Any

from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter

from provenant_client.client import ProvenantClient
from provenant_client.errors import StampMarkError
from provenant_client.stamping import MARK_HEADERS, mark_of, stamp_request_for, stamped_payload

__all__ = ["StampingAdapter"]


class StampingAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` that asks Provenant for a stamp for every marked request it sends."""

    def __init__(self, provenant: ProvenantClient, *, recipient: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.provenant = provenant
        self.recipient = recipient

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> Response:
        headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in request.headers.items()
        }
        mark = mark_of(headers, {})
        if mark is not None:
            body = _body_bytes(request.body)
            stamp_request = stamp_request_for(mark, self.recipient, body)
            payload = stamped_payload(self.provenant.stamp(stamp_request), recipient=stamp_request.recipient)
            for name in (*MARK_HEADERS, "Transfer-Encoding"):
                request.headers.pop(name, None)
            request.headers.update(payload.headers)
            request.body = payload.content
            request.headers["Content-Length"] = str(len(payload.content))
        return super().send(request, *args, **kwargs)


def _body_bytes(body: object) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    raise StampMarkError("a request marked for stamping needs its JSON body in memory, not a stream")
