"""The web console's application, mounted by `api.app.create_app` at /console (/ redirects).

It shares the API's store, token cache and rate limits (`api.console.web.Context`), so a
principal's requests count against one budget, a revoked token ends its console session too,
and every page calls the same use cases with the same `Actor` as the API.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from api.auth import TokenCache
from api.console import (
    pages_admin,
    pages_authority,
    pages_common,
    pages_enterprise,
    pages_finance,
    pages_imports,
    pages_jobs,
    pages_listings,
    pages_monitoring,
    pages_oversight,
    pages_verifier,
)
from api.console.jobs import Jobs
from api.console.permissions import CONSOLE_ROUTES, PREFIX
from api.console.sessions import Sessions
from api.console.web import Context, FlashCookie, install_error_pages
from api.rate_limits import RateLimits
from ledger.domain.ports import UnitOfWorkFactory

ROUTERS = (
    pages_common.router,
    pages_enterprise.router,
    pages_monitoring.router,
    pages_imports.router,
    pages_jobs.router,
    pages_authority.router,
    pages_oversight.router,
    pages_listings.router,
    pages_verifier.router,
    pages_finance.router,
    pages_admin.router,
)
STATIC = Path(__file__).parent / "static"


def create_console(
    store: UnitOfWorkFactory, tokens: TokenCache, limits: RateLimits, idle_seconds: float
) -> FastAPI:
    """The console over the API's store, token cache and rate limits."""
    console = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    console.state.console = Context(
        Sessions(store, idle_seconds), tokens, limits, store, Jobs(store)
    )
    # What api.auth's failed-authentication accounting reads from the application.
    console.state.store = store
    console.state.rate_limits = limits
    install_error_pages(console)
    console.add_middleware(FlashCookie)
    for router in ROUTERS:
        console.include_router(router)
    check_console_table(ROUTERS)
    console.mount("/static", StaticFiles(directory=STATIC), name="static")
    return console


def check_console_table(routers: Iterable[APIRouter]) -> None:
    """Refuse to start when a console route has no operation, or the table names none."""
    keys = {
        f"{method} {PREFIX}{route.path}"
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    missing = sorted(keys - CONSOLE_ROUTES.keys())
    stale = sorted(CONSOLE_ROUTES.keys() - keys)
    if missing or stale:
        raise RuntimeError(f"console table out of date: missing {missing}, stale {stale}")
