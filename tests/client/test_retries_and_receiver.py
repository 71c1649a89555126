"""Retries honour the server's waits and keep one Idempotency-Key (a real HTTP server on 127.0.0.1); the
receiver helpers check Standard Webhooks signatures made by the server's own signer; the vendored verifier
is the project's file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from provenant_client import (
    ProvenantClient,
    RateLimited,
    RetryPolicy,
    ServerError,
    StampingTransport,
    StampMarkError,
    WebhookVerificationError,
    parse_notice,
    verify_webhook,
)
from provenant_client.retry import parse_retry_after, server_wait

from provenance.services.webhook_secrets import sign_webhook_with
from tests.client.conftest import ScriptedServer

ROOT = Path(__file__).resolve().parents[2]
CREATED = {"event_id": "01JEVENT", "chain_index": 0}
PROBLEM_429 = {"type": "https://provenant.dev/problems/rate-limited", "title": "Too many requests", "detail": "slow"}


def test_a_429_is_retried_after_retry_after_with_the_same_idempotency_key() -> None:
    script = [(429, {"Retry-After": "1"}, PROBLEM_429), (201, {}, CREATED)]
    with ScriptedServer(script) as server, ProvenantClient(server.url, "key", retry=RetryPolicy(base=0.01)) as client:
        created = client.create_consent_event({"subject_id": "cust-1"})

    first, second = server.arrivals
    assert created == CREATED
    assert second.at - first.at >= 0.95  # waited as told, not the 10 ms backoff
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]
    assert json.loads(first.body) == json.loads(second.body)


def test_a_503_waits_for_the_rate_limit_reset_and_a_persistent_429_raises() -> None:
    reset = {"RateLimit-Remaining": "0", "RateLimit-Reset": "1", "Retry-After": "0"}
    script = [(503, reset, {"title": "Unavailable"}), (200, {}, {"results": [{"key": "crm"}], "next": None})]
    with ScriptedServer(script) as server, ProvenantClient(server.url, "key", retry=RetryPolicy(base=0.01)) as client:
        recipients = list(client.recipients())
    assert recipients == [{"key": "crm"}]
    assert server.arrivals[1].at - server.arrivals[0].at >= 0.95
    assert "Idempotency-Key" not in server.arrivals[0].headers  # a GET is not a write

    policy = RetryPolicy(attempts=2, base=0.01)
    with (
        ScriptedServer([(429, {"Retry-After": "0"}, PROBLEM_429)]) as server,
        ProvenantClient(server.url, "key", retry=policy) as client,
        pytest.raises(RateLimited) as limited,
    ):
        client.create_consent_event({"subject_id": "cust-1"})
    assert len(server.arrivals) == 2
    assert limited.value.slug == "rate-limited"
    assert limited.value.retry_after == 0


def test_a_write_the_server_does_not_deduplicate_is_not_retried_after_a_502() -> None:
    bad_gateway = (502, {}, {"title": "Bad gateway"})
    script = [bad_gateway, bad_gateway, (200, {}, {"id": "dsar-1"})]
    with ScriptedServer(script) as server, ProvenantClient(server.url, "key", retry=RetryPolicy(base=0.01)) as client:
        with pytest.raises(ServerError):
            client.request("POST", "/api/v1/dsar/dsar-1/verify", json={"note": "by phone"})  # it may have run
        assert client.get_dsar("dsar-1") == {"id": "dsar-1"}  # a read is retried
    assert [arrival.method for arrival in server.arrivals] == ["POST", "GET", "GET"]


def test_dsar_intake_is_retried_after_a_502_under_one_idempotency_key() -> None:
    bad_gateway = (502, {}, {"title": "Bad gateway"})
    script = [bad_gateway, (201, {}, {"id": "dsar-1"})]
    with ScriptedServer(script) as server, ProvenantClient(server.url, "key", retry=RetryPolicy(base=0.01)) as client:
        assert client.create_dsar({"type": "access", "subject_id": "cust-1"}) == {"id": "dsar-1"}
    first, second = server.arrivals
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]  # the server answers the first


def test_the_change_feed_passes_the_cursor_back_as_after() -> None:
    script = [
        (200, {}, {"results": [{"event_id": "a"}], "next": "/api/v1/consent-events?after=c1", "cursor": "c1"}),
        (200, {}, {"results": [{"event_id": "b"}], "next": None, "cursor": None}),
    ]
    with ScriptedServer(script) as server, ProvenantClient(server.url, "key") as client:
        events = list(client.consent_events(purpose="marketing-email"))
    assert [event["event_id"] for event in events] == ["a", "b"]
    second = urlsplit(server.arrivals[1].path)
    assert second.path == "/api/v1/consent-events"
    assert parse_qs(second.query) == {"purpose": ["marketing-email"], "after": ["c1"]}


def test_a_next_link_to_another_origin_never_receives_the_key() -> None:
    elsewhere = {"results": [{"event_id": "a"}], "next": "http://203.0.113.9/api/v1/dsar?after=x", "cursor": None}
    with ScriptedServer([(200, {}, elsewhere)]) as server, ProvenantClient(server.url, "key") as client:
        pages = client.dsars()
        assert next(pages) == {"event_id": "a"}
        with pytest.raises(ValueError, match="refusing to send the API key"):
            next(pages)
    assert len(server.arrivals) == 1


def test_the_export_streams_ndjson_lines_and_unmarked_requests_pass_through_unstamped() -> None:
    lines = b'{"event_id": "a"}\n{"event_id": "b"}\n'
    ndjson = (200, {"Content-Type": "application/x-ndjson"}, lines)
    with ScriptedServer([ndjson]) as server, ProvenantClient(server.url, "key") as client:
        exported = list(client.export_consent_events(purpose="marketing-email"))
        # Not marked: sent as given, and Provenant (this same server) is never asked for a stamp.
        with httpx.Client(transport=StampingTransport(client, recipient="crm")) as http:
            http.post(f"{server.url}/hook", json={"plan": "pro"}, headers={"X-Trace": "1"})
            with pytest.raises(StampMarkError):
                http.post(f"{server.url}/hook", json={}, headers={"Provenant-Subject": "cust-1"})

    assert exported == [{"event_id": "a"}, {"event_id": "b"}]
    assert [arrival.path for arrival in server.arrivals] == [
        "/api/v1/consent-events/export?purpose=marketing-email",
        "/hook",
    ]
    hook = server.arrivals[1]
    assert json.loads(hook.body) == {"plan": "pro"}
    assert "Privacy-Stamp" not in hook.headers
    assert hook.headers["X-Trace"] == "1"


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past: now
    assert parse_retry_after("soon") is None
    assert server_wait({"retry-after": "3", "RateLimit-Remaining": "0", "RateLimit-Reset": "9"}) == 9.0
    assert server_wait({"RateLimit-Remaining": "5", "RateLimit-Reset": "9"}) is None


def test_webhook_signatures_of_the_server_verify_and_a_changed_body_does_not() -> None:
    current, previous = "whsec_" + "Y3VycmVudC1zZWNyZXQtb2YtMzItYnl0ZXMhISE=", "whsec_cHJldmlvdXMtc2VjcmV0"
    body = json.dumps({"type": "consent.withdrawn", "subject_id": "cust-1", "purpose": "marketing-email"}).encode()
    timestamp = int(time.time())
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign_webhook_with([current, previous], "msg_1", timestamp, body),
    }

    assert verify_webhook(current, headers, body) == "msg_1"
    assert verify_webhook([previous], headers, body) == "msg_1"  # during a rotation, either secret
    with pytest.raises(WebhookVerificationError):
        verify_webhook(current, headers, body.replace(b"withdrawn", b"granted"))
    with pytest.raises(WebhookVerificationError):
        verify_webhook(current, headers, body, now=timestamp + 3600)
    notice = parse_notice(body, headers)
    assert (notice.id, notice.type, notice.subject_id, notice.purpose) == (
        "msg_1",
        "consent.withdrawn",
        "cust-1",
        "marketing-email",
    )
    assert notice.sequence is None
    with pytest.raises(ValueError):
        parse_notice(b'{"type": "consent.withdrawn"}')


def test_the_vendored_verifier_is_the_projects_single_file_verifier() -> None:
    vendored = ROOT / "clients/python/src/provenant_client/stamp_verifier.py"
    assert vendored.read_bytes() == (ROOT / "provenance/verify.py").read_bytes(), (
        "copy provenance/verify.py to clients/python/src/provenant_client/stamp_verifier.py"
    )
