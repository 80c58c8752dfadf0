"""The monitoring and tax commands act as the principal whose token is in `LEDGER_TOKEN`: its
scope, its role and its audit line, like any other caller (on a SQLite file)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from ledger.domain.access import Role
from ledger.entrypoints import cli
from ledger.entrypoints.acting import TOKEN_VARIABLE
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from tests.factories import NO_FOUR_EYES, actor, token_for
from tests.integration import monitoring_support as monitoring
from tests.integration import tax_support as tax


@pytest.fixture
def store(
    tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """A migrated SQLite file that the commands open through `LEDGER_DATABASE_URL`."""
    path = tmp_path / "ledger.db"
    path.write_bytes(sqlite_template.read_bytes())
    url = f"sqlite:///{path}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    opened = Store(create_ledger_engine(url), four_eyes=NO_FOUR_EYES)
    yield opened
    opened.dispose()


def log_in(store: Store, monkeypatch: pytest.MonkeyPatch, role: Role, party: str | None) -> str:
    """Put a token of a principal of `role` (acting as `party`) in `LEDGER_TOKEN`; its id."""
    who = actor(store, role, party)
    monkeypatch.setenv(TOKEN_VARIABLE, token_for(store, who))
    return who.id


def csv_file(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "march.csv"
    path.write_text(monitoring.HEADER + "".join(lines), encoding="utf-8")
    return str(path)


def test_import_cems_imports_as_the_tokens_principal_the_monitoring_network(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monitoring.build_outlets(store)
    unknown = csv_file(tmp_path, monitoring.line(monitoring.stamp(1, 0), outlet="E9,UNIT-1"))

    assert cli.main(["import-cems", unknown]) == 1
    assert TOKEN_VARIABLE in capsys.readouterr().err
    log_in(store, monkeypatch, Role.ENTERPRISE, "E1")  # never the enterprise's own data
    assert cli.main(["import-cems", unknown]) == 1
    assert "forbidden" in capsys.readouterr().err
    clerk = log_in(store, monkeypatch, Role.CEMS_NETWORK, None)
    assert cli.main(["import-cems", unknown]) == 1
    assert "unknown_outlet" in capsys.readouterr().err
    assert monitoring.count(store, "cems_imports") == 0

    own = csv_file(tmp_path, monitoring.line(monitoring.stamp(1, 0)))
    assert cli.main(["import-cems", own]) == 0
    assert "1 new hours" in capsys.readouterr().out
    assert cli.main(["import-cems", own]) == 0
    assert "already imported" in capsys.readouterr().out

    with store(read_only=True) as uow:
        audit = uow.access.list_audit(clerk, 0, 10)
    assert [(a.action, a.outcome, a.target[:4]) for a in audit] == [
        ("cems.import", "rejected", "cli:"),
        ("cems.import", "ok", "cli:"),
        ("cems.import", "ok", "cli:"),
    ]


def test_tax_and_file_return_act_as_the_tokens_principal(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    tax.build_tax_registry(store)
    months = (date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1))
    lines = [line for month in months for line in tax.worked_example(month)]
    tax.verified_report(store, "E01", "2026Q2", lines)

    log_in(store, monkeypatch, Role.ENTERPRISE, "E02")
    assert cli.main(["file-return", "E01", "--quarter", "2026Q2"]) == 1
    assert "unknown_party" in capsys.readouterr().err
    assert cli.main(["tax", "E01", "--quarter", "2026Q2"]) == 1
    assert "party_not_found" in capsys.readouterr().err

    filer = log_in(store, monkeypatch, Role.ENTERPRISE, "E01")
    assert cli.main(["tax", "E01", "--quarter", "2026Q2"]) == 0
    assert "due 745985.37 CNY" in capsys.readouterr().out
    assert cli.main(["file-return", "E01", "--quarter", "2026Q2"]) == 0
    assert "filed E01-2026Q2-r1" in capsys.readouterr().out
    with store(read_only=True) as uow:
        filed = uow.tax.get_return("E01-2026Q2-r1")
    assert filed is not None and filed.filed_by == filer


def test_recompute_cems_is_a_regulators_command(
    store: Store,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monitoring.build_outlets(store)
    log_in(store, monkeypatch, Role.CEMS_NETWORK, None)  # CEMS data come from the network
    assert (
        cli.main(["import-cems", csv_file(tmp_path, monitoring.line(monitoring.stamp(1, 0)))]) == 0
    )
    log_in(store, monkeypatch, Role.ENTERPRISE, "E1")
    assert cli.main(["recompute-cems", "--from", "2025-03", "--to", "2025-03"]) == 1
    capsys.readouterr()
    regulator = log_in(store, monkeypatch, Role.REGULATOR, None)
    assert cli.main(["recompute-cems", "--from", "2025-13", "--to", "2025-03"]) == 1
    assert "no month 13" in capsys.readouterr().err
    assert cli.main(["recompute-cems", "--from", "2025-06", "--to", "2025-03"]) == 1
    assert "invalid_field" in capsys.readouterr().err
    assert cli.main(["recompute-cems", "--from", "2025-01", "--to", "2025-12"]) == 0
    assert "1 monthly aggregates recomputed" in capsys.readouterr().out

    with store(read_only=True) as uow:
        audit = uow.access.list_audit(regulator, 0, 10)
    assert [(a.action, a.outcome, a.code) for a in audit] == [
        ("cems.recompute", "rejected", "invalid_field"),  # the use case's own refusal
        ("cems.recompute", "ok", None),
    ]
