"""Tamper evidence: sealing chains every entry by hash along a gap-free chain_seq, and verify
recomputes the chain and the balances and reports the first broken link.

The tampering is raw SQL by someone with database access: the immutability triggers refuse it,
so the attacker first drops (SQLite) or disables (PostgreSQL) them, as these tests do.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ledger import cli
from ledger.domain.chain import GENESIS_HASH, ChainProblem
from ledger.persistence.store import Store
from ledger.services import chain, journal
from tests.factories import setup_registry, transfer
from tests.integration.support import entry_count

ENTRY_IDS = ("fund-alpha", "t-1", "t-2", "t-3")


def _ledger(store: Store) -> Store:
    """ALPHA funded with 100 t, then 10 t to BETA three times: four entries."""
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund-alpha", "ISSUANCE", "ALPHA", "100"))
    for entry_id in ENTRY_IDS[1:]:
        journal.post_entry(store, transfer(entry_id, "ALPHA", "BETA", "10"))
    return store


@pytest.fixture
def ledger(store: Store) -> Store:
    return _ledger(store)


@pytest.fixture
def sealed(ledger: Store) -> Store:
    assert chain.seal_all(ledger) == len(ENTRY_IDS)
    return ledger


def chain_rows(store: Store) -> list[tuple[int, str, str, str]]:
    """(chain_seq, entry_id, previous_hash, hash) in chain order."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT c.chain_seq, e.entry_id, c.previous_hash, c.hash FROM journal_chain c"
                " JOIN entries e ON e.seq = c.entry_seq ORDER BY c.chain_seq"
            )
        ).all()
    return [(row[0], row[1], row[2].strip(), row[3].strip()) for row in rows]


def chain_seq_of(store: Store, entry_id: str) -> int:
    return next(seq for seq, entry, _, _ in chain_rows(store) if entry == entry_id)


def tamper(store: Store, table: str, *statements: str) -> None:
    """Run `statements` against `table` with its immutability triggers out of the way."""
    postgresql = store.engine.dialect.name == "postgresql"
    with store.engine.begin() as connection:
        _guards(connection, table, enable=False, postgresql=postgresql)
        for statement in statements:
            connection.execute(text(statement))
        # PostgreSQL: back on in the same transaction (the session's database is shared).
        if postgresql:
            _guards(connection, table, enable=True, postgresql=postgresql)


def _guards(connection: Connection, table: str, *, enable: bool, postgresql: bool) -> None:
    if postgresql:
        action = "ENABLE" if enable else "DISABLE"
        connection.execute(text(f"ALTER TABLE {table} {action} TRIGGER {table}_immutable"))
    elif not enable:
        for operation in ("update", "delete"):
            connection.execute(text(f"DROP TRIGGER {table}_no_{operation}"))


def seq_of(entry_id: str) -> str:
    return f"(SELECT seq FROM entries WHERE entry_id = '{entry_id}')"


def test_sealing_chains_every_entry_once_along_a_gap_free_sequence(ledger: Store) -> None:
    assert chain.seal_journal(ledger, limit=3) == 3
    assert chain.seal_journal(ledger, limit=3) == 1
    assert chain.seal_all(ledger) == 0  # idempotent

    rows = chain_rows(ledger)
    assert [(seq, entry) for seq, entry, _, _ in rows] == list(enumerate(ENTRY_IDS, start=1))
    assert rows[0][2] == GENESIS_HASH
    assert all(rows[i][2] == rows[i - 1][3] for i in range(1, len(rows)))


def test_verify_of_an_untouched_ledger_is_clean(sealed: Store) -> None:
    journal.post_entry(sealed, transfer("t-4", "ALPHA", "BETA", "1"))  # verify seals it first

    report = chain.verify_journal(sealed)

    assert report.ok
    assert (report.chained, report.first_break, report.violations) == (5, None, [])


def test_verify_reports_an_edited_posting_amount(sealed: Store) -> None:
    tamper(
        sealed,
        "postings",
        f"UPDATE postings SET units = units + 1 WHERE entry_seq = {seq_of('t-2')}",
    )

    report = chain.verify_journal(sealed)

    assert not report.ok
    assert report.first_break is not None
    assert report.first_break.problem is ChainProblem.HASH_MISMATCH
    assert (report.first_break.chain_seq, report.first_break.entry_id) == (
        chain_seq_of(sealed, "t-2"),
        "t-2",
    )
    assert report.chained == chain_seq_of(sealed, "t-2") - 1
    assert report.violations  # the balances no longer equal their postings either


def test_verify_reports_a_deleted_posting(sealed: Store) -> None:
    tamper(
        sealed,
        "postings",
        "DELETE FROM postings WHERE id = "
        f"(SELECT min(id) FROM postings WHERE entry_seq = {seq_of('t-1')})",
    )

    report = chain.verify_journal(sealed)

    assert report.first_break is not None
    assert report.first_break.problem is ChainProblem.HASH_MISMATCH
    assert (report.first_break.chain_seq, report.first_break.entry_id) == (
        chain_seq_of(sealed, "t-1"),
        "t-1",
    )
    assert report.violations


def test_verify_reports_two_entries_reordered_in_the_chain(sealed: Store) -> None:
    first, second = chain_seq_of(sealed, "t-1"), chain_seq_of(sealed, "t-2")
    rows = {seq: (prev, digest) for seq, _, prev, digest in chain_rows(sealed)}
    swapped = []
    for seq, entry in ((first, "t-2"), (second, "t-1")):
        prev, digest = rows[seq]
        swapped.append(
            "INSERT INTO journal_chain (chain_seq, entry_seq, previous_hash, hash, sealed_at)"
            f" VALUES ({seq}, {seq_of(entry)}, '{prev}', '{digest}', CURRENT_TIMESTAMP)"
        )
    tamper(
        sealed,
        "journal_chain",
        f"DELETE FROM journal_chain WHERE chain_seq IN ({first}, {second})",
        *swapped,
    )

    report = chain.verify_journal(sealed)

    assert report.first_break is not None
    assert report.first_break.problem is ChainProblem.HASH_MISMATCH
    assert (report.first_break.chain_seq, report.first_break.entry_id) == (first, "t-2")
    assert report.violations == []  # the balances are untouched: only the chain sees it


def test_verify_reports_a_link_removed_from_the_chain_as_a_gap(sealed: Store) -> None:
    removed = chain_seq_of(sealed, "t-1")
    tamper(sealed, "journal_chain", f"DELETE FROM journal_chain WHERE chain_seq = {removed}")

    report = chain.verify_journal(sealed)  # seals t-1 again, at the end of the chain

    assert report.first_break is not None
    assert report.first_break.problem is ChainProblem.GAP
    assert report.first_break.chain_seq == removed
    assert report.chained == removed - 1


def test_verify_reports_a_link_whose_stored_hash_was_rewritten(sealed: Store) -> None:
    target = chain_seq_of(sealed, "t-2")
    tamper(
        sealed,
        "journal_chain",
        f"UPDATE journal_chain SET hash = '{'f' * 64}' WHERE chain_seq = {target}",
    )

    report = chain.verify_journal(sealed)

    assert report.first_break is not None
    assert report.first_break.problem is ChainProblem.HASH_MISMATCH
    assert report.first_break.chain_seq == target


def test_verify_reports_an_entry_left_unchained_too_long(sealed: Store) -> None:
    journal.post_entry(sealed, transfer("t-4", "ALPHA", "BETA", "1"))
    time.sleep(0.01)

    report = chain.verify_journal(sealed, seal_first=False, unchained_grace=timedelta(0))

    assert report.first_break is not None
    assert report.first_break.problem is ChainProblem.NOT_CHAINED
    assert (report.first_break.chain_seq, report.first_break.entry_id) == (None, "t-4")
    assert report.chained == len(ENTRY_IDS)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE journal_chain SET hash = previous_hash",
        "DELETE FROM journal_chain",
    ],
)
def test_the_database_refuses_to_change_the_chain(sealed: Store, statement: str) -> None:
    with pytest.raises(DBAPIError, match="immutable"), sealed.engine.begin() as connection:
        connection.execute(text(statement))

    assert len(chain_rows(sealed)) == len(ENTRY_IDS)


def test_concurrent_sealers_never_fork_or_leave_a_gap(postgres_store: Store) -> None:
    setup_registry(postgres_store, "ALPHA", "BETA")
    journal.post_entry(postgres_store, transfer("fund", "ISSUANCE", "ALPHA", "1000"))
    writing = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for number in range(150):
                journal.post_entry(postgres_store, transfer(f"w-{number}", "ALPHA", "BETA", "1"))
        except BaseException as error:
            errors.append(error)
        finally:
            writing.set()

    def seal() -> None:
        try:
            while not writing.is_set():
                chain.seal_journal(postgres_store, limit=7)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=seal) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    chain.seal_all(postgres_store)

    assert errors == []
    rows = chain_rows(postgres_store)
    assert [seq for seq, _, _, _ in rows] == list(range(1, entry_count(postgres_store) + 1))
    assert len({entry for _, entry, _, _ in rows}) == len(rows)
    report = chain.verify_journal(postgres_store)
    assert report.ok, report


def test_the_verify_command_exits_1_and_names_the_first_broken_link(
    sealed: Store,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    assert cli.main(["verify"]) == 0
    tamper(sealed, "postings", f"UPDATE postings SET units = 7 WHERE entry_seq = {seq_of('t-3')}")

    assert cli.main(["verify"]) == 1

    output = capsys.readouterr().out
    assert f"first broken link: chain_seq {chain_seq_of(sealed, 't-3')}, entry t-3" in output
    assert "hash_mismatch" in output
    assert "verification FAILED" in output
