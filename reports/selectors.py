"""Compliance report figures: one aggregate query a question, always scoped by organization.

Percentiles use PostgreSQL ``percentile_cont``; on SQLite they are reported as null (documented fallback).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import connections
from django.db.models import (
    Aggregate,
    Case,
    Count,
    DateField,
    Exists,
    F,
    FilteredRelation,
    FloatField,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from consent.models import (
    Action,
    ConsentEvent,
    ConsentState,
    ConsentStatus,
    GpcSignalReceipt,
    LedgerVerificationRun,
    PolicyVersion,
    Purpose,
    Source,
    Subject,
)
from core.models import Organization
from dsar.enums import RequestStatus
from dsar.models import DataSubjectRequest
from provenance.enums import AlertStatus, StampDecision
from provenance.models import ProvenanceAlert, StampRecord

EXPIRY_WINDOW_DAYS = 30
OPEN_REQUESTS_LISTED = 50
IN_FORCE = (ConsentStatus.GIVEN, ConsentStatus.RENEWED)
FINAL = (RequestStatus.COMPLETED, RequestStatus.REJECTED)


def reports_database() -> str:
    """The database alias reports read from: ``reports`` (a read replica) when ``REPORTS_DATABASE_URL`` names
    one, else the primary (issue #16). Reports only read, so a replica's lag only dates the figures."""
    return str(settings.PROVENANT_REPORTS_DATABASE)


@dataclass(frozen=True)
class Period:
    """Whole UTC days ``start``..``end`` inclusive."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return datetime.combine(self.start, time.min, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=UTC)


class PercentileCont(Aggregate):
    """PostgreSQL ``percentile_cont(f) WITHIN GROUP (ORDER BY expr)``."""

    function = "percentile_cont"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


class DaysBetween(Func):
    """Fractional days from the second expression to the first (two datetimes)."""

    output_field = FloatField()
    template = "EXTRACT(EPOCH FROM (%(expressions)s)) / 86400.0"
    arg_joiner = " - "

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler, connection, template="(julianday(%(expressions)s))", arg_joiner=") - julianday(", **extra
        )


class DateDiff(Func):
    """Whole days from the second date to the first."""

    output_field = IntegerField()
    template = "(%(expressions)s)"
    arg_joiner = " - "

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            template="CAST(julianday(%(expressions)s) AS INTEGER)",
            arg_joiner=") - julianday(",
            **extra,
        )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def consent_figures(*, organization: Organization, period: Period, now: datetime) -> dict[str, Any]:
    events = ConsentEvent.objects.using(reports_database()).filter(
        organization=organization, occurred_at__gte=period.since, occurred_at__lt=period.until
    )
    # One pass over the period's events, grouped by purpose id and day (a hash aggregate over a covering
    # index); keys, order and the per-purpose totals are derived here rather than joined and sorted in SQL.
    daily_rows = list(
        events.annotate(day=TruncDate("occurred_at", tzinfo=UTC))
        .values("purpose_id", "day")
        .annotate(  # counts a column of the index (never null), so the scan stays index-only
            grants=Count("action", filter=Q(action=Action.GRANT)),
            refusals=Count("action", filter=Q(action=Action.REFUSE)),
            withdrawals=Count("action", filter=Q(action=Action.WITHDRAW)),
        )
        .order_by()
    )
    keys = _purpose_keys({row["purpose_id"] for row in daily_rows})
    daily = sorted(
        (
            {
                "purpose": keys[row["purpose_id"]],
                "day": row["day"].isoformat(),
                "grants": row["grants"],
                "refusals": row["refusals"],
                "withdrawals": row["withdrawals"],
            }
            for row in daily_rows
        ),
        key=lambda row: (row["purpose"], row["day"]),
    )
    totals: dict[str, dict[str, int]] = {}
    for row in daily:
        total = totals.setdefault(row["purpose"], {"grants": 0, "refusals": 0})
        total["grants"] += row["grants"]
        total["refusals"] += row["refusals"]
    states = ConsentState.objects.using(reports_database()).filter(organization=organization, status__in=IN_FORCE)
    expiring = (
        states.filter(valid_until__gt=now, valid_until__lte=now + timedelta(days=EXPIRY_WINDOW_DAYS))
        .values("purpose__key")
        .annotate(count=Count("id"))
        .order_by("purpose__key")
    )
    return {
        "daily": daily,
        "opt_in_rate": [
            {
                "purpose": key,
                "grants": total["grants"],
                "refusals": total["refusals"],
                "rate": _rate(total["grants"], total["grants"] + total["refusals"]),
            }
            for key, total in sorted(totals.items())
        ],
        "expiring_next_30_days": {row["purpose__key"]: row["count"] for row in expiring},
        "stale_grants": _stale_grants(organization=organization, now=now),
    }


def _purpose_keys(purpose_ids: Iterable[int]) -> dict[int, str]:
    return dict(Purpose.objects.using(reports_database()).filter(pk__in=list(purpose_ids)).values_list("pk", "key"))


def _stale_grants(*, organization: Organization, now: datetime) -> dict[str, int]:
    """Grants in force per purpose made stale by a material policy change: the rule of
    ``consent.state.status_at`` (which stamping enforces as POLICY_STALE), in one grouped query.

    A grant in force (not expired) is stale when its purpose has a material version in effect and the grant
    was given under no policy version, or under one that took effect before that material version.
    """
    latest_material = dict(
        PolicyVersion.objects.using(reports_database())
        .filter(organization=organization, is_material=True, effective_at__lte=now)
        .values("purpose_id")
        .annotate(latest=Max("effective_at"))
        .values_list("purpose_id", "latest")
    )
    if not latest_material:
        return {}
    stale_before = Q()
    for purpose_id, effective_at in latest_material.items():
        stale_before |= Q(purpose_id=purpose_id) & (
            Q(policy_version__isnull=True) | Q(policy_version__effective_at__lt=effective_at)
        )
    stale = (
        ConsentState.objects.using(reports_database())
        .filter(organization=organization, status__in=IN_FORCE)
        .filter(stale_before, Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .values("purpose_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts = {row["purpose_id"]: row["count"] for row in stale}
    keys = _purpose_keys(counts)
    return {keys[purpose_id]: count for purpose_id, count in sorted(counts.items(), key=lambda item: keys[item[0]])}


def provenance_figures(*, organization: Organization, period: Period) -> dict[str, Any]:
    subjects = {
        "total": Subject.objects.using(reports_database()).filter(organization=organization).count(),
        **_subjects_with_provenance(organization=organization),
    }
    stamps = (
        StampRecord.objects.using(reports_database())
        .filter(organization=organization, created_at__gte=period.since, created_at__lt=period.until)
        .aggregate(
            total=Count("id"),
            with_source=Count("id", filter=Q(has_source=True)),
            with_consent_timestamp=Count("id", filter=Q(has_consent_timestamp=True)),
            with_policy_version=Count("id", filter=Q(has_policy_version=True)),
            complete=Count("id", filter=Q(has_source=True, has_consent_timestamp=True, has_policy_version=True)),
        )
    )
    missing_dpa = Source.objects.using(reports_database()).filter(
        organization=organization, is_builtin=False, is_active=True, dpa_reference=""
    )

    def shares(figures: dict[str, int], keys: tuple[str, ...]) -> dict[str, Any]:
        return {**figures, **{f"{key}_share": _rate(figures[key], figures["total"]) for key in keys}}

    keys = ("with_source", "with_consent_timestamp", "with_policy_version")
    return {
        "subjects": shares(subjects, keys),
        "stamped_payloads": shares(stamps, (*keys, "complete")),
        "sources_without_dpa": sorted(missing_dpa.values_list("key", flat=True)),
    }


def _subjects_with_provenance(*, organization: Organization) -> dict[str, int]:
    """Subjects with a consent state at all, with one from a real source, and with one under a policy version.

    One pass over the states grouped by subject (ordered by the (organization, subject) index) instead of three
    DISTINCT counts over a join with every subject."""
    # The built-in source stands for Provenant itself (e.g. GPC opt-outs), not for where data came from.
    builtin = list(
        Source.objects.using(reports_database())
        .filter(organization=organization, is_builtin=True)
        .values_list("pk", flat=True)
    )
    from_source = ~Q(source_id__in=builtin) if builtin else Q(pk__isnull=False)
    per_subject = (
        ConsentState.objects.using(reports_database())
        .filter(organization=organization)
        .values("subject_id")
        .annotate(
            has_source=Max(Case(When(from_source, then=1), default=0)),
            has_policy_version=Max(Case(When(policy_version__isnull=False, then=1), default=0)),
        )
        .order_by()
    )
    return per_subject.aggregate(
        with_source=Count("subject_id", filter=Q(has_source=1)),
        with_consent_timestamp=Count("subject_id"),
        with_policy_version=Count("subject_id", filter=Q(has_policy_version=1)),
    )


def gpc_figures(*, organization: Organization, period: Period) -> dict[str, int]:
    """People whose first GPC signal arrived in the period, how many were honored, and how many of them had
    opted in before (a consent state flagged ``gpc_conflict``: the signal overrides that opt-in)."""
    conflicted = ConsentState.objects.using(reports_database()).filter(subject=OuterRef("subject"), gpc_conflict=True)
    return (
        GpcSignalReceipt.objects.using(reports_database())
        .filter(organization=organization, first_received_at__gte=period.since, first_received_at__lt=period.until)
        .aggregate(
            received=Count("id"),
            honored=Count("id", filter=Q(is_honored=True)),
            conflicts=Count("id", filter=Q(Exists(conflicted))),
        )
    )


def _blocked_by_reason(*, organization: Organization, period: Period) -> list[dict[str, Any]]:
    """Refusals per recipient and reason; unnests the JSON reasons in SQL (PostgreSQL, or SQLite json_each).

    The period's refusals are first counted per distinct (recipient, reasons) list, which are few, and only those
    lists are unnested: a stamp naming a reason twice still counts once, and the plan stays cheap (unnesting every
    stamp made PostgreSQL expect a hundred rows a stamp and JIT-compile the query)."""
    if connections[reports_database()].vendor == "postgresql":
        unnest = "CROSS JOIN LATERAL jsonb_array_elements(g.reasons::jsonb) AS r(value)"
        reason = "r.value ->> 'reason'"
    else:
        unnest = "CROSS JOIN json_each(g.reasons) AS r"
        reason = "json_extract(r.value, '$.reason')"
    sql = f"""
        SELECT rc.key, x.reason, CAST(SUM(x.stamps) AS BIGINT)
        FROM (
            SELECT DISTINCT g.recipient_id, g.reasons, g.stamps, {reason} AS reason
            FROM (
                SELECT s.recipient_id, s.reasons, COUNT(*) AS stamps
                FROM {StampRecord._meta.db_table} s
                WHERE s.organization_id = %s AND s.decision = %s AND s.created_at >= %s AND s.created_at < %s
                GROUP BY s.recipient_id, s.reasons
            ) AS g
            {unnest}
        ) AS x
        JOIN {StampRecord._meta.get_field("recipient").related_model._meta.db_table} rc ON rc.id = x.recipient_id
        GROUP BY rc.key, x.reason
        ORDER BY rc.key, x.reason
    """  # noqa: S608 (table names from the models; values are parameters)
    with connections[reports_database()].cursor() as cursor:
        cursor.execute(sql, [organization.pk, StampDecision.BLOCK, period.since, period.until])
        rows = cursor.fetchall()
    return [{"recipient": key, "reason": reason, "count": count} for key, reason, count in rows]


def stamping_figures(*, organization: Organization, period: Period) -> dict[str, Any]:
    per_recipient = (
        StampRecord.objects.using(reports_database())
        .filter(organization=organization, created_at__gte=period.since, created_at__lt=period.until)
        .values("recipient__key")
        .annotate(
            stamped=Count("id", filter=Q(decision=StampDecision.ALLOW)),
            refused=Count("id", filter=Q(decision=StampDecision.BLOCK)),
        )
        .order_by("recipient__key")
    )
    open_alerts = (
        ProvenanceAlert.objects.using(reports_database())
        .filter(organization=organization, status=AlertStatus.OPEN)
        .count()
    )
    return {
        "per_recipient": [
            {"recipient": row["recipient__key"], "stamped": row["stamped"], "refused": row["refused"]}
            for row in per_recipient
        ],
        "refused_by_reason": _blocked_by_reason(organization=organization, period=period),
        "open_alerts": open_alerts,
    }


def dsar_figures(*, organization: Organization, period: Period, today: date) -> dict[str, Any]:
    # A join rather than a subquery per request: a request is completed at most once (completed is final,
    # dsar.services.LEGAL_TRANSITIONS), so the join neither drops nor repeats a request.
    requests = (
        DataSubjectRequest.objects.using(reports_database())
        .filter(organization=organization)
        .annotate(
            completion=FilteredRelation("transitions", condition=Q(transitions__to_status=RequestStatus.COMPLETED)),
            completed_at=F("completion__at"),
        )
    )
    in_period = Q(received_at__gte=period.since, received_at__lt=period.until)
    closed_in_period = Q(completed_at__gte=period.since, completed_at__lt=period.until)
    by_type = (
        requests.filter(in_period | closed_in_period)
        .values("type", "regime")
        .annotate(
            received=Count("id", filter=in_period),
            completed=Count("id", filter=closed_in_period),
        )
        .order_by("type", "regime")
    )
    closed = requests.filter(closed_in_period)
    durations: dict[str, Any] = {
        "completed": Count("id"),
        "on_time": Count("id", filter=Q(completed_at__date__lte=F("due_on"))),
    }
    if connections[reports_database()].vendor == "postgresql":
        days = DaysBetween(F("completed_at"), F("received_at"))
        durations["median_days"] = PercentileCont(days, 0.5)
        durations["p90_days"] = PercentileCont(days, 0.9)
    closing = closed.aggregate(**durations)
    open_requests = (
        requests.exclude(status__in=FINAL)
        .annotate(days_left=DateDiff(F("due_on"), Value(today, output_field=DateField())))
        .values("public_id", "type", "regime", "status", "due_on", "days_left")
        .order_by("due_on", "public_id")[:OPEN_REQUESTS_LISTED]
    )
    is_open = ~Q(status__in=FINAL)
    totals = (
        DataSubjectRequest.objects.using(reports_database())
        .filter(organization=organization)
        .aggregate(
            open_total=Count("id", filter=is_open),
            overdue_now=Count("id", filter=is_open & Q(due_on__lt=today)),
            due_within_7_days=Count("id", filter=is_open & Q(due_on__gte=today, due_on__lte=today + timedelta(days=7))),
            extensions_used=Count("id", filter=in_period & Q(is_extended=True)),
        )
    )

    def rounded(value: float | None) -> float | None:
        return round(value, 1) if value is not None else None

    return {
        "by_type_and_regime": list(by_type),
        "on_time_rate": _rate(closing["on_time"], closing["completed"]),
        "median_days_to_close": rounded(closing.get("median_days")),
        "p90_days_to_close": rounded(closing.get("p90_days")),
        "open": [{**row, "due_on": row["due_on"].isoformat()} for row in open_requests],
        **totals,
    }


def ledger_figures(*, organization: Organization) -> dict[str, Any] | None:
    run = (
        LedgerVerificationRun.objects.using(reports_database())
        .filter(organization=organization)
        .order_by("-verified_at", "-id")
        .first()
    )
    if run is None:
        return None
    return {
        "verified_at": run.verified_at.isoformat(),
        "is_valid": run.is_valid,
        "subjects_checked": run.subjects_checked,
        "events_checked": run.events_checked,
    }


SECTIONS = ("consent", "provenance", "gpc", "stamping", "dsar", "ledger")


def compliance_report(
    *,
    organization: Organization,
    period: Period,
    now: datetime | None = None,
    sections: Iterable[str] = SECTIONS,
) -> dict[str, Any]:
    """The figures of the compliance report for one organization and period: every section, or only those
    named (a CSV of one table needs one section's queries)."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    figures: dict[str, Any] = {
        "consent": lambda: consent_figures(organization=organization, period=period, now=now),
        "provenance": lambda: provenance_figures(organization=organization, period=period),
        "gpc": lambda: gpc_figures(organization=organization, period=period),
        "stamping": lambda: stamping_figures(organization=organization, period=period),
        "dsar": lambda: dsar_figures(organization=organization, period=period, today=today),
        "ledger": lambda: ledger_figures(organization=organization),
    }
    wanted = set(sections)
    return {
        "period": {"from": period.start.isoformat(), "to": period.end.isoformat()},
        "generated_at": now.isoformat(),
        **{name: figures[name]() for name in SECTIONS if name in wanted},
    }
