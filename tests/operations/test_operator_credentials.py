"""The operator's credential commands: `create-admin` and `recover-admin` at the server's shell.

The shell is the one place that issues a credential without a second administrator, so it is
held to little: it re-credentials only active administrators, the recovered administrator's
other tokens stop working (a lost token may be a stolen one), and every use is audited as the
operator's.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.domain.access import PrincipalRecord, Role, Unauthenticated
from ledger.entrypoints import cli
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import access


@pytest.fixture
def database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[tuple[Store, str]]:
    """An initialised registry, a store on it and the token `init` printed for its
    administrator, `root`."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monkeypatch.setenv("LEDGER_DATABASE_URL", url)
    monkeypatch.setenv("LOGNAME", "ops-wang")  # what getpass reads first
    assert cli.main(["init", "--admin-id", "root"]) == 0
    token = _printed_token(capsys)
    store = Store(create_ledger_engine(url))
    yield store, token
    store.dispose()


def _printed_token(capsys: pytest.CaptureFixture[str]) -> str:
    return capsys.readouterr().out.strip().splitlines()[-1]


def test_recover_admin_gives_a_working_token_and_revokes_the_lost_one(
    database: tuple[Store, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, lost = database

    assert cli.main(["recover-admin", "root"]) == 0
    recovered = _printed_token(capsys)

    assert recovered != lost
    assert access.authenticate(store, recovered).id == "root"
    with pytest.raises(Unauthenticated):
        access.authenticate(store, lost)


def test_recover_admin_is_audited_as_the_operator(
    database: tuple[Store, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = database
    assert cli.main(["recover-admin", "root"]) == 0

    with store(read_only=True) as uow:
        lines = uow.access.list_audit(None, 0, 100)
    recoveries = [line for line in lines if line.action == "operator.recover_admin"]
    assert len(recoveries) == 1
    assert recoveries[0].principal_id is None
    assert "ops-wang" in recoveries[0].target and "root" in recoveries[0].target


@pytest.mark.parametrize("who", ["nobody", "reg-1"])
def test_recover_admin_refuses_anyone_but_an_existing_administrator(
    database: tuple[Store, str], capsys: pytest.CaptureFixture[str], who: str
) -> None:
    store, _ = database
    if who == "reg-1":
        _regulator(store)
    with store(read_only=True) as uow:
        before = len(uow.access.list_audit(None, 0, 1000))

    assert cli.main(["recover-admin", who]) == 1

    assert capsys.readouterr().out == ""
    with store(read_only=True) as uow:
        tokens = uow.access.tokens_of(who)
        actions = [line.action for line in uow.access.list_audit(None, before, 1000)]
    assert tokens == []
    assert "operator.recover_admin" not in actions


def test_recover_admin_refuses_a_deactivated_administrator(
    database: tuple[Store, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = database
    with store() as uow:
        uow.access.set_active("root", False)
        uow.commit()

    assert cli.main(["recover-admin", "root"]) == 1
    assert "administrators only" in capsys.readouterr().err


def test_create_admin_prints_a_token_for_a_new_administrator_once(
    database: tuple[Store, str], capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = database
    assert cli.main(["create-admin", "--id", "admin-2", "--person", "Li Na"]) == 0
    token = _printed_token(capsys)

    administrator = access.authenticate(store, token)
    assert (administrator.id, administrator.role) == ("admin-2", Role.ADMINISTRATOR)
    assert cli.main(["create-admin", "--id", "admin-2"]) == 1
    assert token not in capsys.readouterr().out


def _regulator(store: Store) -> None:
    """A regulator, registered directly (its enrolment is not what is tested here)."""
    with store() as uow:
        uow.access.add_principal(
            PrincipalRecord(
                "reg-1", "Regulator", "user", Role.REGULATOR, None, True, uow.now(), None, "Zhao"
            )
        )
        uow.commit()
