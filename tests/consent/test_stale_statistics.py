"""Issue #16/#17: a write reads its subjects and their projection rows key by key, whatever the planner's statistics
say. The case that matters: a large table analyzed before a new organization arrived (a new tenant importing its
history, which autoanalyze may not notice for a long while): the statistics estimate one row for that organization,
and an index on the organization alone then looked as good as the key, so each lookup read the whole organization."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from consent import services
from consent.enums import SourceKind
from consent.services.chain_locks import subject_forms, subjects_statement
from consent.services.projection import states_statement
from core.models import Organization

TABLES = ("consent_subject", "consent_consentstate")


def _fill(organization: Organization, subjects: int, purpose_ids: list[int], source_id: int) -> None:
    """``subjects`` subjects with a state row per purpose, by SQL; the states name no real events (the plans, not the
    rows, are under test) and are removed before the test's deferred foreign keys are checked."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO consent_subject (organization_id, external_id, uuid, email_sealed, email_index, jurisdiction, "
            "ledger_length, ledger_head_hash, created_at) SELECT %s, 'person-' || n, gen_random_uuid(), '', '', 'DE', "
            "1, repeat('0', 64), now() FROM generate_series(1, %s) AS n",
            [organization.pk, subjects],
        )
        cursor.execute(
            "INSERT INTO consent_consentstate (organization_id, subject_id, purpose_id, status, since, jurisdiction, "
            "gpc, gpc_conflict, last_occurred_at, last_rank, last_seq, updated_at, event_id, basis_event_id, "
            "source_id) "
            "SELECT s.organization_id, s.id, p, 'granted', now(), 'DE', false, false, now(), 0, s.id, now(), s.id, "
            "s.id, %s FROM consent_subject s CROSS JOIN unnest(%s::bigint[]) AS p WHERE s.organization_id = %s",
            [source_id, purpose_ids, organization.pk],
        )


def _catalog(organization: Organization) -> tuple[list[int], int]:
    source = services.source_create(
        organization=organization, actor="test", key="crm", name="CRM", kind=SourceKind.IMPORT
    )
    purposes = [
        services.purpose_create(organization=organization, actor="test", key=f"p{n}", name=f"P{n}").pk for n in range(3)
    ]
    return purposes, source.pk


def _index_scans(plan: dict[str, Any]) -> Iterator[tuple[str, str]]:
    if "Relation Name" in plan:
        yield plan["Relation Name"], plan.get("Index Name", plan["Node Type"])
    for child in plan.get("Plans", []):
        yield from _index_scans(child)


def _access_paths(sql: str, params: list[Any]) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0][0]["Plan"]
    return {scan for scan in _index_scans(plan) if scan[0] in TABLES}


@pytest.mark.django_db
def test_a_new_organizations_keys_are_looked_up_by_their_index_whatever_the_statistics(
    organization: Organization, other_organization: Organization
) -> None:
    """Given 30,000 subjects with three states each in one organization, analyzed, and then 3,000 in a new one the
    statistics know nothing of, when a write of 500 of the new organization's subjects plans its reads, then the
    subjects come by their (organization, external id) key and the states by a key holding the subject: no index on
    the organization alone, no sequential scan."""
    purposes, source = _catalog(organization)
    _fill(organization, 30_000, purposes, source)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(TABLES)}")
    new_purposes, new_source = _catalog(other_organization)
    _fill(other_organization, 3_000, new_purposes, new_source)
    external_ids = [f"person-{n}" for n in range(1, 1_001, 2)]
    forms = subject_forms(other_organization, external_ids)

    (subjects_sql, subjects_params), _ = subjects_statement(other_organization, sorted(external_ids), forms)
    states_sql, states_params = states_statement(other_organization, sorted(forms), new_purposes)

    subject_paths = _access_paths(subjects_sql, subjects_params)
    state_paths = _access_paths(states_sql, states_params)

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM consent_consentstate")
    assert subject_paths == {("consent_subject", "subject_external_id_unique")}
    assert ("consent_subject", "subject_external_id_unique") in state_paths
    assert {index for table, index in state_paths if table == "consent_consentstate"} <= {
        "consent_state_unique",
        "state_org_subject_cover",
        "consent_consentstate_subject_id_b6752646",
    }
