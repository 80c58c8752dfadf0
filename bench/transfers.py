"""Transfers per second through the service layer beside a raw-driver baseline, and as-of
balance latency over a million postings, on PostgreSQL and SQLite.

    .venv/bin/python -m bench.transfers [--database sqlite|postgresql|both] [--quick]

One transfer = one journal entry with two postings moving units between two non-negative,
credit-normal accounts funded up front. Modes (each on every selected database):
1. one transfer per commit, one writer (`post_entry`);
2. 100 transfers per commit, one writer (`post_batch` with 100 `PostEntry`);
3. 8 concurrent writers (threads) on random accounts among 10,000;
4. 8 concurrent writers all debiting one hot account (to random destinations).
Then (unless `--skip-asof`) the as-of latency benchmark of `bench.asof`.

The table (mode, database, service tx/s, raw tx/s, ratio) is printed and written to
`bench/results/latest.txt`; `--profile` also writes cProfile reports of the service runs there.
The default run takes about 6 minutes on 2 cores, `--quick` about half a minute.

`--chain-cost --seal-every SECONDS` measures instead what the hash chain costs the write path:
per mode, service runs without a sealer and with the journal sealer running beside the writers
(the server's sweeper: `seal_round` every SECONDS in a background thread), interleaved in ABBA
order; it reports the median of each side, the median of the per-round ratios and how many of
the run's entries were left unchained at its end (the sealer must keep up). Written to
`bench/results/chain-cost.txt` unless `--output` says otherwise.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy
from sqlalchemy import text

from bench.asof import AsOfResult, run_asof
from bench.config import BACKENDS, DEFAULT_POSTGRES_URL, FULL, MODES, QUICK, RESULTS_DIR, Config
from bench.databases import BenchDatabase, fresh_database, server_version
from bench.dataset import generate, load
from bench.harness import RunResult
from bench.throughput import ModeResult, _Bench, measure, mode_label, verify
from ledger.persistence.store import Store
from ledger.services.chain import seal_all

TARGET_RATIO = 0.6  # the service layer against the raw driver, every mode (issue 18)
TARGET_ASOF_MS = 1.0
CHAIN_COST_MAX = 0.2  # the chain may cost at most 20% of the write throughput


def parse(argv: Sequence[str] | None = None) -> tuple[Config, bool]:
    """The run's configuration, and whether it measures the chain's cost."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.transfers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small counts and short runs (a CI smoke test, about a minute)",
    )
    parser.add_argument(
        "--modes",
        default=",".join(map(str, MODES)),
        help="throughput modes to run, e.g. 1,2 (default: all; 'none' for none)",
    )
    parser.add_argument("--seconds", type=float, help="length of one measured run")
    parser.add_argument("--warmup-seconds", type=float, help="unmeasured run per side and mode")
    parser.add_argument("--rounds", type=int, help="measured runs per side and mode (best kept)")
    parser.add_argument("--threads", type=int, default=8, help="writers in modes 3 and 4")
    parser.add_argument("--batch-size", type=int, default=100, help="transfers per commit, mode 2")
    parser.add_argument("--accounts", type=int, help="funded holder accounts")
    parser.add_argument("--skip-asof", action="store_true", help="skip the as-of benchmark")
    parser.add_argument("--asof-postings", type=int, help="postings loaded for the as-of bench")
    parser.add_argument("--asof-hot-postings", type=int, help="of which on the hot account")
    parser.add_argument("--asof-samples", type=int, help="timed as-of calls per kind")
    parser.add_argument("--asof-sum-samples", type=int, help="timed raw SUMs (slow by design)")
    parser.add_argument(
        "--sqlite-synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="PRAGMA synchronous for the store and raw sqlite3 alike "
        "(the ledger's default is FULL)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("LEDGER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server (and an existing database) where bench databases are "
        "created and dropped; env LEDGER_BENCH_POSTGRES_URL",
    )
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run each service mode under cProfile (unmeasured) and write "
        "bench/results/profile-<database>-mode<N>.{txt,pstats}",
    )
    parser.add_argument(
        "--seal-every",
        type=float,
        metavar="SECONDS",
        help="run the journal sealer (hash chain) in a background thread during "
        "the service runs, sealing everything unchained every SECONDS",
    )
    parser.add_argument(
        "--chain-cost",
        action="store_true",
        help="measure service runs without and with the sealer (needs "
        "--seal-every) instead of service against raw; no as-of bench",
    )
    parser.add_argument(
        "--output",
        help="report file (default: bench/results/latest.txt, or chain-cost.txt with --chain-cost)",
    )
    arguments = parser.parse_args(argv)
    if arguments.chain_cost and arguments.seal_every is None:
        parser.error("--chain-cost needs --seal-every SECONDS")
    output = arguments.output or str(
        RESULTS_DIR / ("chain-cost.txt" if arguments.chain_cost else "latest.txt")
    )
    preset: dict[str, float | int] = dict(QUICK if arguments.quick else FULL)

    def pick(name: str) -> float | int:
        value = getattr(arguments, name)
        return preset[name] if value is None else value

    modes = (
        ()
        if arguments.modes == "none"
        else tuple(sorted({int(mode) for mode in arguments.modes.split(",")}))
    )
    if any(mode not in MODES for mode in modes):
        parser.error(f"modes are among {MODES}")
    config = Config(
        databases=BACKENDS if arguments.database == "both" else (arguments.database,),
        modes=modes,
        seconds=float(pick("seconds")),
        warmup_seconds=float(pick("warmup_seconds")),
        rounds=int(pick("rounds")),
        threads=arguments.threads,
        batch_size=arguments.batch_size,
        accounts=int(pick("accounts")),
        asof=not arguments.skip_asof and not arguments.chain_cost,
        asof_postings=int(pick("asof_postings")),
        asof_hot_postings=int(pick("asof_hot_postings")),
        asof_samples=int(pick("asof_samples")),
        asof_sum_samples=int(pick("asof_sum_samples")),
        sqlite_synchronous=arguments.sqlite_synchronous,
        postgres_url=arguments.postgres_url,
        seed=arguments.seed,
        profile=arguments.profile,
        results_path=Path(output),
        seal_every_seconds=arguments.seal_every,
    )
    return config, arguments.chain_cost


# -- report --------------------------------------------------------------------------------


def environment(config: Config) -> list[str]:
    postgres = server_version(config.postgres_url) if "postgresql" in config.databases else "-"
    return [
        f"date: {datetime.now(UTC).isoformat(timespec='seconds')}",
        f"machine: {os.cpu_count()} cores, {platform.platform()}",
        f"python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}, psycopg "
        f"{psycopg.__version__} (libpq {psycopg.pq.version()}), PostgreSQL {postgres}, "
        f"SQLite {sqlite3.sqlite_version}",
        f"runs: {config.rounds} x {config.seconds:g} s per side and mode (best kept, ABBA order)"
        f" after a {config.warmup_seconds:g} s warm-up; SQLite synchronous="
        f"{config.sqlite_synchronous}, WAL",
        "journal sealer during service runs: "
        + (
            "off"
            if config.seal_every_seconds is None
            else f"every {config.seal_every_seconds:g} s (background thread)"
        ),
    ]


def throughput_table(results: Sequence[ModeResult], config: Config) -> list[str]:
    lines = [
        f"{'mode':<40} {'database':<11} {'service tx/s':>12} {'raw tx/s':>10} {'ratio':>6}",
        "-" * 83,
    ]
    for result in results:
        mark = "" if result.ratio >= TARGET_RATIO else f"  < target {TARGET_RATIO:g}"
        lines.append(
            f"{result.mode}. {mode_label(result.mode, config):<37} {result.backend:<11} "
            f"{result.service_rate:>12,.0f} {result.raw_rate:>10,.0f} {result.ratio:>6.2f}{mark}"
        )
    lines.append("")
    lines.append("rounds (tx/s) and retries:")
    for result in results:
        service = ", ".join(f"{run.rate:,.0f}" for run in result.service)
        raw = ", ".join(f"{run.rate:,.0f}" for run in result.raw)
        retries = sum(run.retries for run in result.service + result.raw)
        busy = [run.neighbours for run in result.service + result.raw if run.neighbours is not None]
        others = f"{max(busy):.1f}" if busy else "?"
        lines.append(
            f"  {result.mode} {result.backend:<11} service [{service}]  raw [{raw}]"
            f"  retries {retries}  foreign PG backends active (max mean) {others}"
        )
    return lines


def asof_table(results: Sequence[AsOfResult]) -> list[str]:
    lines: list[str] = []
    for result in results:
        verdict = "consistent" if not result.violations else f"{len(result.violations)} violations"
        lines += [
            f"{result.backend}: {result.postings:,} postings, hot account {result.hot_postings:,};"
            f" bulk load {result.load_seconds:.1f} s; check_invariants {result.check_seconds:.2f} s"
            f" -> {verdict}",
            f"  {'as-of query (recorded axis, hot account)':<50} {'p50 ms':>8} {'p99 ms':>8}"
            f" {'calls':>6}",
        ]
        for latency in result.latencies:
            lines.append(
                f"  {latency.label:<50} {latency.p50:>8.3f} {latency.p99:>8.3f}"
                f" {len(latency.milliseconds):>6}"
            )
        lines += [f"  | {line}" for line in result.plan]
        lines += [f"  ! {violation}" for violation in result.violations[:10]]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    config, chain_cost = parse(argv)
    if chain_cost:
        return chain_cost_main(config)
    started = time.perf_counter()
    profile_dir = config.results_path.parent if config.profile else None
    config.results_path.parent.mkdir(parents=True, exist_ok=True)
    throughput: list[ModeResult] = []
    checks: list[str] = []
    for backend in config.databases:
        if config.modes:
            with fresh_database(backend, "tx", config.postgres_url) as database:
                throughput += measure(database, config, profile_dir)
                checks.append(verify(database, config))
    asof: list[AsOfResult] = []
    if config.asof:
        holders = config.accounts
        transfers = config.asof_postings // 2 - holders
        hot_transfers = config.asof_hot_postings - 1  # plus its funding posting
        data = generate(holders, transfers, hot_transfers, config.seed)
        for backend in config.databases:
            with fresh_database(backend, "asof", config.postgres_url) as database:
                print(
                    f"[{backend}] as-of: loading {len(data.postings):,} postings",
                    file=sys.stderr,
                    flush=True,
                )
                asof.append(run_asof(database, data, config))
    report = ["Ledger benchmark: service layer vs raw driver (same migrated schema)", ""]
    report += [*environment(config), ""]
    if throughput:
        report += ["Transfers per second (1 transfer = 1 entry + 2 postings + 2 balance updates)"]
        report += [*throughput_table(throughput, config), "", *checks, ""]
    if asof:
        report += [f"As-of balance latency (target p50 < {TARGET_ASOF_MS:g} ms)"]
        report += [*asof_table(asof), ""]
    report.append(f"total time {time.perf_counter() - started:.0f} s")
    text = "\n".join(report) + "\n"
    print(text, end="")
    config.results_path.parent.mkdir(parents=True, exist_ok=True)
    config.results_path.write_text(text, encoding="utf-8")
    return 0


# -- what the hash chain costs the write path ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainRun:
    result: RunResult
    unchained: int  # the run's entries still unchained when it ended (sealed runs)


@dataclass(frozen=True, slots=True)
class ChainCost:
    mode: int
    backend: str
    without: tuple[ChainRun, ...]  # measured rounds, no sealer
    with_chain: tuple[ChainRun, ...]  # measured rounds, sealer running

    @property
    def without_rate(self) -> float:
        return statistics.median(run.result.rate for run in self.without)

    @property
    def with_rate(self) -> float:
        return statistics.median(run.result.rate for run in self.with_chain)

    @property
    def ratio(self) -> float:
        """Median of the per-round ratios (each round's two runs are adjacent in time)."""
        return statistics.median(
            sealed.result.rate / plain.result.rate
            for plain, sealed in zip(self.without, self.with_chain, strict=True)
            if plain.result.rate
        )


def _unchained(store: Store) -> int:
    with store.engine.connect() as connection:
        return int(
            connection.execute(
                text(
                    "SELECT count(*) FROM entries e WHERE NOT EXISTS "
                    "(SELECT 1 FROM journal_chain c WHERE c.entry_seq = e.seq)"
                )
            ).scalar_one()
        )


def _chain_run(
    bench: _Bench, config: Config, *, sealed: bool, mode: int, seed: int, seconds: float
) -> ChainRun:
    bench.config = replace(config, seal_every_seconds=config.seal_every_seconds if sealed else None)
    result = bench.run("service", mode, seed, seconds)
    # Unmeasured: what the sealer left behind, then the backlog sealed for the next run.
    unchained = _unchained(bench.store) if sealed else 0
    seal_all(bench.store)
    return ChainRun(result, unchained)


def measure_chain_cost(database: BenchDatabase, config: Config) -> list[ChainCost]:
    data = generate(config.accounts, 0, 0, config.seed)
    seconds = load(database.backend, database.raw, data)
    print(
        f"[{database.backend}] seeded {config.accounts:,} funded accounts in {seconds:.1f} s",
        file=sys.stderr,
        flush=True,
    )
    bench = _Bench(database, config)
    results = []
    try:
        seal_all(bench.store)
        for mode in config.modes:
            base = config.seed * 100 + mode * 10
            if config.warmup_seconds > 0:
                for sealed in (False, True):
                    _chain_run(
                        bench,
                        config,
                        sealed=sealed,
                        mode=mode,
                        seed=base,
                        seconds=config.warmup_seconds,
                    )
            runs: dict[bool, list[ChainRun]] = {False: [], True: []}
            for number in range(config.rounds):
                order = (False, True) if number % 2 == 0 else (True, False)
                for sealed in order:  # both sides of a round draw the same transfers
                    run = _chain_run(
                        bench,
                        config,
                        sealed=sealed,
                        mode=mode,
                        seed=base + 1 + number,
                        seconds=config.seconds,
                    )
                    runs[sealed].append(run)
                    print(
                        f"[{database.backend}] mode {mode} round {number + 1} "
                        f"{'with chain' if sealed else 'no chain'}: {run.result.rate:,.0f}"
                        f" tx/s, {run.unchained} left unchained",
                        file=sys.stderr,
                        flush=True,
                    )
            results.append(ChainCost(mode, database.backend, tuple(runs[False]), tuple(runs[True])))
    finally:
        bench.store.dispose()
    return results


def chain_cost_table(results: Sequence[ChainCost], config: Config) -> list[str]:
    lines = [
        f"{'mode':<40} {'database':<11} {'no chain':>9} {'chain':>9} {'ratio':>6} {'cost':>6}",
        "-" * 86,
    ]
    for result in results:
        mark = "" if result.ratio >= 1 - CHAIN_COST_MAX else f"  > {CHAIN_COST_MAX:.0%} budget"
        lines.append(
            f"{result.mode}. {mode_label(result.mode, config):<37} {result.backend:<11} "
            f"{result.without_rate:>9,.0f} {result.with_rate:>9,.0f} {result.ratio:>6.2f} "
            f"{1 - result.ratio:>6.1%}{mark}"
        )
    lines += ["", "rounds (tx/s; with chain: entries left unchained at the end of the run):"]
    for result in results:
        plain = ", ".join(f"{run.result.rate:,.0f}" for run in result.without)
        sealed = ", ".join(f"{run.result.rate:,.0f} ({run.unchained})" for run in result.with_chain)
        lines.append(f"  {result.mode} {result.backend:<11} no chain [{plain}]  chain [{sealed}]")
    return lines


def chain_cost_main(config: Config) -> int:
    started = time.perf_counter()
    config.results_path.parent.mkdir(parents=True, exist_ok=True)
    results: list[ChainCost] = []
    for backend in config.databases:
        with fresh_database(backend, "chain", config.postgres_url) as database:
            results += measure_chain_cost(database, config)
    report = ["Ledger benchmark: what the hash chain costs the write path", ""]
    report += [*environment(config), ""]
    report += [
        f"Service transfers per second without and with the sealer (medians of "
        f"{config.rounds} rounds; ratio = median of per-round with/without)"
    ]
    report += [*chain_cost_table(results, config), ""]
    report.append(f"total time {time.perf_counter() - started:.0f} s")
    text_ = "\n".join(report) + "\n"
    print(text_, end="")
    config.results_path.parent.mkdir(parents=True, exist_ok=True)
    config.results_path.write_text(text_, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
