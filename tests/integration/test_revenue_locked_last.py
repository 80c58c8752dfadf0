"""Revenue accounts' balances are locked after every other balance of a transaction (issue 18).

Every priced trade between enterprises credits the exchange's fee account. Locked with the
trade's other balances at the start of an acceptance or a recording, that one row made every
trade in the province wait for the whole of another's reads, checks and writes. Acceptance and
recording now lock it last, when the hold's write books it, after the trade's new state is
written; any write that touches a revenue account and others locks the revenue account in a
second statement, after the others. One order everywhere, so writers never wait in a circle.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.domain.errors import LedgerError
from ledger.domain.registry import fee_split_fen
from ledger.persistence import tables as t
from ledger.persistence.registry_repositories import SqlRegistryRepository
from ledger.persistence.repositories import SqlJournalRepository
from ledger.persistence.store import Store
from ledger.services import adjustments, queries, trading
from ledger.services.journal import PostEntry
from tests.factories import actor
from tests.integration.registry_support import build_registry, of, so2_trade
from tests.integration.support import counting_deadlocks

FEES = "EXCHANGE:revenue"
TRADE_FEES_FEN = sum(fee_split_fen(6_000_000, Decimal("0.015")))  # 10 t at 6,000 CNY/t
LOT_FEES_FEN = sum(fee_split_fen(600_000, Decimal("0.015")))  # 1 t at 6,000 CNY/t


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[str | set[int]]:
    """What the writes do, in order: the ids of the accounts each lock statement locks the
    balances of, and "trade state" where a trade's new state is written (`_named`)."""
    seen: list[str | set[int]] = []
    lock_rows = SqlJournalRepository._lock_rows
    set_trade_state = SqlRegistryRepository.set_trade_state

    def locking(repository: SqlJournalRepository, keys: set[tuple[int, str]]) -> Any:
        seen.append({account_id for account_id, _ in keys})
        return lock_rows(repository, keys)

    def stating(repository: SqlRegistryRepository, event: Any) -> None:
        seen.append("trade state")
        set_trade_state(repository, event)

    monkeypatch.setattr(SqlJournalRepository, "_lock_rows", locking)
    monkeypatch.setattr(SqlRegistryRepository, "set_trade_state", stating)
    return seen


def _named(store: Store, seen: list[str | set[int]]) -> list[str]:
    """The steps seen, each lock as "lock" and its accounts' codes."""
    with store.engine.connect() as connection:
        codes = {row.id: row.code for row in connection.execute(select(t.accounts))}
    return [
        step if isinstance(step, str) else " ".join(["lock", *sorted(codes[i] for i in step)])
        for step in seen
    ]


def _settle(store: Store, trade_id: str) -> None:
    """E1 sells E2 10 t/a of SO2 at 6,000 CNY/t."""
    trading.propose(store, of(store, "E1"), so2_trade(trade_id))
    trading.accept(store, of(store, "E2"), trade_id)
    trading.record(store, of(store, "HEBEI"), trade_id)


def _payout(entry_id: str, fen: int, to: str = "E3:cash") -> PostEntry:
    """The exchange pays `fen` of its fee revenue out (a transfer: it checks the balance)."""
    amount = Decimal(fen) / 100
    return PostEntry(
        entry_id,
        "transfer",
        (
            PostingRequest(FEES, "CNY", Side.DEBIT, amount),
            PostingRequest(to, "CNY", Side.CREDIT, amount),
        ),
    )


def test_a_trade_locks_the_fee_account_last_and_after_writing_its_new_state(
    store: Store, steps: list[str | set[int]]
) -> None:
    build_registry(store)
    _settle(store, "FIRST")  # the first creates the balance rows it finds missing
    trading.propose(store, of(store, "E1"), so2_trade("SECOND"))

    accepting = "lock E1:cash E1:holdings E1:pledged E2:cash E2:holdings"
    recording = "lock E1:cash E1:holdings E2:cash E2:holdings"
    taken: list[tuple[Callable[[], object], str]] = [
        (lambda: trading.accept(store, of(store, "E2"), "SECOND"), accepting),
        (lambda: trading.record(store, of(store, "HEBEI"), "SECOND"), recording),
    ]
    for step, others in taken:
        steps.clear()
        step()
        assert _named(store, steps) == [others, "trade state", f"lock {FEES}"]
    fees = queries.get_balance(store, actor(store), FEES, "CNY").balance
    assert (fees.posted, fees.credits_pending) == (2 * TRADE_FEES_FEN, 0)


def test_any_write_touching_revenue_and_other_accounts_locks_the_revenue_last(
    store: Store, steps: list[str | set[int]]
) -> None:
    build_registry(store)
    _settle(store, "FIRST")
    steps.clear()
    adjustments.post_entry(store, of(store, "HEBEI"), _payout("PAYOUT", 100))
    assert _named(store, steps) == ["lock E3:cash", f"lock {FEES}"]
    assert queries.get_balance(store, actor(store), FEES, "CNY").balance.posted == (
        TRADE_FEES_FEN - 100
    )


def test_a_refused_acceptance_leaves_the_trade_and_the_fee_account_untouched(store: Store) -> None:
    build_registry(store)
    trading.propose(store, of(store, "E1"), so2_trade("DEAR", price_fen=10**12))
    with pytest.raises(LedgerError) as refused:
        trading.accept(store, of(store, "E2"), "DEAR")
    assert refused.value.code == "insufficient_balance"
    assert trading.get_trade(store, of(store, "E1"), "DEAR")[0].state.value == "proposed"
    fees = queries.get_balance(store, actor(store), FEES, "CNY").balance
    assert (fees.posted, fees.credits_pending) == (0, 0)


@pytest.mark.postgres_only
def test_trades_and_payouts_of_their_fees_at_once_never_deadlock(postgres_store: Store) -> None:
    store = postgres_store
    build_registry(store)
    _settle(store, "FIRST")  # the fee account has revenue to pay out
    pairs = [("E1", "E2"), ("E2", "E1"), ("E1", "E4"), ("E2", "E4")] * 2
    trades = [f"T{n}" for n in range(len(pairs))]
    for trade_id, (seller, buyer) in zip(trades, pairs, strict=True):
        lot = so2_trade(trade_id, seller=seller, buyer=buyer, proposer=seller, units=1_000)
        trading.propose(store, of(store, seller), lot)
    payouts = [_payout(f"PAY{n}", 1_000, to=f"E{1 + n % 4}:cash") for n in range(4)]
    regulator = of(store, "HEBEI")
    buyers = {buyer: of(store, buyer) for _, buyer in pairs}  # principals made before the race
    barrier = threading.Barrier(len(trades) + len(payouts))

    def settle(trade_id: str, buyer: str) -> str:
        barrier.wait()
        trading.accept(store, buyers[buyer], trade_id)
        return trading.record(store, regulator, trade_id).state.value

    def pay(payout: PostEntry) -> str:
        barrier.wait()
        adjustments.post_entry(store, regulator, payout)
        return "paid"

    with counting_deadlocks() as deadlocks, ThreadPoolExecutor(len(trades) + 4) as pool:
        settled = [
            pool.submit(settle, trade, buyer)
            for trade, (_, buyer) in zip(trades, pairs, strict=True)
        ]
        paid = [pool.submit(pay, payout) for payout in payouts]
        outcomes = [future.result() for future in settled + paid]

    assert deadlocks == []
    assert outcomes == ["settled"] * len(trades) + ["paid"] * len(payouts)
    fees = queries.get_balance(store, actor(store), FEES, "CNY").balance.posted
    assert fees == TRADE_FEES_FEN + len(trades) * LOT_FEES_FEN - len(payouts) * 1_000
    assert queries.check_invariants(store, actor(store)) == []
