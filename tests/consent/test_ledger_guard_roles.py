"""Security audit item 1: the ledger can't be wiped and still verify.

An attacker with a database login that is not the maintenance role can't open the TRUNCATE guard with a
session setting, and nobody can reset a subject's stored chain tip to make an emptied or rolled-back
chain look complete."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction

from consent import services
from consent.models import ConsentEvent, Purpose, Source, Subject
from core.models import Organization
from tests.conftest import event_input

TABLE = "consent_consentevent"


@pytest.fixture
def outsider_role(transactional_db: Any) -> Iterator[str]:
    """A login role like an application or analyst account: TRUNCATE granted on every table, no maintenance
    membership, not a superuser."""
    name = f"attacker_{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} LOGIN PASSWORD %s", [password])
        cursor.execute(f"GRANT USAGE ON SCHEMA public TO {name}")
        cursor.execute(f"GRANT SELECT, TRUNCATE ON ALL TABLES IN SCHEMA public TO {name}")
    try:
        yield f"{name}:{password}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {name}")
            cursor.execute(f"DROP ROLE {name}")


def _connect_as(credentials: str) -> psycopg.Connection[Any]:
    user, password = credentials.split(":")
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings.get("HOST") or "127.0.0.1",
        port=settings.get("PORT") or 5432,
        dbname=settings["NAME"],
        user=user,
        password=password,
        autocommit=True,
    )


@pytest.mark.django_db(transaction=True)
def test_a_session_setting_does_not_open_the_truncate_guard(
    organization: Organization, source: Source, purpose: Purpose, outsider_role: str
) -> None:
    services.consent_record(organization=organization, item=event_input())
    services.consent_record(organization=organization, item=event_input(action="withdraw"))
    before = ConsentEvent.objects.count()

    with _connect_as(outsider_role) as attacker:
        attacker.execute("SET provenant.allow_truncate = 'on'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            attacker.execute(f"TRUNCATE {TABLE} CASCADE")

    assert ConsentEvent.objects.count() == before == 2


@pytest.mark.django_db
def test_chain_tips_cannot_be_reset(organization: Organization, source: Source, purpose: Purpose) -> None:
    services.consent_record(organization=organization, item=event_input())
    services.consent_record(organization=organization, item=event_input(action="withdraw"))
    subject = Subject.objects.get(organization=organization)
    assert subject.ledger_length == 2

    for assignment in (
        "ledger_length = 0, ledger_head_hash = repeat('0', 64)",  # back to genesis: "valid: 0 events"
        "ledger_length = 1",  # a roll-back by one
        "ledger_head_hash = repeat('a', 64)",  # same length, another head
    ):
        with pytest.raises(DatabaseError, match="only grow"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"UPDATE consent_subject SET {assignment} WHERE id = %s", [subject.pk])

    subject.refresh_from_db()
    assert subject.ledger_length == 2
    assert subject.ledger_head_hash == ConsentEvent.objects.filter(subject=subject).order_by("-chain_index")[0].hash

    services.consent_record(organization=organization, item=event_input())  # the tip still grows
    subject.refresh_from_db()
    assert subject.ledger_length == 3
