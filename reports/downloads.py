"""The report as files: one CSV per table, the whole report as PDF."""

from __future__ import annotations

import csv
import io
from typing import Any

from reports.layout import Table

# Cells a spreadsheet would run as a formula (OWASP "CSV injection"); prefixed with ' when they are text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def table_csv(table: Table) -> str:
    """RFC 4180 CSV: a header of column keys, then raw values (shares as fractions 0..1, dates ISO 8601)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.key for column in table.columns])
    writer.writerows([_csv_cell(value) for value in row] for row in table.rows)
    return buffer.getvalue()


def report_pdf(html: str) -> bytes:
    """The report page rendered for print (A4) by WeasyPrint; the HTML must not reference outside resources."""
    # Imported here: WeasyPrint loads Pango through cffi, which only the PDF needs.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # data: URLs only: a report never makes the server read a file or call a host.
    fetcher = URLFetcher(allowed_protocols=("data",), fail_on_errors=True)
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf
