"""Engines for SQLite (embedded default) and PostgreSQL, each set up the way a ledger needs.

SQLite: WAL, a busy timeout, foreign keys on, and SQLAlchemy's pysqlite recipe so that write
transactions start with BEGIN IMMEDIATE (a deferred BEGIN that reads then writes can fail with
SQLITE_BUSY even with a timeout). PostgreSQL: psycopg 3, READ COMMITTED plus explicit row locks.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import Connection, make_url

SQLITE_BUSY_TIMEOUT_MS = 30_000


def normalize_url(url: str) -> str:
    """Accept plain `postgresql://` URLs and use the psycopg 3 driver for them."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_ledger_engine(
    url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10
) -> Engine:
    """An engine configured for the ledger's transactions on either database."""
    url = normalize_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        return _sqlite_engine(url, sqlite_synchronous)
    # No pre-ping (a round trip per checkout): a dead connection surfaces as a disconnect error,
    # which the unit of work turns into a retry on a fresh connection.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size)


def _sqlite_engine(url: str, synchronous: str) -> Engine:
    assert synchronous in ("FULL", "NORMAL"), synchronous
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        if connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            return  # a unit of work began its transaction on the driver (SqlUnitOfWork)
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")

    return engine
