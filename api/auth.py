"""Authentication of every request, and the API's early refusal of a wrong role.

`authorize` is a dependency of the whole application: it finds the matched route's operation in
`api.permissions.ROUTES`, authenticates the bearer token (unless the operation is public),
refuses a role the core's table (`ledger.domain.operations`) refuses before the body is read,
and builds the request's `Actor`. Handlers take `actor: Acts` and pass it to the use cases,
which check the role again, apply the actor's scope, run four-eyes and write the audit line
themselves. Denials and failed authentications are audited here (failed ones in aggregate, see
`api.rate_limits`) and logged by token id, never by token.

Verified tokens are cached for `TOKEN_CACHE_SECONDS`, one second (a lookup per request would
double the cost of a balance read; one a second per token costs nothing): revocation and
deactivation through this process clear the cache at once, and a revocation by any other process
(another worker, the shell) is respected within that second.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from api.permissions import PERMISSIONS, ROUTES
from api.rate_limits import RateLimits
from ledger.domain.access import (
    Actor,
    AuditRecord,
    Forbidden,
    Principal,
    Unauthenticated,
)
from ledger.domain.errors import LedgerError
from ledger.domain.ports import UnitOfWorkFactory
from ledger.services import access, transactions

logger = logging.getLogger("api.auth")

TOKEN_CACHE_SECONDS = 1.0
# Public endpoints that take a credential: a source cut off for failing is refused there too.
CREDENTIAL_ENDPOINTS = frozenset({"POST /v1/enrolments/redeem"})
TOKEN_CACHE_MAX = 10_000
# A path `request.url.path` would not answer as it is: the URL escapes `?`, `#` and `\\`, drops
# tabs and line breaks, and reads a path not starting with one `/` otherwise.
_URL_REWRITES = re.compile(r"[?#\\\t\r\n]|^(?!/)|^//")


@dataclass(frozen=True, slots=True)
class _Cached:
    principal: Principal
    until: float  # time.monotonic()


class TokenCache:
    """Presented token → principal, for a few seconds; bounded, cleared on any revocation.

    The console's sessions hold a token's id, not its secret: they are re-authenticated by id
    (`lookup_id`, `authenticate_id`) with the same lifetime, in a map of their own, so that no
    string a client presents as a bearer token can ever be taken for a token's id."""

    def __init__(self, store: UnitOfWorkFactory, clock: Callable[[], datetime]) -> None:
        self._store = store
        self._clock = clock
        self._entries: dict[str, _Cached] = {}
        self._by_id: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def lookup(self, presented: str) -> Principal | None:
        return _live(self._entries.get(presented))

    def authenticate(self, presented: str) -> Principal:
        principal = access.authenticate(self._store, presented, self._clock())
        self._remember(self._entries, presented, principal)
        return principal

    def lookup_id(self, token_id: str) -> Principal | None:
        """The principal of a token a console session signed in with, if verified just now."""
        return _live(self._by_id.get(token_id))

    def authenticate_id(self, token_id: str) -> Principal:
        """The principal of a token a console session signed in with, verified again (revoked,
        expired or deactivated: `Unauthenticated`)."""
        principal = access.authenticate_token_id(self._store, token_id, self._clock())
        self._remember(self._by_id, token_id, principal)
        return principal

    def _remember(self, entries: dict[str, _Cached], key: str, principal: Principal) -> None:
        with self._lock:
            if len(entries) >= TOKEN_CACHE_MAX:
                entries.clear()
            entries[key] = _Cached(principal, time.monotonic() + TOKEN_CACHE_SECONDS)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_id.clear()


def _live(cached: _Cached | None) -> Principal | None:
    if cached is None or cached.until < time.monotonic():
        return None
    return cached.principal


def check_permission_table(routers: Iterable[APIRouter], extra: Iterable[str] = ()) -> None:
    """Refuse to start when a route has no permission, or the table names a missing route."""
    keys = {
        f"{method} {route.path}"
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    } | set(extra)
    missing = sorted(keys - PERMISSIONS.keys())
    stale = sorted(PERMISSIONS.keys() - keys)
    if missing or stale:
        raise RuntimeError(f"permission table out of date: missing {missing}, stale {stale}")


def operation_of(request: Request) -> str:
    route = request.scope.get("route")
    path = route.path_format if isinstance(route, APIRoute) else path_of(request)
    return f"{request.method} {path}"


def path_of(request: Request) -> str:
    """`request.url.path` without building the URL (~5 µs, every request's audit target): the
    scope's path, which is the same string unless the URL would rewrite it."""
    path: str = request.scope["path"]
    return request.url.path if _URL_REWRITES.search(path) else path


async def authorize(request: Request) -> None:
    """The application-wide dependency: who is calling, and may they call this? Builds the
    request's `Actor` (the services check its role again, whoever calls them)."""
    endpoint = operation_of(request)
    roles = PERMISSIONS[endpoint]
    limits = limits_of(request)
    if endpoint in CREDENTIAL_ENDPOINTS:
        limits.check_source(source_of(request))
    if not roles:
        return
    cache: TokenCache = request.app.state.tokens
    principal = await _authenticate(request, cache, limits, endpoint)
    limits.hit_principal(principal.id)
    operation = ROUTES[endpoint] or endpoint
    if principal.role not in roles:
        await _audit_refusal(request, principal, operation, "denied", 403, Forbidden.code)
        raise Forbidden(f"a {principal.role.value} may not call {endpoint}")
    state = request.state
    state.actor = Actor(
        principal,
        operation,
        target=f"{request.method} {path_of(request)}",
        request_id=getattr(state, "request_id", None),
    )


async def current_actor(request: Request) -> Actor:
    """The request's actor, as `authorize` authenticated it (async: no thread-pool hop)."""
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is None:
        raise Unauthenticated("this operation needs a bearer token")
    return actor


Acts = Annotated[Actor, Depends(current_actor)]


async def _authenticate(
    request: Request, cache: TokenCache, limits: RateLimits, endpoint: str
) -> Principal:
    limits.check_source(source_of(request))
    try:
        return await _principal_of(request, cache)
    except Unauthenticated as error:
        token_id = error.context.get("token_id")
        logger.warning("authentication failed for %s (token id %s)", endpoint, token_id)
        await run_in_threadpool(failed_authentication, request, error, token_id)
        raise


async def _principal_of(request: Request, cache: TokenCache) -> Principal:
    scheme, _, presented = request.headers.get("authorization", "").partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise Unauthenticated("send `Authorization: Bearer <token>`")
    principal = cache.lookup(presented)
    if principal is not None:
        return principal
    return await run_in_threadpool(cache.authenticate, presented)


def failed_authentication(request: Request, error: LedgerError, token_id: str | None) -> None:
    """Count a failed authentication of the request's source; audit it in aggregate: the
    first failure of the source in the window, and the one that cuts the source off."""
    source = source_of(request)
    failure = limits_of(request).fail(source)
    if not (failure.first_in_window or failure.cut_off):
        return
    outcome = "rate_limited" if failure.cut_off else "unauthenticated"
    what = "cut off" if failure.cut_off else "first failure in the window"
    operation = ROUTES.get(operation_of(request)) or operation_of(request)
    record = AuditRecord(
        at=request.app.state.store.clock(),
        principal_id=None,
        token_id=token_id,
        action=operation,
        target=f"source {source}: {what}",
        outcome=outcome,
        status=429 if failure.cut_off else 401,
        code=error.code,
    )
    access.record_audit(request.app.state.store, [record])


def source_of(request: Request) -> str:
    """Where the request comes from: its connection's peer (see api.rate_limits)."""
    return request.client.host if request.client else "unknown"


def limits_of(request: Request) -> RateLimits:
    limits: RateLimits = request.app.state.rate_limits
    return limits


async def _audit_refusal(  # noqa: PLR0917 - one audit line
    request: Request, principal: Principal, operation: str, outcome: str, status: int, code: str
) -> None:
    logger.warning("%s %s for %s", outcome, operation, principal.id)
    record = _record(principal.id, principal.token_id, operation, request, outcome, status, code)
    await run_in_threadpool(access.record_audit, request.app.state.store, [record])


def _record(  # noqa: PLR0917 - one audit line
    principal_id: str | None,
    token_id: str | None,
    operation: str,
    request: Request,
    outcome: str,
    status: int,
    code: str | None,
) -> AuditRecord:
    store = request.app.state.store
    return AuditRecord(
        at=store.clock(),
        principal_id=principal_id,
        token_id=token_id,
        action=operation,
        target=f"{request.method} {path_of(request)}",
        outcome=outcome,
        status=status,
        code=code,
    )


def audit_rejection(request: Request, code: str, *, audited: bool = False) -> None:
    """Called by the error handlers: a refused write is audited too (reads are not). A use
    case audits its own rejections (`audited`); this covers what the API refused before it
    called one (say, a body that is not valid)."""
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is not None and request.method != "GET" and not audited:
        transactions.audit(request.app.state.store, actor, "rejected", code)
