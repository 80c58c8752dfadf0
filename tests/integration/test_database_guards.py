"""The database itself guards the journal, whatever code writes to it (raw SQL here).

Journal records are immutable, counters and amounts have CHECKs, PostgreSQL refuses to commit
an entry that does not balance, and the invariant check catches what no constraint can.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ledger.domain.entries import Reference
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import journal, queries, registry
from tests.conftest import fresh_database_url
from tests.factories import actor, setup_registry, transfer
from tests.integration.support import entry_count, snapshot

IMMUTABLE_STATEMENTS = {
    "update-entry": "UPDATE entries SET memo = 'tampered' WHERE entry_id = 't-1'",
    "delete-entry": "DELETE FROM entries WHERE entry_id = 't-1'",
    "update-posting": "UPDATE postings SET units = units + 1",
    "delete-posting": "DELETE FROM postings",
    "update-reference": "UPDATE entry_references SET reference = 'TR-2'",
    "delete-reference": "DELETE FROM entry_references",
}

NEW_ENTRY = (
    "INSERT INTO entries (entry_id, request_hash, entry_type, status, effective_at, recorded_at,"
    " memo, metadata) VALUES (:entry_id, 'raw', 'transfer', 'posted', CURRENT_TIMESTAMP,"
    " CURRENT_TIMESTAMP, '', '{}') RETURNING seq"
)
NEW_POSTING = (
    "INSERT INTO postings (entry_seq, account_id, instrument_code, side, units, pending,"
    " recorded_at, effective_at, debits_after, credits_after) VALUES (:seq, :account_id,"
    " 'SO2-2026', :side, :units, FALSE, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, :debits_after,"
    " :credits_after)"
)


def _ledger(store: Store) -> Store:
    """ALPHA funded with 100 t, 30 t of it moved to BETA by entry t-1 (with a reference)."""
    setup_registry(store, "ALPHA", "BETA")
    journal.post_entry(store, transfer("fund-alpha", "ISSUANCE", "ALPHA", "100"))
    journal.post_entry(
        store,
        dataclasses.replace(
            transfer("t-1", "ALPHA", "BETA", "30"), references=(Reference("trade", "TR-1"),)
        ),
    )
    return store


@pytest.fixture
def ledger(store: Store) -> Store:
    return _ledger(store)


@pytest.fixture
def postgres_ledger(postgres_store: Store) -> Store:
    return _ledger(postgres_store)


@pytest.fixture
def sqlite_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store(create_ledger_engine(fresh_database_url("sqlite", request, tmp_path)))
    yield _ledger(store)
    store.dispose()


def account_id(store: Store, code: str) -> int:
    """Read-only: the tests call it inside a raw write transaction (on SQLite, the writer)."""
    with store(read_only=True) as uow:
        return registry.find_account(uow, code).id


def insert_entry(connection: Connection, entry_id: str) -> int:
    return int(connection.execute(text(NEW_ENTRY), {"entry_id": entry_id}).scalar_one())


def insert_posting(
    connection: Connection,
    seq: int,
    account: int,
    side: str,
    units: int,
    *,
    after: tuple[int, int] = (0, 0),
) -> None:
    connection.execute(
        text(NEW_POSTING),
        {
            "seq": seq,
            "account_id": account,
            "side": side,
            "units": units,
            "debits_after": after[0],
            "credits_after": after[1],
        },
    )


def rules(store: Store) -> set[str]:
    return {violation.rule for violation in queries.check_invariants(store, actor(store))}


# -- immutability -----------------------------------------------------------------------------


@pytest.mark.parametrize("statement", IMMUTABLE_STATEMENTS.values(), ids=IMMUTABLE_STATEMENTS)
def test_the_database_refuses_to_change_or_remove_a_journal_record(
    ledger: Store,
    statement: str,
) -> None:
    before = snapshot(ledger)

    with pytest.raises(DBAPIError, match="immutable"), ledger.engine.begin() as connection:
        connection.execute(text(statement))

    assert snapshot(ledger) == before
    assert queries.get_entry(ledger, actor(ledger), "t-1").record.references == (
        Reference("trade", "TR-1"),
    )
    assert queries.check_invariants(ledger, actor(ledger)) == []


# -- CHECK constraints ------------------------------------------------------------------------


def test_the_database_refuses_an_overdraft_written_directly_into_balances(ledger: Store) -> None:
    before = snapshot(ledger)

    with pytest.raises(DBAPIError, match="non_negative"), ledger.engine.begin() as connection:
        connection.execute(
            text("UPDATE balances SET debits_posted = credits_posted + 1 WHERE account_id = :id"),
            {"id": account_id(ledger, "ALPHA")},
        )

    assert snapshot(ledger) == before


def test_the_database_refuses_a_reservation_beyond_the_balance_written_directly(
    ledger: Store,
) -> None:
    with pytest.raises(DBAPIError, match="non_negative"), ledger.engine.begin() as connection:
        connection.execute(
            text(
                "UPDATE balances SET debits_pending = credits_posted - debits_posted + 1 "
                "WHERE account_id = :id"
            ),
            {"id": account_id(ledger, "ALPHA")},
        )


def test_the_database_refuses_a_negative_balance_counter(ledger: Store) -> None:
    # ISSUANCE may go negative as a balance, but no counter of any account may.
    with (
        pytest.raises(DBAPIError, match="counters_not_negative"),
        ledger.engine.begin() as connection,
    ):
        connection.execute(
            text("UPDATE balances SET credits_pending = -1 WHERE account_id = :id"),
            {"id": account_id(ledger, "ISSUANCE")},
        )


@pytest.mark.parametrize("units", [0, -5])
def test_the_database_refuses_a_posting_of_no_or_negative_units(ledger: Store, units: int) -> None:
    before = entry_count(ledger)

    with pytest.raises(DBAPIError, match="units_positive"), ledger.engine.begin() as connection:
        seq = insert_entry(connection, "raw-1")
        insert_posting(connection, seq, account_id(ledger, "ALPHA"), "debit", units)

    assert entry_count(ledger) == before


# -- balanced entries -------------------------------------------------------------------------


def test_postgresql_refuses_at_commit_an_unbalanced_entry_inserted_directly(
    postgres_ledger: Store,
) -> None:
    store = postgres_ledger
    before = snapshot(store)
    alpha, beta = account_id(store, "ALPHA"), account_id(store, "BETA")

    with store.engine.connect() as connection:
        connection.begin()
        seq = insert_entry(connection, "raw-1")
        insert_posting(connection, seq, alpha, "debit", 5000, after=(35_000, 100_000))
        insert_posting(connection, seq, beta, "credit", 3000, after=(0, 33_000))
        # Every statement was accepted: the constraint trigger is deferred to COMMIT.
        with pytest.raises(DBAPIError, match="does not balance"):
            connection.commit()

    assert snapshot(store) == before
    assert queries.check_invariants(store, actor(store)) == []


def test_postgresql_commits_an_entry_whose_postings_balance_once_all_are_inserted(
    postgres_ledger: Store,
) -> None:
    store = postgres_ledger
    alpha, issuance = account_id(store, "ALPHA"), account_id(store, "ISSUANCE")
    before = entry_count(store)

    with store.engine.begin() as connection:
        seq = insert_entry(connection, "raw-1")
        # Unbalanced after this statement; balanced only after the next one.
        insert_posting(connection, seq, alpha, "debit", 5000, after=(35_000, 100_000))
        insert_posting(connection, seq, issuance, "credit", 5000, after=(100_000, 5000))
        connection.execute(
            text("UPDATE balances SET debits_posted = debits_posted + 5000 WHERE account_id = :id"),
            {"id": alpha},
        )
        connection.execute(
            text(
                "UPDATE balances SET credits_posted = credits_posted + 5000 WHERE account_id = :id"
            ),
            {"id": issuance},
        )

    assert entry_count(store) == before + 1
    assert queries.get_entry(store, actor(store), "raw-1").state == "posted"
    assert queries.check_invariants(store, actor(store)) == []


def test_on_sqlite_the_invariant_check_reports_an_unbalanced_entry_written_around_the_ledger(
    sqlite_ledger: Store,
) -> None:
    # SQLite has no deferred constraint triggers: only the ledger's own commit check and the
    # invariant check stand between raw SQL and an unbalanced journal.
    store = sqlite_ledger
    with store.engine.begin() as connection:
        seq = insert_entry(connection, "raw-1")
        insert_posting(connection, seq, account_id(store, "ALPHA"), "debit", 5000)

    found = rules(store)

    assert {"entry_unbalanced", "instrument_unbalanced", "balance_mismatch"} <= found


# -- the invariant check ----------------------------------------------------------------------


def test_the_invariant_check_reports_a_balance_row_tampered_directly_as_balance_mismatch(
    ledger: Store,
) -> None:
    with ledger.engine.begin() as connection:
        connection.execute(
            text("UPDATE balances SET credits_posted = credits_posted + 1 WHERE account_id = :id"),
            {"id": account_id(ledger, "BETA")},
        )

    violations = queries.check_invariants(ledger, actor(ledger))

    assert [v.rule for v in violations] == ["balance_mismatch"]
    assert f"account #{account_id(ledger, 'BETA')} SO2-2026" in violations[0].detail


def test_the_invariant_check_reports_a_tampered_pending_counter_as_balance_mismatch(
    ledger: Store,
) -> None:
    with ledger.engine.begin() as connection:
        connection.execute(
            text("UPDATE balances SET debits_pending = 7 WHERE account_id = :id"),
            {"id": account_id(ledger, "ALPHA")},
        )

    assert rules(ledger) == {"balance_mismatch"}


def test_the_invariant_check_finds_nothing_in_an_untouched_ledger(ledger: Store) -> None:
    assert queries.check_invariants(ledger, actor(ledger)) == []
