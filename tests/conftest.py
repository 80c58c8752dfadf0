"""Shared fixtures: a migrated ledger on SQLite and on PostgreSQL for every test that asks.

PostgreSQL is `LEDGER_TEST_POSTGRES_URL` (default: the local server's `test` database). Each
test session creates its own database there, migrates it once and truncates it between tests.
With CI=true an unreachable PostgreSQL fails the run; on a laptop without one those tests skip.

With LEDGER_TEST_POSTGRES_ISOLATION (`make test-serializable`), every PostgreSQL connection
starts its transactions at that isolation (`default_transaction_isolation`, set through the
connection's options). Every run ends by saying how many transactions were retried.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

from ledger.persistence import migrate
from ledger.persistence.engine import create_ledger_engine, normalize_url
from ledger.persistence.store import Store
from ledger.persistence.tables import metadata, tax_table_entries
from tests.factories import NO_FOUR_EYES

POSTGRES_ADMIN_URL = os.environ.get(
    "LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# SERIALIZABLE is the isolation CockroachDB and YugabyteDB run every transaction at.
POSTGRES_ISOLATION = os.environ.get("LEDGER_TEST_POSTGRES_ISOLATION", "")
BACKENDS = ("sqlite", "postgresql")
TABLES = ", ".join(table.name for table in reversed(metadata.sorted_tables))
# Tables a migration fills (0014: the statutory tax tables): a truncated database gets their
# migrated rows back, as a freshly migrated one has them.
SEEDED = (tax_table_entries,)
_seeded_rows: dict[str, list[dict[str, Any]]] = {}


def _postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    engine = create_engine(normalize_url(POSTGRES_ADMIN_URL))
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        return str(error).splitlines()[0]
    finally:
        engine.dispose()
    return None


def require_postgres() -> None:
    """Fail (with CI=true) or skip the test unless PostgreSQL answers."""
    problem = _postgres_reachable()
    if problem is not None:
        if IN_CI:
            pytest.fail(f"CI=true but PostgreSQL at {POSTGRES_ADMIN_URL} is unreachable: {problem}")
        pytest.skip(f"PostgreSQL unreachable ({problem}); CI runs these tests")


@contextlib.contextmanager
def new_postgres_database() -> Iterator[str]:
    """A PostgreSQL database of its own, migrated, dropped on exit (fails in CI if unreachable)."""
    require_postgres()
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalize_url(POSTGRES_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(POSTGRES_ADMIN_URL)).set(database=name)
    if POSTGRES_ISOLATION:
        options = f"-c default_transaction_isolation={POSTGRES_ISOLATION}"
        url = url.update_query_dict({"options": options})
    url_text = url.render_as_string(hide_password=False)
    migrate.upgrade(url_text)
    try:
        yield url_text
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session."""
    with new_postgres_database() as url:
        engine = create_engine(url)
        with engine.connect() as connection:
            for table in SEEDED:
                rows = connection.execute(table.select().order_by(*table.primary_key.columns))
                # Without the serial column: re-inserted rows take the restarted sequence's values.
                _seeded_rows[table.name] = [
                    {k: v for k, v in row._mapping.items() if k != "seq"} for row in rows
                ]
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (cheaper than migrating per test)."""
    path = tmp_path_factory.mktemp("template") / "ledger.db"
    migrate.upgrade(f"sqlite:///{path}")
    return path


def fresh_database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty, migrated database of `backend` for one test."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "ledger.db"
        shutil.copyfile(template, path)
        # A copy stands for a database migrated just now: the changes its migrations queued
        # for the sealer (seeded tax tables) are as fresh, not as old as the test session,
        # which `verify` would report as left unchained after 5 minutes.
        with contextlib.closing(sqlite3.connect(path)) as copy, copy:
            copy.execute(
                "UPDATE record_changes SET changed_at = strftime('%Y-%m-%d %H:%M:%f000', 'now')"
            )
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    truncate_postgres(url)
    return url


def truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        empty_postgres(connection)
    engine.dispose()


def empty_postgres(connection: Connection) -> None:
    """Every table emptied, then the migrations' seeded rows put back."""
    connection.execute(text(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE"))
    for table in SEEDED:
        if _seeded_rows.get(table.name):
            connection.execute(table.insert(), _seeded_rows[table.name])


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty migrated database, once on SQLite and once on PostgreSQL."""
    return fresh_database_url(request.param, request, tmp_path)


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """The ledger's store over an empty database of each backend."""
    engine = create_ledger_engine(database_url, sqlite_synchronous="NORMAL")
    store = Store(engine, four_eyes=NO_FOUR_EYES)
    yield store
    store.dispose()


@pytest.fixture
def postgres_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The ledger's store over an empty PostgreSQL database (concurrency tests)."""
    url = fresh_database_url("postgresql", request, tmp_path)
    store = Store(create_ledger_engine(url, pool_size=20), four_eyes=NO_FOUR_EYES)
    yield store
    store.dispose()


# -- transactions retried, counted over every xdist worker ----------------------------------------

RETRIES_KEY = "transaction_retries"
_retried_elsewhere: list[float] = []  # the workers' counts, gathered by the controller


def _retried_here() -> float:
    return REGISTRY.get_sample_value("ledger_transaction_retries_total") or 0.0


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: tell the controller
        workeroutput[RETRIES_KEY] = _retried_here()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    del error
    _retried_elsewhere.append(node.workeroutput.get(RETRIES_KEY, 0.0))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many transactions were retried (conflicts, and balance rows created on a retry), so
    that the serializable run can be read beside the ordinary one."""
    retried = _retried_here() + sum(_retried_elsewhere)
    isolation = POSTGRES_ISOLATION or "the server's default"
    terminalreporter.write_line(
        f"transactions retried: {retried:.0f} (PostgreSQL isolation: {isolation})"
    )
