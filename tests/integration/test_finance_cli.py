"""The finance commands end to end on a SQLite file: import a statement, reconcile it, export a
report to CSV and XLSX, close a period."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ledger.entrypoints import cli
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import journal
from tests.factories import setup_registry, transfer


@pytest.fixture
def database(tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    path = tmp_path / "ledger.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    store = Store(create_ledger_engine(url))
    setup_registry(store, "E01")
    command = transfer("dep-1", "ISSUANCE", "E01", "10.00", "CNY")
    journal.post_entry(
        store, dataclasses.replace(command, effective_at=datetime(2026, 3, 2, 2, tzinfo=UTC))
    )
    store.dispose()
    return url


def test_import_reconcile_export_and_close_from_the_command_line(
    database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    statement = tmp_path / "bank.csv"
    statement.write_text(
        "date,reference,amount,counterparty,description\n2026-03-02,dep-1,10.00,A,x\n"
    )
    assert cli.main(["import-statement", str(statement), "--account", "E01"]) == 0
    import_id = capsys.readouterr().out.split(":")[0]
    assert cli.main(["import-statement", str(statement), "--account", "E01"]) == 0
    assert "already imported" in capsys.readouterr().out

    assert cli.main(["reconcile", import_id]) == 0
    assert "1 matches, 0 unmatched statement lines, 0 unmatched postings" in capsys.readouterr().out

    csv_file, xlsx_file = tmp_path / "tb.csv", tmp_path / "tb.xlsx"
    assert (
        cli.main(["export", "trial-balance", "--instrument", "CNY", "--output", str(csv_file)]) == 0
    )
    assert csv_file.read_text().splitlines()[-1] == "total,,,10.00,10.00"
    assert (
        cli.main(["export", "trial-balance", "--instrument", "CNY", "--output", str(xlsx_file)])
        == 0
    )
    sheet = load_workbook(xlsx_file).active
    assert sheet is not None and sheet.cell(sheet.max_row, 1).value == "total"

    assert cli.main(["close-period", "2026-03"]) == 0
    assert "closed (1 entries)" in capsys.readouterr().out
    assert cli.main(["close-period", "2100-12"]) == 1
    assert "period_not_ended" in capsys.readouterr().err
