"""A DataTable whose text cells are plain text, never Rich markup.

DataTable renders a `str` cell with `Text.from_markup`: an engine reason, an IBKR message or
Claude's one-line assessment with "[b]" or "[x]" in it would lose that text or be styled by
it, and parsing markup costs a quarter of filling a 300-row table. Every putdesk table adds
and updates cells through here, so a `str` is shown exactly as written (styled cells are
`rich.text.Text` already).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellType, ColumnKey, RowKey


def plain(value: Any) -> Any:
    return Text(value) if isinstance(value, str) else value


class PlainTable(DataTable[CellType]):
    """`add_row` and `update_cell` take `str` cells as plain text."""

    def add_row(self, *cells: CellType, **kwargs: Any) -> RowKey:
        return super().add_row(*(plain(c) for c in cells), **kwargs)

    def update_cell(
        self,
        row_key: RowKey | str,
        column_key: ColumnKey | str,
        value: CellType,
        *,
        update_width: bool = False,
    ) -> None:
        super().update_cell(row_key, column_key, plain(value), update_width=update_width)
