"""Real concurrent writers on PostgreSQL: two buyers race for the same seller's last tonnes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from ledger.domain.errors import LedgerError
from ledger.persistence.store import Store
from ledger.services import queries, trading
from tests.integration.registry_support import build_registry, so2_trade

pytestmark = pytest.mark.postgres_only

ROUNDS = 5


def race(store: Store, trades: list[tuple[str, str]]) -> list[str]:
    """Each buyer accepts and the province records, all at once; each outcome or its code."""
    barrier = threading.Barrier(len(trades))

    def settle(trade: str, buyer: str) -> str:
        barrier.wait()
        try:
            trading.accept(store, trade, buyer)
            return trading.record(store, trade, "HEBEI").state.value
        except LedgerError as error:
            return error.code

    with ThreadPoolExecutor(len(trades)) as pool:
        return list(pool.map(lambda pair: settle(*pair), trades))


def test_two_buyers_racing_for_the_sellers_last_tonnes_settle_exactly_one(
    postgres_store: Store,
) -> None:
    build_registry(postgres_store)
    # E1 holds 100 t/a: each round offers E2 and E4 the same last 20 t after selling 80 t.
    trading.propose(postgres_store, so2_trade("FIRST", units=80_000))
    trading.accept(postgres_store, "FIRST", "E2")
    trading.record(postgres_store, "FIRST", "HEBEI")
    trading.propose(postgres_store, so2_trade("A", units=20_000))
    trading.propose(postgres_store, so2_trade("B", buyer="E4", units=20_000))

    outcomes = race(postgres_store, [("A", "E2"), ("B", "E4")])

    assert sorted(outcomes) == ["insufficient_balance", "settled"]
    held = queries.get_balance(postgres_store, "E1:holdings", "SO2-2030").balance
    assert (held.posted, held.debits_pending) == (0, 0)
    assert queries.check_invariants(postgres_store) == []


def test_many_rounds_of_racing_buyers_never_oversell(postgres_store: Store) -> None:
    build_registry(postgres_store)
    buyers = [("E2", f"R{n}-E2") for n in range(ROUNDS)] + [
        ("E4", f"R{n}-E4") for n in range(ROUNDS)
    ]
    for buyer, trade in buyers:
        trading.propose(postgres_store, so2_trade(trade, buyer=buyer, units=30_000))

    outcomes = race(postgres_store, [(trade, buyer) for buyer, trade in buyers])

    assert outcomes.count("settled") == 3  # 100 t/a hold three lots of 30 t/a
    assert set(outcomes) == {"settled", "insufficient_balance"}
    assert queries.get_balance(postgres_store, "E1:holdings", "SO2-2026").balance.posted == 10_000
    assert queries.check_invariants(postgres_store) == []
