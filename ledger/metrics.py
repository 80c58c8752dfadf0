"""The process's Prometheus metrics, declared once; the API's `/metrics` exposes them.

With several server workers (`emissions-ledger serve --workers N`) each worker writes its values
to files under `PROMETHEUS_MULTIPROC_DIR`, which the serve command sets before the workers start,
and a scrape of any worker answers the sum (or the maximum) over all of them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"  # prometheus_client's own variable

# Per route template ("/v1/accounts/{code}"), never per path: the label set stays small.
HTTP_REQUESTS = Counter(
    "ledger_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "ledger_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by method and route template",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TRANSACTION_RETRIES = Counter(
    "ledger_transaction_retries",
    "Transactions run again after a deadlock or serialization failure",
)
SWEEPER_LEADER = Gauge(
    "ledger_sweeper_leader",
    "1 in the process that sweeps for the deployment (the sum over workers is 1)",
    multiprocess_mode="livesum",
)
SWEEPER_LAST_ROUND = Gauge(
    "ledger_sweeper_last_round_timestamp_seconds",
    "When the deployment's sweeper last finished a round (Unix time)",
    multiprocess_mode="max",
)
SWEPT = Counter(
    "ledger_swept",
    "What the sweeper did: entries sealed, entries, trades, approval requests and console "
    "sessions expired, console jobs forgotten",
    ["task"],
)
SWEEP_FAILURES = Counter(
    "ledger_sweep_failures", "Sweep tasks that failed (retried on the next round)", ["task"]
)


def collected() -> list[Metric]:
    """Every metric family of the deployment: this process's, or all workers' when several."""
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    if not directory:
        return list(REGISTRY.collect())
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
    return list(registry.collect())


def exposition(families: Iterable[Metric]) -> bytes:
    """The Prometheus text format of these families."""
    return generate_latest(_Families(list(families)))


def prepare_workers(directory: Path) -> None:
    """Before several workers start: their values go to files in an empty `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # a previous run's values
        stale.unlink()
    os.environ[MULTIPROCESS_DIRECTORY] = str(directory)


def process_exiting() -> None:
    """A worker stops: its live gauges (`livesum`) no longer count."""
    directory = os.environ.get(MULTIPROCESS_DIRECTORY)
    if directory:
        multiprocess.mark_process_dead(os.getpid(), directory)  # type: ignore[no-untyped-call]


class _Families:
    """What `generate_latest` needs of a registry: `collect()`."""

    def __init__(self, families: list[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families
