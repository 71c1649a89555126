"""``core.db.insert_instance`` (issue #16): a new row written through the statement cached for its model, as
``save()`` would write it: defaults and ``pre_save`` applied, the automatic key read back, the instance saved as far
as Django can tell; a unique collision left out on request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django.utils.translation import gettext_lazy

from consent.enums import SourceKind
from consent.models import Source
from core.db import insert_instance
from core.enums import AuditAction
from core.models import AuditLogEntry, Organization
from dsar.models import RequestNotice

pytestmark = pytest.mark.django_db


def test_the_row_is_the_one_save_would_write_and_the_instance_is_saved(organization: Organization) -> None:
    entry = AuditLogEntry(
        organization=organization,
        actor="test",
        action=AuditAction.DSAR_RECEIVED,
        object_type="dsar",
        object_id="01ABC",
        data={"due_on": "2027-01-04", "nested": {"é": [1, 2]}},
    )
    stored = insert_instance(entry)

    assert stored is entry
    assert entry.pk is not None
    assert not entry._state.adding
    row = AuditLogEntry.objects.get(pk=entry.pk)
    fields = ("organization_id", "occurred_at", "actor", "action", "object_type", "object_id", "data")
    assert [getattr(row, f) for f in fields] == [getattr(entry, f) for f in fields]
    assert row.data == {"due_on": "2027-01-04", "nested": {"é": [1, 2]}}

    entry.actor = "changed"
    entry.save()  # an UPDATE of the same row, not a second row
    assert AuditLogEntry.objects.filter(object_id="01ABC").count() == 1
    assert AuditLogEntry.objects.get(pk=entry.pk).actor == "changed"


def test_pre_save_runs_as_save_runs_it(organization: Organization) -> None:
    before = timezone.now()
    source = Source(organization=organization, key="crm-import", name="CRM", kind=SourceKind.IMPORT)
    source.updated_at = before - timedelta(days=3)  # auto_now: save() overwrites it, and so must this
    insert_instance(source)

    stored = Source.objects.get(pk=source.pk)
    assert stored.updated_at == source.updated_at
    assert stored.updated_at >= before


def test_a_unique_collision_is_left_out_when_asked(organization: Organization, django_assert_num_queries: Any) -> None:
    first = insert_instance(Organization(slug="twin", name="Twin"), skip_conflicts=True)
    assert first is not None

    with django_assert_num_queries(1):
        second = insert_instance(Organization(slug="twin", name="Another"), skip_conflicts=True)

    assert second is None
    assert list(Organization.objects.filter(slug="twin").values_list("pk", "name")) == [(first.pk, "Twin")]


def test_a_lazy_translation_is_stored_as_its_text(organization: Organization) -> None:
    entry = insert_instance(
        AuditLogEntry(
            organization=organization,
            actor=gettext_lazy("Provenant"),  # type: ignore[misc]  # what a caller may pass; save() takes it
            action=AuditAction.DSAR_RECEIVED,
            object_type="dsar",
            object_id="01LAZY",
        )
    )
    assert AuditLogEntry.objects.get(pk=entry.pk).actor == "Provenant"


def test_models_whose_values_the_database_or_save_computes_are_refused(organization: Organization) -> None:
    """RequestNotice has database defaults: written by this INSERT they would be sent as Django's placeholder."""
    notice = RequestNotice()
    with pytest.raises(TypeError, match="RequestNotice"):
        insert_instance(notice)
    assert notice.pk is None
