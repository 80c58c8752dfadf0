"""Composition root: `create_app(settings)` wires storage, services and routers together.

With `sweep_expired_holds`, a background thread runs `SWEEP_TASKS` every
`settings.expiry_sweep_seconds`: it seals new journal entries into the hash chain, exports a
checkpoint of the chains when one is due (if a directory is configured), and expires pending
entries, trades and four-eyes requests past their deadline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI

from api import auth, errors, openapi, schemas
from api.dependencies import Store as StoreDependency
from api.middleware import BodySizeLimit, RequestId
from api.routers import access as access_routes
from api.routers import balances, parties, registry, trades
from api.routers import finance as finance_routes
from api.routers import journal as journal_routes
from api.routers import monitoring as monitoring_routes
from api.routers import reports as report_routes
from api.routers import tax as tax_routes
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import approvals, checkpoints, journal, queries, trading
from ledger.settings import Settings

logger = logging.getLogger("api")

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
) -> FastAPI:
    """The FastAPI application over the configured database (or the given store)."""
    settings = settings or Settings.from_environment()
    store = store or Store(
        create_ledger_engine(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=DATABASE_POOL_SIZE,
        )
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        sweeper = None
        if sweep_expired_holds:
            sweeper = threading.Thread(
                target=_sweep,
                args=(store, settings, stop),
                name="expiry-sweeper",
                daemon=True,
            )
            sweeper.start()
        yield
        stop.set()
        if sweeper is not None:
            sweeper.join(timeout=10)
        store.dispose()

    app = FastAPI(
        title="Emissions ledger",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(auth.authorize)],
    )
    app.state.store = store
    app.state.settings = settings
    app.state.tokens = auth.TokenCache(store, store.clock)
    errors.install(app)
    openapi.install(app)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RequestId)  # the outermost: even a refused body's answer has its id
    routers = (
        access_routes.router,
        registry.router,
        journal_routes.router,
        balances.router,
        parties.router,
        trades.router,
        finance_routes.router,
        tax_routes.router,
        monitoring_routes.router,
        report_routes.router,
    )
    auth.check_permission_table(routers, extra=["GET /v1/health"])
    for router in routers:
        app.include_router(router)

    @app.get("/v1/health", response_model=schemas.HealthOut, tags=["operations"])
    def health(uow_factory: StoreDependency) -> schemas.HealthOut:
        """The service is up and its database answers."""
        queries.check_health(uow_factory)
        return schemas.HealthOut(status="ok", database=store.engine.dialect.name)

    return app


def _seal(store: Store, settings: Settings) -> int:
    directory, key = settings.checkpoint_dir, settings.checkpoint_key
    return checkpoints.seal(store, directory, key, wait=timedelta(0))


def _export_checkpoint(store: Store, settings: Settings) -> int:
    if settings.checkpoint_dir is None:
        return 0
    every = timedelta(seconds=settings.checkpoint_seconds)
    return checkpoints.export_due(store, settings.checkpoint_dir, every, settings.checkpoint_key)


# What the background sweeper does each round, in order: (what, task returning a count).
SWEEP_TASKS: tuple[tuple[str, Callable[[Store, Settings], int]], ...] = (
    ("entries sealed into the chain", _seal),
    ("checkpoints exported", _export_checkpoint),
    ("pending entries expired", lambda store, _: len(journal.expire_pending_entries(store))),
    ("trades expired past their deadline", lambda store, _: len(trading.expire_due(store))),
    ("approval requests expired", lambda store, _: approvals.expire_due(store)),
)


def _sweep(store: Store, settings: Settings, stop: threading.Event) -> None:
    while not stop.wait(settings.expiry_sweep_seconds):
        for what, task in SWEEP_TASKS:
            try:
                done = task(store, settings)
            except Exception:  # keep sweeping: a failed task is retried on the next round
                logger.exception("sweep failed: %s", what)
                continue
            if done:
                logger.info("%d %s", done, what)
