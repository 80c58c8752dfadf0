"""Timed runs: N worker threads start together, each commits units of work until its deadline.

A worker is built inside its own thread (sqlite3 connections belong to the thread that made
them) and then steps until the time is up; a step commits one transaction and returns how many
transfers it committed. Optionally each thread runs under its own cProfile profiler and the
profiles are merged.
"""

from __future__ import annotations

import cProfile
import pstats
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Worker(Protocol):
    """One writer: a connection (or a store) and a stream of transfers."""

    retries: int

    def step(self) -> int:
        """Commit one transaction; the number of transfers it committed."""
        ...

    def close(self) -> None: ...


WorkerFactory = Callable[[int], Worker]  # thread index -> worker


@dataclass(frozen=True, slots=True)
class RunResult:
    transfers: int
    seconds: float
    retries: int  # transactions repeated after a deadlock, serialization failure or busy DB
    neighbours: float | None = None  # foreign active PostgreSQL backends during the run (mean)

    @property
    def rate(self) -> float:
        return self.transfers / self.seconds if self.seconds > 0 else 0.0


@dataclass(slots=True)
class _ThreadOutcome:
    transfers: int = 0
    retries: int = 0
    started: float = 0.0
    finished: float = 0.0
    error: BaseException | None = None
    profile: cProfile.Profile | None = None


def run_timed(
    make_worker: WorkerFactory, threads: int, seconds: float, *, profile: bool = False
) -> tuple[RunResult, pstats.Stats | None]:
    """Run `threads` workers for `seconds` after a common start; merged profile if asked."""
    barrier = threading.Barrier(threads)
    outcomes = [_ThreadOutcome() for _ in range(threads)]

    def body(index: int) -> None:
        outcome = outcomes[index]
        worker: Worker | None = None
        try:
            worker = make_worker(index)
            barrier.wait()
            if profile:
                outcome.profile = cProfile.Profile()
                outcome.profile.enable()
            outcome.started = time.perf_counter()
            deadline = outcome.started + seconds
            while time.perf_counter() < deadline:
                outcome.transfers += worker.step()
            outcome.finished = time.perf_counter()
            if outcome.profile is not None:
                outcome.profile.disable()
            outcome.retries = worker.retries
        except BaseException as error:  # re-raised in the calling thread
            outcome.error = error
            barrier.abort()
        finally:
            if worker is not None:
                worker.close()

    workers = [
        threading.Thread(target=body, args=(index,), name=f"bench-{index}")
        for index in range(threads)
    ]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    for outcome in outcomes:
        if outcome.error is not None and not isinstance(
            outcome.error, threading.BrokenBarrierError
        ):
            raise outcome.error
    for outcome in outcomes:
        if outcome.error is not None:
            raise outcome.error
    started = min(outcome.started for outcome in outcomes)
    finished = max(outcome.finished for outcome in outcomes)
    result = RunResult(
        sum(outcome.transfers for outcome in outcomes),
        finished - started,
        sum(outcome.retries for outcome in outcomes),
    )
    stats: pstats.Stats | None = None
    for outcome in outcomes:
        if outcome.profile is not None:
            if stats is None:
                stats = pstats.Stats(outcome.profile)
            else:
                stats.add(outcome.profile)
    return result, stats
