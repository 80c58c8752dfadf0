"""Web console sessions as the registry stores them: no secret at rest.

A session's id is a 256-bit random secret, held by the browser in an HttpOnly cookie; the
database keeps only its SHA-256 (`session_hash`), as it keeps only the hash of an API token. The
session names the token it signed in with by the token's id (public: logs and the audit log name
it), never by its secret, and stores no CSRF token (the console derives it from the id).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from ledger.domain.access import hash_secret

SESSION_ID_BYTES = 32  # 256 bits


@dataclass(frozen=True, slots=True)
class StoredSession:
    """A signed-in browser, as stored: the hash of its id, the token it signed in with."""

    id_hash: str
    token_id: str
    principal_id: str
    created_at: datetime
    last_seen_at: datetime  # refreshed at most once a `refresh` (see `services.sessions`)


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def session_hash(session_id: str) -> str:
    """What the database keeps of a session's id (the cookie's value): its hash, as of a token."""
    return hash_secret(session_id)
