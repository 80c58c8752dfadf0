"""The SQLAlchemy unit of work, and the store that makes one per use case.

Database errors are translated here, in one place: a UNIQUE key taken becomes `StorageConflict`,
deadlocks, serialization failures and a busy SQLite become `RetryableConflict`, and a breach of
the non-negative CHECK (a locking bug if it ever happens) still reaches the client as a rejection.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Connection, Engine, event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.pool import QueuePool

from ledger.domain.access import FOUR_EYES_DEFAULT, FourEyesPolicy
from ledger.domain.errors import (
    InsufficientBalance,
    RetryableConflict,
    StorageConflict,
)
from ledger.persistence import postgresql_write_path, sqlite_write_path
from ledger.persistence.access_repositories import SqlAccessRepository
from ledger.persistence.chain_repository import SqlChainRepository
from ledger.persistence.finance_repositories import SqlFinanceRepository, finance_error
from ledger.persistence.job_repositories import SqlJobRepository
from ledger.persistence.monitoring_repositories import (
    SqlMonitoringRepository,
    SqlReportRepository,
)
from ledger.persistence.permit_repositories import SqlPermitRepository
from ledger.persistence.record_chains import SqlRecordChainRepository
from ledger.persistence.registry_repositories import SqlRegistryRepository
from ledger.persistence.repositories import (
    Caches,
    SqlAccountRepository,
    SqlInstrumentRepository,
    SqlJournalRepository,
)
from ledger.persistence.session_repositories import SqlSessionRepository
from ledger.persistence.tax_repositories import SqlTaxRepository

RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock
_UNIQUE_KEYS = {
    "entry_id": "entry_id",
    "reverses_seq": "reverses",
    "pending_seq": "pending",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class SqliteWriter:
    """SQLite's one writer at a time, queued in the kernel rather than by SQLite's busy handler.

    SQLite admits one writer; a writer that finds the lock taken sleeps and polls (1, 2, 5 ...
    up to 100 ms between tries), so under contention a write waits many times longer than the
    write it waits for: p99s of a second with two server processes. Here a thread lock queues
    this process's writers, and an exclusive `flock` on a file beside the database queues the
    processes (the server's workers, the CLI): the kernel wakes the next one as soon as the lock
    is let go. The lock is held from before BEGIN IMMEDIATE until after COMMIT or ROLLBACK, so
    SQLite's own lock is always free when asked for. A process that dies holding it frees it.
    Without a file lock, SQLite's busy handler still keeps writers apart: a database in memory or
    named by a `file:` URI, or a lock file this process may not open (another user's), queues
    only this process's writers here.
    """

    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        self._path = None
        if database and database != ":memory:" and not database.startswith("file:"):
            self._path = f"{database}.writer-lock"
        self._file: int | None = None
        self._pid = 0

    def acquire(self) -> None:
        self._threads.acquire()
        if self._path is not None:
            try:
                file = self._opened()
                if file is not None:
                    fcntl.flock(file, fcntl.LOCK_EX)  # blocks without the GIL
            except BaseException:
                self._threads.release()
                raise

    def release(self) -> None:
        try:
            if self._file is not None:
                fcntl.flock(self._file, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _opened(self) -> int | None:
        """This process's own descriptor: a forked child shares its parent's open file, and
        `flock` would let both hold it at once (closing the inherited copy leaves the parent's
        lock alone). Read-only: `flock` needs no more, so any user who may read the file queues."""
        assert self._path is not None
        if self._file is None or self._pid != os.getpid():
            if self._file is not None:
                os.close(self._file)
                self._file = None
            try:
                self._file = os.open(self._path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except OSError:
                self._path = None  # SQLite's busy handler queues the processes instead
                return None
            self._pid = os.getpid()
        return self._file

    def close(self) -> None:
        """Let the file go; waits for a writer of this process that holds the lock."""
        with self._threads:
            if self._file is not None:
                os.close(self._file)
            self._file, self._pid = None, 0


class Store:
    """Engine, caches and clock of one process; calling it opens a unit of work."""

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], datetime] = utc_now,
        four_eyes: FourEyesPolicy = FOUR_EYES_DEFAULT,  # secure by default
    ) -> None:
        self.engine = engine
        self.clock = clock
        # The operator's configuration (LEDGER_FOUR_EYES), read by the services' gate.
        self.four_eyes = four_eyes
        self.caches = Caches()
        self.sqlite_writer = (
            SqliteWriter(engine.url.database) if engine.dialect.name == "sqlite" else None
        )
        # The connection those writers take turns on, kept checked out between their turns
        # (guarded by the writer's lock): the pool's checkout and return cost ~25 µs of Python
        # a write. Only from a pool whose connections may change threads (a file's). Kept with
        # the engine's pool generation: once the pool is disposed (its connections replaced,
        # say to count statements), the kept one is closed at the next turn, not used again.
        self.sqlite_writer_connection: tuple[Connection, int] | None = None
        self.keeps_writer_connection = self.sqlite_writer is not None and isinstance(
            engine.pool, QueuePool
        )
        self.pool_generation = 0
        if self.keeps_writer_connection:
            event.listen(engine, "engine_disposed", self._pool_disposed)
        self.pipeline_audit = engine.dialect.name == "postgresql"

    def _pool_disposed(self, _engine: Engine) -> None:
        self.pool_generation += 1

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self, read_only=read_only)

    def dispose(self) -> None:
        if self.sqlite_writer is not None and self.sqlite_writer_connection is not None:
            self.sqlite_writer.acquire()
            try:
                if self.sqlite_writer_connection is not None:
                    self.sqlite_writer_connection[0].close()
                    self.sqlite_writer_connection = None
            finally:
                self.sqlite_writer.release()
        self.engine.dispose()
        if self.sqlite_writer is not None:
            self.sqlite_writer.close()


class SqlUnitOfWork:
    """One database transaction; repositories share its connection."""

    def __init__(self, store: Store, *, read_only: bool) -> None:
        self._store = store
        self._read_only = read_only
        self._connection: Connection | None = None
        self._sqlite: Any = None  # SQLite's driver connection, whose transaction this is
        self._writer: SqliteWriter | None = None

    def now(self) -> datetime:
        return self._store.clock()

    @property
    def four_eyes(self) -> FourEyesPolicy:
        return self._store.four_eyes

    def __enter__(self) -> Self:
        self._writer = None if self._read_only else self._store.sqlite_writer
        if self._writer is not None:
            self._writer.acquire()
        try:
            return self._begin()
        except BaseException:
            self._release_writer()
            raise

    def _release_writer(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def _begin(self) -> Self:
        store = self._store
        connection = None
        self._generation = store.pool_generation
        if self._writer is not None:  # SQLite's writer: its turn on the writers' connection
            kept, store.sqlite_writer_connection = store.sqlite_writer_connection, None
            if kept is not None and kept[1] == self._generation:
                connection = kept[0]
            elif kept is not None:
                kept[0].close()  # from a pool disposed since
        connection = connection or store.engine.connect()
        self._connection = connection
        self._sqlite = None
        try:
            if connection.dialect.name == "sqlite":
                # BEGIN on the driver: SQLAlchemy's begin (its event, a statement executed through
                # it) and commit cost ~50 µs of Python a transaction, more than SQLite's own.
                # Readers need no write lock in WAL mode; writers take it up front.
                self._sqlite = connection.connection.dbapi_connection
                sqlite_write_path.begin(self._sqlite, immediate=not self._read_only)
            else:
                connection.begin()
        except DBAPIError as error:
            connection.close()
            raise translate(error) from error
        except BaseException:
            connection.close()
            raise
        self._caches = self._store.caches.in_transaction()
        return self

    # Repositories are made when first used: most units of work use two or three of the fourteen.
    @cached_property
    def instruments(self) -> SqlInstrumentRepository:
        return SqlInstrumentRepository(self._live(), self._caches)

    @cached_property
    def accounts(self) -> SqlAccountRepository:
        return SqlAccountRepository(self._live(), self._caches)

    @cached_property
    def journal(self) -> SqlJournalRepository:
        return SqlJournalRepository(self._live(), self._caches)

    @cached_property
    def chain(self) -> SqlChainRepository:
        return SqlChainRepository(self._live())

    @cached_property
    def records(self) -> SqlRecordChainRepository:
        return SqlRecordChainRepository(self._live())

    @cached_property
    def registry(self) -> SqlRegistryRepository:
        return SqlRegistryRepository(self._live())

    @cached_property
    def monitoring(self) -> SqlMonitoringRepository:
        return SqlMonitoringRepository(self._live())

    @cached_property
    def permits(self) -> SqlPermitRepository:
        return SqlPermitRepository(self._live())

    @cached_property
    def reports(self) -> SqlReportRepository:
        return SqlReportRepository(self._live())

    @cached_property
    def access(self) -> SqlAccessRepository:
        return SqlAccessRepository(self._live(), defer_audit=self._pipelined_audit())

    @cached_property
    def finance(self) -> SqlFinanceRepository:
        return SqlFinanceRepository(self._live())

    @cached_property
    def tax(self) -> SqlTaxRepository:
        return SqlTaxRepository(self._live())

    @cached_property
    def sessions(self) -> SqlSessionRepository:
        return SqlSessionRepository(self._live())

    @cached_property
    def jobs(self) -> SqlJobRepository:
        return SqlJobRepository(self._live())

    def _live(self) -> Connection:
        assert self._connection is not None, "the unit of work is over"
        return self._connection

    def _pipelined_audit(self) -> bool:
        """Whether audit lines wait for the commit: on PostgreSQL, where they then share its
        round trip (on SQLite a statement costs no round trip)."""
        return self._store.pipeline_audit and not self._read_only

    def _driver_cursor(self) -> Any:
        assert self._connection is not None
        return self._connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def commit(self) -> None:
        assert self._connection is not None
        made = self.__dict__
        try:
            if "journal" in made:
                self.journal.flush()
                # SQLite has no deferred constraint trigger: check before committing.
                unbalanced = self.journal.unbalanced_written_entries()
                assert not unbalanced, f"unbalanced entries reached commit: {unbalanced}"
            audit = self.access.deferred_audit() if "access" in made else []
            if audit:
                # The driver commits; SQLAlchemy's commit then only closes its own bookkeeping.
                postgresql_write_path.audit_and_commit(self._driver_cursor(), audit)
            # SQLAlchemy's transaction, begun if a repository ran a statement through it (on
            # SQLite its begin hook adds no BEGIN to the driver's, and its commit commits the
            # driver's transaction), then the driver's own, if that is still open.
            self._connection.commit()
            if self._sqlite is not None:
                sqlite_write_path.commit(self._sqlite)
        except DBAPIError as error:
            raise translate(error) from error
        self._caches.publish()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        assert connection is not None
        ended = False
        try:
            if connection.in_transaction():
                connection.rollback()
            if self._sqlite is not None:
                sqlite_write_path.rollback(self._sqlite)
            ended = True
        finally:
            # SQLite's writer hands the connection to the next writer, unless the database
            # failed on it: then it goes (and the next writer checks out another).
            keep = (
                self._writer is not None
                and self._store.keeps_writer_connection
                and ended
                and not isinstance(exc, DBAPIError)
            )
            if keep:
                self._store.sqlite_writer_connection = (connection, self._generation)
            else:
                connection.close()
            self._release_writer()
        if isinstance(exc, DBAPIError):
            translated = translate(exc)
            if translated is not exc:
                raise translated from exc


def translate(error: DBAPIError) -> Exception:
    """The ledger's meaning of a database error, or the error itself if it has none."""
    message = str(error.orig)
    busy = isinstance(error, OperationalError) and "database is locked" in message
    # A dead connection (say, the server restarted) is dropped from the pool: a retry gets a
    # fresh one, and a write whose commit was lost replays by its entry id.
    if getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES or busy:
        return RetryableConflict(message)
    if error.connection_invalidated:
        return RetryableConflict(message)
    if isinstance(error, IntegrityError):
        return finance_error(message) or _integrity(error, message) or error
    return error


def _integrity(error: IntegrityError, message: str) -> Exception | None:
    constraint = getattr(getattr(error.orig, "diag", None), "constraint_name", None) or message
    for column, what in _UNIQUE_KEYS.items():
        if f"entries_{column}" in constraint or f"entries.{column}" in constraint:
            return StorageConflict(what)
    if "ck_balances_non_negative" in constraint:
        return InsufficientBalance(
            "the database refused a change that would take an account negative",
            field="postings",
        )
    if getattr(error.orig, "sqlstate", None) == "23505" or "UNIQUE constraint failed" in message:
        # A registry record created concurrently under the same id: the loser's check before
        # its insert could not see the winner's uncommitted row.
        # A record created concurrently under the same id: the loser's check before its insert
        # could not see the winner's uncommitted row. The unit of work runs once more and then
        # finds it (a replay, or a conflict with the use case's own code).
        return StorageConflict("record")
    return None
