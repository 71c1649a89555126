"""Typed clients of the Provenant API (sync and async) on httpx, with retries, idempotency keys and paging.

Every write (POST, PUT, PATCH, DELETE) carries an ``Idempotency-Key`` (yours, or a fresh UUID) that stays the
same across the client's own retries, so a retry after a timeout replays instead of writing twice. 429, 502,
503 and 504 answers and transport failures are retried (see :mod:`provenant_client.retry`), except that a write
the server does not deduplicate (a DSAR, a catalog change) is retried only when it surely did not run (no
connection, 429, 503); any other 4xx or 5xx raises a :class:`~provenant_client.errors.ProblemError` subclass."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from provenant_client.errors import TransportError, problem_class
from provenant_client.models import StampRequest, StampResult
from provenant_client.retry import RetryPolicy, server_wait

__all__ = ["AsyncProvenantClient", "ProvenantClient"]

USER_AGENT = "provenant-client/0.1"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Writes the server deduplicates by Idempotency-Key (consent events, deliveries, DSAR intake, imports): safe to
# retry after a lost answer. A stamp is not among them: a retry would record a second decision.
IDEMPOTENT_WRITE_PATHS = (
    "/api/v1/consent-events",
    "/api/v1/consent-events/bulk",
    "/api/v1/deliveries",
    "/api/v1/dsar",
    "/api/v1/imports",
)
BATCH_LIMIT = 1000  # items per stamps/batch and per consent-events/bulk call
Params = Mapping[str, str | int | float | bool | None]


def _segment(value: str) -> str:
    return quote(value, safe="")


def _clean(params: Params | None) -> dict[str, str]:
    """Query parameters without the unset ones; booleans as ``true``/``false``."""
    cleaned: dict[str, str] = {}
    for name, value in (params or {}).items():
        if value is None:
            continue
        cleaned[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return cleaned


def raise_for_problem(response: httpx.Response) -> None:
    """Raise the typed :class:`ProblemError` of a 4xx/5xx answer; do nothing for the others."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        body = {}
    errors = body.get("errors")
    raise problem_class(response.status_code)(
        status=response.status_code,
        type=str(body.get("type") or "about:blank"),
        title=str(body.get("title") or response.reason_phrase or "HTTP error"),
        detail=str(body.get("detail") or ""),
        errors=[error for error in errors if isinstance(error, dict)] if isinstance(errors, list) else [],
        request_id=body.get("request_id") or response.headers.get("X-Request-Id"),
        retry_after=server_wait(response.headers),
        body=body,
    )


def _with_item_keys(events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Bulk events, each with an ``idempotency_key`` (a fresh one where the caller gave none)."""
    return [{**event, "idempotency_key": event.get("idempotency_key") or str(uuid.uuid4())} for event in events]


def _stamp_items(items: Sequence[StampRequest | Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [item.to_json() if isinstance(item, StampRequest) else dict(item) for item in items]


def _page_items(page: Any) -> tuple[list[Any], dict[str, str] | None, str | None]:
    """Items of one page and where the next one is: ``({"after": cursor}, None)``, ``(None, next_url)`` or
    neither. A bare JSON array (the pre-envelope sources and recipients lists) is one page."""
    if isinstance(page, list):
        return page, None, None
    if not isinstance(page, dict):
        return [], None, None
    results = page.get("results") or []
    cursor = page.get("cursor")
    if isinstance(cursor, str) and cursor:
        return results, {"after": cursor}, None
    next_url = page.get("next")
    return results, None, next_url if isinstance(next_url, str) and next_url else None


class _Base:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, "Accept": "application/json"}

    def _prepare(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None,
        idempotency_key: str | None,
        params: Params | None = None,
    ) -> tuple[httpx.URL, dict[str, str]]:
        """The absolute URL (``params`` merged into a query the path may already carry, such as a ``next``
        link's) and the headers, with an ``Idempotency-Key`` on a write."""
        url = httpx.URL(path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}")
        base = httpx.URL(self.base_url)
        if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
            # A `next` link (or a caller's URL) elsewhere never receives the API key.
            raise ValueError(f"refusing to send the API key to {url.scheme}://{url.host}: not the origin of {base}")
        cleaned = _clean(params)
        if cleaned:
            url = url.copy_merge_params(cleaned)
        merged = {**self._headers, **(headers or {})}
        if method.upper() in WRITE_METHODS:
            merged.setdefault("Idempotency-Key", idempotency_key or str(uuid.uuid4()))
        return url, merged

    def _retryable(
        self,
        attempt: int,
        method: str,
        url: httpx.URL,
        response: httpx.Response | None,
        error: httpx.TransportError | None = None,
    ) -> bool:
        """Whether to try again. A read, or a write the server deduplicates by its ``Idempotency-Key``, is
        retried after any retryable failure; another write only when it surely was not carried out: the
        connection was never made, or the answer was 429 or 503 (refused before it ran)."""
        if attempt + 1 >= self.retry.attempts:
            return False
        if response is not None and response.status_code not in self.retry.statuses:
            return False
        if method.upper() not in WRITE_METHODS or url.path.rstrip("/").endswith(IDEMPOTENT_WRITE_PATHS):
            return True
        if response is not None:
            return response.status_code in (429, 503)
        return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))


class ProvenantClient(_Base):
    """``ProvenantClient("https://provenant.example.com", api_key)``; use as a context manager or ``close()``.

    ``sleep`` is how the client waits between retries (``time.sleep``)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(base_url, api_key, retry=retry, timeout=timeout)
        self._http = httpx.Client(timeout=timeout, transport=transport)
        self._sleep = sleep

    def __enter__(self) -> ProvenantClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        """One API call with retries; raises the typed problem of a final 4xx/5xx."""
        url, merged = self._prepare(method, path, headers, idempotency_key, params)
        attempt = 0
        while True:
            try:
                response = self._http.request(method, url, json=json, headers=merged)
            except httpx.TransportError as exc:
                if not self._retryable(attempt, method, url, None, exc):
                    raise TransportError(f"{method} {path}: {type(exc).__name__}") from exc
                self._sleep(self.retry.wait(attempt, None, None))
                attempt += 1
                continue
            if self._retryable(attempt, method, url, response):
                response.read()
                self._sleep(self.retry.wait(attempt, response.status_code, response.headers))
                attempt += 1
                continue
            raise_for_problem(response)
            return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def paginate(self, path: str, params: Params | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, page after page (``{"results", "next", "cursor"}``)."""
        query: Params = dict(params or {})
        url = path
        while True:
            items, after, next_url = _page_items(self._json("GET", url, params=query))
            yield from items
            if after is not None:
                query = {**query, **after}
            elif next_url is not None:
                url, query = next_url, {}
            else:
                return

    # -- consent ----------------------------------------------------------------------------------------

    def create_consent_event(self, event: Mapping[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        """``POST /api/v1/consent-events``: record one event (201, or the first answer replayed)."""
        return dict(self._json("POST", "/api/v1/consent-events", json=dict(event), idempotency_key=idempotency_key))

    def bulk_consent_events(self, events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """``POST /api/v1/consent-events/bulk``: up to 1,000 events, all or nothing; each event gets an
        ``idempotency_key`` when it has none, so a retried call replays instead of recording twice."""
        if len(events) > BATCH_LIMIT:
            raise ValueError(f"at most {BATCH_LIMIT} events per bulk call")
        return dict(self._json("POST", "/api/v1/consent-events/bulk", json={"events": _with_item_keys(events)}))

    def get_consent_event(self, event_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/api/v1/consent-events/{_segment(event_id)}"))

    def subject_consent(self, subject_id: str, *, purpose: str | None = None, at: str | None = None) -> dict[str, Any]:
        """``GET /api/v1/subjects/{id}/consent``: every purpose's state (now, or ``at`` an instant)."""
        path = f"/api/v1/subjects/{_segment(subject_id)}/consent"
        return dict(self._json("GET", path, params={"purpose": purpose, "at": at}))

    def subject_history(self, subject_id: str, *, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The subject's consent events in chain order, every page."""
        return self.paginate(f"/api/v1/subjects/{_segment(subject_id)}/consent-events", {"limit": limit})

    def consent_events(
        self, *, after: str | None = None, purpose: str | None = None, wait: int | None = None, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The change feed ``GET /api/v1/consent-events?after=``: events in commit order from a cursor."""
        return self.paginate(
            "/api/v1/consent-events", {"after": after, "purpose": purpose, "wait": wait, "limit": limit}
        )

    def export_consent_events(
        self, *, after: str | None = None, purpose: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """``GET /api/v1/consent-events/export``: the NDJSON export, one event a line, streamed."""
        url, headers = self._prepare(
            "GET",
            "/api/v1/consent-events/export",
            {"Accept": "application/x-ndjson"},
            None,
            {"after": after, "purpose": purpose},
        )
        with self._http.stream("GET", url, headers=headers) as rsp:
            if rsp.status_code >= 400:
                rsp.read()
                raise_for_problem(rsp)
            for line in rsp.iter_lines():
                if line.strip():
                    yield json.loads(line)

    # -- catalog ----------------------------------------------------------------------------------------

    def sources(self) -> Iterator[dict[str, Any]]:
        return self.paginate("/api/v1/sources")

    def purposes(self) -> Iterator[dict[str, Any]]:
        return self.paginate("/api/v1/purposes")

    def recipients(self) -> Iterator[dict[str, Any]]:
        return self.paginate("/api/v1/recipients")

    # -- stamps -----------------------------------------------------------------------------------------

    def stamp(self, request: StampRequest) -> StampResult:
        """``POST /api/v1/stamps``: the decision for one payload (never raises on ``block``)."""
        return StampResult.from_json(self._json("POST", "/api/v1/stamps", json=request.to_json()))

    def stamp_batch(self, items: Sequence[StampRequest | Mapping[str, Any]]) -> list[StampResult]:
        """``POST /api/v1/stamps/batch``: one decision per item, in order (1,000 items a call)."""
        results: list[StampResult] = []
        payload = _stamp_items(items)
        for start in range(0, len(payload), BATCH_LIMIT):
            answer = self._json("POST", "/api/v1/stamps/batch", json={"items": payload[start : start + BATCH_LIMIT]})
            for offset, item in enumerate(answer.get("results", [])):
                result = StampResult.from_json(item)
                results.append(_reindexed(result, start + (result.index if result.index is not None else offset)))
        return results

    def verify_stamp(
        self,
        body: Any,
        privacy_stamp: str,
        *,
        content_digest: str | None = None,
        expected_recipient: str | None = None,
        max_age: int | None = None,
    ) -> dict[str, Any]:
        """``POST /api/v1/stamps/verify``: the server's check, and whether the consent still holds now."""
        payload: dict[str, Any] = {"body": body, "privacy_stamp": privacy_stamp}
        optional = {"content_digest": content_digest, "expected_recipient": expected_recipient, "max_age": max_age}
        payload.update({name: value for name, value in optional.items() if value is not None})
        return dict(self._json("POST", "/api/v1/stamps/verify", json=payload))

    def jwks(self, issuer: str) -> dict[str, Any]:
        """The issuer's public signing keys (``/.well-known/jwks/{issuer}.json``), for offline verification."""
        return dict(self._json("GET", f"/.well-known/jwks/{_segment(issuer)}.json"))

    # -- DSAR -------------------------------------------------------------------------------------------

    def create_dsar(self, request: Mapping[str, Any], *, idempotency_key: str | None = None) -> dict[str, Any]:
        return dict(self._json("POST", "/api/v1/dsar", json=dict(request), idempotency_key=idempotency_key))

    def get_dsar(self, request_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/api/v1/dsar/{_segment(request_id)}"))

    def dsars(self, **filters: str | int | bool | None) -> Iterator[dict[str, Any]]:
        """``GET /api/v1/dsar`` with its filters (``status``, ``type``, ``regime``, ``due_before``, ...)."""
        return self.paginate("/api/v1/dsar", filters)


def _reindexed(result: StampResult, index: int) -> StampResult:
    return StampResult(
        decision=result.decision,
        stamp_id=result.stamp_id,
        body=result.body,
        headers=result.headers,
        reasons=result.reasons,
        errors=result.errors,
        index=index,
    )


class AsyncProvenantClient(_Base):
    """The asyncio client: the stamp calls the async transport needs, and generic ``request``/``paginate``."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, api_key, retry=retry, timeout=timeout)
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncProvenantClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
    ) -> httpx.Response:
        url, merged = self._prepare(method, path, headers, idempotency_key, params)
        attempt = 0
        while True:
            try:
                response = await self._http.request(method, url, json=json, headers=merged)
            except httpx.TransportError as exc:
                if not self._retryable(attempt, method, url, None, exc):
                    raise TransportError(f"{method} {path}: {type(exc).__name__}") from exc
                await asyncio.sleep(self.retry.wait(attempt, None, None))
                attempt += 1
                continue
            if self._retryable(attempt, method, url, response):
                await response.aread()
                await asyncio.sleep(self.retry.wait(attempt, response.status_code, response.headers))
                attempt += 1
                continue
            raise_for_problem(response)
            return response

    async def paginate(self, path: str, params: Params | None = None) -> AsyncIterator[Any]:
        query: Params = dict(params or {})
        url = path
        while True:
            items, after, next_url = _page_items((await self.request("GET", url, params=query)).json())
            for item in items:
                yield item
            if after is not None:
                query = {**query, **after}
            elif next_url is not None:
                url, query = next_url, {}
            else:
                return

    async def stamp(self, request: StampRequest) -> StampResult:
        return StampResult.from_json((await self.request("POST", "/api/v1/stamps", json=request.to_json())).json())

    async def stamp_batch(self, items: Sequence[StampRequest | Mapping[str, Any]]) -> list[StampResult]:
        results: list[StampResult] = []
        payload = _stamp_items(items)
        for start in range(0, len(payload), BATCH_LIMIT):
            chunk = {"items": payload[start : start + BATCH_LIMIT]}
            answer = (await self.request("POST", "/api/v1/stamps/batch", json=chunk)).json()
            for offset, item in enumerate(answer.get("results", [])):
                result = StampResult.from_json(item)
                results.append(_reindexed(result, start + (result.index if result.index is not None else offset)))
        return results

    async def create_consent_event(
        self, event: Mapping[str, Any], *, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        response = await self.request(
            "POST", "/api/v1/consent-events", json=dict(event), idempotency_key=idempotency_key
        )
        return dict(response.json())

    async def jwks(self, issuer: str) -> dict[str, Any]:
        return dict((await self.request("GET", f"/.well-known/jwks/{_segment(issuer)}.json")).json())
