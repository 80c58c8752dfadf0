"""The finance commands end to end on a SQLite file: import a statement, reconcile it, export a
report to CSV and XLSX, close a period, each as the principal whose token is in `LEDGER_TOKEN`,
with that principal's authority and scope; only the public market report needs no token."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from ledger.domain.access import Role
from ledger.domain.registry import Party, PartyKind
from ledger.entrypoints import cli
from ledger.entrypoints.acting import TOKEN_VARIABLE
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import journal
from tests.factories import actor, setup_registry, token_for, transfer


@pytest.fixture
def tokens(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[Role, str]:
    """A ledger file with E01's cash (10.00 CNY deposited on 2 March 2026); the tokens of a
    finance principal and of E01's representative. The finance token is in `LEDGER_TOKEN`."""
    path = tmp_path / "ledger.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    store = Store(create_ledger_engine(url))
    setup_registry(store, "E01", "E02")
    with store() as uow:
        for code in ("E01", "E02"):
            uow.registry.add_party(Party(code, PartyKind.ENTERPRISE, code), uow.now())
        uow.commit()
    command = transfer("dep-1", "ISSUANCE", "E01", "10.00", "CNY")
    journal.post_entry(
        store, dataclasses.replace(command, effective_at=datetime(2026, 3, 2, 2, tzinfo=UTC))
    )
    issued = {
        Role.FINANCE: token_for(store, actor(store, Role.FINANCE)),
        Role.ENTERPRISE: token_for(store, actor(store, Role.ENTERPRISE, "E01")),
    }
    store.dispose()
    monkeypatch.setenv(TOKEN_VARIABLE, issued[Role.FINANCE])
    return issued


def test_import_reconcile_export_and_close_from_the_command_line(
    tokens: dict[Role, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
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


def test_an_export_holds_what_the_token_s_principal_may_see(
    tokens: dict[Role, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    output = tmp_path / "out.csv"
    monkeypatch.setenv(TOKEN_VARIABLE, tokens[Role.ENTERPRISE])
    own = ["export", "holdings", "--party", "E01", "--output", str(output)]
    assert cli.main(own) == 0
    assert output.read_text().splitlines()[1].startswith("E01,CNY,CNY,10.00")

    capsys.readouterr()
    other = ["export", "holdings", "--party", "E02", "--output", str(tmp_path / "e02.csv")]
    assert cli.main(other) == 1
    assert "party_not_found" in capsys.readouterr().err  # as if E02 did not exist
    trial = ["export", "trial-balance", "--output", str(tmp_path / "tb.csv")]
    assert cli.main(trial) == 1
    assert "forbidden" in capsys.readouterr().err
    statement = tmp_path / "bank.csv"
    statement.write_text("date,reference,amount,counterparty,description\n2026-03-02,r,1.00,A,x\n")
    assert cli.main(["import-statement", str(statement), "--account", "E01"]) == 1
    assert "forbidden" in capsys.readouterr().err

    monkeypatch.delenv(TOKEN_VARIABLE)
    assert cli.main(trial) == 1
    assert "unauthenticated" in capsys.readouterr().err
    market = ["export", "market", "--output", str(tmp_path / "market.csv")]
    assert cli.main(market) == 0  # public
