"""One sweeper per deployment: a lock that the sweeping process holds for as long as it sweeps.

Every server process runs a sweeper thread, but only the one holding this lock sweeps; the
others try again each round and take over when its holder goes away.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`), taken on a connection of
  its own in autocommit mode (no transaction stays open). Whichever worker, on whichever host,
  takes it first sweeps; when that process dies its connection closes and the lock is free.
  The holder checks its connection every round: a lost connection is a lost lock.
- SQLite: an exclusive `flock` on a file beside the database (`<database>-sweeper.lock`). A
  SQLite database is served from one host, whose workers share the file; the kernel releases
  the lock when its holder dies. An in-memory database belongs to one process: always held.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from pathlib import Path
from typing import IO, Protocol

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

SWEEPER_LOCK_KEY = 0x4C45444745525357  # "LEDGERSW"; the sealers' lock is another key
log = logging.getLogger(__name__)


class SweeperLock(Protocol):
    def try_acquire(self) -> bool:
        """Whether this process holds the lock now (taking it if it is free)."""
        ...

    def release(self) -> None:
        """Give the lock up (if held) and close what holds it."""
        ...


def sweeper_lock(engine: Engine) -> SweeperLock:
    """The deployment's sweeper lock on the engine's database."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return ProcessLock()
    return FileLock(Path(f"{database}-sweeper.lock"))


class AdvisoryLock:
    """PostgreSQL: a session advisory lock on a dedicated connection."""

    def __init__(self, engine: Engine) -> None:
        self._engine = create_engine(engine.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self._connection: Connection | None = None
        self._held = False

    def try_acquire(self) -> bool:
        try:
            if self._connection is None:
                self._connection = self._engine.connect()
            if self._held:
                self._connection.execute(text("SELECT 1"))  # still connected: still held
            else:
                self._held = bool(
                    self._connection.execute(
                        text("SELECT pg_try_advisory_lock(:key)"), {"key": SWEEPER_LOCK_KEY}
                    ).scalar_one()
                )
        except DBAPIError as error:
            log.warning("sweeper lock: database connection lost (%s)", error.__class__.__name__)
            self._close()
        return self._held

    def release(self) -> None:
        # Unlocked before the connection closes: the server ends a closed session a little
        # later, and the next process should not wait for that to take over.
        if self._connection is not None and self._held:
            with contextlib.suppress(DBAPIError):
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": SWEEPER_LOCK_KEY}
                )
        self._close()
        self._engine.dispose()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()  # NullPool: closing ends the session
        self._connection, self._held = None, False


class FileLock:
    """SQLite on a file: an exclusive flock on the lock file beside it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self._file is not None:
            return True
        lock_file = self.path.open("ab")
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            return False
        self._file = lock_file
        return True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the file releases the flock
            self._file = None


class ProcessLock:
    """An in-memory SQLite database: its one process always sweeps it."""

    def try_acquire(self) -> bool:
        return True

    def release(self) -> None:
        pass
