"""One sweeper per deployment: of several processes, only the holder of the sweeper lock sweeps,
and another takes over when it goes away; `emissions-ledger sweep` is one of them, and a server
started with `LEDGER_SWEEPER_THREAD=false` is none."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from api.app import create_app
from bench.live import ServerProcess, SweeperProcess
from ledger.persistence import lag
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.persistence.sweeper_lock import sweeper_lock
from ledger.services import journal, queries
from ledger.settings import Settings
from ledger.sweeper import Sweeper
from tests.factories import actor, setup_registry, transfer

ROUND_A_MINUTE = Settings(expiry_sweep_seconds=60.0)  # rounds run by the test itself


@pytest.fixture
def engines(database_url: str) -> Iterator[tuple[Engine, Engine]]:
    """Two engines on one database, as two server processes would have."""
    first, second = create_ledger_engine(database_url), create_ledger_engine(database_url)
    yield first, second
    first.dispose()
    second.dispose()


def test_only_one_process_holds_the_lock_until_it_lets_go(engines: tuple[Engine, Engine]) -> None:
    first, second = sweeper_lock(engines[0]), sweeper_lock(engines[1])

    assert first.try_acquire()
    assert not second.try_acquire()
    assert first.try_acquire()  # still held, and held once

    first.release()
    assert second.try_acquire()
    assert not first.try_acquire()
    second.release()


def test_of_two_sweepers_only_the_lock_holder_sweeps(engines: tuple[Engine, Engine]) -> None:
    stores = Store(engines[0]), Store(engines[1])
    first, second = (Sweeper(store, sweeper_lock(store.engine), ROUND_A_MINUTE) for store in stores)

    assert (first.round(), second.round()) == (True, False)
    assert (first.round(), second.round()) == (True, False)

    first.stop()
    assert second.round()
    assert second.leading
    second.stop()


def test_a_server_with_two_workers_runs_one_sweeper(postgres_url: str, tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    server = ServerProcess(postgres_url, log, workers=2, sweep_seconds=0.1, cli=True)
    server.start()
    try:
        time.sleep(1.0)  # several sweep rounds of both workers
        with httpx2.Client(base_url=server.base_url, timeout=10.0) as client:
            scrapes = [client.get("/metrics").text for _ in range(4)]
        logged = log.read_text()  # before shutdown, when the other worker may take over
    finally:
        server.stop()

    for scrape in scrapes:  # whichever worker answered, the sum over both
        assert re.search(r"^ledger_sweeper_leader 1\.0$", scrape, re.MULTILINE), scrape
    assert logged.count("this process now sweeps for the deployment") == 1


def test_the_sweep_command_sweeps_holding_the_lock_until_a_signal_stops_it(
    store: Store, database_url: str, tmp_path: Path
) -> None:
    setup_registry(store, "E01", "E02")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "E01", "10"))
    soon = datetime.now(UTC) + timedelta(seconds=1)
    hold = dataclasses.replace(transfer("hold", "E01", "E02", "4", pending=True), expires_at=soon)
    journal.post_entry(store, hold)
    other = Sweeper(store, sweeper_lock(store.engine), ROUND_A_MINUTE)
    log = tmp_path / "sweep.log"

    with SweeperProcess(database_url, log, sweep_seconds=0.1) as sweeping:
        _wait_for(lambda: _expired(store, "hold") and _unchained(store) == 0, log)
        assert not other.round()  # the command holds the deployment's lock
        status = sweeping.stop()

    assert status == 0
    assert other.round()  # given up on the way out
    other.stop()
    logged = log.read_text()
    assert logged.count("this process now sweeps for the deployment") == 1
    assert "sweeper stopped (SIGTERM)" in logged


def test_a_server_told_that_a_sweeper_process_runs_starts_no_sweeper_thread(store: Store) -> None:
    setup_registry(store, "E01")
    settings = Settings(expiry_sweep_seconds=0.02, sweeper_thread=False)
    app = create_app(settings, store=store, sweep_expired_holds=True)
    with TestClient(app):
        journal.post_entry(store, transfer("fund", "ISSUANCE", "E01", "10"))
        time.sleep(0.3)  # fifteen rounds, had it a sweeper
        threads = {thread.name for thread in threading.enumerate()}
        unchained = _unchained(store)

    assert "sweeper" not in threads
    assert unchained == 1


class FlakyLock:
    """A sweeper lock that cannot be asked at first (its file cannot be opened, say), then can."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def try_acquire(self) -> bool:
        if self.failures:
            self.failures -= 1
            raise PermissionError("sweeper lock file: permission denied")
        return True

    def release(self) -> None:
        pass


def test_a_round_whose_lock_cannot_be_asked_is_retried_not_the_end_of_the_sweeper(
    store: Store,
) -> None:
    setup_registry(store, "E01")
    journal.post_entry(store, transfer("fund", "ISSUANCE", "E01", "10"))
    sweeper = Sweeper(store, FlakyLock(failures=3), Settings(expiry_sweep_seconds=0.02))
    sweeper.start()
    try:
        _wait_for(lambda: _unchained(store) == 0)
    finally:
        sweeper.stop()

    assert sweeper.leading


def _wait_for(
    condition: Callable[[], bool], log: Path | None = None, seconds: float = 20.0
) -> None:
    give_up = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < give_up, log.read_text() if log else "gave up waiting"
        time.sleep(0.05)


def _expired(store: Store, entry_id: str) -> bool:
    return queries.get_entry(store, actor(store), entry_id).state == "expired"


def _unchained(store: Store) -> int:
    return lag.chain_lag(store.engine, datetime.now(UTC)).entries
