"""The web console's sessions over one SQLAlchemy connection (`console_sessions`).

Rows are keyed by the SHA-256 of the session's id: the id itself (the browser's cookie) is
never written, so a copy of the database signs no one in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.engine import Row

from ledger.domain.sessions import StoredSession
from ledger.persistence import tables as t

_SESSIONS = t.console_sessions


class SqlSessionRepository:
    """Sessions by the hash of their id."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    def add(self, session: StoredSession) -> None:
        self._connection.execute(
            insert(_SESSIONS).values(
                id_hash=session.id_hash,
                token_id=session.token_id,
                principal_id=session.principal_id,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
            )
        )

    def get(self, id_hash: str) -> StoredSession | None:
        row = self._connection.execute(
            select(_SESSIONS).where(_SESSIONS.c.id_hash == id_hash)
        ).first()
        return None if row is None else _session(row)

    def touch(self, id_hash: str, at: datetime) -> None:
        # Conditional: two workers refreshing at once never move the last use back.
        self._connection.execute(
            update(_SESSIONS)
            .where(_SESSIONS.c.id_hash == id_hash, _SESSIONS.c.last_seen_at < at)
            .values(last_seen_at=at)
        )

    def remove(self, id_hash: str) -> None:
        self._connection.execute(delete(_SESSIONS).where(_SESSIONS.c.id_hash == id_hash))

    def remove_idle(self, unused_since: datetime) -> int:
        outcome = self._connection.execute(
            delete(_SESSIONS).where(_SESSIONS.c.last_seen_at < unused_since)
        )
        return outcome.rowcount


def _session(row: Row[Any]) -> StoredSession:
    return StoredSession(
        id_hash=row.id_hash,
        token_id=row.token_id,
        principal_id=row.principal_id,
        created_at=row.created_at,
        last_seen_at=row.last_seen_at,
    )
