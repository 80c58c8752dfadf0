"""As-of balance latency over a large journal, and the invariant check that proves it consistent.

A dataset of `asof_postings` postings (one hot account holding `asof_hot_postings` of them) is
bulk-loaded, `check_invariants` runs once (timed), then at random past instants we time:
- `ledger.services.queries.get_balance(store, READER, hot, instrument, as_of=instant)`: the
  use case, its authority check, its read-only transaction and every statement it issues;
- `SqlJournalRepository.posted_as_of(..., axis="recorded")` alone, inside one open unit of work;
- the same running-balance probe with the raw driver;
- a raw `SUM` over the hot account's postings up to the instant (what a ledger without running
  balances must do); each result is checked against the probe's.
"""

from __future__ import annotations

import math
import random
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from bench.config import Config
from bench.databases import BenchDatabase
from bench.dataset import INSTRUMENT, READER, Dataset, holder_code, load, sqlite_instant
from bench.workloads import sqlite_connect
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services.queries import BalanceView, check_invariants, get_balance

WARMUP_CALLS = 50

_PROBE = (
    "SELECT debits_after, credits_after FROM postings"
    " WHERE account_id = {p} AND instrument_code = {p} AND NOT pending AND recorded_at <= {p}"
    " ORDER BY recorded_at DESC, id DESC LIMIT 1"
)
_SUM = (
    "SELECT coalesce(sum(CASE WHEN side = 'debit' THEN units ELSE 0 END), 0),"
    " coalesce(sum(CASE WHEN side = 'debit' THEN 0 ELSE units END), 0) FROM postings"
    " WHERE account_id = {p} AND instrument_code = {p} AND NOT pending AND recorded_at <= {p}"
)


@dataclass(frozen=True, slots=True)
class Latency:
    """Timings of one kind of call, in milliseconds."""

    label: str
    milliseconds: tuple[float, ...]

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.milliseconds)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

    @property
    def p50(self) -> float:
        return self.percentile(0.50)

    @property
    def p99(self) -> float:
        return self.percentile(0.99)


@dataclass(frozen=True, slots=True)
class AsOfResult:
    backend: str
    postings: int
    hot_postings: int
    load_seconds: float
    check_seconds: float
    violations: tuple[str, ...]
    latencies: tuple[Latency, ...]
    plan: tuple[str, ...]  # the database's plan of the running-balance probe


def _timed(label: str, call: Callable[[Any], object], arguments: Sequence[Any]) -> Latency:
    timings = []
    for argument in arguments:
        started = time.perf_counter_ns()
        call(argument)
        timings.append((time.perf_counter_ns() - started) / 1e6)
    return Latency(label, tuple(timings))


class _RawReader:
    """The probe and the sum with the raw driver (autocommit reads)."""

    def __init__(self, database: BenchDatabase, synchronous: str) -> None:
        self._postgresql = database.backend == "postgresql"
        mark = "%s" if self._postgresql else "?"
        self._probe = _PROBE.format(p=mark)
        self._sum = _SUM.format(p=mark)
        self._pg: psycopg.Connection[tuple[Any, ...]] | None = None
        self._sqlite: sqlite3.Connection | None = None
        if self._postgresql:
            self._pg = psycopg.connect(database.raw, autocommit=True)
        else:
            self._sqlite = sqlite_connect(database.raw, synchronous)

    def _one(self, query: str, parameters: tuple[Any, ...]) -> tuple[int, int]:
        if self._pg is not None:
            row = self._pg.execute(query, parameters).fetchone()
        else:
            assert self._sqlite is not None
            row = self._sqlite.execute(query, parameters).fetchone()
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _parameters(self, account_id: int, moment: datetime) -> tuple[Any, ...]:
        instant: Any = moment if self._postgresql else sqlite_instant(moment)
        return (account_id, INSTRUMENT.code, instant)

    def probe(self, account_id: int, moment: datetime) -> tuple[int, int]:
        return self._one(self._probe, self._parameters(account_id, moment))

    def total(self, account_id: int, moment: datetime) -> tuple[int, int]:
        return self._one(self._sum, self._parameters(account_id, moment))

    def plan(self, account_id: int, moment: datetime) -> tuple[str, ...]:
        parameters = self._parameters(account_id, moment)
        if self._pg is not None:
            rows = self._pg.execute(
                f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {self._probe}", parameters
            ).fetchall()
            return tuple(str(row[0]) for row in rows)
        assert self._sqlite is not None
        rows = self._sqlite.execute(f"EXPLAIN QUERY PLAN {self._probe}", parameters).fetchall()
        return tuple(str(row[-1]) for row in rows)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
        if self._sqlite is not None:
            self._sqlite.close()


def run_asof(database: BenchDatabase, data: Dataset, config: Config) -> AsOfResult:
    """Load `data` into the empty database, check it, and time the as-of reads."""
    load_seconds = load(database.backend, database.raw, data)
    store = Store(create_ledger_engine(database.url, sqlite_synchronous=config.sqlite_synchronous))
    reader = _RawReader(database, config.sqlite_synchronous)
    try:
        started = time.perf_counter()
        violations = check_invariants(store, READER)
        check_seconds = time.perf_counter() - started
        first, last = data.recorded_span()
        rng = random.Random(config.seed)
        instants = [first + (last - first) * rng.random() for _ in range(config.asof_samples)]
        hot, hot_id, code = holder_code(0), data.hot_id, INSTRUMENT.code

        def service(moment: datetime) -> BalanceView:
            return get_balance(store, READER, hot, code, as_of=moment)

        for moment in instants[:WARMUP_CALLS]:
            view = service(moment)
            expected = reader.probe(hot_id, moment)
            got = (view.balance.debits_posted, view.balance.credits_posted)
            assert got == expected, (moment, got, expected)
        latencies = [_timed("get_balance(as_of=...)  [service use case]", service, instants)]
        with store(read_only=True) as uow:

            def repository(moment: datetime) -> object:
                return uow.journal.posted_as_of(hot_id, code, moment, axis="recorded")

            for moment in instants[:WARMUP_CALLS]:
                repository(moment)
            latencies.append(_timed("posted_as_of  [repository query alone]", repository, instants))
        for moment in instants[:WARMUP_CALLS]:
            reader.probe(hot_id, moment)
        latencies.append(
            _timed(
                "raw driver: running-balance probe",
                lambda moment: reader.probe(hot_id, moment),
                instants,
            )
        )
        sums = instants[: config.asof_sum_samples]
        reader.total(hot_id, sums[0])
        latencies.append(
            _timed(
                "raw driver: SUM of the hot account's postings",
                lambda moment: reader.total(hot_id, moment),
                sums,
            )
        )
        for moment in sums:  # the running balances agree with a plain sum at every instant
            assert reader.probe(hot_id, moment) == reader.total(hot_id, moment), moment
        plan = reader.plan(hot_id, instants[0])
    finally:
        reader.close()
        store.dispose()
    hot_postings = sum(1 for row in data.postings if row[2] == hot_id)
    return AsOfResult(
        database.backend,
        len(data.postings),
        hot_postings,
        load_seconds,
        check_seconds,
        tuple(f"{v.rule}: {v.detail}" for v in violations),
        tuple(latencies),
        plan,
    )
