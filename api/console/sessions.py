"""Console sessions: a signed-in browser, known to every worker of the server, behind a cookie.

Signing in with a token makes a new session with a fresh random id (an id planted in a browser
before sign-in is never taken over: no session fixation). The cookie holds only the session's id:
HttpOnly, SameSite=Strict, Secure when the request came over TLS. A session unused for `idle`
seconds is gone; signing out deletes it at once.

Sessions are kept in the database (`ledger.services.sessions`), so that a request may land on any
worker of `emissions-ledger serve --workers N` (uvicorn's workers share one socket: no request
sticks to a worker) and a restart signs no one out. The database keeps no secret: the SHA-256 of
the session's id and the id of the token it signed in with, never the token's secret.

Every request re-authenticates that token through the API's token cache by its id
(`api.auth.TokenCache.authenticate_id`): a revoked token or a deactivated principal ends the
session within the cache's second, as for the API.

The session's CSRF token and the key of its messages' cookie are derived from its id
(`derived`); they need no storage. See `Session.csrf` and `seal_flashes` for why that is safe.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ledger.domain.ports import UnitOfWorkFactory
from ledger.services import sessions

SESSION_COOKIE = "ledger_session"
# Before sign-in: the CSRF token of the sign-in form (double submit: cookie and field agree).
SIGN_IN_COOKIE = "ledger_sign_in"
LANGUAGE_COOKIE = "ledger_language"
# The messages a form leaves for the page it redirects to (post/redirect/get).
FLASH_COOKIE = "ledger_flash"
FLASH_SECONDS = 300  # a redirect is followed at once; an unfollowed one's messages go
FLASH_BYTES_MAX = 3600  # under browsers' 4 KiB a cookie: the oldest messages are dropped
FLASH_CHARACTERS_MAX = 600

Flash = tuple[str, str]  # (kind, message)


def derived(purpose: str, session_id: str) -> str:
    """A value only the holder of the session's id can compute: SHA-256 of a prefix naming its
    use and the id. The prefix keeps the uses apart, and apart from the stored `session_hash`
    (a reader of the database learns no CSRF token and no key)."""
    return hashlib.sha256(f"ledger-console-{purpose}:{session_id}".encode()).hexdigest()


@dataclass(slots=True)
class Session:
    """One signed-in browser, as one request sees it."""

    id: str  # the cookie's value: in this request's memory only, never stored
    token_id: str
    principal_id: str
    flashes: list[Flash] = field(default_factory=list)  # left by the previous request
    flashes_changed: bool = False  # whether the answer sets (or clears) the messages' cookie

    @property
    def csrf(self) -> str:
        """The CSRF token of the session's forms, derived from its id: no storage needed, and
        the same on every worker.

        Safe because the id is a 256-bit random secret held only in an HttpOnly, SameSite=Strict
        cookie: another site's page can neither read the id (nor the token in our pages) nor
        compute the token without it, and the token (a hash) reveals nothing of the id, so a
        token seen in a page's HTML does not give the session away. A new sign-in is a new id,
        hence a new token."""
        return derived("csrf", self.id)


class Sessions:
    """The deployment's sessions (in the database), as the console uses them."""

    def __init__(
        self,
        store: UnitOfWorkFactory,
        idle_seconds: float,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        self.clock = clock  # None: the store's

    @property
    def idle(self) -> timedelta:
        return timedelta(seconds=self.idle_seconds)

    def _now(self) -> datetime | None:
        return None if self.clock is None else self.clock()

    def open(self, token_id: str, principal_id: str) -> Session:
        """A new session (a new id) for a principal that just signed in with that token."""
        session_id = sessions.open_session(self.store, token_id, principal_id, self._now())
        return Session(session_id, token_id, principal_id)

    def get(self, session_id: str | None, sealed_flashes: str | None = None) -> Session | None:
        """The live session of that id, with the messages its previous request left (from their
        cookie), or None."""
        if not session_id:
            return None
        found = sessions.find_session(self.store, session_id, self.idle, self._now())
        if found is None:
            return None
        flashes = open_flashes(session_id, sealed_flashes) if sealed_flashes else []
        return Session(session_id, found.token_id, found.principal_id, flashes)

    def close(self, session_id: str) -> None:
        sessions.close_session(self.store, session_id)


# -- messages between a form and the page it redirects to ----------------------------------------


def seal_flashes(session_id: str, flashes: list[Flash]) -> str:
    """The messages' cookie: their JSON (base64url) and an HMAC keyed by the session's id.

    Messages travel in a short-lived cookie rather than in the database: they need no write per
    form (the form's use case already wrote; a message would cost a second transaction, and
    another to clear it), any worker reads them, and a message that shows a secret once (an
    enrolment code's half) is never put at rest on the server. The HMAC, keyed by a value
    derived from the session's id, means no one without the session (another site, a sibling
    domain that can set cookies) can plant a message, and a message of an older session (before
    signing out and in again) is not shown in the new one."""
    kept = [(kind, message[:FLASH_CHARACTERS_MAX]) for kind, message in flashes]
    while True:
        payload = base64.urlsafe_b64encode(json.dumps(kept, ensure_ascii=False).encode())
        sealed = f"{payload.decode()}.{_mac(session_id, payload)}"
        if len(sealed) <= FLASH_BYTES_MAX or len(kept) <= 1:
            return sealed
        kept = kept[1:]


def open_flashes(session_id: str, sealed: str) -> list[Flash]:
    """The messages of a cookie sealed for this session; none if it was not."""
    payload, _, mac = sealed.encode().partition(b".")
    if not hmac.compare_digest(mac, _mac(session_id, payload).encode()):
        return []
    try:
        found = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return []
    return [(str(kind), str(message)) for kind, message in found]


def _mac(session_id: str, payload: bytes) -> str:
    key = derived("flash", session_id).encode()
    return hmac.new(key, payload, hashlib.sha256).hexdigest()
