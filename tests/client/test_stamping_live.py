"""Stamp-then-send against a live Provenant and a real receiver on 127.0.0.1 (issue #17): a block prevents the
outgoing call, an allow sends a canonical body whose headers verify with the issuer's JWKS."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import requests
from provenant_client import (
    AsyncProvenantClient,
    AsyncStampingTransport,
    JwksCache,
    StampBlocked,
    StampingTransport,
    StampMark,
    StampRequest,
    mark_headers,
    send_batch,
    verify_stamp,
)
from provenant_client.requests_adapter import StampingAdapter
from provenant_client.stamp_verifier import content_digest

from tests.client.conftest import FAST_RETRY, LiveProvenant
from tests.conftest import event_body
from tests.integration.http_receiver import HttpReceiver

pytestmark = pytest.mark.integration

MARKERS = {"provenant-subject", "provenant-purpose", "provenant-recipient", "provenant-jurisdiction"}


def grant(provenant: LiveProvenant, *subject_ids: str) -> None:
    with provenant.client() as client:
        for subject_id in subject_ids:
            client.create_consent_event(event_body(subject_id=subject_id))


def assert_verifies(provenant: LiveProvenant, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The received request verifies offline with the issuer's JWKS, for crm, and its digest is of the bytes."""
    lowered = {name.lower(): value for name, value in headers.items()}
    assert not MARKERS & lowered.keys(), "marker headers must never leave the process"
    assert lowered["content-digest"] == content_digest(body)
    keys = JwksCache(provenant.url, issuer=provenant.issuer)
    result = keys.verify(body, headers, expected_recipient="crm", max_age=300)
    assert result.valid, result.reason
    jwks = httpx.get(f"{provenant.url}/.well-known/jwks/{provenant.issuer}.json").json()
    assert verify_stamp(body, headers, jwks, expected_issuer="acme", expected_recipient="crm", max_age=300) == result
    other = verify_stamp(body, headers, jwks, expected_issuer="acme", expected_recipient="mailer", max_age=300)
    assert other.reason == "RECIPIENT_MISMATCH"
    envelope = json.loads(body)
    assert result.stamp_id == envelope["privacy"]["stamp_id"]
    return dict(envelope)


def test_httpx_transport_sends_verifiable_headers_on_allow_and_nothing_on_block(provenant: LiveProvenant) -> None:
    grant(provenant, "cust-1")
    with provenant.client() as client, HttpReceiver() as receiver:
        http = httpx.Client(transport=StampingTransport(client, recipient="crm"))
        answer = http.post(
            receiver.url,
            json={"plan": "pro"},
            extensions={"provenant": StampMark(subject_id="cust-1", purpose="marketing-email")},
        )
        assert answer.status_code == 200
        with pytest.raises(StampBlocked) as blocked:
            http.post(
                receiver.url, json={"plan": "pro"}, headers=mark_headers(subject_id="cust-2", purpose="marketing-email")
            )
        http.close()
        # The server's own check agrees and says the consent still holds.
        sent = receiver.wait_for(1)[0]
        remote = client.verify_stamp(
            json.loads(sent.body), sent.headers["privacy-stamp"], content_digest=sent.headers["content-digest"]
        )

    assert len(receiver.requests) == 1  # the blocked call never arrived
    envelope = assert_verifies(provenant, sent.headers, sent.body)
    assert envelope["data"] == {"plan": "pro"}
    assert blocked.value.reason_codes == ["NO_CONSENT"]
    assert blocked.value.recipient == "crm"
    assert "NO_CONSENT" in str(blocked.value)
    assert remote["valid"] is True
    assert remote["consent_still_holds"] is True


def test_async_transport_stamps_and_blocks(provenant: LiveProvenant) -> None:
    grant(provenant, "cust-1")

    async def run(url: str) -> tuple[httpx.Response, StampBlocked]:
        client = AsyncProvenantClient(provenant.url, provenant.api_key, retry=FAST_RETRY)
        async with client, httpx.AsyncClient(transport=AsyncStampingTransport(client, recipient="crm")) as http:
            allowed = await http.post(
                url, json={"plan": "pro"}, headers=mark_headers(subject_id="cust-1", purpose="marketing-email")
            )
            with pytest.raises(StampBlocked) as blocked:
                await http.post(
                    url, json={"plan": "pro"}, headers=mark_headers(subject_id="cust-9", purpose="marketing-email")
                )
            return allowed, blocked.value

    with HttpReceiver() as receiver:
        allowed, blocked = asyncio.run(run(receiver.url))
        received = receiver.wait_for(1)

    assert allowed.status_code == 200
    assert len(received) == 1
    assert_verifies(provenant, received[0].headers, received[0].body)
    assert blocked.reason_codes == ["NO_CONSENT"]


def test_requests_adapter_stamps_forwards_gpc_and_a_withdrawal_blocks(provenant: LiveProvenant) -> None:
    grant(provenant, "cust-1")
    with provenant.client() as client, HttpReceiver() as receiver:
        # A Californian whose browser sent GPC: a processor still gets the data, with Sec-GPC: 1.
        client.create_consent_event(event_body(subject_id="cust-ca", jurisdiction="US-CA"))
        client.request("POST", "/api/v1/signals", json={"subject_id": "cust-ca", "gpc": True, "jurisdiction": "US-CA"})
        session = requests.Session()
        session.mount(receiver.url.rsplit("/", 1)[0], StampingAdapter(client, recipient="crm"))
        answer = session.post(
            receiver.url, json={"plan": "pro"}, headers=mark_headers(subject_id="cust-1", purpose="marketing-email")
        )
        gpc_answer = session.post(
            receiver.url, json={"plan": "pro"}, headers=mark_headers(subject_id="cust-ca", purpose="marketing-email")
        )
        client.create_consent_event(event_body(subject_id="cust-1", action="withdraw"))
        with pytest.raises(StampBlocked) as blocked:
            session.post(
                receiver.url, json={"plan": "pro"}, headers=mark_headers(subject_id="cust-1", purpose="marketing-email")
            )
        session.close()
        received = receiver.wait_for(2)

    assert (answer.status_code, gpc_answer.status_code) == (200, 200)
    assert len(received) == 2  # not the withdrawn one
    for request in received:
        assert_verifies(provenant, request.headers, request.body)
    assert "sec-gpc" not in received[0].headers
    assert received[1].headers["sec-gpc"] == "1"
    assert blocked.value.reason_codes == ["CONSENT_WITHDRAWN"]


def test_batch_mode_stamps_once_and_sends_only_the_allowed_records(provenant: LiveProvenant) -> None:
    grant(provenant, "cust-1", "cust-2")
    # One stamps/batch call for the three records, then one send per allowed record.
    records = [
        StampRequest(recipient="crm", subject_id=subject_id, purpose="marketing-email", data={"n": n})
        for n, subject_id in enumerate(["cust-1", "cust-3", "cust-2"])
    ]
    with provenant.client() as client, HttpReceiver() as receiver, httpx.Client() as http:
        outcomes = send_batch(
            client,
            records,
            lambda record, payload: http.post(receiver.url, content=payload.content, headers=payload.headers),
        )
        received = receiver.wait_for(2)

    assert [outcome.was_sent for outcome in outcomes] == [True, False, True]
    assert outcomes[1].refused is not None
    assert outcomes[1].result.reason_codes == ["NO_CONSENT"]
    assert [json.loads(request.body)["data"] for request in received] == [{"n": 0}, {"n": 2}]
    for request in received:
        assert_verifies(provenant, request.headers, request.body)
