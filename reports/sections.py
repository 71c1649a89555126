"""The report's figures arranged for people: per section a text summary, key figures, SVG charts and
tables. The pages, the CSV downloads and the PDF all render from these, so they always agree.

Pure functions over the dict that ``reports.selectors.compliance_report`` returns; no ORM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from reports.charts import Series, bar_chart, line_chart
from reports.layout import Column, Section, Table, number, share

CONSENT_ACTIONS = (("grants", "Grants"), ("refusals", "Refusals"), ("withdrawals", "Withdrawals"))


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count:,} {singular if count == 1 else (plural or singular + 's')}"


def _days(period: Mapping[str, str], today: date) -> list[str]:
    start = date.fromisoformat(period["from"])
    end = min(date.fromisoformat(period["to"]), today)
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def consent_section(figures: Mapping[str, Any], period: Mapping[str, str], today: date) -> Section:
    daily = figures["daily"]
    rates = figures["opt_in_rate"]
    expiring: Mapping[str, int] = figures["expiring_next_30_days"]
    stale: Mapping[str, int] = figures["stale_grants"]
    totals = {key: sum(row[key] for row in daily) for key, _ in CONSENT_ACTIONS}
    days = _days(period, today)
    by_purpose: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for row in daily:
        by_purpose[row["purpose"]][row["day"]] = row
    charts = [
        line_chart(
            f"Consent events a day: {purpose}",
            days,
            [Series(label, [rows.get(day, {}).get(key, 0) for day in days]) for key, label in CONSENT_ACTIONS],
        )
        for purpose, rows in sorted(by_purpose.items())
    ]
    rated = [row for row in rates if row["rate"] is not None]
    charts.append(
        bar_chart(
            "Opt-in rate per purpose (grants / (grants + refusals))",
            [row["purpose"] for row in rated],
            [Series("Opt-in rate", [row["rate"] for row in rated])],
            percent=True,
        )
    )
    attention = sorted(set(expiring) | set(stale))
    charts.append(
        bar_chart(
            "Consents needing attention per purpose",
            attention,
            [
                Series("Expiring in 30 days", [expiring.get(p, 0) for p in attention]),
                Series("Stale after a material policy change", [stale.get(p, 0) for p in attention]),
            ],
        )
    )
    summary = [
        f"In the period, {_plural(totals['grants'], 'consent')} were granted, {_plural(totals['refusals'], 'refusal')} "
        f"and {_plural(totals['withdrawals'], 'withdrawal')} recorded."
    ]
    if rated:
        best = max(rated, key=lambda row: row["rate"])
        worst = min(rated, key=lambda row: row["rate"])
        summary.append(
            f"The opt-in rate was highest for {best['purpose']} ({share(best['rate'])}) "
            f"and lowest for {worst['purpose']} ({share(worst['rate'])})."
        )
    summary.append(
        f"{_plural(sum(expiring.values()), 'consent')} in force will expire in the next 30 days; "
        f"{_plural(sum(stale.values()), 'grant')} predate a material policy change and should be renewed."
    )
    return Section(
        key="consent",
        title="Consent",
        summary=tuple(summary),
        figures=(
            ("Grants", number(totals["grants"])),
            ("Refusals", number(totals["refusals"])),
            ("Withdrawals", number(totals["withdrawals"])),
            ("Expiring in 30 days", number(sum(expiring.values()))),
            ("Stale grants", number(sum(stale.values()))),
        ),
        charts=tuple(charts),
        tables=(
            Table(
                "consent-opt-in-rate",
                "Opt-in rate per purpose",
                (
                    Column("purpose", "Purpose"),
                    Column("grants", "Grants", "count"),
                    Column("refusals", "Refusals", "count"),
                    Column("rate", "Opt-in rate", "share"),
                ),
                tuple((r["purpose"], r["grants"], r["refusals"], r["rate"]) for r in rates),
            ),
            Table(
                "consent-attention",
                "Consents expiring in the next 30 days and grants made stale by a material policy change",
                (
                    Column("purpose", "Purpose"),
                    Column("expiring", "Expiring in 30 days", "count"),
                    Column("stale", "Stale grants", "count"),
                ),
                tuple((p, expiring.get(p, 0), stale.get(p, 0)) for p in attention),
            ),
            Table(
                "consent-daily",
                "Grants, refusals and withdrawals per purpose and day",
                (
                    Column("purpose", "Purpose"),
                    Column("day", "Day (UTC)", "date"),
                    Column("grants", "Grants", "count"),
                    Column("refusals", "Refusals", "count"),
                    Column("withdrawals", "Withdrawals", "count"),
                ),
                tuple((r["purpose"], r["day"], r["grants"], r["refusals"], r["withdrawals"]) for r in daily),
            ),
        ),
    )


def provenance_section(figures: Mapping[str, Any]) -> Section:
    subjects, stamps = figures["subjects"], figures["stamped_payloads"]
    missing_dpa: Sequence[str] = figures["sources_without_dpa"]
    measures = (
        ("with_source", "Source identifier"),
        ("with_consent_timestamp", "Consent timestamp"),
        ("with_policy_version", "Policy version"),
    )
    rows = [
        ("subjects", "People (subjects)", subjects["total"], *(subjects[f"{k}_share"] for k, _ in measures), None),
        (
            "stamped_payloads",
            "Stamped payloads",
            stamps["total"],
            *(stamps[f"{k}_share"] for k, _ in measures),
            stamps["complete_share"],
        ),
    ]
    chart = bar_chart(
        "Share of records carrying each provenance field",
        [label for _, label in measures],
        [
            Series("People", [subjects[f"{k}_share"] or 0 for k, _ in measures]),
            Series("Stamped payloads", [stamps[f"{k}_share"] or 0 for k, _ in measures]),
        ],
        percent=True,
    )
    summary = [
        f"Of {_plural(subjects['total'], 'person', 'people')} on record, {share(subjects['with_source_share'])} "
        f"have a source identifier, {share(subjects['with_consent_timestamp_share'])} a consent timestamp and "
        f"{share(subjects['with_policy_version_share'])} a policy version.",
        f"Of {_plural(stamps['total'], 'payload')} stamped in the period, {share(stamps['complete_share'])} "
        "carried all three.",
        (
            f"{_plural(len(missing_dpa), 'source')} without a data processing agreement on file: "
            f"{', '.join(missing_dpa)}."
            if missing_dpa
            else "Every active source has a data processing agreement on file."
        ),
    ]
    return Section(
        key="provenance",
        title="Provenance completeness",
        summary=tuple(summary),
        figures=(
            ("People with a source", share(subjects["with_source_share"])),
            ("Complete stamps", share(stamps["complete_share"])),
            ("Sources without DPA", number(len(missing_dpa))),
        ),
        charts=(chart,),
        tables=(
            Table(
                "provenance-completeness",
                "Share of records with a source identifier, a consent timestamp and a policy version",
                (
                    Column("measure", "Measure"),
                    Column("records", "Records"),
                    Column("total", "Total", "count"),
                    *(Column(f"{k}_share", label, "share") for k, label in measures),
                    Column("complete_share", "All three", "share"),
                ),
                tuple(rows),
            ),
            Table(
                "sources-without-dpa",
                "Active sources without a data processing agreement on file",
                (Column("source", "Source"),),
                tuple((key,) for key in missing_dpa),
            ),
        ),
    )


def gpc_section(figures: Mapping[str, int]) -> Section:
    labels = ("Signals received", "Signals honored", "Conflicts with earlier opt-ins")
    values = (figures["received"], figures["honored"], figures["conflicts"])
    summary = (
        f"{_plural(figures['received'], 'Global Privacy Control signal')} received in the period, "
        f"{number(figures['honored'])} honored as an opt-out of sale or sharing.",
        f"{_plural(figures['conflicts'], 'person', 'people')} sent GPC after opting in; "
        "their opt-out is honored and they may be asked to confirm the earlier choice.",
    )
    return Section(
        key="gpc",
        title="Global Privacy Control",
        summary=summary,
        figures=tuple(zip(labels, (number(v) for v in values), strict=True)),
        charts=(bar_chart("Global Privacy Control signals", list(labels), [Series("Count", list(values))]),),
        tables=(
            Table(
                "gpc",
                "Global Privacy Control signals",
                (Column("measure", "Measure"), Column("count", "Count", "count")),
                tuple(zip(labels, values, strict=True)),
            ),
        ),
    )


def stamping_section(figures: Mapping[str, Any]) -> Section:
    recipients = figures["per_recipient"]
    reasons = figures["refused_by_reason"]
    stamped = sum(r["stamped"] for r in recipients)
    refused = sum(r["refused"] for r in recipients)
    by_reason: dict[str, int] = defaultdict(int)
    for row in reasons:
        by_reason[row["reason"]] += row["count"]
    summary = [
        f"{_plural(stamped, 'payload')} stamped and {_plural(refused, 'payload')} refused across "
        f"{_plural(len(recipients), 'destination')}."
    ]
    if by_reason:
        top_reason, top_count = max(sorted(by_reason.items()), key=lambda item: item[1])  # ties: first by name
        summary.append(f"The most frequent reason for a refusal was {top_reason} ({number(top_count)}).")
    summary.append(f"{_plural(figures['open_alerts'], 'provenance alert')} open.")
    return Section(
        key="stamping",
        title="Stamping",
        summary=tuple(summary),
        figures=(
            ("Stamped", number(stamped)),
            ("Refused", number(refused)),
            ("Open alerts", number(figures["open_alerts"])),
        ),
        charts=(
            bar_chart(
                "Payloads stamped and refused per destination",
                [r["recipient"] for r in recipients],
                [
                    Series("Stamped", [r["stamped"] for r in recipients]),
                    Series("Refused", [r["refused"] for r in recipients]),
                ],
                stacked=True,
            ),
            bar_chart(
                "Refusals per reason", sorted(by_reason), [Series("Refused", [by_reason[k] for k in sorted(by_reason)])]
            ),
        ),
        tables=(
            Table(
                "stamping-destinations",
                "Payloads stamped and refused per destination",
                (
                    Column("recipient", "Destination"),
                    Column("stamped", "Stamped", "count"),
                    Column("refused", "Refused", "count"),
                ),
                tuple((r["recipient"], r["stamped"], r["refused"]) for r in recipients),
            ),
            Table(
                "stamping-refusals",
                "Refusals per destination and reason (a payload refused for two reasons counts under both)",
                (Column("recipient", "Destination"), Column("reason", "Reason"), Column("count", "Refused", "count")),
                tuple((r["recipient"], r["reason"], r["count"]) for r in reasons),
            ),
        ),
    )


def dsar_section(figures: Mapping[str, Any]) -> Section:
    rows = figures["by_type_and_regime"]
    received = sum(r["received"] for r in rows)
    completed = sum(r["completed"] for r in rows)
    labels = [f"{r['type']} ({r['regime'].upper()})" for r in rows]
    summary = [
        f"{_plural(received, 'request')} received and {_plural(completed, 'request')} completed in the period; "
        f"{share(figures['on_time_rate'])} of those completed were on time.",
        f"Requests took a median of {number(figures['median_days_to_close'])} days to close "
        f"(90th percentile {number(figures['p90_days_to_close'])} days).",
        f"{_plural(figures['open_total'], 'request')} open now, {number(figures['overdue_now'])} overdue and "
        f"{number(figures['due_within_7_days'])} due within 7 days; {_plural(figures['extensions_used'], 'extension')} "
        "used on requests received in the period.",
    ]
    listed = figures["open"]
    return Section(
        key="dsar",
        title="Data subject requests",
        summary=tuple(summary),
        figures=(
            ("Received", number(received)),
            ("Completed", number(completed)),
            ("On time", share(figures["on_time_rate"])),
            ("Median days to close", number(figures["median_days_to_close"])),
            ("90th percentile days", number(figures["p90_days_to_close"])),
            ("Open now", number(figures["open_total"])),
            ("Overdue now", number(figures["overdue_now"])),
            ("Extensions used", number(figures["extensions_used"])),
        ),
        charts=(
            bar_chart(
                "Requests received and completed per type and regime",
                labels,
                [
                    Series("Received", [r["received"] for r in rows]),
                    Series("Completed", [r["completed"] for r in rows]),
                ],
            ),
        ),
        tables=(
            Table(
                "dsar-types",
                "Requests received and completed per type and regime",
                (
                    Column("type", "Type"),
                    Column("regime", "Regime"),
                    Column("received", "Received", "count"),
                    Column("completed", "Completed", "count"),
                ),
                tuple((r["type"], r["regime"], r["received"], r["completed"]) for r in rows),
            ),
            Table(
                "dsar-open",
                "Open requests, earliest due date first (overdue ones lead)",
                (
                    Column("public_id", "Request"),
                    Column("type", "Type"),
                    Column("regime", "Regime"),
                    Column("status", "Status"),
                    Column("due_on", "Due", "date"),
                    Column("days_left", "Days left", "days"),
                ),
                tuple(
                    (r["public_id"], r["type"], r["regime"], r["status"], r["due_on"], r["days_left"]) for r in listed
                ),
                note=(
                    f"The {len(listed)} most urgent of {number(figures['open_total'])} open requests."
                    if figures["open_total"] > len(listed)
                    else ""
                ),
            ),
        ),
    )


def ledger_section(figures: Mapping[str, Any] | None) -> Section:
    if figures is None:
        summary: tuple[str, ...] = ("The ledger has not been verified yet.",)
        rows: tuple[tuple[Any, ...], ...] = ()
        result = "never verified"
    else:
        result = "intact" if figures["is_valid"] else "BROKEN"
        summary = (
            f"The last verification, at {figures['verified_at']}, checked "
            f"{_plural(figures['subjects_checked'], 'person', 'people')} and "
            f"{_plural(figures['events_checked'], 'event')}: the hash chain was {result}.",
        )
        rows = ((figures["verified_at"], figures["is_valid"], figures["subjects_checked"], figures["events_checked"]),)
    return Section(
        key="ledger",
        title="Ledger integrity",
        summary=summary,
        figures=(("Last verification", result),),
        tables=(
            Table(
                "ledger",
                "Last ledger verification",
                (
                    Column("verified_at", "Verified at", "date"),
                    Column("is_valid", "Chain intact", "bool"),
                    Column("subjects_checked", "People checked", "count"),
                    Column("events_checked", "Events checked", "count"),
                ),
                rows,
            ),
        ),
    )


_BUILDERS: dict[str, Callable[[Mapping[str, Any], date], Section]] = {
    "consent": lambda report, today: consent_section(report["consent"], report["period"], today),
    "provenance": lambda report, today: provenance_section(report["provenance"]),
    "gpc": lambda report, today: gpc_section(report["gpc"]),
    "stamping": lambda report, today: stamping_section(report["stamping"]),
    "dsar": lambda report, today: dsar_section(report["dsar"]),
    "ledger": lambda report, today: ledger_section(report["ledger"]),
}
# The section each table belongs to: a CSV download computes only that section's figures.
TABLE_SECTIONS: dict[str, str] = {
    "consent-opt-in-rate": "consent",
    "consent-attention": "consent",
    "consent-daily": "consent",
    "provenance-completeness": "provenance",
    "sources-without-dpa": "provenance",
    "gpc": "gpc",
    "stamping-destinations": "stamping",
    "stamping-refusals": "stamping",
    "dsar-types": "dsar",
    "dsar-open": "dsar",
    "ledger": "ledger",
}


def report_sections(report: Mapping[str, Any], *, today: date) -> tuple[Section, ...]:
    """The sections whose figures the report holds, in the report's order."""
    return tuple(build(report, today) for key, build in _BUILDERS.items() if key in report)
