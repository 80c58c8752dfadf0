"""Report tables as CSV, JSON and XLSX, produced as the rows come (bounded memory).

Amounts are exact decimals in every format: text in CSV and JSON ("1500.000"), numbers in XLSX
with the row's number of places as the cell format (openpyxl writes the Decimal's digits). The
last row of CSV and XLSX is `total` with the sums of the summed columns; JSON carries `totals`.
Instants are ISO 8601 text (a spreadsheet cell has no time zone).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import IO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from ledger.domain.finance import Cell, ReportTable

FORMATS = ("json", "csv", "xlsx")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
CHUNK_ROWS = 500  # rows per CSV chunk handed to the client


def cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _total_row(table: ReportTable) -> list[Cell]:
    row: list[Cell] = ["total", *[None] * (len(table.columns) - 1)]
    for index, column in enumerate(table.columns):
        if column.summed:
            row[index] = table.totals.get(column.name, 0)
    return row


def csv_chunks(table: ReportTable) -> Iterator[str]:
    """The CSV text in chunks of `CHUNK_ROWS` rows: header, rows, then the total row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([column.name for column in table.columns])
    for number, row in enumerate(table, start=1):
        writer.writerow([cell_text(value) for value in row])
        if number % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if any(column.summed for column in table.columns):
        writer.writerow([cell_text(value) for value in _total_row(table)])
    yield buffer.getvalue()


def json_chunks(table: ReportTable) -> Iterator[str]:
    """A JSON document `{report, parameters, columns, rows: [{column: text}], totals}`."""
    names = [column.name for column in table.columns]
    yield json.dumps({"report": table.name, "parameters": table.parameters})[:-1]
    yield ', "columns": ' + json.dumps(names) + ', "rows": ['
    for number, row in enumerate(table):
        separator = ", " if number else ""
        yield separator + json.dumps(dict(zip(names, map(cell_text, row), strict=True)))
    totals = {name: cell_text(value) for name, value in table.totals.items()}
    yield '], "totals": ' + json.dumps(totals) + "}"


def write(table: ReportTable, name: str, target: IO[bytes]) -> None:
    """Write the table to a file in format `name` (csv, xlsx or json), as the API streams it."""
    if name == "xlsx":
        write_xlsx(table, target)
        return
    chunks = csv_chunks(table) if name == "csv" else json_chunks(table)
    for chunk in chunks:
        target.write(chunk.encode("utf-8"))


def write_xlsx(table: ReportTable, target: IO[bytes]) -> None:
    """Write the table as a one-sheet workbook (openpyxl's write-only mode streams the rows to
    a temporary file, so memory stays flat whatever the number of rows)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.name[:31])
    bold = Font(bold=True)
    sheet.append([_cell(sheet, name, bold) for name in (c.name for c in table.columns)])
    for row in table:
        sheet.append([_cell(sheet, value) for value in row])
    if any(column.summed for column in table.columns):
        sheet.append([_cell(sheet, value, bold) for value in _total_row(table)])
    workbook.save(target)


def _cell(sheet: object, value: Cell, font: Font | None = None) -> object:
    if isinstance(value, datetime):
        value = value.isoformat()
    cell = WriteOnlyCell(sheet, value=value)  # type: ignore[arg-type]
    if isinstance(value, Decimal):
        places = max(-value.as_tuple().exponent, 0)  # type: ignore[operator]
        cell.number_format = "0" if places == 0 else "0." + "0" * places
    if font is not None:
        cell.font = font
    return cell
