"""Real concurrent writers on PostgreSQL: buyers race for the same seller's last tonnes; trades
recorded both ways between two parties under a holding limit lock in one order (no deadlock); a
create sent several times at once is made once and answered to every sender."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import pytest

from ledger.domain.errors import LedgerError
from ledger.domain.pages import Created
from ledger.domain.registry import Obligation, Party, PartyKind, Policy
from ledger.persistence.store import Store
from ledger.services import compliance, parties, queries, rights, trading
from tests.factories import actor
from tests.integration.registry_support import build_registry, entitle, of, so2_trade
from tests.integration.support import counting_deadlocks

pytestmark = pytest.mark.postgres_only

ROUNDS = 5


def race(store: Store, trades: list[tuple[str, str]]) -> list[str]:
    """Each buyer accepts and the province records, all at once; each outcome or its code."""
    barrier = threading.Barrier(len(trades))
    regulator = of(store, "HEBEI")
    buyers = {buyer: of(store, buyer) for _, buyer in trades}

    def settle(trade: str, buyer: str) -> str:
        barrier.wait()
        try:
            trading.accept(store, buyers[buyer], trade)
            return trading.record(store, regulator, trade).state.value
        except LedgerError as error:
            return error.code

    with ThreadPoolExecutor(len(trades)) as pool:
        return list(pool.map(lambda pair: settle(*pair), trades))


def at_once(senders: int, send: Callable[[], Created[Any]]) -> list[Created[Any]]:
    """`send` called by `senders` threads at once; what each was answered."""
    barrier = threading.Barrier(senders)

    def sent(_: int) -> Created[Any]:
        barrier.wait()
        return send()

    with ThreadPoolExecutor(senders) as pool:
        return list(pool.map(sent, range(senders)))


def test_two_buyers_racing_for_the_sellers_last_tonnes_settle_exactly_one(
    postgres_store: Store,
) -> None:
    build_registry(postgres_store)
    e1 = of(postgres_store, "E1")
    # E1 holds 100 t/a: each round offers E2 and E4 the same last 20 t after selling 80 t.
    trading.propose(postgres_store, e1, so2_trade("FIRST", units=80_000))
    trading.accept(postgres_store, of(postgres_store, "E2"), "FIRST")
    trading.record(postgres_store, of(postgres_store, "HEBEI"), "FIRST")
    trading.propose(postgres_store, e1, so2_trade("A", units=20_000))
    trading.propose(postgres_store, e1, so2_trade("B", buyer="E4", units=20_000))

    outcomes = race(postgres_store, [("A", "E2"), ("B", "E4")])

    assert sorted(outcomes) == ["insufficient_balance", "settled"]
    held = queries.get_balance(
        postgres_store, actor(postgres_store), "E1:holdings", "SO2-2030"
    ).balance
    assert (held.posted, held.debits_pending) == (0, 0)
    assert queries.check_invariants(postgres_store, actor(postgres_store)) == []


def test_many_rounds_of_racing_buyers_never_oversell(postgres_store: Store) -> None:
    build_registry(postgres_store)
    buyers = [("E2", f"R{n}-E2") for n in range(ROUNDS)] + [
        ("E4", f"R{n}-E4") for n in range(ROUNDS)
    ]
    e1 = of(postgres_store, "E1")
    for buyer, trade in buyers:
        trading.propose(postgres_store, e1, so2_trade(trade, buyer=buyer, units=30_000))

    outcomes = race(postgres_store, [(trade, buyer) for buyer, trade in buyers])

    assert outcomes.count("settled") == 3  # 100 t/a hold three lots of 30 t/a
    assert set(outcomes) == {"settled", "insufficient_balance"}
    assert (
        queries.get_balance(
            postgres_store, actor(postgres_store), "E1:holdings", "SO2-2026"
        ).balance.posted
        == 10_000
    )
    assert queries.check_invariants(postgres_store, actor(postgres_store)) == []


def test_recording_trades_both_ways_under_a_holding_limit_never_deadlocks(
    postgres_store: Store,
) -> None:
    build_registry(postgres_store)
    entitle(postgres_store, "E4", "SO2", 45_000)
    regulator = of(postgres_store, "HEBEI")
    parties.set_policy(postgres_store, regulator, Policy(holding_limit_units={"SO2": 50_000}))
    e2, e4 = of(postgres_store, "E2"), of(postgres_store, "E4")
    # E4 sells E2 three lots of 15 t/a (E2 holds 10: only two fit under 50) while E2 sells E4
    # three lots of 1 t/a: each recording checks its buyer's limit, locking both parties'
    # holdings, one trade's buyer being the other's seller.
    into_e2 = [f"TO-E2-{n}" for n in range(3)]
    into_e4 = [f"TO-E4-{n}" for n in range(3)]
    for trade in into_e2:
        trading.propose(
            postgres_store, e4, so2_trade(trade, seller="E4", proposer="E4", units=15_000)
        )
        trading.accept(postgres_store, e2, trade)
    for trade in into_e4:
        trading.propose(
            postgres_store,
            e2,
            so2_trade(trade, seller="E2", buyer="E4", proposer="E2", units=1_000),
        )
        trading.accept(postgres_store, e4, trade)
    barrier = threading.Barrier(len(into_e2) + len(into_e4))

    def record(trade: str) -> str:
        barrier.wait()
        try:
            return trading.record(postgres_store, regulator, trade).state.value
        except LedgerError as error:
            return error.code

    with counting_deadlocks() as deadlocks, ThreadPoolExecutor(len(into_e2) + len(into_e4)) as pool:
        outcomes = dict(zip(into_e2 + into_e4, pool.map(record, into_e2 + into_e4), strict=True))

    assert deadlocks == []
    assert sorted(outcomes[t] for t in into_e2) == ["holding_limit_exceeded", "settled", "settled"]
    assert {outcomes[t] for t in into_e4} == {"settled"}
    held = queries.get_balance(
        postgres_store, actor(postgres_store), "E2:holdings", "SO2-2026"
    ).balance.posted
    assert held == 10_000 - 3_000 + 2 * 15_000
    assert queries.check_invariants(postgres_store, actor(postgres_store)) == []


def test_the_same_proposal_sent_at_once_is_created_once_and_answered_to_every_sender(
    postgres_store: Store,
) -> None:
    # A client retrying while its first attempt still runs: the loser of the insert race finds
    # the winner's trade, which is its own proposal, and answers it instead of a 409.
    build_registry(postgres_store)
    e1 = of(postgres_store, "E1")

    answers = at_once(4, lambda: trading.propose(postgres_store, e1, so2_trade("SAME")))

    assert (
        sorted((made.record.id, made.replayed) for made in answers)
        == [("SAME", False)] + [("SAME", True)] * 3
    )


def test_the_same_party_or_surrender_sent_at_once_is_made_once_and_answered_to_every_sender(
    postgres_store: Store,
) -> None:
    build_registry(postgres_store)
    regulator, e1 = of(postgres_store, "HEBEI"), of(postgres_store, "E1")
    rights.issue_carbon(
        postgres_store, regulator, "E1-CEA", party_code="E1", family="CEA", year=2026, units=900
    )
    compliance.set_obligation(
        postgres_store, regulator, Obligation("O1", "E1", 2026, 1_000, date(2027, 12, 31))
    )
    senders = 4
    for send in (
        lambda: parties.register_party(
            postgres_store, regulator, Party("E9", PartyKind.ENTERPRISE, "E9", city="Tangshan")
        ),
        lambda: compliance.surrender(
            postgres_store, e1, compliance.SurrenderRequest("S1", "O1", 500)
        ),
    ):
        replays = [made.replayed for made in at_once(senders, send)]

        assert sorted(replays) == [False] + [True] * (senders - 1)
    held = queries.get_balance(
        postgres_store, actor(postgres_store), "E1:holdings", "CEA-2026"
    ).balance.posted
    assert held == 400
