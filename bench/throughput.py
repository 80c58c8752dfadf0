"""Throughput modes 1-4 on one database: service layer and raw driver, interleaved rounds.

Per mode: one unmeasured warm-up run of each side, then `rounds` measured runs of each side in
ABBA order (service, raw, raw, service, ...) so that drift (table growth, checkpoints, a
neighbour's load) hits both alike; each side's best round is reported. Both sides draw the same
transfer stream in a given round (same seeds).
"""

from __future__ import annotations

import itertools
import pstats
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import text

from bench.config import Config
from bench.databases import BenchDatabase, conninfo
from bench.dataset import INSTRUMENT, READER, generate, holder_code, load
from bench.harness import RunResult, Worker, WorkerFactory, run_timed
from bench.monitor import Neighbours
from bench.workloads import Picker, PostgresRawWorker, ServiceWorker, SqliteRawWorker
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services.chain import seal_all, seal_round
from ledger.services.queries import check_invariants

SIDES = ("service", "raw")


@dataclass(frozen=True, slots=True)
class ModeResult:
    mode: int
    backend: str
    service: tuple[RunResult, ...]  # measured rounds
    raw: tuple[RunResult, ...]

    @property
    def service_rate(self) -> float:
        return max(run.rate for run in self.service)

    @property
    def raw_rate(self) -> float:
        return max(run.rate for run in self.raw)

    @property
    def ratio(self) -> float:
        return self.service_rate / self.raw_rate if self.raw_rate else 0.0


def mode_label(mode: int, config: Config) -> str:
    return {
        1: "1 transfer/commit, 1 writer",
        2: f"{config.batch_size} transfers/commit, 1 writer",
        3: f"{config.threads} writers, random of {config.accounts:,}",
        4: f"{config.threads} writers, one hot source",
    }[mode]


def _shape(mode: int, config: Config) -> tuple[int, int, bool]:
    """(threads, transfers per commit, hot) of a mode."""
    threads = config.threads if mode in (3, 4) else 1
    batch = config.batch_size if mode == 2 else 1
    return threads, batch, mode == 4


class _Bench:
    """One database's store, raw target and run counter."""

    def __init__(self, database: BenchDatabase, config: Config) -> None:
        self.database = database
        self.config = config
        self.store = Store(
            create_ledger_engine(database.url, sqlite_synchronous=config.sqlite_synchronous)
        )
        self._runs = itertools.count(1)
        self.monitor = conninfo(config.postgres_url) if "postgresql" in config.databases else None
        # A long-running process has every account in the store's cache: so does the bench.
        # (A unit of work publishes what it cached only when it commits: without the commit
        # every first use of an account in a run read it, which the raw side never does.)
        with self.store(read_only=True) as uow:
            uow.instruments.get_many([INSTRUMENT.code])
            uow.accounts.cached(holder_code(index) for index in range(config.accounts))
            uow.commit()

    def factory(self, side: str, mode: int, seed: int) -> WorkerFactory:
        _, batch, hot = _shape(mode, self.config)
        run = next(self._runs)
        accounts = self.config.accounts
        database = self.database
        synchronous = self.config.sqlite_synchronous

        def make(index: int) -> Worker:
            picker = Picker(accounts, hot=hot, seed=seed * 1_000 + index)
            prefix = f"{side[0]}{run}-{index}-"
            if side == "service":
                return ServiceWorker(self.store, picker, prefix, batch)
            if database.backend == "postgresql":
                return PostgresRawWorker(database.raw, picker, prefix, batch)
            return SqliteRawWorker(database.raw, synchronous, picker, prefix, batch)

        return make

    def run(self, side: str, mode: int, seed: int, seconds: float) -> RunResult:
        threads, _, _ = _shape(mode, self.config)
        every = self.config.seal_every_seconds
        sealer = _Sealer(self.store, every) if side == "service" and every is not None else None
        if sealer is not None:
            # Unmeasured catch-up: the raw side's entries and the warm-up's are chained first, so
            # the run measures the steady state (the sealer chains what the run writes).
            seal_all(self.store)
        with Neighbours(self.monitor) as neighbours:
            if sealer is not None:
                sealer.start()
            try:
                result, _ = run_timed(self.factory(side, mode, seed), threads, seconds)
            finally:
                if sealer is not None:
                    sealer.stop()
        if sealer is not None:
            _progress(f"  sealer chained {sealer.sealed:,} entries during the run")
        return replace(result, neighbours=neighbours.mean)

    def profile(
        self, side: str, mode: int, seed: int, seconds: float
    ) -> tuple[RunResult, pstats.Stats]:
        threads, _, _ = _shape(mode, self.config)
        result, stats = run_timed(self.factory(side, mode, seed), threads, seconds, profile=True)
        assert stats is not None
        return result, stats


class _Sealer:
    """The server's sealing round (`seal_round`) every few seconds in a background thread."""

    def __init__(self, store: Store, every_seconds: float) -> None:
        self.sealed = 0
        self._store = store
        self._every = every_seconds
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-sealer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._halt.wait(self._every):
            self.sealed += seal_round(self._store)


def _neighbours(result: RunResult) -> str:
    return "?" if result.neighbours is None else f"{result.neighbours:.1f}"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def measure(
    database: BenchDatabase, config: Config, profile_dir: Path | None = None
) -> list[ModeResult]:
    """Seed the database (accounts funded up front), then measure every configured mode."""
    data = generate(config.accounts, 0, 0, config.seed)
    seconds = load(database.backend, database.raw, data)
    _progress(f"[{database.backend}] seeded {config.accounts:,} funded accounts in {seconds:.1f} s")
    bench = _Bench(database, config)
    results = []
    try:
        for mode in config.modes:
            base = config.seed * 100 + mode * 10
            if config.warmup_seconds > 0:
                for side in SIDES:
                    bench.run(side, mode, base, config.warmup_seconds)
            rounds: dict[str, list[RunResult]] = {side: [] for side in SIDES}
            for number in range(config.rounds):
                order = SIDES if number % 2 == 0 else SIDES[::-1]
                for side in order:
                    result = bench.run(side, mode, base + 1 + number, config.seconds)
                    rounds[side].append(result)
                    _progress(
                        f"[{database.backend}] mode {mode} round {number + 1} {side}: "
                        f"{result.rate:,.0f} tx/s ({result.transfers:,} in "
                        f"{result.seconds:.2f} s, {result.retries} retries, "
                        f"{_neighbours(result)} foreign PG backends active)"
                    )
            results.append(
                ModeResult(mode, database.backend, tuple(rounds["service"]), tuple(rounds["raw"]))
            )
            if profile_dir is not None:
                for side in SIDES:
                    _profile(bench, side, mode, base + 9, profile_dir)
    finally:
        bench.store.dispose()
    return results


def verify(database: BenchDatabase, config: Config) -> str:
    """`check_invariants` over everything both sides wrote: the raw side must be as consistent."""
    store = Store(create_ledger_engine(database.url, sqlite_synchronous=config.sqlite_synchronous))
    try:
        with store.engine.connect() as connection:
            rows = connection.execute(  # entry ids start with s (service), r (raw), f (funding)
                text("SELECT substr(entry_id, 1, 1), count(*) FROM entries GROUP BY 1")
            ).all()
        counts = {str(row[0]): int(row[1]) for row in rows}
        started = time.perf_counter()
        violations = check_invariants(store, READER)
        seconds = time.perf_counter() - started
    finally:
        store.dispose()
    verdict = (
        "consistent"
        if not violations
        else f"{len(violations)} VIOLATIONS, first: "
        + (f"{violations[0].rule}: {violations[0].detail}")
    )
    return (
        f"{database.backend}: {counts.get('s', 0):,} entries by the service, "
        f"{counts.get('r', 0):,} by the raw side; check_invariants over all of them took "
        f"{seconds:.2f} s -> {verdict}"
    )


def _profile(bench: _Bench, side: str, mode: int, seed: int, directory: Path) -> None:
    """One unmeasured run under cProfile: top functions by own and by cumulative time."""
    backend = bench.database.backend
    result, stats = bench.profile(side, mode, seed, bench.config.seconds)
    path = directory / f"profile-{backend}-mode{mode}-{side}"
    stats.dump_stats(f"{path}.pstats")
    with open(f"{path}.txt", "w", encoding="utf-8") as text:
        text.write(
            f"{mode_label(mode, bench.config)} on {backend}, {side} side under cProfile:"
            f" {result.rate:,.0f} tx/s ({result.transfers:,} transfers)\n"
        )
        stats.stream = text  # type: ignore[attr-defined]
        stats.sort_stats("tottime").print_stats(40)
        stats.sort_stats("cumulative").print_stats(60)
    _progress(f"[{backend}] mode {mode} {side} profile: {path}.txt")
