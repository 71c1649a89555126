"""core.db on PostgreSQL: large batches go by binary COPY (straight into the table, or through a session's staging
table for UPSERTs and conflict-skipping INSERTs) and come out as the same rows the small-batch statements write;
array parameters are sent as one literal whatever their elements hold; ``built`` instances equal fetched ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from core.db import (
    VALUES_ROWS,
    CopyIn,
    built,
    in_list,
    insert_rows,
    insert_statements,
    select_rows,
    upsert_rows,
    upsert_statements,
)
from core.models import ApiKey, Organization

pytestmark = pytest.mark.django_db

COLUMNS = ("organization", "name", "prefix", "digest", "scopes", "created_at", "created_by", "rate_limit_per_minute")
MANY = VALUES_ROWS * 3


def key_rows(organization: Organization, count: int, *, tag: str = "k", name: str = "n") -> list[tuple[object, ...]]:
    at = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    return [
        (
            organization.pk,
            f'{name} "{i}" \\ {{,}} é',
            f"{tag}{i:06d}",
            f"{tag}-digest-{i}",
            ["consent:read", f"s-{i}"],
            at + timedelta(seconds=i),
            None,
            i if i % 2 else None,
        )
        for i in range(count)
    ]


def stored(organization: Organization) -> list[tuple[object, ...]]:
    return list(
        ApiKey.objects.filter(organization=organization)
        .order_by("prefix")
        .values_list(
            "organization_id", "name", "prefix", "digest", "scopes", "created_at", "created_by", "rate_limit_per_minute"
        )
    )


def test_a_large_insert_is_one_copy_and_stores_what_small_inserts_store(organization: Organization) -> None:
    other = Organization.objects.create(slug="other-bulk", name="Other")
    steps = insert_statements(ApiKey, COLUMNS, key_rows(organization, MANY))
    assert len(steps) == 1
    assert isinstance(steps[0], CopyIn)
    insert_rows(ApiKey, COLUMNS, key_rows(organization, MANY))
    for start in range(0, MANY, VALUES_ROWS):  # the same rows, written by small VALUES statements
        insert_rows(ApiKey, COLUMNS, key_rows(other, MANY, tag="o")[start : start + VALUES_ROWS])
    copied, small = stored(organization), stored(other)
    assert len(copied) == MANY
    assert [row[1:2] + row[3:] for row in copied] == [(row[1], row[3].replace("o-", "k-"), *row[4:]) for row in small]
    assert copied[1][4] == ["consent:read", "s-1"]
    assert copied[1][5] == datetime(2026, 1, 2, 3, 4, 6, 678901, tzinfo=UTC)


def test_a_large_upsert_updates_existing_rows_and_inserts_new_ones_twice_in_one_transaction(
    organization: Organization,
) -> None:
    insert_rows(ApiKey, COLUMNS, key_rows(organization, MANY // 2))
    steps = upsert_statements(
        ApiKey, COLUMNS, key_rows(organization, MANY, name="u"), conflict=("prefix",), update=("name",)
    )
    assert isinstance(steps[0], CopyIn)
    assert steps[0].create
    with transaction.atomic():
        upsert_rows(ApiKey, COLUMNS, key_rows(organization, MANY, name="u"), conflict=("prefix",), update=("name",))
        # The staging table was emptied by the statement that read it: a second batch sees only its own rows.
        upsert_rows(ApiKey, COLUMNS, key_rows(organization, MANY, name="w"), conflict=("prefix",), update=("name",))
    names = [row[1] for row in stored(organization)]
    assert len(names) == MANY
    assert all(name.startswith("w ") for name in names)


def test_a_large_insert_that_skips_conflicts_keeps_the_first_rows(organization: Organization) -> None:
    insert_rows(ApiKey, COLUMNS, key_rows(organization, 10, name="first"))
    insert_rows(ApiKey, COLUMNS, key_rows(organization, MANY, name="second"), skip_conflicts=True)
    names = [row[1] for row in stored(organization)]
    assert len(names) == MANY
    assert sum(name.startswith("first") for name in names) == 10


def test_a_copy_that_breaks_a_constraint_raises_djangos_error_and_rolls_back(organization: Organization) -> None:
    rows = key_rows(organization, MANY)
    rows.append(rows[0])  # the same prefix twice
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_rows(ApiKey, COLUMNS, rows)
    assert stored(organization) == []


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["plain", 'a "quoted" one', "back\\slash", "{brace,comma}", "", "é ü", "NULL"], "text"),
        ([1, -2, 2**62], "bigint"),
    ],
)
def test_array_parameters_match_exactly_what_they_hold(values: list[object], kind: str) -> None:
    condition, params = in_list("v", values)
    rows = select_rows(
        f"SELECT v FROM unnest(%s::{kind}[]) AS v WHERE {condition}",
        [list(values), *params],
        [None],
    )
    assert sorted(row[0] for row in rows) == sorted(values)
    if connection.vendor == "postgresql":
        none, none_params = in_list("v", ["x"])
        assert (
            select_rows(f"SELECT v FROM unnest(%s::text[]) AS v WHERE {none}", [["y", "x,y"], *none_params], [None])
            == []
        )


def test_a_built_instance_equals_the_fetched_one(organization: Organization) -> None:
    insert_rows(ApiKey, COLUMNS, key_rows(organization, 1))
    fetched = ApiKey.objects.get(organization=organization)
    values = {f.attname: getattr(fetched, f.attname) for f in ApiKey._meta.concrete_fields}
    values.pop("organization_id")
    made = built(ApiKey, {**values, "organization": organization})
    assert made == fetched
    assert made.organization is organization
    assert made.organization_id == organization.pk
    assert {f.attname: getattr(made, f.attname) for f in ApiKey._meta.concrete_fields} == {
        f.attname: getattr(fetched, f.attname) for f in ApiKey._meta.concrete_fields
    }
    assert not made._state.adding
    assert made._state.db == connection.alias
    values.pop("digest")
    with pytest.raises(TypeError, match="digest"):
        built(ApiKey, values)


@pytest.mark.django_db(transaction=True)
def test_a_staging_table_is_empty_and_takes_no_space_after_each_commit(organization: Organization) -> None:
    """PostgreSQL never vacuums a temporary table: one only ever deleted from would grow for the connection's life.
    Truncated at every commit, it holds nothing between transactions however many batches went through it."""
    for round_ in range(3):
        with transaction.atomic():
            upsert_rows(
                ApiKey, COLUMNS, key_rows(organization, MANY, name=f"r{round_}"), conflict=("prefix",), update=("name",)
            )
    # Outside a transaction too: the COPY and the statement reading it run in one (committed) transaction.
    upsert_rows(ApiKey, COLUMNS, key_rows(organization, MANY, name="last"), conflict=("prefix",), update=("name",))
    copy = upsert_statements(ApiKey, COLUMNS, key_rows(organization, MANY), conflict=("prefix",), update=("name",))[0]
    assert isinstance(copy, CopyIn)
    rows = select_rows(f"SELECT count(*), pg_relation_size('{copy.table}') FROM {copy.table}", [], [None, None])
    assert rows == [[0, 0]]
    assert all(row[1].startswith("last ") for row in stored(organization))
