"""Issue #17: the consent state is a projection of the ledger, and its seven foreign-key constraints cost every write
more than anything else PostgreSQL did for it. Django declares them DEFERRABLE INITIALLY DEFERRED, so at each commit
PostgreSQL ran one query per key of every state written (``SELECT 1 ... FOR KEY SHARE``), and the two to the ledger
locked the event row named, rewriting a page of the events table for each: a quarter of the database's CPU in a bulk
import (profiled with perf: ``AfterTriggerFireDeferred``). The ledger keeps its own constraints to the same subject,
purpose, source and policy version; the integrity check compares every state with what its pair's events fold to, so
a state naming an event that is not its own (or none) is reported (``projection_mismatch``).

Also: a subject's row is rewritten by every event appended to its chain (its length and head hash), and none of the
columns that change is indexed, so the update can be HOT (no new entry in the table's five indexes) when its page has
room. ``fillfactor`` 80 leaves that room on the pages written from now on (PostgreSQL only; existing pages keep theirs
until the table is rewritten, e.g. by ``VACUUM FULL``).

Dropping a constraint takes a brief ACCESS EXCLUSIVE lock on consent_consentstate (no scan); setting the fillfactor,
a SHARE UPDATE EXCLUSIVE lock on consent_subject. Reversed, the constraints are added back and checked against every
row."""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models


def subject_fillfactor(value: int) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(f"ALTER TABLE consent_subject SET (fillfactor = {value})")

    return run


def unconstrained(to: str, **options: Any) -> models.ForeignKey:
    return models.ForeignKey(
        db_constraint=False, on_delete=django.db.models.deletion.PROTECT, to=to, **{"related_name": "+", **options}
    )


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0023_subject_organization_index_dropped"),
        ("core", "0013_audit_actions_rate_limit_and_imports"),
    ]

    operations = [
        migrations.AlterField(
            model_name="consentstate",
            name="basis_event",
            field=unconstrained("consent.consentevent", db_index=False),
        ),
        migrations.AlterField(
            model_name="consentstate",
            name="event",
            field=unconstrained("consent.consentevent", db_index=False),
        ),
        migrations.AlterField(
            model_name="consentstate",
            name="organization",
            field=unconstrained("core.organization", db_index=False),
        ),
        migrations.AlterField(
            model_name="consentstate",
            name="policy_version",
            field=unconstrained("consent.policyversion", blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="consentstate",
            name="purpose",
            field=unconstrained("consent.purpose", related_name="consent_states"),
        ),
        migrations.AlterField(
            model_name="consentstate",
            name="source",
            field=unconstrained("consent.source"),
        ),
        migrations.AlterField(
            model_name="consentstate",
            name="subject",
            field=unconstrained("consent.subject", related_name="consent_states"),
        ),
        migrations.RunPython(subject_fillfactor(80), subject_fillfactor(100)),
    ]
