"""`emissions-ledger sweep`: the deployment's sweeper as a process of its own.

A server's sweeper thread seals the journal into the hash chain in pure Python, holding the
serving process's GIL while its requests wait (issue 18 suspected it of PostgreSQL's tails; what
the separate process changed is in docs/performance/results/). Run in its own process (with
`LEDGER_SWEEPER_THREAD=false` for the servers), sealing competes for a core, not for a server's
interpreter. It takes the same sweeper lock as a server's thread: one sweeper sweeps
per deployment, wherever it runs; another waits, trying each round, and takes over when the
holder goes away.

It does not migrate (`serve` or `migrate` does: two migrations at once could collide); a round
that fails because the schema is not there yet is logged and retried.
"""

from __future__ import annotations

import argparse
import logging
import signal

from ledger.entrypoints.common import opened_store
from ledger.persistence.sweeper_lock import sweeper_lock
from ledger.settings import Settings
from ledger.sweeper import Sweeper

STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
log = logging.getLogger(__name__)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `sweep` on the CLI's parser."""
    commands.add_parser(
        "sweep",
        help="run the deployment's sweeper (sealing, checkpoints, expiries) in this process "
        "every LEDGER_EXPIRY_SWEEP_SECONDS until SIGTERM or SIGINT; for servers started with "
        "LEDGER_SWEEPER_THREAD=false",
    ).set_defaults(run=run_sweep)


def run_sweep(settings: Settings, _: argparse.Namespace) -> int:
    """Sweep until a stop signal, then finish the round and give the lock up; exit 0."""
    # Blocked before the sweeper's thread starts (threads inherit the mask), so the signal is
    # only ever taken by `sigwait` here: no handler runs in the middle of a round.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        with opened_store(settings) as store:
            sweeper = Sweeper(store, sweeper_lock(store.engine), settings)
            sweeper.start()
            log.info("sweeper started: a round every %g s", settings.expiry_sweep_seconds)
            received = signal.sigwait(STOP_SIGNALS)
            sweeper.stop()
        log.info("sweeper stopped (%s)", signal.Signals(received).name)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return 0
