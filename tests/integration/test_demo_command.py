"""`emissions-ledger demo`: loads the demo registry once into a fresh database; `seal` and
`verify` then chain it and find it intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.entrypoints import cli


def test_the_demo_command_loads_the_registry_once_and_the_invariants_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")

    assert cli.main(["demo"]) == 0
    assert cli.main(["demo"]) == 0
    assert cli.main(["check"]) == 0

    output = capsys.readouterr().out
    assert "T4: refused: city_may_not_receive" in output
    assert "already loaded" in output
    assert "ledger invariants hold" in output


def test_seal_and_verify_commands_chain_the_journal_and_report_it_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    assert cli.main(["demo"]) == 0

    assert cli.main(["seal"]) == 0
    assert cli.main(["verify"]) == 0

    output = capsys.readouterr().out
    assert "chained 0 entries" not in output
    assert "chains and invariants hold" in output
