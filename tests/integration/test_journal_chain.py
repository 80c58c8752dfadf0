"""The hash chain's mechanics: sealing chains every entry once, in seq order, along a gap-free
chain_seq, and only extends the chain; on PostgreSQL it waits for the transactions that drew
lower seqs (stragglers) instead of chaining past them; concurrent sealers never fork it; the
database refuses to change it; verify writes nothing and reports gaps, rewritten hashes and
entries left unchained; the sealer refuses a chain that disagrees with its head or with what it
last saw, and entries older than its backlog.

The tampering tests proper (an attacker editing, deleting, inserting and reordering, through the
service, the command and the endpoint) are in `test_tamper.py`.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger.domain.chain import GENESIS_HASH, ChainProblem, SealRefused
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import chain, journal
from tests.api.support import Clock
from tests.factories import setup_registry, transfer
from tests.integration.chain_support import chain_rows, chain_seq_of, head_row, tamper
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


def test_verify_of_an_untouched_ledger_is_clean_and_writes_nothing(sealed: Store) -> None:
    journal.post_entry(sealed, transfer("t-4", "ALPHA", "BETA", "1"))  # not sealed yet
    before = (chain_rows(sealed), head_row(sealed))

    report = chain.verify(sealed)

    assert report.ok
    assert report.of("journal") == chain.ChainVerdict("journal", len(ENTRY_IDS), None)
    assert report.violations == []
    assert (chain_rows(sealed), head_row(sealed)) == before  # t-4 is still waiting


def test_verify_reports_a_link_removed_from_the_chain_as_a_gap(sealed: Store) -> None:
    removed = chain_seq_of(sealed, "t-1")
    tamper(sealed, f"DELETE FROM journal_chain WHERE chain_seq = {removed}")
    assert chain.seal_all(sealed) == 0  # t-1 is below the chain's end: never chained again

    verdict = chain.verify(sealed).of("journal")

    assert verdict.first_break is not None
    assert verdict.first_break.problem is ChainProblem.GAP
    assert verdict.first_break.chain_seq == removed
    assert verdict.verified == removed - 1


def test_verify_reports_a_link_whose_stored_hash_was_rewritten(sealed: Store) -> None:
    target = chain_seq_of(sealed, "t-2")
    tamper(sealed, f"UPDATE journal_chain SET hash = '{'f' * 64}' WHERE chain_seq = {target}")

    verdict = chain.verify(sealed).of("journal")

    assert verdict.first_break is not None
    assert verdict.first_break.problem is ChainProblem.HASH_MISMATCH
    assert verdict.first_break.chain_seq == target


def test_verify_reports_an_entry_left_unchained_too_long(sealed: Store) -> None:
    journal.post_entry(sealed, transfer("t-4", "ALPHA", "BETA", "1"))
    time.sleep(0.01)

    verdict = chain.verify(sealed, unchained_grace=timedelta(0)).of("journal")

    assert verdict.first_break is not None
    assert verdict.first_break.problem is ChainProblem.NOT_CHAINED
    assert (verdict.first_break.chain_seq, verdict.first_break.record) == (None, "t-4")
    assert verdict.verified == len(ENTRY_IDS)
    assert "emissions-ledger seal" in verdict.first_break.action


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
    report = chain.verify(store)
    assert report.ok, report


def test_sealing_chains_in_seq_order_and_waits_for_a_postgresql_straggler(
    postgres_store: Store,
) -> None:
    """An entry whose transaction drew its seq first but commits after a later entry: the
    sealer chains neither while the first transaction runs (it could still commit below), then
    both, in seq order. Nothing is chained past an entry that might still appear."""
    _ledger(postgres_store)
    sealer = chain.Sealer(postgres_store)
    assert sealer.seal_all() == len(ENTRY_IDS)
    with postgres_store.engine.connect() as slow:
        slow.execute(text(_BARE_ENTRY), {"entry_id": "slow"})  # seq drawn, not committed
        journal.post_entry(postgres_store, transfer("fast", "ALPHA", "BETA", "1"))
        assert sealer.seal_all() == 0  # "fast" waits: "slow" may still commit below it
        assert sealer.seal_all(wait=timedelta(milliseconds=50)) == 0
        slow.commit()
    assert sealer.seal_all(wait=timedelta(seconds=10)) == 2

    entries = [entry for _, entry, _, _ in chain_rows(postgres_store)]
    assert entries == [*ENTRY_IDS, "slow", "fast"]  # seq order, whatever the commit order
    assert chain.verify(postgres_store).ok


def test_a_sealer_refuses_a_chain_whose_head_disagrees_with_its_links(sealed: Store) -> None:
    last = chain_rows(sealed)[-1][0]
    tamper(sealed, f"DELETE FROM journal_chain WHERE chain_seq = {last}")  # the head remains
    journal.post_entry(sealed, transfer("t-4", "ALPHA", "BETA", "1"))

    with pytest.raises(SealRefused, match="disagrees with its last link"):
        chain.Sealer(sealed).seal_all()

    assert len(chain_rows(sealed)) == last - 1


def test_a_running_sealer_refuses_a_chain_truncated_behind_it(sealed: Store) -> None:
    """Links removed from the end together with the head: the chain looks whole to a newcomer,
    but not to the sealer that sealed it."""
    sealer = chain.Sealer(sealed)
    journal.post_entry(sealed, transfer("t-4", "ALPHA", "BETA", "1"))
    assert sealer.seal_all() == 1
    rows = chain_rows(sealed)
    tamper(
        sealed,
        f"DELETE FROM journal_chain WHERE chain_seq >= {rows[-2][0]}",
        f"UPDATE chain_heads SET length = {rows[-3][0]}, hash = '{rows[-3][3]}',"
        f" position = {seq_of_sql('t-2')} WHERE name = 'journal'",
    )

    with pytest.raises(SealRefused, match="no longer holds link"):
        sealer.seal_all()

    assert len(chain_rows(sealed)) == len(rows) - 2


def test_the_sealer_leaves_entries_older_than_its_backlog_to_the_operator(store: Store) -> None:
    clock = Clock()
    store.clock = clock
    _ledger(store)
    clock.advance(chain.SEAL_BACKLOG_MAX + timedelta(minutes=1))

    with pytest.raises(SealRefused, match="seal --backlog"):
        chain.Sealer(store).seal_all()
    verdict = chain.verify(store).of("journal")
    assert verdict.first_break is not None
    assert (verdict.first_break.problem, verdict.first_break.record) == (
        ChainProblem.NOT_CHAINED,
        "fund-alpha",
    )

    assert chain.Sealer(store).seal_all(backlog=True) == len(ENTRY_IDS)
    assert chain.verify(store).ok


def test_the_sweepers_round_does_not_wait(ledger: Store) -> None:
    assert chain.seal_round(ledger) == len(ENTRY_IDS)  # nothing is running: all settled
    assert chain.seal_round(ledger) == 0


_BARE_ENTRY = (
    "INSERT INTO entries (entry_id, request_hash, entry_type, status, effective_at,"
    " recorded_at, memo, metadata) VALUES (:entry_id, 'x', 'note', 'posted', now(), now(), '',"
    " '{}')"
)


def seq_of_sql(entry_id: str) -> str:
    return f"(SELECT seq FROM entries WHERE entry_id = '{entry_id}')"
