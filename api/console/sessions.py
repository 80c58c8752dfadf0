"""Console sessions: a signed-in principal's credential kept on the server, behind a cookie.

Signing in with a token makes a new session with a fresh random id (an id planted in a browser
before sign-in is never taken over: no session fixation) and its own CSRF token. The cookie holds
only the session's id: HttpOnly, SameSite=Strict, Secure when the request came over TLS. A
session unused for `idle` seconds is gone; signing out drops it at once.

Every request re-authenticates the session's token through the API's token cache
(`api.auth.TokenCache`): a revoked token or a deactivated principal ends the session within the
cache's few seconds, as for the API. Sessions live in the process (a restart signs everyone out;
several workers need sticky sessions): they hold credentials, so they are not written to disk.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

SESSION_COOKIE = "ledger_session"
# Before sign-in: the CSRF token of the sign-in form (double submit: cookie and field agree).
SIGN_IN_COOKIE = "ledger_sign_in"
LANGUAGE_COOKIE = "ledger_language"
SESSIONS_MAX = 10_000


@dataclass(slots=True)
class Session:
    """One signed-in browser."""

    id: str
    token: str
    principal_id: str
    csrf: str
    last_seen: float
    flashes: list[tuple[str, str]] = field(default_factory=list)  # (kind, message)


class Sessions:
    """The process's sessions, by id; an idle one expires."""

    def __init__(self, idle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_seconds = idle_seconds
        self.clock = clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, token: str, principal_id: str) -> Session:
        """A new session (new id, new CSRF token) for a principal that just signed in."""
        session = Session(
            secrets.token_urlsafe(32), token, principal_id, secrets.token_urlsafe(32), self.clock()
        )
        with self._lock:
            if len(self._sessions) >= SESSIONS_MAX:
                self._sweep()
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        """The live session of that id (its idle time restarts), or None."""
        if not session_id:
            return None
        now = self.clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if now - session.last_seen > self.idle_seconds:
                del self._sessions[session_id]
                return None
            session.last_seen = now
            return session

    def close(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def _sweep(self) -> None:
        now = self.clock()
        for key in [k for k, s in self._sessions.items() if now - s.last_seen > self.idle_seconds]:
            del self._sessions[key]
