"""The hash chain's mechanics: sealing chains every entry once along a gap-free chain_seq, from
the sealer's horizon (a fast round reads only what is new), under concurrent sealers, with
stragglers (PostgreSQL entries committed below what is chained); the database refuses to change
or fork the chain; verify reports gaps, rewritten hashes and entries left unchained.

The tampering tests proper (edited amounts, deleted postings, reordered entries, edited
balances, through the service, the command and the endpoint) are in `test_tamper.py`.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.domain.chain import GENESIS_HASH, ChainProblem
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import chain, journal
from tests.factories import setup_registry, transfer
from tests.integration.chain_support import chain_rows, chain_seq_of, tamper
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


def test_verify_reports_a_link_removed_from_the_chain_as_a_gap(sealed: Store) -> None:
    removed = chain_seq_of(sealed, "t-1")
    tamper(sealed, f"DELETE FROM journal_chain WHERE chain_seq = {removed}")

    report = chain.verify_journal(sealed)  # seals t-1 again, at the end of the chain

    assert report.first_break is not None
    assert report.first_break.problem is ChainProblem.GAP
    assert report.first_break.chain_seq == removed
    assert report.chained == removed - 1


def test_verify_reports_a_link_whose_stored_hash_was_rewritten(sealed: Store) -> None:
    target = chain_seq_of(sealed, "t-2")
    tamper(sealed, f"UPDATE journal_chain SET hash = '{'f' * 64}' WHERE chain_seq = {target}")

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


def test_the_database_refuses_a_second_link_at_a_taken_place(sealed: Store) -> None:
    """Two sealers that computed links on the same tail cannot both append: no fork."""
    tail = chain_rows(sealed)[-1]
    with pytest.raises(IntegrityError), sealed.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO journal_chain (chain_seq, entry_seq, previous_hash, hash, sealed_at)"
                " VALUES (:chain_seq, (SELECT max(seq) FROM entries), :previous, :hash,"
                " CURRENT_TIMESTAMP)"
            ),
            {"chain_seq": tail[0], "previous": tail[2], "hash": "e" * 64},
        )


def test_concurrent_sealers_never_fork_or_leave_a_gap(database_url: str, store: Store) -> None:
    """Three sealers, each with its own engine (as separate processes would be), race one another
    and a writer; the chain ends gap-free, every entry chained once, and verifies."""
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "ALPHA", "1000"))
    writing = threading.Event()
    errors: list[BaseException] = []
    sealers = [
        Store(create_ledger_engine(database_url, sqlite_synchronous="NORMAL")) for _ in "abc"
    ]

    def write() -> None:
        try:
            for number in range(120):
                journal.post_entry(store, transfer(f"w-{number}", "ALPHA", "BETA", "1"))
        except BaseException as error:
            errors.append(error)
        finally:
            writing.set()

    def seal(sealer_store: Store) -> None:
        try:
            while not writing.is_set():
                chain.seal_journal(sealer_store, limit=7)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write)] + [
        threading.Thread(target=seal, args=(sealer_store,)) for sealer_store in sealers
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for sealer_store in sealers:
        sealer_store.dispose()
    chain.seal_all(store)

    assert errors == []
    rows = chain_rows(store)
    assert [seq for seq, _, _, _ in rows] == list(range(1, entry_count(store) + 1))
    assert len({entry for _, entry, _, _ in rows}) == len(rows)
    assert all(rows[i][2] == rows[i - 1][3] for i in range(1, len(rows)))
    report = chain.verify_journal(store)
    assert report.ok, report


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_round_reads_only_above_the_horizon(ledger: Store) -> None:
    ticks = Ticks()
    sealer = chain.Sealer(ledger, straggler_window=timedelta(seconds=10), clock=ticks)
    assert sealer.horizon is None
    assert sealer.seal_all() == len(ENTRY_IDS)  # a deep round first
    highest = max(seq for seq in _entry_seqs(ledger))
    if ledger.engine.dialect.name == "sqlite":
        assert sealer.horizon == highest  # commits follow seq order: nothing can come below
    else:
        assert sealer.horizon is None  # a lower seq may still commit for a while
        ticks.now += 11
        assert sealer.seal_all() == 0
        assert sealer.horizon == highest

    journal.post_entry(ledger, transfer("t-4", "ALPHA", "BETA", "1"))
    ticks.now += 1
    assert sealer.seal_all() == 1
    assert [entry for _, entry, _, _ in chain_rows(ledger)] == [*ENTRY_IDS, "t-4"]


def test_a_postgresql_straggler_below_the_chained_seqs_is_chained(postgres_store: Store) -> None:
    """An entry whose transaction got its seq first but committed after a later entry was
    chained: the next round still chains it (the horizon trails by the straggler window)."""
    _ledger(postgres_store)
    ticks = Ticks()
    sealer = chain.Sealer(postgres_store, straggler_window=timedelta(seconds=10), clock=ticks)
    sealer.seal_all()
    ticks.now += 11
    sealer.seal_all()  # the horizon is now the highest seq
    with postgres_store.engine.connect() as slow:
        slow.execute(text(_BARE_ENTRY), {"entry_id": "slow"})  # seq allocated, not committed
        journal.post_entry(postgres_store, transfer("fast", "ALPHA", "BETA", "1"))
        ticks.now += 1
        assert sealer.seal_all() == 1  # "fast" only: "slow" is not committed
        slow.commit()
    ticks.now += 1
    assert sealer.seal_all() == 1

    entries = [entry for _, entry, _, _ in chain_rows(postgres_store)]
    assert entries == [*ENTRY_IDS, "fast", "slow"]  # the chain's order is the sealing order
    assert chain.verify_journal(postgres_store).ok


def test_a_deep_round_chains_what_fell_below_the_horizon(sealed: Store) -> None:
    """A straggler that outlived the window (simulated: a link removed below the horizon) is
    not seen by a fast round, but the deep round due every `deep_every` chains it."""
    ticks = Ticks()
    sealer = chain.Sealer(
        sealed, straggler_window=timedelta(0), deep_every=timedelta(minutes=5), clock=ticks
    )
    sealer.seal_all()
    ticks.now += 1
    sealer.seal_all()
    assert sealer.horizon == max(_entry_seqs(sealed))
    last = chain_rows(sealed)[-1][0]
    tamper(sealed, f"DELETE FROM journal_chain WHERE chain_seq = {last}")

    ticks.now += 1
    assert sealer.seal_all() == 0  # below the horizon: a fast round does not look there
    ticks.now += 5 * 60
    assert sealer.seal_all() == 1  # the deep round does
    assert chain_rows(sealed)[-1][1] == ENTRY_IDS[-1]


_BARE_ENTRY = (
    "INSERT INTO entries (entry_id, request_hash, entry_type, status, effective_at,"
    " recorded_at, memo, metadata) VALUES (:entry_id, 'x', 'note', 'posted', now(), now(), '',"
    " '{}')"
)


def _entry_seqs(store: Store) -> list[int]:
    with store.engine.connect() as connection:
        return list(connection.execute(text("SELECT seq FROM entries")).scalars())
