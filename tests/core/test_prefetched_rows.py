"""core.db.prefetched_rows: the rows a thread fetches ahead are the queryset's own rows, in order, in the caller's
transaction; a caller that stops early leaves no thread behind; a database error reaches the caller."""

from __future__ import annotations

import threading

import pytest
from django.db import DataError, transaction
from django.db.models import F

from consent import services
from consent.models import ConsentEvent, Purpose, Source
from core.db import prefetched_rows
from core.models import Organization
from tests.factories import ConsentEventInputFactory


@pytest.fixture
def events(organization: Organization, source: Source, purpose: Purpose) -> Organization:
    items = [ConsentEventInputFactory.build(subject_id=f"p-{n % 7}") for n in range(45)]
    services.consent_record_many(organization=organization, items=items)
    return organization


@pytest.mark.django_db
def test_the_rows_are_the_querysets_in_order(events: Organization) -> None:
    rows = ConsentEvent.objects.filter(organization=events).order_by("subject_id", "chain_index")
    listed = rows.values_list("event_id", "subject__uuid", "chain_index", "gpc")
    with transaction.atomic():
        fetched = list(prefetched_rows(listed, chunk_size=4))
    assert fetched == list(listed)
    assert len(fetched) == 45


@pytest.mark.django_db
def test_a_caller_that_stops_early_leaves_no_thread(events: Organization) -> None:
    listed = ConsentEvent.objects.filter(organization=events).order_by("pk").values_list("pk")
    before = threading.active_count()
    rows = prefetched_rows(listed, chunk_size=2)
    first = [next(rows) for _ in range(3)]
    rows.close()
    assert [row[0] for row in first] == list(listed.values_list("pk", flat=True)[:3])
    assert threading.active_count() == before


@pytest.mark.django_db
def test_a_database_error_reaches_the_caller(events: Organization) -> None:
    broken = ConsentEvent.objects.filter(organization=events).annotate(x=F("chain_index") / 0).values_list("x")
    with pytest.raises(DataError, match="division by zero"):
        list(prefetched_rows(broken, chunk_size=10))
