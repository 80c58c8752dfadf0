"""Crash safety: the real server is killed with SIGKILL mid-load, restarted, and the ledger is
exactly what the clients were told.

`emissions-ledger serve` runs as a child process (SQLite file and PostgreSQL). Transfer clients
POST /v1/entries with entry ids they choose; trade clients run propose → accept → record. Every
client retries the same request on a connection error or a 5xx until it gets an answer, the way
a real client must when it cannot know whether its request was applied. Meanwhile the server is
SIGKILLed `KILLS` times (its sweeper seals the journal every second, so kills land mid-seal too)
and restarted. Afterwards: the invariants hold (no partial entry), every acknowledged entry and
trade is there exactly once (the balances are the funding plus the acknowledged transfers and
trades, and the journal holds no other entry), and `emissions-ledger verify` is clean.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import create_engine, text

from bench.live import (
    FUNDING_UNITS,
    ROOT,
    TRADERS,
    TRANSFER_INSTRUMENT,
    Seeded,
    ServerProcess,
    enterprise_principal,
    seed,
)
from ledger.persistence.engine import normalize_url
from tests.conftest import BACKENDS, fresh_database_url

KILLS = 3
TRANSFER_CLIENTS = 6
TRADE_CLIENTS = 2
ACKS_BEFORE_KILL = 60  # new acknowledgements after each (re)start before the next kill
LOAD_SECONDS_MAX = 8.0  # per life of the server, whatever the acknowledgements
RETRY_SECONDS_MAX = 60.0  # one request's retries give up after this (the test then fails)
TRANSFER_UNITS_MAX = 50
# Seller → buyer pairs whose trades every rule accepts (buyers in cities that may receive).
TRADE_PAIRS = (("E01", "E06"), ("E07", "E08"), ("E02", "E04"), ("E08", "E01"))
TRADE_QUANTITY = "0.001"  # t/a, moved in every vintage 2026–2029
TRADE_VINTAGES = range(2026, 2030)


class RetriesExhausted(Exception):
    pass


@dataclass
class Tally:
    """What the clients were told, shared by every client thread."""

    # entry id -> (source, destination, units); trade id -> (seller, buyer, family)
    transfers: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    trades: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    events: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, event: str) -> None:
        with self.lock:
            self.events[event] += 1

    @property
    def acknowledged(self) -> int:
        return len(self.transfers) + len(self.trades)


class Client:
    """One client: its own connection pool, retrying a request until the server answers."""

    def __init__(self, base_url: str, tally: Tally) -> None:
        self._http = httpx2.Client(base_url=base_url, timeout=15.0)
        self._tally = tally

    def get(self, path: str, headers: dict[str, str]) -> httpx2.Response:
        return self.call(path, headers, None)

    def call(
        self, path: str, headers: dict[str, str], body: dict[str, Any] | None
    ) -> httpx2.Response:
        """POST (GET without a body) until the answer is neither a connection failure nor a
        5xx; `response.extensions['uncertain']` says whether an earlier attempt may have been
        applied."""
        deadline = time.monotonic() + RETRY_SECONDS_MAX
        uncertain = False
        delay = 0.02
        while time.monotonic() < deadline:
            try:
                if body is None:
                    response = self._http.get(path, headers=headers)
                else:
                    response = self._http.post(path, headers=headers, json=body)
            except httpx2.TransportError:
                self._tally.count("connection errors")
            else:
                if response.status_code < 500:
                    response.extensions["uncertain"] = uncertain
                    if uncertain:
                        self._tally.count("retried requests answered")
                    return response
                self._tally.count(f"HTTP {response.status_code}")
            uncertain = True
            time.sleep(delay)
            delay = min(delay * 2, 0.5)
        raise RetriesExhausted(f"POST {path} got no answer in {RETRY_SECONDS_MAX} s")

    def close(self) -> None:
        self._http.close()


def transfer_client(
    client: Client, seeded: Seeded, tally: Tally, stop: threading.Event, name: str
) -> None:
    headers = seeded.headers("load-regulator")
    rng = random.Random(name)
    number = 0
    while not stop.is_set():
        number += 1
        entry_id = f"crash-{name}-{number}"
        source, destination = rng.sample(seeded.holders, 2)
        units = rng.randint(1, TRANSFER_UNITS_MAX)
        amount = str(TRANSFER_INSTRUMENT.to_amount(units))
        body = {
            "entry_id": entry_id,
            "entry_type": "transfer",
            "postings": [
                {"account": source, "instrument": TRANSFER_INSTRUMENT.code, "side": "debit",
                 "amount": amount},
                {"account": destination, "instrument": TRANSFER_INSTRUMENT.code,
                 "side": "credit", "amount": amount},
            ],
        }  # fmt: skip
        response = client.call("/v1/entries", headers, body)
        assert response.status_code == 201, response.text
        if response.headers.get("Idempotent-Replayed") == "true":
            assert response.extensions["uncertain"], "a replay answered a first attempt"
            tally.count("replayed entries")
        with tally.lock:
            tally.transfers[entry_id] = (source, destination, units)


def trade_client(
    client: Client, seeded: Seeded, tally: Tally, stop: threading.Event, name: str
) -> None:
    regulator = seeded.headers("load-regulator")
    rng = random.Random(name)
    number = 0
    while not stop.is_set():
        number += 1
        trade_id = f"crash-{name}-{number}"
        seller, buyer = rng.choice(TRADE_PAIRS)
        family = rng.choice(("SO2", "NOx"))
        seller_headers = seeded.headers(enterprise_principal(seller))
        proposal = {
            "id": trade_id, "seller": seller, "buyer": buyer, "family": family,
            "quantity": TRADE_QUANTITY, "price_cny_per_t": "6200", "trade_date": "2026-01-15",
        }  # fmt: skip
        response = client.call("/v1/trades", seller_headers, proposal)
        assert response.status_code == 201, response.text
        if response.headers.get("Idempotent-Replayed") == "true":
            # Only a retry may find its own proposal already there (the first attempt was
            # applied, its answer lost): the API answers the stored trade, which is this one.
            assert response.extensions["uncertain"], "a replay answered a first attempt"
            assert_own_trade(response.json(), proposal)
            tally.count("proposals replayed on retry")
        buyer_headers = seeded.headers(enterprise_principal(buyer))
        response = client.call(f"/v1/trades/{trade_id}/accept", buyer_headers, {})
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "accepted", response.text
        response = client.call(f"/v1/trades/{trade_id}/record", regulator, {})
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "settled", response.text
        with tally.lock:
            tally.trades[trade_id] = (seller, buyer, family)


def assert_own_trade(trade: dict[str, Any], proposal: dict[str, str]) -> None:
    for key in ("id", "seller", "buyer", "family", "trade_date"):
        assert trade[key] == proposal[key], (trade, proposal)
    assert Decimal(trade["quantity"]) == Decimal(proposal["quantity"]), (trade, proposal)


def run_clients(
    server: ServerProcess, seeded: Seeded, tally: Tally
) -> tuple[list[threading.Thread], threading.Event, list[BaseException]]:
    stop = threading.Event()
    failures: list[BaseException] = []
    roles: list[tuple[str, Callable[..., None]]] = [
        (f"x{index}", transfer_client) for index in range(TRANSFER_CLIENTS)
    ] + [(f"t{index}", trade_client) for index in range(TRADE_CLIENTS)]

    def run(name: str, work: Callable[..., None]) -> None:
        client = Client(server.base_url, tally)
        try:
            work(client, seeded, tally, stop, name)
        except BaseException as error:
            failures.append(error)
            stop.set()
        finally:
            client.close()

    threads = [
        threading.Thread(target=run, args=(name, work), name=name, daemon=True)
        for name, work in roles
    ]
    for thread in threads:
        thread.start()
    return threads, stop, failures


def wait_for_acknowledgements(tally: Tally, count: int, failures: list[BaseException]) -> None:
    target = tally.acknowledged + count
    deadline = time.monotonic() + LOAD_SECONDS_MAX
    while tally.acknowledged < target and time.monotonic() < deadline and not failures:
        time.sleep(0.01)


# -- the expected ledger ------------------------------------------------------------------------


def expected_transfer_balances(seeded: Seeded, tally: Tally) -> dict[str, int]:
    balances = dict.fromkeys(seeded.holders, FUNDING_UNITS)
    for source, destination, units in tally.transfers.values():
        balances[source] -= units
        balances[destination] += units
    return balances


def holdings(client: httpx2.Client, seeded: Seeded) -> dict[tuple[str, str], Decimal]:
    """Posted holdings of every trader in every traded instrument."""
    found = {}
    for code in TRADERS:
        for family in ("SO2", "NOx"):
            for year in TRADE_VINTAGES:
                instrument = f"{family}-{year}"
                response = client.get(
                    f"/v1/accounts/{code}:holdings/balances/{instrument}",
                    headers=seeded.headers("load-regulator"),
                )
                assert response.status_code == 200, response.text
                found[(code, instrument)] = Decimal(response.json()["balance"])
    return found


def expected_holdings(
    before: dict[tuple[str, str], Decimal], tally: Tally
) -> dict[tuple[str, str], Decimal]:
    after = dict(before)
    quantity = Decimal(TRADE_QUANTITY)
    for seller, buyer, family in tally.trades.values():
        for year in TRADE_VINTAGES:
            after[(seller, f"{family}-{year}")] -= quantity
            after[(buyer, f"{family}-{year}")] += quantity
    return after


def journal_ids(database_url: str) -> dict[str, list[str]]:
    """Entry ids of the run's transfers and trades straight from the journal table."""
    engine = create_engine(normalize_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT entry_id, entry_type FROM entries"
                    " WHERE entry_id LIKE 'crash-%' OR entry_id LIKE 'trade-crash-%'"
                )
            ).all()
    finally:
        engine.dispose()
    found: dict[str, list[str]] = {"transfer": [], "trade": []}
    for entry_id, entry_type in rows:
        found["transfer" if entry_type == "transfer" else "trade"].append(entry_id)
    return found


def cli(database_url: str, command: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LEDGER_DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "ledger.entrypoints", command],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


# -- the test -----------------------------------------------------------------------------------


def load_with_kills(server: ServerProcess, seeded: Seeded, tally: Tally, seed_text: str) -> None:
    """Run the clients, SIGKILL and restart the server `KILLS` times, let every client finish."""
    threads, stop, failures = run_clients(server, seeded, tally)
    rng = random.Random(seed_text)
    for _ in range(KILLS):
        wait_for_acknowledgements(tally, ACKS_BEFORE_KILL, failures)
        time.sleep(rng.uniform(0.0, 0.3))
        server.kill()
        tally.count("kills")
        time.sleep(rng.uniform(0.1, 0.5))  # the clients' retries hit a dead port meanwhile
        server.start()
    wait_for_acknowledgements(tally, ACKS_BEFORE_KILL, failures)
    stop.set()
    for thread in threads:
        thread.join(timeout=RETRY_SECONDS_MAX + 20)
    assert not failures, failures
    assert not any(thread.is_alive() for thread in threads)


def assert_ledger_is_what_was_acknowledged(
    reader: httpx2.Client, seeded: Seeded, tally: Tally, before: dict[tuple[str, str], Decimal]
) -> None:
    invariants = reader.get("/v1/invariants", headers=seeded.headers("load-finance"))
    assert invariants.json() == {"ok": True, "violations": []}, invariants.text
    for code, units in expected_transfer_balances(seeded, tally).items():
        response = reader.get(
            f"/v1/accounts/{code}/balances/{TRANSFER_INSTRUMENT.code}",
            headers=seeded.headers("load-regulator"),
        )
        assert response.status_code == 200, response.text
        balance = Decimal(response.json()["balance"])
        assert balance == TRANSFER_INSTRUMENT.to_amount(units), (code, response.text)
    assert holdings(reader, seeded) == expected_holdings(before, tally)


@pytest.mark.parametrize("backend", BACKENDS)
def test_sigkilled_server_loses_nothing_acknowledged_and_applies_retries_once(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    began = time.perf_counter()
    seeded = seed(fresh_database_url(backend, request, tmp_path))
    server = ServerProcess(seeded.database_url, tmp_path / "server.log", cli=True)
    tally = Tally()
    server.start()
    try:
        with httpx2.Client(base_url=server.base_url, timeout=30.0) as reader:
            before = holdings(reader, seeded)
        load_with_kills(server, seeded, tally, backend)
        with httpx2.Client(base_url=server.base_url, timeout=60.0) as reader:
            assert_ledger_is_what_was_acknowledged(reader, seeded, tally, before)
    finally:
        server.stop()

    # Exactly once: the journal holds every acknowledged entry and nothing else of the run.
    found = journal_ids(seeded.database_url)
    assert sorted(found["transfer"]) == sorted(tally.transfers)
    assert sorted(found["trade"]) == sorted(
        f"trade-{trade_id}-{suffix}"
        for trade_id in tally.trades
        for suffix in ("hold", "settlement")
    )
    verified = cli(seeded.database_url, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "chains and invariants hold" in verified.stdout

    events = dict(tally.events)
    print(
        f"\n{backend}: {KILLS} SIGKILLs, {server.starts} starts, {len(tally.transfers)} transfers"
        f" and {len(tally.trades)} trades acknowledged, {events} in"
        f" {time.perf_counter() - began:.1f} s"
    )
    assert events["kills"] == KILLS
    # The kills landed mid-load: requests in flight lost their connection and were retried.
    assert events.get("connection errors", 0) >= KILLS, events
    assert events.get("retried requests answered", 0) > 0, events
