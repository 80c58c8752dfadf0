"""Settings: read from `LEDGER_*` once, every wrong variable named in one refusal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ledger.entrypoints import cli
from ledger.settings import FOUR_EYES_DEFAULT, Settings, SettingsError


def test_defaults_need_no_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "FOUR_EYES", "EXPIRY_SWEEP_SECONDS", "LOG_FORMAT"):
        monkeypatch.delenv(f"LEDGER_{name}", raising=False)

    settings = Settings.from_environment()

    assert settings.database_url == "sqlite:///emissions-ledger.db"
    assert settings.four_eyes == FOUR_EYES_DEFAULT
    assert settings.expiry_sweep_seconds == 5.0


def test_variables_are_parsed_into_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_FOUR_EYES", " reversal , allocation,")
    monkeypatch.setenv("LEDGER_FOUR_EYES_ALLOCATION_T", "2500.5")
    monkeypatch.setenv("LEDGER_SQLITE_SYNCHRONOUS", "normal")
    monkeypatch.setenv("LEDGER_LOG_FORMAT", "JSON")

    settings = Settings.from_environment()

    assert settings.four_eyes == {"reversal", "allocation"}
    assert settings.four_eyes_allocation_t == Decimal("2500.5")
    assert (settings.sqlite_synchronous, settings.log_format) == ("NORMAL", "json")


def test_an_empty_four_eyes_turns_four_eyes_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_FOUR_EYES", "")

    assert Settings.from_environment().four_eyes == frozenset()


def test_every_wrong_variable_is_named_in_one_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_EXPIRY_SWEEP_SECONDS", "-1")
    monkeypatch.setenv("LEDGER_FOUR_EYES", "allocation,alocation")
    monkeypatch.setenv("LEDGER_FOUR_EYES_ALLOCATION_T", "lots")
    monkeypatch.setenv("LEDGER_SQLITE_SYNCHRONOUS", "sometimes")
    monkeypatch.setenv("LEDGER_LOG_LEVEL", "chatty")

    with pytest.raises(SettingsError) as refused:
        Settings.from_environment()

    message = str(refused.value)
    for name, value in (
        ("LEDGER_EXPIRY_SWEEP_SECONDS", "'-1'"),
        ("LEDGER_FOUR_EYES", "'alocation'"),
        ("LEDGER_FOUR_EYES_ALLOCATION_T", "'lots'"),
        ("LEDGER_SQLITE_SYNCHRONOUS", "'SOMETIMES'"),
        ("LEDGER_LOG_LEVEL", "'CHATTY'"),
    ):
        line = next(line for line in message.splitlines() if line.strip().startswith(name + ":"))
        assert value in line


def test_a_database_url_is_checked_but_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", "mysql://ledger:s3cret@db/ledger")

    with pytest.raises(SettingsError) as refused:
        Settings.from_environment()

    assert "LEDGER_DATABASE_URL: the URL's scheme must be one of" in str(refused.value)
    assert "s3cret" not in str(refused.value)
    assert "s3cret" not in repr(Settings(database_url="postgresql://ledger:s3cret@db/ledger"))


def test_the_command_refuses_bad_settings_with_exit_status_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite:///{tmp_path / 'ledger.db'}")
    monkeypatch.setenv("LEDGER_EXPIRY_SWEEP_SECONDS", "soon")

    assert cli.main(["migrate"]) == 2

    assert "LEDGER_EXPIRY_SWEEP_SECONDS" in capsys.readouterr().err
    assert not (tmp_path / "ledger.db").exists()
