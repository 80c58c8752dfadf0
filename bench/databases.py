"""Fresh, migrated databases for one benchmark phase, dropped (or deleted) afterwards.

PostgreSQL: `CREATE DATABASE ledger_bench_<purpose>_<random>` on the server named by the admin
URL. SQLite: a file in a temporary directory. Both get the ledger's own Alembic migration, so
the service and the raw baseline write to the same tables, CHECKs and triggers.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from ledger.persistence import migrate
from ledger.persistence.engine import normalize_url


@dataclass(frozen=True, slots=True)
class BenchDatabase:
    """Where one phase writes: a SQLAlchemy URL for the store and a raw-driver target."""

    backend: str  # "postgresql" | "sqlite"
    url: str  # for create_ledger_engine and the migration
    raw: str  # psycopg conninfo, or the SQLite file path


def conninfo(url: str, database: str | None = None) -> str:
    """A psycopg connection string for the server of `url` (its database, or `database`)."""
    parsed = make_url(normalize_url(url)).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def _quiet_alembic() -> None:
    for name in ("alembic", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def fresh_database(backend: str, purpose: str, postgres_url: str) -> Iterator[BenchDatabase]:
    """An empty database migrated to head, removed on the way out whatever happens."""
    _quiet_alembic()
    if backend == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix=f"ledger_bench_{purpose}_"))
        path = directory / "ledger.db"
        try:
            database = BenchDatabase("sqlite", f"sqlite:///{path}", str(path))
            migrate.upgrade(database.url)
            yield database
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    name = f"ledger_bench_{purpose}_{uuid.uuid4().hex[:8]}"
    admin = conninfo(postgres_url)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_url(normalize_url(postgres_url)).set(database=name)
        database = BenchDatabase(
            "postgresql", url.render_as_string(hide_password=False), conninfo(postgres_url, name)
        )
        migrate.upgrade(database.url)
        yield database
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def server_version(postgres_url: str) -> str:
    with psycopg.connect(conninfo(postgres_url), autocommit=True) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"
