"""For operators and their tools: health, liveness, readiness and Prometheus metrics.

All four are public (no token): a load balancer, an orchestrator and a Prometheus server call
them. They name no party and no amount; restrict `/metrics` at the network if its route counts
are nobody else's business.

- `GET /v1/health/live`: the process answers (it does not touch the database: restarting the
  server would not cure a database outage).
- `GET /v1/health/ready` (and `GET /v1/health`, its older name): the database answers and its
  schema is at the revision this code needs; else 503 `not_ready`.
- `GET /metrics`: requests and latencies per route template, transaction retries, what the
  sweeper did and how long ago, and how far the hash chain trails the journal.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from api import schemas
from api.errors import problem
from api.routing import Routes
from ledger import metrics
from ledger.persistence import lag, migrate
from ledger.persistence.store import Store

router = Routes(tags=["operations"])
logger = logging.getLogger(__name__)

NOT_READY: dict[int | str, dict[str, Any]] = {
    503: {"description": "The database does not answer or its schema is not current"}
}


@router.get("/v1/health/live", response_model=schemas.LivenessOut)
def live() -> schemas.LivenessOut:
    """The process answers requests."""
    return schemas.LivenessOut(status="ok")


@router.get("/v1/health/ready", response_model=schemas.HealthOut, responses=NOT_READY)
def ready(request: Request) -> schemas.HealthOut | JSONResponse:
    """The database answers and its schema is the one this code needs."""
    return _readiness(request.app.state.store)


@router.get("/v1/health", response_model=schemas.HealthOut, responses=NOT_READY)
def health(request: Request) -> schemas.HealthOut | JSONResponse:
    """The service is up and its database answers (the same as `/v1/health/ready`)."""
    return _readiness(request.app.state.store)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def prometheus_metrics(request: Request) -> Response:
    """The deployment's metrics in the Prometheus text format."""
    families = metrics.collected()
    families += _lags(request.app.state.store, families)
    return Response(metrics.exposition(families), media_type=CONTENT_TYPE_LATEST)


def _readiness(store: Store) -> schemas.HealthOut | JSONResponse:
    try:
        revision = migrate.current(store.engine)
    except Exception as error:  # whatever the driver raises, the answer is "not ready"
        logger.warning("not ready: the database does not answer (%s)", error.__class__.__name__)
        return problem(503, "not_ready", "Not ready", "the database does not answer")
    if revision != migrate.head():
        detail = f"the database schema is at {revision}, this code needs {migrate.head()}"
        return problem(503, "not_ready", "Not ready", detail)
    return schemas.HealthOut(status="ok", database=store.engine.dialect.name)


def _lags(store: Store, families: list[Metric]) -> list[Metric]:
    """Sweeper lag (from the deployment's last round) and chain lag (from the database)."""
    last_round = max(
        (
            sample.value
            for family in families
            if family.name == "ledger_sweeper_last_round_timestamp_seconds"
            for sample in family.samples
        ),
        default=0.0,
    )
    found: list[Metric] = [
        GaugeMetricFamily(
            "ledger_sweeper_lag_seconds",
            "Seconds since the deployment's sweeper last finished a round (NaN: none yet)",
            value=time.time() - last_round if last_round else math.nan,
        )
    ]
    try:
        chain = lag.chain_lag(store.engine, store.clock())
    except Exception as error:  # the metrics still answer when the database does not
        logger.warning("chain lag unknown: %s", error.__class__.__name__)
        return [*found, GaugeMetricFamily("ledger_database_up", "The database answers", value=0)]
    return [
        *found,
        GaugeMetricFamily("ledger_database_up", "The database answers", value=1),
        GaugeMetricFamily(
            "ledger_chain_lag_entries",
            "Committed journal entries not yet sealed into the hash chain",
            value=chain.entries,
        ),
        GaugeMetricFamily(
            "ledger_chain_lag_seconds",
            "How long the oldest entry not yet sealed has waited",
            value=chain.seconds,
        ),
    ]
