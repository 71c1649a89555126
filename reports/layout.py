"""The shapes the report is laid out in (sections, tables, columns, cells) and how values read on the page.
Pure: the pages, the CSV downloads and the PDF share them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

LONG_TABLE_ROWS = 15  # longer tables fold on the page and are cut in the PDF (the CSV has every row)
PRINTED_ROWS = 40


@dataclass(frozen=True)
class Cell:
    text: str
    is_numeric: bool


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text | count | share | days | date | bool

    @property
    def is_numeric(self) -> bool:
        return self.kind in ("count", "share", "days")


@dataclass(frozen=True)
class Table:
    key: str  # also the CSV file name: <key>.csv
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    note: str = ""

    @property
    def display(self) -> list[list[Cell]]:
        return display_rows(self)

    @property
    def is_long(self) -> bool:
        return len(self.rows) > LONG_TABLE_ROWS


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    summary: tuple[str, ...]
    figures: tuple[tuple[str, str], ...] = ()
    charts: tuple[str, ...] = ()
    tables: tuple[Table, ...] = field(default_factory=tuple)


def share(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f}%".replace(".0%", "%")


def number(value: int | float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def cell_text(value: Any, kind: str) -> str:
    """How a table cell reads on the page and in the PDF (the CSV keeps raw values)."""
    if value is None:
        return "n/a"
    if kind == "share":
        return share(value)
    if kind == "bool":
        return "yes" if value else "no"
    if kind in ("count", "days"):
        return number(value)
    return str(value)


def report_table(sections: Sequence[Section], key: str) -> Table | None:
    return next((table for section in sections for table in section.tables if table.key == key), None)


def display_rows(table: Table) -> list[list[Cell]]:
    """The table's cells as they read on the page and in the PDF."""
    return [
        [
            Cell(cell_text(value, column.kind), column.is_numeric)
            for value, column in zip(row, table.columns, strict=True)
        ]
        for row in table.rows
    ]
