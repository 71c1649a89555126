"""The domain's figures on ``/metrics``, computed with aggregate queries (one each) at most once per
PROVENANT_METRICS_CACHE_SECONDS (default 30) in each process: a scrape in between answers the last figures.

Here, in the composition root, because they read every app's tables and core never imports a domain app.
Counters are counts of rows that are never deleted (ledger events, stamp records, GPC receipts), so they only
grow; gauges are what stands now (DSARs open, due, overdue; the age of the last ledger verification).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from django.db import connection
from django.db.models import Count, Max, Q
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from consent.models import ConsentEvent, GpcSignalReceipt, LedgerVerificationRun
from core.metrics import register_scrape_collector
from dsar.enums import RequestStatus
from dsar.models import DataSubjectRequest
from provenance.enums import DeliveryStatus, StampDecision
from provenance.models import Delivery, StampRecord

DSAR_CLOSED_STATUSES = (RequestStatus.COMPLETED, RequestStatus.REJECTED)
DUE_SOON_DAYS = 7


def consent_metrics() -> Iterable[Metric]:
    events = CounterMetricFamily("provenant_consent_events_recorded", "Consent events recorded in the ledger")
    events.add_metric([], float(ConsentEvent.objects.count()))
    yield events
    gpc = CounterMetricFamily("provenant_gpc_signals_honoured", "Subjects whose GPC signal was honoured")
    gpc.add_metric([], float(GpcSignalReceipt.objects.filter(is_honored=True).count()))
    yield gpc
    age = GaugeMetricFamily(
        "provenant_ledger_verification_age_seconds",
        "Seconds since the last ledger verification run, by mode (full or incremental)",
        labels=["mode"],
    )
    now = timezone.now()
    for row in LedgerVerificationRun.objects.values("mode").annotate(last=Max("verified_at")).order_by("mode"):
        age.add_metric([row["mode"]], (now - row["last"]).total_seconds())
    last_any = LedgerVerificationRun.objects.aggregate(last=Max("verified_at"))["last"]
    age.add_metric(["any"], (now - last_any).total_seconds() if last_any else float("inf"))
    yield age


def provenance_metrics() -> Iterable[Metric]:
    stamps = CounterMetricFamily("provenant_stamps", "Stamp decisions, by decision", labels=["decision"])
    counts = dict(StampRecord.objects.values_list("decision").annotate(n=Count("id")).order_by())
    for decision in StampDecision.values:
        stamps.add_metric([decision], float(counts.get(decision, 0)))
    yield stamps
    reasons = CounterMetricFamily(
        "provenant_stamp_block_reasons", "Reasons given in blocked stamps (one per purpose refused)", labels=["reason"]
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT r->>'reason', count(*) FROM {StampRecord._meta.db_table} s, "  # noqa: S608 - table name is ours
                "jsonb_array_elements(s.reasons) r WHERE s.decision = %s GROUP BY 1 ORDER BY 1",
                [StampDecision.BLOCK],
            )
            for reason, count in cursor.fetchall():
                reasons.add_metric([reason or "unknown"], float(count))
    yield reasons
    dead = CounterMetricFamily("provenant_deliveries_dead_lettered", "Deliveries given up (dead-lettered)")
    dead.add_metric([], float(Delivery.objects.filter(status=DeliveryStatus.DEAD).count()))
    yield dead


def dsar_metrics() -> Iterable[Metric]:
    today = timezone.localdate()
    counts = DataSubjectRequest.objects.exclude(status__in=DSAR_CLOSED_STATUSES).aggregate(
        open=Count("id"),
        due_soon=Count("id", filter=Q(due_on__gte=today, due_on__lte=today + timedelta(days=DUE_SOON_DAYS))),
        overdue=Count("id", filter=Q(due_on__lt=today)),
    )
    for name, key, text in (
        ("provenant_dsar_open", "open", "Data-subject requests not yet completed or rejected"),
        ("provenant_dsar_due_within_7_days", "due_soon", "Open data-subject requests due within 7 days"),
        ("provenant_dsar_overdue", "overdue", "Open data-subject requests past their legal due date"),
    ):
        gauge = GaugeMetricFamily(name, text)
        gauge.add_metric([], float(counts[key]))
        yield gauge


def register() -> None:
    for collector in (consent_metrics, provenance_metrics, dsar_metrics):
        register_scrape_collector(collector, cached=True)
