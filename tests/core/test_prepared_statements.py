"""Statements ``core.db`` prepares on PostgreSQL (issue #16): prepared once per connection, alone and before the
query that first runs them, then run by ``EXECUTE`` with a generic plan; they outlive rollbacks, never collide after
a failed batch, recover after something else deallocated them, and are not prepared at all with
PROVENANT_DB_PREPARED_STATEMENTS false (a pooler in transaction mode)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import override_settings

from core import db
from core.db import execute_statements, executed_statements, select_many
from core.models import Organization

pytestmark = pytest.mark.django_db(transaction=True)


def prepared() -> dict[str, tuple[int, int]]:
    """This session's prepared statements of ours: name -> (generic plans, custom plans)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'pvn_%%'")
        return {name: (generic, custom) for name, generic, custom in cursor.fetchall()}


@pytest.fixture
def fresh_connection(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Each test starts on a new connection (nothing of ours prepared yet) and counts its own lost statements."""
    monkeypatch.setattr(db, "_losses", 0)
    connection.close()
    yield
    connection.close()


def test_a_statement_is_prepared_once_then_executed_with_its_generic_plan(
    organization: Organization, fresh_connection: None, django_assert_num_queries: Any
) -> None:
    statement = ("SELECT slug FROM core_organization WHERE id = %s AND slug LIKE '%%'", [organization.pk])
    connection.ensure_connection()

    with django_assert_num_queries(2) as first:  # the PREPARE alone, then the query
        assert select_many([statement]) == [[(organization.slug,)]]
    assert first.captured_queries[0]["sql"].startswith("PREPARE pvn_")
    assert "$1" in first.captured_queries[0]["sql"]  # no call's values in the text PostgreSQL keeps
    with django_assert_num_queries(1) as later:
        assert select_many([statement]) == [[(organization.slug,)]]

    (name,) = prepared()
    assert later.captured_queries[0]["sql"] == f"EXECUTE {name}({organization.pk})"
    assert executed_statements(later.captured_queries[0]["sql"]).startswith("SELECT slug FROM core_organization")
    assert prepared()[name] == (2, 0)  # both runs on the generic plan: never planned per call


def test_prepared_statements_outlive_a_rollback(organization: Organization, fresh_connection: None) -> None:
    statement = ("SELECT name FROM core_organization WHERE id = %s", [organization.pk])
    failing = ("SELECT 1 / (id - id) FROM core_organization WHERE id = %s", [organization.pk])

    def rolled_back() -> None:
        with transaction.atomic():
            assert select_many([statement]) == [[(organization.name,)]]
            select_many([failing])

    with pytest.raises(DatabaseError):
        rolled_back()

    assert select_many([statement]) == [[(organization.name,)]]
    assert len(prepared()) == 2  # neither prepared twice


def test_a_batch_that_fails_never_leaves_a_name_to_collide_with(
    organization: Organization, fresh_connection: None
) -> None:
    good = ("SELECT slug FROM core_organization WHERE id = %s", [organization.pk])
    failing = ("INSERT INTO core_organization (id, slug, name) VALUES (%s, %s, %s)", [organization.pk, "x", "x"])

    for _ in range(2):  # the PREPAREs succeed, then the INSERT fails: the second time they are prepared anew
        with pytest.raises(DatabaseError), transaction.atomic():
            execute_statements([good, failing])

    assert select_many([good]) == [[(organization.slug,)]]
    assert Organization.objects.count() == 1


def test_statements_deallocated_by_something_else_are_prepared_again(
    organization: Organization, fresh_connection: None
) -> None:
    statement = ("SELECT slug FROM core_organization WHERE id = %s", [organization.pk])
    select_many([statement])
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # an operator's DISCARD ALL, a pooler's reset

    assert select_many([statement]) == [[(organization.slug,)]]  # found gone, sent again, prepared anew
    assert db._losses == 1

    with transaction.atomic():  # inside a transaction the caller's work is spoilt: the error is the caller's
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        with pytest.raises(DatabaseError) as lost:
            select_many([statement])
    assert db.statement_lost(lost.value)
    assert select_many([statement]) == [[(organization.slug,)]]


def test_a_process_that_keeps_losing_its_statements_stops_preparing(
    organization: Organization, fresh_connection: None, caplog: pytest.LogCaptureFixture
) -> None:
    """What a pooler in transaction mode looks like from here, with PROVENANT_DB_PREPARED_STATEMENTS left true."""
    statement = ("SELECT slug FROM core_organization WHERE id = %s", [organization.pk])
    for _ in range(db.PREPARED_LOSSES_BEFORE_FALLBACK):
        select_many([statement])
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
    with caplog.at_level("ERROR", logger="core.db"):
        assert select_many([statement]) == [[(organization.slug,)]]
    assert "PROVENANT_DB_PREPARED_STATEMENTS=false" in caplog.text
    assert not db.prepared_statements_enabled()
    assert select_many([statement]) == [[(organization.slug,)]]
    assert prepared() == {}


def test_connections_that_are_not_kept_prepare_nothing(organization: Organization, fresh_connection: None) -> None:
    connection.settings_dict["CONN_MAX_AGE"], kept = 0, connection.settings_dict["CONN_MAX_AGE"]
    try:
        assert select_many([("SELECT slug FROM core_organization WHERE id = %s", [organization.pk])]) == [
            [(organization.slug,)]
        ]
        assert prepared() == {}
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = kept


def test_with_preparation_off_nothing_is_prepared(organization: Organization, fresh_connection: None) -> None:
    with override_settings(PROVENANT_DB_PREPARED_STATEMENTS=False):
        rows = select_many(
            [
                ("SELECT slug FROM core_organization WHERE id = %s", [organization.pk]),
                ("SELECT name FROM core_organization WHERE id = %s AND name LIKE '%%'", [organization.pk]),
            ]
        )
    assert rows == [[(organization.slug,)], [(organization.name,)]]
    assert prepared() == {}


def test_past_the_bound_statements_run_unprepared(
    organization: Organization, fresh_connection: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "PREPARED_PER_CONNECTION", 2)
    for n in range(4):
        assert select_many([(f"SELECT {n} + id FROM core_organization WHERE id = %s", [organization.pk])]) == [
            [(n + organization.pk,)]
        ]
    assert len(prepared()) == 2


def test_ddl_goes_unprepared(fresh_connection: None) -> None:
    with transaction.atomic():
        execute_statements([("CREATE TEMP TABLE pvn_test_scratch (n int) ON COMMIT DELETE ROWS", [])])
        execute_statements([("INSERT INTO pvn_test_scratch VALUES (%s)", [7])])
        assert select_many([("SELECT n FROM pvn_test_scratch", [])]) == [[(7,)]]
    assert len(prepared()) == 2  # the INSERT and the SELECT
