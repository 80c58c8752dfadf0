"""The write path's statements on PostgreSQL: two statements per write, on the driver directly.

A write used to cost five statements (lock the balances, read the accounts' flags, update the
balances, insert the entry, insert its postings), each with SQLAlchemy's per-statement work on
top of a round trip. Here it is two fixed statements, prepared by psycopg after a few uses:

1. `LOCK`: the balance rows, in one fixed order (writers queue instead of deadlocking), joined
   with their accounts' frozen/closed flags;
2. `WRITE`: the balance updates, the entries, their postings and their references as
   data-modifying CTEs over four JSON row sets (so its text never changes with the number of
   rows), plus the flags read again.

Why the flags are read twice: under READ COMMITTED a statement that waited for a row lock sees
the locked rows' newest versions but the joined accounts as of its start, so a freeze or close
that committed while `LOCK` waited can be missing from its answer. `WRITE` starts after the locks
are held and sees it; if any account is now blocked that `LOCK` reported open, the write is
refused as a retryable conflict and the retry books against the fresh flags.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import psycopg
from sqlalchemy.exc import DBAPIError

from ledger.domain.accounts import Balance, Side
from ledger.domain.entries import BalanceKey

LOCK = (
    "SELECT b.account_id, b.instrument_code, b.normal_side, b.non_negative, b.debits_posted,"
    " b.credits_posted, b.debits_pending, b.credits_pending, b.version, b.updated_at,"
    " a.frozen, a.closed"
    " FROM balances AS b"
    " JOIN unnest(%s::bigint[], %s::varchar[]) AS k(account_id, code)"
    " ON b.account_id = k.account_id AND b.instrument_code = k.code"
    " JOIN accounts AS a ON a.id = b.account_id"
    " ORDER BY b.account_id, b.instrument_code FOR UPDATE OF b"
)
# Balance rows a write found missing, created (in key order) by its retry before any lock.
CREATE_BALANCES = """
INSERT INTO balances (account_id, instrument_code, normal_side, non_negative, debits_posted,
                      credits_posted, debits_pending, credits_pending, version, updated_at)
SELECT account_id, instrument_code, normal_side, non_negative, 0, 0, 0, 0, 0, to_timestamp(0)
  FROM jsonb_to_recordset(%s::jsonb)
       AS v(account_id bigint, instrument_code varchar, normal_side varchar, non_negative boolean)
 ORDER BY account_id, instrument_code
    ON CONFLICT DO NOTHING
"""
# Rows travel as JSON arrays (one parameter each: cheaper to send than an array per column,
# and the statement text never changes with their number); instants as ISO 8601 with offset.
WRITE = """
WITH saved AS (
    UPDATE balances AS b
       SET debits_posted = v.debits_posted, credits_posted = v.credits_posted,
           debits_pending = v.debits_pending, credits_pending = v.credits_pending,
           version = v.version, updated_at = v.updated_at
      FROM jsonb_to_recordset(%(balances)s::jsonb)
           AS v(account_id bigint, instrument_code varchar, debits_posted bigint,
                credits_posted bigint, debits_pending bigint, credits_pending bigint,
                version bigint, updated_at timestamptz)
     WHERE b.account_id = v.account_id AND b.instrument_code = v.instrument_code
), inserted AS (
    INSERT INTO entries (entry_id, request_hash, entry_type, status, effective_at, recorded_at,
                         memo, metadata, reverses_seq, pending_seq, expires_at)
    SELECT entry_id, request_hash, entry_type, status, effective_at, recorded_at, memo,
           metadata, reverses_seq, pending_seq, expires_at
      FROM jsonb_to_recordset(%(entries)s::jsonb)
           AS v(entry_id varchar, request_hash varchar, entry_type varchar, status varchar,
                effective_at timestamptz, recorded_at timestamptz, memo varchar, metadata json,
                reverses_seq bigint, pending_seq bigint, expires_at timestamptz, position bigint)
     ORDER BY position
    RETURNING seq, entry_id
), posted AS (
    INSERT INTO postings (entry_seq, account_id, instrument_code, side, units, pending,
                          recorded_at, effective_at, debits_after, credits_after)
    SELECT i.seq, v.account_id, v.instrument_code, v.side, v.units, v.pending, v.recorded_at,
           v.effective_at, v.debits_after, v.credits_after
      FROM jsonb_to_recordset(%(postings)s::jsonb)
           AS v(entry_id varchar, account_id bigint, instrument_code varchar, side varchar,
                units bigint, pending boolean, recorded_at timestamptz, effective_at timestamptz,
                debits_after bigint, credits_after bigint, position bigint)
      JOIN inserted AS i ON i.entry_id = v.entry_id
     ORDER BY v.position
), referenced AS (
    INSERT INTO entry_references (entry_seq, kind, reference)
    SELECT i.seq, v.kind, v.reference
      FROM jsonb_to_recordset(%(references)s::jsonb)
           AS v(entry_id varchar, kind varchar, reference varchar)
      JOIN inserted AS i ON i.entry_id = v.entry_id
)
SELECT ARRAY(SELECT entry_id FROM inserted ORDER BY seq),
       ARRAY(SELECT seq FROM inserted ORDER BY seq),
       ARRAY(SELECT id FROM accounts WHERE id = ANY(%(flag_ids)s::bigint[])
              AND (frozen OR closed) ORDER BY id)
"""

# A write's audit line (`access_repositories`), sent with the COMMIT that ends the write.
AUDIT = (
    "INSERT INTO audit_log (at, principal_id, token_id, action, target, outcome, status, code,"
    " request_id) VALUES (%(at)s, %(principal_id)s, %(token_id)s, %(action)s, %(target)s,"
    " %(outcome)s, %(status)s, %(code)s, %(request_id)s)"
)

P = ParamSpec("P")
R = TypeVar("R")


def _as_sqlalchemy_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Driver errors as SQLAlchemy's, so the unit of work translates them in its one place;
    a connection the error broke is reported invalidated, so the caller's retry takes another."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except psycopg.Error as error:
            cursor: Any = args[0]
            broken = bool(cursor.connection.broken)
            raise DBAPIError.instance(
                function.__name__,
                None,
                error,
                psycopg.Error,
                connection_invalidated=broken,
                dialect=None,
            ) from error

    return wrapper


Flags = dict[int, tuple[bool, bool]]  # account id -> (frozen, closed)


@_as_sqlalchemy_errors
def lock_rows(cursor: Any, keys: set[BalanceKey]) -> tuple[dict[BalanceKey, Balance], Flags]:
    """Lock the balances of `keys` in key order; them and their accounts' flags."""
    pairs = sorted(keys)
    cursor.execute(LOCK, ([key[0] for key in pairs], [key[1] for key in pairs]))
    balances: dict[BalanceKey, Balance] = {}
    flags: Flags = {}
    for row in cursor.fetchall():
        flags[row[0]] = (row[10], row[11])
        balances[(row[0], row[1])] = Balance(
            account_id=row[0],
            instrument_code=row[1],
            normal_side=Side(row[2]),
            non_negative=row[3],
            debits_posted=row[4],
            credits_posted=row[5],
            debits_pending=row[6],
            credits_pending=row[7],
            version=row[8],
            updated_at=row[9],
        )
    return balances, flags


@_as_sqlalchemy_errors
def create_balances(cursor: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the balance rows that do not exist yet (another writer may have just done so)."""
    cursor.execute(CREATE_BALANCES, (_json(rows),))


@dataclass(frozen=True, slots=True)
class Written:
    """What `WRITE` answered: each entry's sequence number, and the accounts blocked now."""

    seqs: dict[str, int]
    blocked: frozenset[int]


@_as_sqlalchemy_errors
def write(
    cursor: Any,
    balances: Sequence[tuple[Balance, datetime]],
    entries: Sequence[dict[str, Any]],
    postings: Sequence[dict[str, Any]],
    references: Sequence[dict[str, Any]] = (),
) -> Written:
    """Save `balances` (each with the recorded time of its change), insert `entries` (rows as
    the repository builds them), `postings` and `references` (each naming its entry by
    `entry_id`) at once."""
    params = {
        "balances": _json([_balance_row(balance, at) for balance, at in balances]),
        "entries": _json(_numbered(entries)),
        "postings": _json(_numbered(postings)),
        "references": _json(references),
        "flag_ids": sorted(
            {p["account_id"] for p in postings} | {b.account_id for b, _ in balances}
        ),
    }
    entry_ids, seqs, blocked = cursor.execute(WRITE, params).fetchone()
    return Written(dict(zip(entry_ids, seqs, strict=True)), frozenset(blocked))


@_as_sqlalchemy_errors
def audit_and_commit(cursor: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert the audit lines and commit in one round trip (a pipeline: the INSERT and the
    COMMIT travel together and are answered together): the audit line costs no wait of its own."""
    connection = cursor.connection
    with connection.pipeline():
        cursor.executemany(AUDIT, rows)
        connection.commit()


def _balance_row(balance: Balance, updated_at: datetime) -> dict[str, Any]:
    return {
        "account_id": balance.account_id,
        "instrument_code": balance.instrument_code,
        "debits_posted": balance.debits_posted,
        "credits_posted": balance.credits_posted,
        "debits_pending": balance.debits_pending,
        "credits_pending": balance.credits_pending,
        "version": balance.version + 1,
        "updated_at": updated_at,
    }


def _numbered(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with their position: the order of the entries' seqs and of the postings' ids."""
    return [{**row, "position": position} for position, row in enumerate(rows)]


def _json(rows: Sequence[dict[str, Any]]) -> str:
    return _ENCODER.encode(rows)


def _instant(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a column value")


# json.dumps with options builds an encoder per call: four a write (~1 µs each). It keeps none
# of a call's state, so one serves every thread.
_ENCODER = json.JSONEncoder(default=_instant, separators=(",", ":"))
