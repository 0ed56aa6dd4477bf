"""The shape every report table has (handlers/report_tables.py draws them; feature modules such as
handlers/outcomes.py fill some): a title, columns and rows of cells. A cell is a number or text;
None is a hidden or empty cell (groups of fewer than five people are hidden)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Cell", "Table", "cell", "pct"]

Cell = str | int | float | None


@dataclass(frozen=True)
class Table:
    section: str
    title: str
    columns: tuple[str, ...]  # the first names the row labels
    rows: tuple[tuple[Cell, ...], ...]
    plot: tuple[int, ...] = ()  # numeric columns a chart draws (bars for each row)
    note: str = ""


def cell(value: Cell) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None
