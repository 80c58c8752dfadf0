"""One sweeper per deployment: of several processes, only the holder of the sweeper lock sweeps,
and another takes over when it goes away."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from sqlalchemy import Engine

from api.sweeper import Sweeper
from bench.live import ServerProcess
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.persistence.sweeper_lock import sweeper_lock
from ledger.settings import Settings

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
