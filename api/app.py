"""Composition root: `create_app(settings)` wires storage, services and routers together.

With `sweep_expired_holds` and `settings.sweeper_thread`, a background `Sweeper`
(ledger/sweeper.py) runs every `settings.expiry_sweep_seconds` in the process that holds the
deployment's sweeper lock: it seals new journal entries into the hash chain, exports a checkpoint
of the chains when one is due (if a directory is configured), and expires pending entries, trades
and four-eyes requests past their deadline. With `LEDGER_SWEEPER_THREAD=false` the server runs no
sweeper: `emissions-ledger sweep` does, in a process of its own.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse

from api import auth, errors, inputs, offline_docs, openapi
from api.console.app import create_console
from api.middleware import BodySizeLimit, RequestId, RequestMetrics
from api.rate_limits import RateLimits
from api.routers import access as access_routes
from api.routers import balances, parties, registry, trades
from api.routers import finance as finance_routes
from api.routers import income_tax as income_tax_routes
from api.routers import journal as journal_routes
from api.routers import monitoring as monitoring_routes
from api.routers import operations as operations_routes
from api.routers import reports as report_routes
from api.routers import tax as tax_routes
from ledger import metrics
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.persistence.sweeper_lock import sweeper_lock
from ledger.settings import Settings
from ledger.sweeper import Sweeper

# PostgreSQL connections kept per process (as many again may open past it). The default 10 was
# below the concurrency of a loaded server: 16 clients made it open and close ~24 connections a
# second (bench/load.py); 20 keeps them open. Workers × 2 × this must fit max_connections.
DATABASE_POOL_SIZE = 20

DESCRIPTION = """
A double-entry ledger for pollutant emission rights, carbon allowances and environmental-tax
incentives. Amounts are decimal strings in the instrument's unit; every rejection is an
`application/problem+json` document with a stable `code`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    sweep_expired_holds: bool = False,
    freeze_heap: bool = False,
) -> FastAPI:
    """The FastAPI application over the configured database (or the given store). A server's
    (`api.main`) passes `freeze_heap`: once started, the objects it holds for good are left out
    of the garbage collector's full passes (`gc.freeze`)."""
    settings = settings or Settings.from_environment()
    store = store or Store(
        create_ledger_engine(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=DATABASE_POOL_SIZE,
        )
    )
    store.four_eyes = settings.four_eyes_policy()  # the operator's choice, read by the services

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        sweeper = None
        if sweep_expired_holds and settings.sweeper_thread:
            lock = sweeper_lock(store.engine)
            sweeper = Sweeper(store, lock, settings)
            sweeper.start()
        if freeze_heap:
            _freeze_heap()
        yield
        if sweeper is not None:
            sweeper.stop()
        application.state.console_jobs.close()  # the jobs it still runs end, as failed
        store.dispose()
        metrics.process_exiting()

    app = FastAPI(
        title="Emissions ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # offline_docs serves /docs from packaged assets, no CDN
        redoc_url=None,
        dependencies=[Depends(_guard)],
    )
    app.state.store = store
    app.state.settings = settings
    app.state.tokens = auth.TokenCache(store, store.clock)
    app.state.rate_limits = RateLimits(
        settings.failed_auth_limit, settings.request_limit, settings.rate_limit_storage
    )
    errors.install(app)
    openapi.install(app)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestId)  # the outermost: even a refused body's answer has its id
    routers = (
        operations_routes.router,
        access_routes.router,
        registry.router,
        journal_routes.router,
        balances.router,
        parties.router,
        trades.router,
        finance_routes.router,
        tax_routes.router,
        income_tax_routes.router,
        monitoring_routes.router,
        report_routes.router,
    )
    auth.check_permission_table(routers)
    for router in routers:
        app.include_router(router)
    offline_docs.install(app)
    console = create_console(
        store, app.state.tokens, app.state.rate_limits, settings.console_idle_minutes * 60
    )
    app.mount("/console", console)
    app.state.console_jobs = console.state.console.jobs
    app.add_route("/", _to_console, include_in_schema=False)
    return app


def _freeze_heap() -> None:
    """Move every object alive now (modules, routes, models, compiled queries: ~190,000 of them)
    out of the garbage collector's reach. A full collection traversed them all, 40-90 ms with
    the GIL held, stalling every request of the process: the worst latencies under load. Only
    cyclic garbage among them would stay uncollected; there is none worth a pause, since the
    process keeps them until it exits."""
    gc.collect()
    gc.freeze()


async def _guard(request: Request) -> None:
    """Every route's dependency: who calls, and may they (`auth.authorize`); then whether the
    request's inputs can be stored (`inputs.check_inputs`). One dependency rather than two:
    FastAPI's bookkeeping around each costs more than either does (~15 µs a request)."""
    await auth.authorize(request)
    await inputs.check_inputs(request)


async def _to_console(request: Request) -> RedirectResponse:
    """The web console is the application's home page."""
    del request
    return RedirectResponse("/console/", status_code=307)
