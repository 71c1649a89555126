"""The single consent write's path (issue #16): what it sends to the database, the per-process API key cache
and its revocation bound, and the connection check that replaced ``SELECT 1`` before every request."""

from __future__ import annotations

import select
import time
from typing import Any

import pytest
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from consent.models import ConsentEvent, ConsentState, Purpose, Source
from core import api_key_cache, db
from core.db import executed_statements
from core.models import ApiKey, Organization
from core.selectors import api_key_digest
from core.services import api_key_create, api_key_revoke
from tests.conftest import event_body


@pytest.fixture
def keyed(organization: Organization, source: Source, purpose: Purpose) -> tuple[APIClient, str]:
    api_key_cache.clear()
    _, secret = api_key_create(
        organization=organization, name="t", scopes=["consent:read", "consent:write"], actor="test"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client, secret


def test_a_write_to_a_known_subject_is_one_transaction_of_two_statements(
    keyed: tuple[APIClient, str], django_assert_max_num_queries: Any
) -> None:
    client, _ = keyed
    assert client.post("/api/v1/consent-events", event_body(action="grant"), format="json").status_code == 201

    with django_assert_max_num_queries(4) as captured:
        response = client.post("/api/v1/consent-events", event_body(action="withdraw"), format="json")

    assert response.status_code == 201, response.content
    assert response.json()["consent"]["status"] == "withdrawn"
    sql = [executed_statements(query["sql"]) for query in captured.captured_queries]
    # Inside the test's transaction the write's own transaction is a savepoint: BEGIN and COMMIT outside tests.
    assert sql[0].startswith("SAVEPOINT"), sql
    assert sql[-1].startswith("RELEASE SAVEPOINT"), sql
    lock_and_read, write = sql[1], sql[2]
    # The chain lock (advisory, in one global key order) travels with the reads, in the same round trip.
    assert lock_and_read.startswith("SELECT count(pg_advisory_xact_lock(k))")
    assert "consent_consentstate" in lock_and_read
    assert "nextval" in lock_and_read
    assert write.count("INSERT INTO") == 2
    assert "UPDATE consent_subject" in write
    assert " ".join(sql).count("pg_advisory_xact_lock") == 1  # no separate lock round trip
    assert ConsentEvent.objects.filter(subject__external_id="cust-1").count() == 2
    state = ConsentState.objects.get(subject__external_id="cust-1")
    assert state.status == "withdrawn"
    assert state.event_id == max(ConsentEvent.objects.values_list("id", flat=True))


def test_a_state_read_is_one_statement_that_postgresql_prepares_once(keyed: tuple[APIClient, str]) -> None:
    """The subject and its projection rows in one statement, prepared once per connection and run with its generic
    plan: every read after the first skips parsing and planning."""
    client, _ = keyed
    assert client.post("/api/v1/consent-events", event_body(action="grant"), format="json").status_code == 201

    answers = [client.get("/api/v1/subjects/cust-1/consent") for _ in range(7)]

    assert {a.status_code for a in answers} == {200}
    assert answers[-1].json()["purposes"][0]["status"] == "given"
    assert client.get("/api/v1/subjects/nobody/consent").status_code == 404
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), sum(generic_plans) FROM pg_prepared_statements "
            "WHERE statement LIKE %s AND statement LIKE %s",
            ["%FROM consent_subject x LEFT JOIN consent_consentstate s%", "%external_id = ANY($2::text[])%"],
        )
        count, generic = cursor.fetchone()
    assert count == 1
    assert generic >= 8  # every read, the one of an unknown subject too: none planned anew


def test_a_cached_key_revoked_elsewhere_stops_within_the_ttl(keyed: tuple[APIClient, str]) -> None:
    client, secret = keyed
    with override_settings(PROVENANT_API_KEY_CACHE_SECONDS=0.05):
        assert client.get("/api/v1/sources").status_code == 200  # now cached
        # Revoked by another process: this one hears nothing and relies on the TTL.
        ApiKey.objects.filter(digest=api_key_digest(secret)).update(revoked_at=timezone.now())
        time.sleep(0.06)  # the TTL (the bound: README, PROVENANT_API_KEY_CACHE_SECONDS)
        response = client.get("/api/v1/sources")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_a_key_revoked_in_this_process_stops_at_once(keyed: tuple[APIClient, str], organization: Organization) -> None:
    client, secret = keyed
    assert client.get("/api/v1/sources").status_code == 200  # now cached for 5 s
    api_key_revoke(api_key=ApiKey.objects.get(digest=api_key_digest(secret)), actor="test")
    assert client.get("/api/v1/sources").status_code == 401


@pytest.mark.django_db
def test_a_connection_whose_server_went_away_is_replaced_before_a_query_fails() -> None:
    wrapper = connections.create_connection("default")
    try:
        wrapper.ensure_connection()
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        assert wrapper.is_usable()  # idle and healthy: no query needed to say so
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
        # The server says goodbye on the socket (as on a restart); wait for it to arrive, at most 5 s.
        readable, _, _ = select.select([wrapper.connection.fileno()], [], [], 5)
        assert readable
        assert not wrapper.is_usable()

        wrapper.health_check_done = False
        wrapper.close_if_health_check_failed()  # what Django runs before a request's first query
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (new_pid,) = cursor.fetchone()
        assert new_pid != pid
    finally:
        wrapper.close()


def test_a_write_whose_prepared_statements_were_lost_is_retried_and_lands(
    keyed: tuple[APIClient, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A session reset (DISCARD ALL, DEALLOCATE ALL) between two writes spoils the second one's first attempt; the
    write's transaction runs again, its statements prepared anew."""
    monkeypatch.setattr(db, "_losses", 0)
    client, _ = keyed
    assert client.post("/api/v1/consent-events", event_body(action="grant"), format="json").status_code == 201
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")

    response = client.post("/api/v1/consent-events", event_body(action="withdraw"), format="json")

    assert response.status_code == 201, response.content
    assert db._losses == 1
    assert ConsentState.objects.get(subject__external_id="cust-1").status == "withdrawn"
    assert ConsentEvent.objects.filter(subject__external_id="cust-1").count() == 2
