"""Checkpoints: the chains anchored outside the database. An attacker who can rewrite every row
can make a ledger that verifies on its own — the newest entries removed with their links, or an
edited entry with every later link recomputed, or the chain wiped and rebuilt — but not one that
agrees with a checkpoint taken before: `emissions-ledger verify --checkpoints DIR` (and
`GET /v1/verify` with `LEDGER_CHECKPOINT_DIR`) reports the link a checkpoint recorded otherwise
or that is gone, and the sealer anchored to the newest checkpoint refuses to rebuild over it.
A checkpoint's file carries its SHA-256 (and an HMAC with the configured key): a changed or
forged file is reported. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.domain.chain import ChainProblem
from ledger.domain.checkpoints import CheckpointInvalid, parse_checkpoint
from ledger.entrypoints import cli
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import chain, checkpoints, journal
from ledger.settings import Settings
from tests.api.support import headers_for
from tests.factories import setup_registry, transfer
from tests.integration.chain_support import (
    chain_rows,
    recompute_chain,
    tamper,
    truncate_journal,
)

KEY = b"kept-by-the-auditor"


@pytest.fixture
def ledger(store: Store) -> Store:
    """ALPHA funded with 100 t, then 10 t to BETA twice; all sealed."""
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund-alpha", "ISSUANCE", "ALPHA", "100"))
    for entry_id in ("t-1", "t-2"):
        journal.post_entry(store, transfer(entry_id, "ALPHA", "BETA", "10"))
    chain.seal_all(store)
    return store


@pytest.fixture
def anchored(ledger: Store, tmp_path: Path) -> Path:
    """A checkpoint of the ledger in a directory of its own, then two more entries sealed."""
    directory = tmp_path / "checkpoints"
    checkpoints.export(ledger, directory, KEY)
    for entry_id in ("t-3", "t-4"):
        journal.post_entry(ledger, transfer(entry_id, "ALPHA", "BETA", "1"))
    chain.seal_all(ledger)
    return directory


@pytest.fixture
def command(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Any:
    """`emissions-ledger ARGS` on the test database with the checkpoint key: (exit, output)."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    monkeypatch.setenv("LEDGER_CHECKPOINT_KEY", KEY.decode())

    def run(*arguments: str) -> tuple[int, str]:
        capsys.readouterr()
        code = cli.main(list(arguments))
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return run


def journal_break(directory: Path, ledger: Store) -> chain.ChainVerdict:
    return checkpoints.verify(ledger, checkpoints.load(directory, KEY)).of("journal")


def test_the_checkpoint_command_prints_and_writes_a_signed_checkpoint(
    ledger: Store, tmp_path: Path, command: Any
) -> None:
    code, output = command("checkpoint", "--dir", str(tmp_path))

    assert code == 0, output
    (path,) = tmp_path.glob("checkpoint-*.json")
    printed = next(line for line in output.splitlines() if line.startswith("{"))
    assert path.read_text().strip() == printed
    body = json.loads(printed)
    tail = chain_rows(ledger)[-1]
    assert body["chains"]["journal"] == {"length": 3, "head": tail[3]}
    assert {"taken_at", "sha256", "hmac_sha256"} <= body.keys()
    assert parse_checkpoint(printed, KEY).chains["journal"].length == 3


def test_a_changed_or_forged_checkpoint_file_is_refused(ledger: Store, tmp_path: Path) -> None:
    path, _ = checkpoints.export(ledger, tmp_path, KEY)
    text = path.read_text()
    body = json.loads(text)

    edited = text.replace('"length":3', '"length":2')
    with pytest.raises(CheckpointInvalid, match="SHA-256"):
        parse_checkpoint(edited, KEY)
    unsigned = json.dumps({k: v for k, v in body.items() if k != "hmac_sha256"})
    with pytest.raises(CheckpointInvalid, match="HMAC"):
        parse_checkpoint(unsigned, KEY)
    with pytest.raises(CheckpointInvalid, match="HMAC"):
        parse_checkpoint(text, b"another key")
    parse_checkpoint(unsigned)  # without a key, the hash alone is checked


def test_an_untouched_ledger_agrees_with_its_checkpoints(
    ledger: Store, anchored: Path, command: Any
) -> None:
    code, output = command("verify", "--checkpoints", str(anchored))

    assert code == 0, output
    assert f"checkpoints in {anchored}: 1" in output
    assert "journal: 5 links verified" in output


def test_the_newest_entries_removed_with_their_links_are_caught_by_a_checkpoint(
    ledger: Store, tmp_path: Path, command: Any
) -> None:
    checkpoints.export(ledger, tmp_path, KEY)  # after t-2
    truncate_journal(ledger, ["t-2"])
    assert chain.verify(ledger).ok  # consistent on its own: only the checkpoint knows

    code, output = command("verify", "--checkpoints", str(tmp_path))

    verdict = journal_break(tmp_path, ledger)
    assert verdict.first_break is not None
    assert verdict.first_break.problem is ChainProblem.TRUNCATED
    assert "the chain ends at link 2 but checkpoint checkpoint-" in verdict.first_break.detail
    assert "recorded link 3" in verdict.first_break.detail
    assert code == 1
    assert "chain_truncated" in output
    assert "verification FAILED" in output


def test_a_recomputed_chain_is_caught_by_a_checkpoint(
    ledger: Store, anchored: Path, command: Any
) -> None:
    tamper(
        ledger,
        "UPDATE postings SET units = units * 2"
        " WHERE entry_seq = (SELECT seq FROM entries WHERE entry_id = 't-1')",
        "UPDATE balances SET debits_posted = 30000 WHERE account_id ="
        " (SELECT id FROM accounts WHERE code = 'ALPHA') AND instrument_code = 'SO2-2026'",
        "UPDATE balances SET credits_posted = 30000 WHERE account_id ="
        " (SELECT id FROM accounts WHERE code = 'BETA') AND instrument_code = 'SO2-2026'",
    )
    recompute_chain(ledger)
    assert chain.verify(ledger).of("journal").first_break is None  # consistent on its own

    code, output = command("verify", "--checkpoints", str(anchored))

    verdict = journal_break(anchored, ledger)
    assert verdict.first_break is not None
    assert verdict.first_break.problem is ChainProblem.CHECKPOINT_MISMATCH
    assert (verdict.first_break.chain_seq, verdict.first_break.record) == (3, "t-2")
    assert "recomputed after that checkpoint" in verdict.first_break.detail
    assert code == 1
    assert "checkpoint_mismatch" in output


def test_a_chain_wiped_and_rebuilt_over_an_edit_is_caught_by_a_checkpoint(
    ledger: Store, anchored: Path, command: Any
) -> None:
    """An entry edited, every link and the head deleted, then the chain rebuilt by a sealer that
    knows no checkpoint (the entries are minutes old, so it does): the checkpoint disagrees."""
    tamper(
        ledger,
        "UPDATE entries SET memo = 'edited' WHERE entry_id = 't-1'",
        "DELETE FROM journal_chain",
        "DELETE FROM chain_heads",
    )
    assert command("seal") == (0, "chained 5 entries\n")
    assert chain.verify(ledger).of("journal").first_break is None  # consistent on its own

    verdict = journal_break(anchored, ledger)

    assert verdict.first_break is not None
    assert verdict.first_break.problem is ChainProblem.CHECKPOINT_MISMATCH
    assert verdict.first_break.chain_seq == 3  # the checkpoint's link; t-1 is below it


def test_a_sealer_anchored_to_the_checkpoints_does_not_rebuild_a_wiped_chain(
    ledger: Store, anchored: Path, command: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    tamper(ledger, "DELETE FROM journal_chain", "DELETE FROM chain_heads")
    monkeypatch.setenv("LEDGER_CHECKPOINT_DIR", str(anchored))

    code, output = command("seal")

    assert code == 1
    assert "no longer holds link 3 as this sealer last saw it or a checkpoint recorded" in output
    assert chain_rows(ledger) == []
    code, output = command("verify")  # against LEDGER_CHECKPOINT_DIR
    assert code == 1
    assert "chain_truncated" in output


def test_a_checkpoint_is_refused_over_a_chain_changed_since_the_last_one(
    ledger: Store, anchored: Path, command: Any
) -> None:
    tamper(ledger, "UPDATE entries SET memo = 'edited' WHERE entry_id = 't-3'")

    code, output = command("checkpoint", "--dir", str(anchored))

    assert code == 1
    assert "does not verify since the last checkpoint" in output
    assert len(list(anchored.glob("checkpoint-*.json"))) == 1


def test_a_damaged_checkpoint_file_is_reported_by_verify(
    ledger: Store, anchored: Path, command: Any
) -> None:
    (path,) = anchored.glob("checkpoint-*.json")
    path.write_text(path.read_text().replace('"length":3', '"length":30'))

    code, output = command("verify", "--checkpoints", str(anchored))

    assert code == 1
    assert f"checkpoint_invalid: {path.name}: its SHA-256 does not match" in output


def test_the_server_exports_checkpoints_and_verifies_against_them(
    database_url: str, tmp_path: Path
) -> None:
    store = Store(create_ledger_engine(database_url, sqlite_synchronous="NORMAL"))
    settings = Settings(
        database_url=database_url,
        expiry_sweep_seconds=0.02,
        checkpoint_dir=tmp_path,
        checkpoint_seconds=0.05,
        checkpoint_key=KEY,
    )
    app = create_app(settings, store=store, sweep_expired_holds=True)
    with TestClient(app) as server:
        server.headers.update(headers_for(server, "regulator"))
        setup_registry(store, "ALPHA")
        journal.post_entry(store, transfer("fund-alpha", "ISSUANCE", "ALPHA", "10"))
        give_up = time.monotonic() + 10
        while not any(
            checkpoint.chains["journal"].length == 1
            for _, checkpoint in checkpoints.load(tmp_path, KEY).checkpoints
        ):
            assert time.monotonic() < give_up, "no checkpoint of the sealed entry"
            time.sleep(0.02)
        truncate_journal_all(store)

        report = server.get("/v1/verify").json()

    journal_verdict = next(c for c in report["chains"] if c["chain"] == "journal")
    assert report["ok"] is False
    assert journal_verdict["first_break"]["problem"] == "chain_truncated"


def truncate_journal_all(store: Store) -> None:
    tamper(store, "DELETE FROM journal_chain", "DELETE FROM chain_heads")
