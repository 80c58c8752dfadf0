"""The web console's sessions, shared by every process of a deployment through the database.

A session is opened for a token that just authenticated, under a fresh random id (a new one at
every sign-in: no session fixation); the database keeps the id's SHA-256 and the token's id,
never a secret (`ledger.domain.sessions`). Whoever holds the id holds the session: finding one
does not authenticate its token, the caller does that on every request (the console, through
the API's token cache), so a revoked token or a deactivated principal ends it.

A session unused for `idle` is gone. Its last use is written at most once a `refresh` (a minute,
or half the idle time if that is shorter), not at every request: a session therefore ends
between `idle - refresh` and `idle` after its last use, never later. An expired session is
deleted when it is next presented, and the sweeper deletes those never presented again
(`expire_idle`), so the table holds only live sessions and those idle less than a round.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ledger.domain.errors import RetryableConflict
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.sessions import StoredSession, new_session_id, session_hash
from ledger.services.transactions import in_transaction, read

REFRESH_MAX = timedelta(minutes=1)
logger = logging.getLogger(__name__)


def refresh_of(idle: timedelta) -> timedelta:
    """How stale a session's stored last use may be: a minute, less for a short idle time."""
    return min(REFRESH_MAX, idle / 2)


def open_session(
    uow_factory: UnitOfWorkFactory, token_id: str, principal_id: str, now: datetime | None = None
) -> str:
    """A new session for a token that just authenticated; its id (shown once: the cookie)."""
    session_id = new_session_id()

    def work(uow: UnitOfWork) -> None:
        at = now or uow.now()
        uow.sessions.add(StoredSession(session_hash(session_id), token_id, principal_id, at, at))

    in_transaction(uow_factory, work)
    return session_id


def find_session(
    uow_factory: UnitOfWorkFactory, session_id: str, idle: timedelta, now: datetime | None = None
) -> StoredSession | None:
    """The live session of that id, or None (an idle one is deleted). Its last use moves to now
    when the stored one is older than `refresh_of(idle)`."""
    id_hash = session_hash(session_id)

    def look(uow: UnitOfWork) -> tuple[StoredSession | None, datetime]:
        return uow.sessions.get(id_hash), now or uow.now()

    found, at = read(uow_factory, look)
    if found is None:
        return None
    unused = at - found.last_seen_at
    if unused > idle:
        in_transaction(uow_factory, lambda uow: uow.sessions.remove(id_hash))
        return None
    if unused >= refresh_of(idle):
        _touch(uow_factory, id_hash, at)
    return found


def _touch(uow_factory: UnitOfWorkFactory, id_hash: str, at: datetime) -> None:
    """Move a session's last use to `at`, best effort: the write only keeps the session from
    expiring early, so when it cannot be made within the retries' time budget (SQLite's one
    writer held by a long CEMS import) the page is served anyway and a later request writes
    it. The wait for that budget remains: the page is slow, not an error."""
    try:
        in_transaction(uow_factory, lambda uow: uow.sessions.touch(id_hash, at))
    except RetryableConflict:
        logger.warning("a console session's last use was not written: the database is busy")


def close_session(uow_factory: UnitOfWorkFactory, session_id: str) -> None:
    """Sign out: the session is deleted at once, for every process."""
    id_hash = session_hash(session_id)
    in_transaction(uow_factory, lambda uow: uow.sessions.remove(id_hash))


def expire_idle(uow_factory: UnitOfWorkFactory, idle: timedelta) -> int:
    """Delete every session unused for `idle` (the sweeper's task); how many."""
    return in_transaction(uow_factory, lambda uow: uow.sessions.remove_idle(uow.now() - idle))
