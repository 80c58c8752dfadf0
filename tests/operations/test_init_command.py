"""`emissions-ledger init`: a registry without the demo, ready for its administrator."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.domain.access import Role
from ledger.domain.registry import PROVINCE, PartyKind
from ledger.entrypoints import cli
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import access


def test_init_registers_the_authorities_and_prints_a_working_administrator_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)

    assert cli.main(["init", "--admin-id", "root", "--province-name", "Hebei"]) == 0
    first = capsys.readouterr().out
    assert cli.main(["init", "--province-name", "Hebei"]) == 0
    again = capsys.readouterr().out

    token = first.splitlines()[-1]
    store = Store(create_ledger_engine(url))
    try:
        administrator = access.authenticate(store, token, store.clock())
        with store(read_only=True) as uow:
            registered = {code: uow.registry.get_party(code) for code in (PROVINCE, "EXCHANGE")}
    finally:
        store.dispose()
    assert (administrator.id, administrator.role) == ("root", Role.ADMINISTRATOR)
    province, exchange = registered[PROVINCE], registered["EXCHANGE"]
    assert province is not None and exchange is not None
    assert (province.kind, province.name) == (PartyKind.AUTHORITY, "Hebei")
    assert exchange.kind is PartyKind.EXCHANGE
    assert "an administrator exists" in again
    assert token not in again


def test_init_refuses_to_rename_an_existing_authority(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    assert cli.main(["init"]) == 0

    assert cli.main(["init", "--exchange-name", "Another exchange"]) == 1
    assert "record_exists" in capsys.readouterr().err
