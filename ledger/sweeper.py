"""The background sweeper: seals new journal entries into the hash chain, exports a checkpoint
of the chains when one is due, expires pending entries, trades and four-eyes requests past
their deadline, and removes the web console's idle sessions and the jobs it has forgotten, every
`expiry_sweep_seconds`.

Each server process runs one `Sweeper` thread (unless `LEDGER_SWEEPER_THREAD` is false), and
`emissions-ledger sweep` runs one in a process of its own; a sweeper sweeps only while it holds
the deployment's sweeper lock (`ledger.persistence.sweeper_lock`): one sweeper per deployment,
whatever the number of workers and wherever it runs. Taking and losing the lock, every task that
did something and every failure are logged; the metrics count them and note when the last round
finished.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

from ledger import metrics
from ledger.persistence.store import Store
from ledger.persistence.sweeper_lock import SweeperLock
from ledger.services import approvals, checkpoints, jobs, journal, sessions, trading
from ledger.settings import Settings

log = logging.getLogger(__name__)


def _seal(store: Store, settings: Settings) -> int:
    directory, key = settings.checkpoint_dir, settings.checkpoint_key
    return checkpoints.seal(store, directory, key, wait=timedelta(0))


def _export_checkpoint(store: Store, settings: Settings) -> int:
    if settings.checkpoint_dir is None:
        return 0
    every = timedelta(seconds=settings.checkpoint_seconds)
    return checkpoints.export_due(store, settings.checkpoint_dir, every, settings.checkpoint_key)


def _expire_sessions(store: Store, settings: Settings) -> int:
    """The console's sessions nobody came back to (one presented again is removed then)."""
    return sessions.expire_idle(store, timedelta(minutes=settings.console_idle_minutes))


# What each round does, in order: (metric label, what is counted, task returning the count).
SWEEP_TASKS: tuple[tuple[str, str, Callable[[Store, Settings], int]], ...] = (
    ("sealed", "entries sealed into the chain", _seal),
    ("checkpoints_exported", "checkpoints exported", _export_checkpoint),
    (
        "entries_expired",
        "pending entries expired",
        lambda store, _: len(journal.expire_pending_entries(store)),
    ),
    (
        "trades_expired",
        "trades expired past their deadline",
        lambda store, _: len(trading.expire_due(store)),
    ),
    (
        "approvals_expired",
        "approval requests expired",
        lambda store, _: approvals.expire_due(store),
    ),
    ("console_sessions_expired", "idle console sessions removed", _expire_sessions),
    (
        "console_jobs_forgotten",
        "console jobs forgotten an hour after they ended",
        lambda store, _: jobs.forget_ended(store),
    ),
)


class Sweeper:
    """One process's sweeper thread: a round every `settings.expiry_sweep_seconds` while it
    holds `lock` (a server's, or `emissions-ledger sweep`'s)."""

    def __init__(self, store: Store, lock: SweeperLock, settings: Settings) -> None:
        self._store = store
        self._lock = lock
        self._settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)
        self.leading = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish the current round, then give the lock up for another process to take."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._lock.release()
        metrics.SWEEPER_LEADER.set(0)

    def round(self) -> bool:
        """Sweep once if this process holds the lock; whether it swept."""
        if not self._lead():
            return False
        for label, what, task in SWEEP_TASKS:
            try:
                done = task(self._store, self._settings)
            except Exception:  # keep sweeping: a failed task is retried on the next round
                log.exception("sweep failed: %s", what)
                metrics.SWEEP_FAILURES.labels(label).inc()
                continue
            if done:
                log.info("%d %s", done, what)
                metrics.SWEPT.labels(label).inc(done)
        metrics.SWEEPER_LAST_ROUND.set_to_current_time()
        return True

    def _lead(self) -> bool:
        holds = self._lock.try_acquire()
        if holds != self.leading:
            log.info(
                "this process now sweeps for the deployment"
                if holds
                else "sweeper lock lost: another process sweeps"
            )
            metrics.SWEEPER_LEADER.set(1 if holds else 0)
        self.leading = holds
        return holds

    def _run(self) -> None:
        while not self._stop.wait(self._settings.expiry_sweep_seconds):
            try:
                self.round()
            except Exception:  # the lock could not be asked (say, its file): asked next round
                log.exception("sweeper round could not start")
                metrics.SWEEP_FAILURES.labels("round").inc()
