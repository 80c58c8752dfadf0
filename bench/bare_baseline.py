"""The load test's baseline: a bare FastAPI endpoint doing a transfer's SQL with the raw driver.

    LEDGER_DATABASE_URL=... python -m uvicorn bench.bare_baseline:app --no-access-log

`POST /transfer {"entry_id", "source", "destination", "units"}` writes what the ledger writes
for one transfer, on the same migrated tables (triggers, CHECKs): the ordered lock of the two
balance rows, the entry, its two postings with running balances, the two balance updates, one
commit (the SQL of `bench.workloads`' raw workers, psycopg 3 or sqlite3: on PostgreSQL the
ledger's own two statements). Nothing else: no
authentication, no audit, no idempotency lookup, no service layer; a Pydantic body and a JSON
answer, as any FastAPI endpoint. `bench.load` drives it exactly as it drives `POST /v1/entries`
so that the full API's throughput is a ratio of this one.
"""

from __future__ import annotations

import hashlib
import os
import queue
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from sqlalchemy.engine import make_url

from bench.dataset import sqlite_instant
from bench.workloads import (
    SQLITE_INSERT_ENTRY,
    SQLITE_INSERT_POSTING,
    SQLITE_UPDATE_BALANCE,
    pg_balance,
    pg_write_params,
    sqlite_connect,
)
from ledger.persistence.engine import normalize_url
from ledger.persistence.postgresql_write_path import LOCK as PG_LOCK
from ledger.persistence.postgresql_write_path import WRITE as PG_WRITE

INSTRUMENT = "XFER-2026"  # bench.live.TRANSFER_INSTRUMENT
POOL_SIZE = 20
ATTEMPTS_MAX = 20
LOCK_COLUMNS = (
    "b.account_id, b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending,"
    " b.version, b.updated_at, b.non_negative, b.normal_side, a.frozen, a.closed"
)
SQLITE_LOCK = (
    f"SELECT {LOCK_COLUMNS} FROM balances b JOIN accounts a ON a.id = b.account_id"
    " WHERE b.instrument_code = ? AND a.code IN (?, ?) ORDER BY b.account_id, b.instrument_code"
)


class TransferIn(BaseModel):
    entry_id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=64)
    destination: str = Field(min_length=1, max_length=64)
    units: int = Field(gt=0)


class TransferOut(BaseModel):
    entry_id: str
    seq: int


class Pool:
    """Connections for the endpoint's threads: each request borrows one and gives it back."""

    def __init__(self, database_url: str) -> None:
        url = make_url(normalize_url(database_url))
        self.sqlite = url.get_backend_name() == "sqlite"
        self._target = (
            str(url.database) if self.sqlite
            else url.set(drivername="postgresql").render_as_string(hide_password=False)
        )  # fmt: skip
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        try:
            connection = self._idle.get_nowait()
        except queue.Empty:
            connection = (
                sqlite_connect(self._target, "FULL") if self.sqlite
                else psycopg.connect(self._target)
            )  # fmt: skip
        try:
            yield connection
        except BaseException:
            connection.close()
            raise
        if self._idle.qsize() < POOL_SIZE:
            self._idle.put(connection)
        else:
            connection.close()


def _book(rows: list[Any], body: TransferIn, codes: dict[int, str]) -> list[tuple[Any, ...]]:
    """(account id, side, debits_after, credits_after, row) per posting; refuses an overdraft."""
    by_code = {codes[row[0]]: list(row) for row in rows}
    if len(by_code) != 2:
        raise HTTPException(404, "unknown account")
    debit, credit = by_code[body.source], by_code[body.destination]
    if debit[9] or debit[10] or credit[10]:
        raise HTTPException(422, "account frozen or closed")
    debit[1] += body.units
    credit[2] += body.units
    if debit[7] and debit[8] == "credit" and debit[2] - debit[1] - debit[3] < 0:
        raise HTTPException(422, "insufficient balance")
    return [
        (debit[0], "debit", debit[1], debit[2], debit),
        (credit[0], "credit", credit[1], credit[2], credit),
    ]


def _postgres(connection: psycopg.Connection[Any], body: TransferIn) -> int:
    source, destination = _ids(connection, body.source, body.destination)
    keys = sorted({source, destination})
    with connection.cursor() as cursor:
        rows = cursor.execute(PG_LOCK, (keys, [INSTRUMENT] * len(keys))).fetchall()
        balances = {row[0]: pg_balance(row) for row in rows}
        if len(balances) != 2:
            raise HTTPException(404, "unknown account")
        debit, credit = balances[source], balances[destination]
        if debit.frozen or debit.closed or credit.closed:
            raise HTTPException(422, "account frozen or closed")
        debit.debits += body.units
        credit.credits += body.units
        if debit.non_negative and debit.available() < 0:
            raise HTTPException(422, "insufficient balance")
        now = max(datetime.now(UTC), *(b.updated_at for b in balances.values()))
        booked = [
            (0, source, "debit", body.units, debit.debits, debit.credits),
            (0, destination, "credit", body.units, credit.debits, credit.credits),
        ]
        entry = (body.entry_id, hashlib.sha256(body.entry_id.encode()).hexdigest())
        cursor.execute(PG_WRITE, pg_write_params(INSTRUMENT, balances, [entry], booked, now))
        written = cursor.fetchone()
        assert written is not None
        seq = int(written[1])
    connection.commit()
    return seq


_IDS: dict[str, int] = {}  # account code -> id (accounts never change either)


def _ids(connection: psycopg.Connection[Any], *codes: str) -> list[int]:
    missing = [code for code in codes if code not in _IDS]
    if missing:
        rows = connection.execute("SELECT code, id FROM accounts WHERE code = ANY(%s)", [missing])
        _IDS.update((row[0], row[1]) for row in rows)
    if any(code not in _IDS for code in codes):
        raise HTTPException(404, "unknown account")
    return [_IDS[code] for code in codes]


_CODES: dict[int, str] = {}  # account id -> code, for SQLite (accounts never change it)


def _codes(cursor: Any, ids: list[int]) -> dict[int, str]:
    missing = [account for account in ids if account not in _CODES]
    if missing:
        marks = ", ".join("?" for _ in missing)
        cursor.execute(f"SELECT id, code FROM accounts WHERE id IN ({marks})", missing)
        _CODES.update((row[0], row[1]) for row in cursor.fetchall())
    return _CODES


def _sqlite(connection: sqlite3.Connection, body: TransferIn) -> int:
    connection.execute("BEGIN IMMEDIATE")
    try:
        cursor = connection.cursor()
        rows = cursor.execute(SQLITE_LOCK, (INSTRUMENT, body.source, body.destination)).fetchall()
        booked = _book(rows, body, _codes(cursor, [row[0] for row in rows]))
        now = max(sqlite_instant(datetime.now(UTC)), *(row[6] for row in rows))
        request_hash = hashlib.sha256(body.entry_id.encode()).hexdigest()
        cursor.execute(SQLITE_INSERT_ENTRY, (
            body.entry_id, request_hash, "transfer", "posted", now, now, "", "{}", None, None, None,
        ))  # fmt: skip
        seq = int(cursor.lastrowid or 0)
        cursor.executemany(SQLITE_INSERT_POSTING, [
            (seq, account, INSTRUMENT, side, body.units, 0, now, now, debits, credits)
            for account, side, debits, credits, _ in booked
        ])  # fmt: skip
        cursor.executemany(SQLITE_UPDATE_BALANCE, [
            (row[1], row[2], row[3], row[4], row[5] + 1, now, account, INSTRUMENT)
            for account, _, _, _, row in booked
        ])  # fmt: skip
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return seq


def create_bare_app(database_url: str) -> FastAPI:
    pool = Pool(database_url)
    app = FastAPI(title="bare transfer baseline")

    @app.get("/v1/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/transfer", response_model=TransferOut, status_code=201)
    def transfer(body: TransferIn) -> TransferOut:
        for _ in range(ATTEMPTS_MAX):
            try:
                with pool.connection() as connection:
                    seq = _sqlite(connection, body) if pool.sqlite else _postgres(connection, body)
                return TransferOut(entry_id=body.entry_id, seq=seq)
            except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure):
                continue
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
        raise HTTPException(503, "retries exhausted")

    return app


def __getattr__(name: str) -> Any:
    """`bench.bare_baseline:app` for uvicorn, over LEDGER_DATABASE_URL (built on first use)."""
    if name == "app":
        return create_bare_app(os.environ["LEDGER_DATABASE_URL"])
    raise AttributeError(name)
