"""The two sides of every comparison: transfers through the service layer, and the same
transactions written with the raw driver.

Service side: `post_entry` (one transfer per commit) or `post_batch` (`batch` transfers per
commit) with a shared `Store`, exactly as the API calls them.

Raw side, per commit, the SQL the ledger's write path runs and nothing else:
1. lock the touched balance rows in one ordered statement (`SELECT ... ORDER BY ... FOR UPDATE`
   on PostgreSQL; `BEGIN IMMEDIATE` already holds SQLite's write lock), reading the counters and
   the accounts' frozen/closed flags;
2. book in Python: account flags, running balances, non-negative check;
3. write: on PostgreSQL the ledger's own `WRITE` statement (balance updates, entries, postings
   with `debits_after`/`credits_after`, in one statement fed by JSON; see
   `ledger/persistence/postgresql_write_path.py`); on SQLite insert the entry rows (returning
   their seq) and posting rows and update each touched balance row;
4. commit.
The tables, CHECKs and triggers are the migrated ones, identical for both sides.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg

from bench.dataset import INSTRUMENT, TRANSFER_UNITS_MAX, holder_code, holder_id, sqlite_instant
from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.domain.errors import RetryableConflict
from ledger.persistence.engine import SQLITE_BUSY_TIMEOUT_MS
from ledger.persistence.postgresql_write_path import LOCK as PG_LOCK
from ledger.persistence.postgresql_write_path import WRITE as PG_WRITE
from ledger.persistence.store import Store
from ledger.services.journal import PostEntry, post_batch, post_entry

RAW_ATTEMPTS_MAX = 20
Transfer = tuple[int, int, int]  # (source holder index, destination holder index, units)


class Picker:
    """Random transfers: between any two holders, or from the hot holder 0 to any other."""

    def __init__(self, accounts: int, *, hot: bool, seed: int) -> None:
        self._accounts = accounts
        self._hot = hot
        self._random = random.Random(seed)

    def __call__(self) -> Transfer:
        draw = self._random.randrange
        units = draw(1, TRANSFER_UNITS_MAX + 1)
        if self._hot:
            return 0, draw(1, self._accounts), units
        source = draw(self._accounts)
        destination = draw(self._accounts - 1)
        return source, destination + (destination >= source), units


# -- through the service layer -------------------------------------------------------------

_AMOUNTS = [Decimal(units).scaleb(-INSTRUMENT.scale) for units in range(TRANSFER_UNITS_MAX + 1)]


class ServiceWorker:
    """Posts transfers with `post_entry` / `post_batch` on a shared store."""

    def __init__(self, store: Store, picker: Picker, prefix: str, batch: int) -> None:
        self.retries = 0
        self._store = store
        self._picker = picker
        self._prefix = prefix
        self._batch = batch
        self._number = 0

    def _command(self) -> PostEntry:
        source, destination, units = self._picker()
        amount = _AMOUNTS[units]
        self._number += 1
        return PostEntry(
            entry_id=f"{self._prefix}{self._number}",
            entry_type="transfer",
            postings=(
                PostingRequest(holder_code(source), INSTRUMENT.code, Side.DEBIT, amount),
                PostingRequest(holder_code(destination), INSTRUMENT.code, Side.CREDIT, amount),
            ),
        )

    def step(self) -> int:
        commands = [self._command() for _ in range(self._batch)]
        try:
            if self._batch == 1:
                post_entry(self._store, commands[0])
            else:
                post_batch(self._store, commands)
        except RetryableConflict:  # the service's own bounded retries ran out
            self.retries += 1
            return 0
        return self._batch

    def close(self) -> None:
        pass


# -- raw drivers: the booking both use -------------------------------------------------------


class RawBalance:
    """A locked balance row as the raw side reads, books and writes it back."""

    __slots__ = (
        "closed",
        "credits",
        "credits_pending",
        "debits",
        "debits_pending",
        "frozen",
        "non_negative",
        "normal_credit",
        "updated_at",
        "version",
    )
    normal_credit: bool
    non_negative: bool
    debits: int
    credits: int
    debits_pending: int
    credits_pending: int
    version: int
    updated_at: Any  # datetime on PostgreSQL, the stored ISO text on SQLite
    frozen: bool
    closed: bool

    def __init__(self, row: Sequence[Any]) -> None:
        (
            self.normal_credit,
            self.non_negative,
            self.debits,
            self.credits,
            self.debits_pending,
            self.credits_pending,
            self.version,
            self.updated_at,
            self.frozen,
            self.closed,
        ) = (
            row[1] == "credit",
            bool(row[2]),
            row[3],
            row[4],
            row[5],
            row[6],
            row[7],
            row[8],
            bool(row[9]),
            bool(row[10]),
        )

    def available(self) -> int:
        if self.normal_credit:
            return self.credits - self.debits - self.debits_pending
        return self.debits - self.credits - self.credits_pending


# (entry index in the transaction, account id, side, units, debits_after, credits_after)
_Booked = tuple[int, int, str, int, int, int]

_LOCK_COLUMNS = (
    "b.account_id, b.normal_side, b.non_negative, b.debits_posted, b.credits_posted, "
    "b.debits_pending, b.credits_pending, b.version, b.updated_at, a.frozen, a.closed"
)


class RefusedTransfer(Exception):
    """The raw side's booking refused a transfer (never expected in the benchmark)."""


# (source account id, destination account id, units), one per entry of a transaction
Move = tuple[int, int, int]


def book(moves: Sequence[Move], balances: dict[int, RawBalance]) -> list[_Booked]:
    """Book `moves` on locked `balances` (flags, running balances, non-negative limits)."""
    booked: list[_Booked] = []
    for index, (source, destination, units) in enumerate(moves):
        debit, credit = balances[source], balances[destination]
        if debit.closed or debit.frozen or credit.closed:
            raise RefusedTransfer(f"account closed or frozen in transfer {index}")
        debit.debits += units
        credit.credits += units
        booked.append((index, source, "debit", units, debit.debits, debit.credits))
        booked.append((index, destination, "credit", units, credit.debits, credit.credits))
    for account_id, balance in balances.items():
        if balance.non_negative and balance.available() < 0:
            raise RefusedTransfer(f"account #{account_id} would go negative")
    return booked


def _moves(transfers: Sequence[Transfer]) -> list[Move]:
    return [(holder_id(source), holder_id(target), units) for source, target, units in transfers]


def _entry_id(prefix: str, number: int) -> tuple[str, str]:
    entry_id = f"{prefix}{number}"
    return entry_id, hashlib.sha256(entry_id.encode()).hexdigest()


# -- raw psycopg 3: the ledger's own two statements ------------------------------------------


def pg_write_params(
    code: str,
    balances: dict[int, Any],
    entries: Sequence[tuple[str, str]],
    booked: Sequence[_Booked],
    now: datetime,
) -> dict[str, Any]:
    """`PG_WRITE`'s parameters: `balances` (account id -> booked counters, as `RawBalance`),
    `entries` ((entry id, request hash) in order), `booked` postings naming their entry by index."""
    at = now.isoformat()
    rows = [
        {
            "account_id": account_id,
            "instrument_code": code,
            "debits_posted": b.debits,
            "credits_posted": b.credits,
            "debits_pending": b.debits_pending,
            "credits_pending": b.credits_pending,
            "version": b.version + 1,
            "updated_at": at,
        }
        for account_id, b in balances.items()
    ]
    entry_rows: list[dict[str, Any]] = [
        {
            "entry_id": entry_id,
            "request_hash": request_hash,
            "entry_type": "transfer",
            "status": "posted",
            "effective_at": at,
            "recorded_at": at,
            "memo": "",
            "metadata": {},
            "reverses_seq": None,
            "pending_seq": None,
            "expires_at": None,
            "position": position,
        }
        for position, (entry_id, request_hash) in enumerate(entries)
    ]
    posting_rows = [
        {
            "entry_id": entries[index][0],
            "account_id": account_id,
            "instrument_code": code,
            "side": side,
            "units": units,
            "pending": False,
            "recorded_at": at,
            "effective_at": at,
            "debits_after": debits,
            "credits_after": credits,
            "position": position,
        }
        for position, (index, account_id, side, units, debits, credits) in enumerate(booked)
    ]
    return {
        "balances": json.dumps(rows),
        "entries": json.dumps(entry_rows),
        "postings": json.dumps(posting_rows),
        "references": "[]",  # a transfer names no business record
        "flag_ids": sorted(balances),
    }


def pg_lock(cursor: Any, code: str, ids: Sequence[int]) -> dict[int, RawBalance]:
    """`PG_LOCK` of the balances of `ids` in `code`: account id -> its locked balance."""
    rows = cursor.execute(PG_LOCK, (list(ids), [code] * len(ids))).fetchall()
    return {row[0]: RawBalance((row[0], *row[2:])) for row in rows}  # row[1]: the instrument


class PostgresRawWorker:
    """The same transactions with one psycopg 3 connection (READ COMMITTED, explicit locks)."""

    def __init__(self, conninfo: str, picker: Picker, prefix: str, batch: int) -> None:
        self.retries = 0
        self._connection = psycopg.connect(conninfo)
        self._picker = picker
        self._prefix = prefix
        self._batch = batch
        self._number = 0

    def step(self) -> int:
        transfers = [self._picker() for _ in range(self._batch)]
        for _ in range(RAW_ATTEMPTS_MAX):
            try:
                self._transaction(transfers)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                self._connection.rollback()
                self.retries += 1
                continue
            return len(transfers)
        raise RuntimeError("raw PostgreSQL transaction did not settle")

    def _transaction(self, transfers: Sequence[Transfer]) -> None:
        code = INSTRUMENT.code
        ids = sorted(
            {
                holder_id(index)
                for source, destination, _ in transfers
                for index in (source, destination)
            }
        )
        with self._connection.cursor() as cursor:
            balances = pg_lock(cursor, code, ids)
            assert len(balances) == len(ids), (ids, balances)
            now = max(datetime.now(UTC), *(b.updated_at for b in balances.values()))
            booked = book(_moves(transfers), balances)
            entries = []
            for _ in transfers:
                self._number += 1
                entries.append(_entry_id(self._prefix, self._number))
            cursor.execute(PG_WRITE, pg_write_params(code, balances, entries, booked, now))
            cursor.fetchall()
        self._connection.commit()

    def close(self) -> None:
        self._connection.close()


# -- raw sqlite3 ---------------------------------------------------------------------------

SQLITE_INSERT_ENTRY = (
    "INSERT INTO entries (entry_id, request_hash, entry_type, status, effective_at, recorded_at,"
    " memo, metadata, reverses_seq, pending_seq, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQLITE_INSERT_POSTING = (
    "INSERT INTO postings (entry_seq, account_id, instrument_code, side, units, pending,"
    " recorded_at, effective_at, debits_after, credits_after)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
SQLITE_UPDATE_BALANCE = (
    "UPDATE balances SET debits_posted = ?, credits_posted = ?, debits_pending = ?,"
    " credits_pending = ?, version = ?, updated_at = ? WHERE account_id = ? AND instrument_code = ?"
)


def sqlite_lock(
    connection: sqlite3.Connection, code: str, ids: Sequence[int]
) -> dict[int, RawBalance]:
    """The balances of `ids` in `code` (`BEGIN IMMEDIATE` already holds the write lock)."""
    marks = ", ".join("?" * len(ids))
    rows = connection.execute(
        f"SELECT {_LOCK_COLUMNS} FROM balances b JOIN accounts a ON a.id = b.account_id"
        f" WHERE b.instrument_code = ? AND b.account_id IN ({marks})"
        " ORDER BY b.account_id, b.instrument_code",
        (code, *ids),
    ).fetchall()
    return {row[0]: RawBalance(row) for row in rows}


def sqlite_write(  # noqa: PLR0917 - the pieces of one transaction, as pg_write_params takes
    connection: sqlite3.Connection,
    code: str,
    balances: dict[int, RawBalance],
    entries: Sequence[tuple[str, str]],
    booked: Sequence[_Booked],
    now: str,
) -> list[int]:
    """Insert `entries` ((entry id, request hash)) and their `booked` postings, save the
    balances; the entries' seqs."""
    seqs = []
    for entry_id, request_hash in entries:
        cursor = connection.execute(
            SQLITE_INSERT_ENTRY,
            (
                entry_id,
                request_hash,
                "transfer",
                "posted",
                now,
                now,
                "",
                "{}",
                None,
                None,
                None,
            ),
        )
        seqs.append(int(cursor.lastrowid or 0))
    connection.executemany(
        SQLITE_INSERT_POSTING,
        [
            (seqs[index], account_id, code, side, units, 0, now, now, debits, credits)
            for index, account_id, side, units, debits, credits in booked
        ],
    )
    connection.executemany(
        SQLITE_UPDATE_BALANCE,
        [
            (
                b.debits,
                b.credits,
                b.debits_pending,
                b.credits_pending,
                b.version + 1,
                now,
                account_id,
                code,
            )
            for account_id, b in balances.items()
        ],
    )
    return seqs


def sqlite_connect(path: str, synchronous: str) -> sqlite3.Connection:
    """A raw connection set up as the ledger's engine sets up its own."""
    connection = sqlite3.connect(
        path,
        timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute(f"PRAGMA synchronous={synchronous}")
    connection.execute("PRAGMA foreign_keys=ON")
    connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return connection


class SqliteRawWorker:
    """The same transactions with one sqlite3 connection in WAL, `BEGIN IMMEDIATE` per commit."""

    def __init__(
        self, path: str, synchronous: str, picker: Picker, prefix: str, batch: int
    ) -> None:
        self.retries = 0
        self._connection = sqlite_connect(path, synchronous)
        self._picker = picker
        self._prefix = prefix
        self._batch = batch
        self._number = 0

    def step(self) -> int:
        transfers = [self._picker() for _ in range(self._batch)]
        for _ in range(RAW_ATTEMPTS_MAX):
            try:
                self._transaction(transfers)
            except sqlite3.OperationalError as error:
                if self._connection.in_transaction:
                    self._connection.execute("ROLLBACK")
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
                self.retries += 1
                continue
            return len(transfers)
        raise RuntimeError("raw SQLite transaction did not settle")

    def _transaction(self, transfers: Sequence[Transfer]) -> None:
        code = INSTRUMENT.code
        connection = self._connection
        ids = sorted(
            {
                holder_id(index)
                for source, destination, _ in transfers
                for index in (source, destination)
            }
        )
        connection.execute("BEGIN IMMEDIATE")
        try:
            balances = sqlite_lock(connection, code, ids)
            assert len(balances) == len(ids), (ids, balances)
            now = max(sqlite_instant(datetime.now(UTC)), *(b.updated_at for b in balances.values()))
            booked = book(_moves(transfers), balances)
            entries = []
            for _ in transfers:
                self._number += 1
                entries.append(_entry_id(self._prefix, self._number))
            sqlite_write(connection, code, balances, entries, booked, now)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._connection.close()
