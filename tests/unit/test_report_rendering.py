"""Report rendering without a database: SVG charts, the sections' words and tables, CSV cells."""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any
from xml.etree import ElementTree

from hypothesis import given
from hypothesis import strategies as st

from reports.charts import Series, bar_chart, empty_chart, line_chart
from reports.downloads import table_csv
from reports.layout import Column, Table, report_table
from reports.sections import report_sections

NS = "{http://www.w3.org/2000/svg}"


def bars(svg: str) -> list[ElementTree.Element]:
    return [rect for rect in ElementTree.fromstring(svg).iter(f"{NS}rect") if rect.find(f"{NS}title") is not None]


def test_bar_lengths_are_proportional_to_the_values() -> None:
    svg = bar_chart("Refusals", ["a", "b"], [Series("Refused", [10, 5])])

    first, second = (float(rect.get("width", "0")) for rect in bars(svg))

    assert first == 2 * second > 0


def test_percent_axis_ends_at_100_percent() -> None:
    svg = bar_chart("Rate", ["x"], [Series("Opt-in", [0.5])], percent=True)
    root = ElementTree.fromstring(svg)

    labels = [text.text for text in root.iter(f"{NS}text")]

    assert "100%" in labels
    assert "50%" in labels
    assert "Rate" in labels  # the visible title


def test_count_axis_has_whole_number_ticks() -> None:
    svg = bar_chart("Signals", ["received", "honored"], [Series("Count", [3, 2])])

    ticks = [t.text for t in ElementTree.fromstring(svg).iter(f"{NS}text") if t.get("text-anchor") == "middle"]

    assert ticks == ["0", "1", "2", "3", "4", "5"]


def test_chart_names_itself_for_screen_readers() -> None:
    svg = bar_chart("Stamps per destination", ["crm"], [Series("Stamped", [3]), Series("Refused", [1])], stacked=True)
    root = ElementTree.fromstring(svg)

    title, desc = root.find(f"{NS}title"), root.find(f"{NS}desc")

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"  # type: ignore[union-attr]
    assert desc.text == "crm: Stamped 3, Refused 1"  # type: ignore[union-attr]


def test_labels_are_escaped() -> None:
    svg = bar_chart("<b>", ['<script>alert("x")</script>'], [Series("&", [1])])

    assert "<script>" not in svg
    assert ElementTree.fromstring(svg).find(f"{NS}title").text == "<b>"  # type: ignore[union-attr]


def test_line_chart_has_a_point_a_day_per_series() -> None:
    days = ["2026-01-01", "2026-01-02", "2026-01-03"]
    svg = line_chart("Events", days, [Series("Grants", [1, 0, 2]), Series("Refusals", [0, 0, 1])])

    lines = list(ElementTree.fromstring(svg).iter(f"{NS}polyline"))

    assert [len(line.get("points", "").split()) for line in lines] == [3, 3]


def test_no_data_draws_a_message_not_an_empty_axis() -> None:
    assert "No data in this period." in bar_chart("x", [], [])
    assert "No data in this period." in line_chart("x", ["2026-01-01"], [Series("a", [0])])
    assert ElementTree.fromstring(empty_chart("x")).get("role") == "img"


@given(
    labels=st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=6),
    values=st.lists(st.integers(min_value=0, max_value=10**9), min_size=6, max_size=6),
    stacked=st.booleans(),
)
def test_any_labels_and_values_make_well_formed_svg(labels: list[str], values: list[int], stacked: bool) -> None:
    labels = [label.replace("\x00", "") or "?" for label in labels]
    labels = ["".join(c for c in label if c.isprintable()) or "?" for label in labels]
    series = [Series("a", values[: len(labels)]), Series("b", values[::-1][: len(labels)])]

    root = ElementTree.fromstring(bar_chart("t", labels, series, stacked=stacked))

    assert all(float(rect.get("width", "0")) >= 0 for rect in root.iter(f"{NS}rect"))


def empty_report(**overrides: Any) -> dict[str, Any]:
    report: dict[str, Any] = {
        "period": {"from": "2026-01-01", "to": "2026-01-31"},
        "generated_at": "2026-02-01T00:00:00+00:00",
        "consent": {"daily": [], "opt_in_rate": [], "expiring_next_30_days": {}, "stale_grants": {}},
        "provenance": {
            "subjects": {
                "total": 0,
                "with_source": 0,
                "with_consent_timestamp": 0,
                "with_policy_version": 0,
                "with_source_share": None,
                "with_consent_timestamp_share": None,
                "with_policy_version_share": None,
            },
            "stamped_payloads": {
                "total": 0,
                "with_source": 0,
                "with_consent_timestamp": 0,
                "with_policy_version": 0,
                "complete": 0,
                "with_source_share": None,
                "with_consent_timestamp_share": None,
                "with_policy_version_share": None,
                "complete_share": None,
            },
            "sources_without_dpa": [],
        },
        "gpc": {"received": 0, "honored": 0, "conflicts": 0},
        "stamping": {"per_recipient": [], "refused_by_reason": [], "open_alerts": 0},
        "dsar": {
            "by_type_and_regime": [],
            "on_time_rate": None,
            "median_days_to_close": None,
            "p90_days_to_close": None,
            "open": [],
            "open_total": 0,
            "overdue_now": 0,
            "due_within_7_days": 0,
            "extensions_used": 0,
        },
        "ledger": None,
    }
    report.update(overrides)
    return report


def test_an_empty_organization_reads_sensibly() -> None:
    sections = report_sections(empty_report(), today=date(2026, 2, 1))
    text = " ".join(sentence for section in sections for sentence in section.summary)

    assert [s.key for s in sections] == ["consent", "provenance", "gpc", "stamping", "dsar", "ledger"]
    assert "0 consents were granted, 0 refusals and 0 withdrawals recorded." in text
    assert "Every active source has a data processing agreement on file." in text
    assert "n/a of those completed were on time" in text
    assert "The ledger has not been verified yet." in text


def test_a_broken_ledger_says_so() -> None:
    ledger = {"verified_at": "2026-02-01T00:00:00+00:00", "is_valid": False, "subjects_checked": 2, "events_checked": 9}

    section = report_sections(empty_report(ledger=ledger), today=date(2026, 2, 1))[-1]

    assert section.figures == (("Last verification", "BROKEN"),)
    assert "the hash chain was BROKEN" in section.summary[0]


def test_more_open_requests_than_listed_are_counted_in_a_note() -> None:
    dsar = {**empty_report()["dsar"], "open_total": 120}
    dsar["open"] = [
        {
            "public_id": f"R{n}",
            "type": "access",
            "regime": "gdpr",
            "status": "received",
            "due_on": "2026-02-09",
            "days_left": 8,
        }
        for n in range(50)
    ]

    table = report_table(report_sections(empty_report(dsar=dsar), today=date(2026, 2, 1)), "dsar-open")

    assert table is not None
    assert table.note == "The 50 most urgent of 120 open requests."


def test_csv_neutralises_spreadsheet_formulas_in_text_but_keeps_numbers() -> None:
    table = Table(
        "t",
        "T",
        (Column("name", "Name"), Column("days_left", "Days left", "days"), Column("ok", "OK", "bool")),
        (("=HYPERLINK(1)", -5, True), ("@SUM(A1)", 3, False), ("plain", None, True)),
    )

    rows = list(csv.reader(io.StringIO(table_csv(table))))

    assert rows == [
        ["name", "days_left", "ok"],
        ["'=HYPERLINK(1)", "-5", "true"],
        ["'@SUM(A1)", "3", "false"],
        ["plain", "", "true"],
    ]


def test_every_table_is_mapped_to_the_section_that_builds_it() -> None:
    from reports.sections import TABLE_SECTIONS

    built = {
        table.key: section.key
        for section in report_sections(empty_report(), today=date(2026, 2, 1))
        for table in section.tables
    }

    assert built == TABLE_SECTIONS


def test_a_report_holding_some_sections_builds_only_those() -> None:
    report = {key: value for key, value in empty_report().items() if key not in ("consent", "dsar")}

    assert [s.key for s in report_sections(report, today=date(2026, 2, 1))] == [
        "provenance",
        "gpc",
        "stamping",
        "ledger",
    ]
