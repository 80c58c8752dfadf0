"""The benchmark's knobs: one frozen `Config`, with a full and a `--quick` preset."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

BACKENDS = ("postgresql", "sqlite")
MODES = (1, 2, 3, 4)
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@dataclass(frozen=True, slots=True)
class Config:
    """Everything one run is parameterised by."""

    databases: tuple[str, ...]
    modes: tuple[int, ...]
    # throughput
    seconds: float  # length of one measured run
    warmup_seconds: float  # unmeasured run of each side before its mode's measured rounds
    rounds: int  # measured runs per side and mode, interleaved service/raw/raw/service...
    threads: int  # writers in modes 3 and 4
    batch_size: int  # transfers per commit in mode 2
    accounts: int  # non-negative holder accounts, funded up front
    # as-of latency
    asof: bool
    asof_postings: int
    asof_hot_postings: int
    asof_samples: int  # timed calls of get_balance and of the repository query
    asof_sum_samples: int  # timed raw SUMs over the hot account (each scans its postings)
    # environment
    sqlite_synchronous: str  # the same pragma for the store's engine and raw sqlite3
    postgres_url: str  # an existing database to connect to for CREATE/DROP DATABASE
    seed: int
    profile: bool  # also profile the service runs with cProfile (separate, unmeasured runs)
    results_path: Path
    # a journal sealer in a background thread during the service runs (None: no sealer)
    seal_every_seconds: float | None = None


FULL = {
    "seconds": 4.0,
    "warmup_seconds": 1.0,
    "rounds": 4,
    "accounts": 10_000,
    "asof_postings": 1_000_000,
    "asof_hot_postings": 100_000,
    "asof_samples": 2_000,
    "asof_sum_samples": 50,
}

QUICK = {
    "seconds": 1.0,
    "warmup_seconds": 0.2,
    "rounds": 1,
    "accounts": 10_000,
    "asof_postings": 100_000,
    "asof_hot_postings": 10_000,
    "asof_samples": 300,
    "asof_sum_samples": 20,
}
