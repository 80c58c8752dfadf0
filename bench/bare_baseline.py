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
    RefusedTransfer,
    book,
    pg_lock,
    pg_write_params,
    sqlite_connect,
    sqlite_lock,
    sqlite_write,
)
from ledger.persistence.engine import normalize_url
from ledger.persistence.postgresql_write_path import WRITE as PG_WRITE

INSTRUMENT = "XFER-2026"  # bench.live.TRANSFER_INSTRUMENT
POOL_SIZE = 20
ATTEMPTS_MAX = 20


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


def _postgres(connection: psycopg.Connection[Any], body: TransferIn) -> int:
    source, destination = _ids(connection, body.source, body.destination)
    with connection.cursor() as cursor:
        balances = pg_lock(cursor, INSTRUMENT, sorted({source, destination}))
        booked = _book(balances, source, destination, body.units)
        now = max(datetime.now(UTC), *(b.updated_at for b in balances.values()))
        params = pg_write_params(INSTRUMENT, balances, [_entry(body)], booked, now)
        written = cursor.execute(PG_WRITE, params).fetchone()
    connection.commit()
    assert written is not None
    _, seqs, _ = written  # the entries' ids, their seqs, the accounts blocked now
    return int(seqs[0])


def _sqlite(connection: sqlite3.Connection, body: TransferIn) -> int:
    source, destination = _ids(connection, body.source, body.destination)
    connection.execute("BEGIN IMMEDIATE")
    try:
        balances = sqlite_lock(connection, INSTRUMENT, sorted({source, destination}))
        booked = _book(balances, source, destination, body.units)
        now = max(sqlite_instant(datetime.now(UTC)), *(b.updated_at for b in balances.values()))
        (seq,) = sqlite_write(connection, INSTRUMENT, balances, [_entry(body)], booked, now)
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return seq


def _book(balances: dict[int, Any], source: int, destination: int, units: int) -> list[Any]:
    if source == destination or len(balances) != 2:
        raise HTTPException(404, "unknown account")
    try:
        return book([(source, destination, units)], balances)
    except RefusedTransfer as refused:
        raise HTTPException(422, str(refused)) from refused


def _entry(body: TransferIn) -> tuple[str, str]:
    return body.entry_id, hashlib.sha256(body.entry_id.encode()).hexdigest()


_IDS: dict[str, int] = {}  # account code -> id (accounts never change it)


def _ids(connection: Any, *codes: str) -> list[int]:
    missing = [code for code in codes if code not in _IDS]
    if missing:
        mark = "?" if isinstance(connection, sqlite3.Connection) else "%s"
        marks = ", ".join(mark for _ in missing)
        query = f"SELECT code, id FROM accounts WHERE code IN ({marks})"
        rows = connection.execute(query, missing)
        _IDS.update((row[0], row[1]) for row in rows.fetchall())
    if any(code not in _IDS for code in codes):
        raise HTTPException(404, "unknown account")
    return [_IDS[code] for code in codes]


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
