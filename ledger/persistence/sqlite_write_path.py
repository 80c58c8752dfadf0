"""The write path's statements on SQLite, run on the driver's cursor directly.

SQLite executes these statements in microseconds, so SQLAlchemy's per-statement work (compiled
cache look-ups, parameter processing, result set-up) was most of the cost of a write; here the
SQL is fixed text and the few type conversions SQLAlchemy would do are written out: instants as
the same sortable UTC text SQLAlchemy stores, booleans as 0/1, metadata as JSON. The statements
run inside the unit of work's transaction (BEGIN IMMEDIATE), on its connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError

from ledger.domain.accounts import Balance, Side
from ledger.domain.entries import BalanceKey, EntryStatus
from ledger.domain.ports import NewEntry

_BALANCE_COLUMNS = (
    "b.account_id, b.instrument_code, b.normal_side, b.non_negative, b.debits_posted,"
    " b.credits_posted, b.debits_pending, b.credits_pending, b.version, b.updated_at,"
    " a.frozen, a.closed"
)
_SAVE_BALANCE = (
    "UPDATE balances SET debits_posted = ?, credits_posted = ?, debits_pending = ?,"
    " credits_pending = ?, version = ?, updated_at = ? WHERE account_id = ? AND instrument_code = ?"
)
_INSERT_ENTRY = (
    "INSERT INTO entries (entry_id, request_hash, entry_type, status, effective_at, recorded_at,"
    " memo, metadata, reverses_seq, pending_seq, expires_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_POSTING = (
    "INSERT INTO postings (entry_seq, account_id, instrument_code, side, units, pending,"
    " recorded_at, effective_at, debits_after, credits_after)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_AUDIT = (
    "INSERT INTO audit_log (at, principal_id, token_id, action, target, outcome, status, code,"
    " request_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

_SIDES = {side.value: side for side in Side}  # a dict look-up, not an Enum call per row

P = ParamSpec("P")
R = TypeVar("R")


def _as_sqlalchemy_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Driver errors as SQLAlchemy's, so the unit of work translates them in its one place."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except sqlite3.Error as error:
            raise DBAPIError.instance(
                function.__name__, None, error, sqlite3.Error, dialect=None
            ) from error

    return wrapper


def instant(moment: datetime | None) -> str | None:
    """An instant as SQLAlchemy's SQLite DateTime stores it: naive UTC, microseconds, in one
    fixed width that sorts as it parses (isoformat pads years before 1000, where strftime's %Y
    does not)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class _Instants(dict[datetime | None, str | None]):
    """`instant`, remembered: the entries of a batch share their recorded time."""

    def __call__(self, moment: datetime | None) -> str | None:
        text = self.get(moment)
        if text is None and moment is not None:
            text = self[moment] = instant(moment)
        return text


def parse_instant(text: str) -> datetime:
    """Back from `instant`'s text to an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@_as_sqlalchemy_errors
def begin(connection: Any, *, immediate: bool) -> None:
    """Open the unit of work's transaction on the driver connection (IMMEDIATE: with the write
    lock taken up front, since a deferred BEGIN that reads then writes can fail with SQLITE_BUSY
    whatever the timeout)."""
    connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN DEFERRED")


@_as_sqlalchemy_errors
def commit(connection: Any) -> None:
    """Commit the driver's transaction, if one is still open."""
    if connection.in_transaction:
        connection.execute("COMMIT")


@_as_sqlalchemy_errors
def rollback(connection: Any) -> None:
    """Roll the driver's transaction back, if one is still open."""
    if connection.in_transaction:
        connection.execute("ROLLBACK")


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


@_as_sqlalchemy_errors
def lock_rows(
    cursor: Any, keys: set[BalanceKey]
) -> tuple[dict[BalanceKey, Balance], dict[int, tuple[bool, bool]]]:
    """Balances of `keys` and the flags of their accounts (the write lock is already held)."""
    ids = sorted({account_id for account_id, _ in keys})
    codes = sorted({code for _, code in keys})
    cursor.execute(
        f"SELECT {_BALANCE_COLUMNS} FROM balances AS b JOIN accounts AS a ON a.id = b.account_id"  # noqa: S608 - placeholders only
        f" WHERE b.account_id IN ({_placeholders(len(ids))})"
        f" AND b.instrument_code IN ({_placeholders(len(codes))})",
        (*ids, *codes),
    )
    balances: dict[BalanceKey, Balance] = {}
    flags: dict[int, tuple[bool, bool]] = {}
    for row in cursor.fetchall():
        flags[row[0]] = (bool(row[10]), bool(row[11]))
        if (row[0], row[1]) in keys:
            balances[(row[0], row[1])] = Balance(
                account_id=row[0],
                instrument_code=row[1],
                normal_side=_SIDES[row[2]],
                non_negative=bool(row[3]),
                debits_posted=row[4],
                credits_posted=row[5],
                debits_pending=row[6],
                credits_pending=row[7],
                version=row[8],
                updated_at=parse_instant(row[9]),
            )
    return balances, flags


@_as_sqlalchemy_errors
def save_balances(cursor: Any, balances: Iterable[Balance], recorded_at: datetime) -> None:
    moment = instant(recorded_at)
    cursor.executemany(
        _SAVE_BALANCE,
        [
            (
                b.debits_posted,
                b.credits_posted,
                b.debits_pending,
                b.credits_pending,
                b.version + 1,
                moment,
                b.account_id,
                b.instrument_code,
            )
            for b in balances
        ],
    )


@_as_sqlalchemy_errors
def insert_entries(cursor: Any, new_entries: Sequence[NewEntry]) -> list[int]:
    """Insert the entries' rows; their sequence numbers."""
    seqs = []
    text_of = _Instants()
    for new in new_entries:
        draft = new.draft
        cursor.execute(
            _INSERT_ENTRY,
            (
                draft.entry_id,
                new.request_hash,
                draft.entry_type,
                new.status.value,
                text_of(new.effective_at),
                text_of(new.recorded_at),
                draft.memo,
                json.dumps(dict(draft.metadata)) if draft.metadata else "{}",
                new.reverses_seq,
                new.pending_seq,
                text_of(draft.expires_at),
            ),
        )
        # seq is the rowid; after the statement, the row it inserted (not a trigger's). The
        # raw baseline reads it so too: a RETURNING clause cost ~2.5 µs more per entry.
        seqs.append(cursor.lastrowid)
    return seqs


@_as_sqlalchemy_errors
def insert_postings(cursor: Any, new_entries: Sequence[NewEntry], seqs: Sequence[int]) -> None:
    """Insert the entries' postings (`seqs`: the entries' sequence numbers, in order)."""
    rows = []
    text_of = _Instants()
    for new, seq in zip(new_entries, seqs, strict=True):
        pending = int(new.status is EntryStatus.PENDING)
        recorded_at, effective_at = text_of(new.recorded_at), text_of(new.effective_at)
        rows += [
            (
                seq,
                p.account_id,
                p.instrument_code,
                p.side.value,
                p.units,
                pending,
                recorded_at,
                effective_at,
                p.debits_after,
                p.credits_after,
            )
            for p in new.postings
        ]
    if rows:
        cursor.executemany(_INSERT_POSTING, rows)


@_as_sqlalchemy_errors
def unbalanced_entries(cursor: Any, seqs: Sequence[int]) -> list[tuple[int, str]]:
    """Entries among `seqs` whose postings do not balance per instrument."""
    cursor.execute(
        "SELECT entry_seq, instrument_code FROM postings"  # noqa: S608 - placeholders only
        f" WHERE entry_seq IN ({_placeholders(len(seqs))})"
        " GROUP BY entry_seq, instrument_code"
        " HAVING sum(CASE side WHEN 'debit' THEN units ELSE -units END) != 0",
        tuple(seqs),
    )
    return [(row[0], row[1]) for row in cursor.fetchall()]


@_as_sqlalchemy_errors
def insert_audit(cursor: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Append audit lines (every request that changes something writes one)."""
    cursor.executemany(
        _INSERT_AUDIT,
        [
            (
                instant(row["at"]),
                row["principal_id"],
                row["token_id"],
                row["action"],
                row["target"],
                row["outcome"],
                row["status"],
                row["code"],
                row["request_id"],
            )
            for row in rows
        ],
    )
