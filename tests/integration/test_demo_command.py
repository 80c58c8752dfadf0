"""`emissions-ledger demo`: loads the demo registry once into a fresh database; `check` (as an
oversight principal, from `LEDGER_TOKEN`) finds its invariants hold; `seal` and `verify` then
chain it and find it intact."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.domain.access import Role
from ledger.entrypoints import acting, cli
from ledger.persistence import migrate
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from tests.factories import actor, token_for


def test_the_demo_command_loads_the_registry_once_and_the_invariants_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")

    assert cli.main(["demo"]) == 0
    assert cli.main(["demo"]) == 0
    loading = capsys.readouterr().out
    monkeypatch.setenv(acting.TOKEN_VARIABLE, _token_of("demo-finance", loading))
    assert cli.main(["check"]) == 0

    assert "T4: refused: city_may_not_receive" in loading
    assert "already loaded" in loading
    assert "ledger invariants hold" in capsys.readouterr().out


def test_the_invariant_check_runs_as_an_oversight_principal_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    migrate.upgrade(url)
    store = Store(create_ledger_engine(url))
    finance, verifier = (
        token_for(store, actor(store, role)) for role in (Role.FINANCE, Role.VERIFIER)
    )
    store.dispose()
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)

    monkeypatch.delenv(acting.TOKEN_VARIABLE, raising=False)
    assert cli.main(["check"]) == 1
    monkeypatch.setenv(acting.TOKEN_VARIABLE, verifier)
    assert cli.main(["check"]) == 1
    monkeypatch.setenv(acting.TOKEN_VARIABLE, finance)
    assert cli.main(["check"]) == 0

    output = capsys.readouterr()
    refusals = [line for line in output.err.splitlines() if line.startswith("refused")]
    assert [line.split(":")[0] for line in refusals] == [
        "refused (unauthenticated)",
        "refused (forbidden)",
    ]
    assert output.out.splitlines() == ["ledger invariants hold"]


def _token_of(principal: str, demo_output: str) -> str:
    """The token the demo printed for `principal` (`  id  role  token`)."""
    return next(
        line.split()[-1] for line in demo_output.splitlines() if line.split()[:1] == [principal]
    )


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
