"""A guard on the SQL statements each trade step and a transfer send (issue 18): a step that
starts reading something again, or locking twice, fails here rather than in a load test.

The figures are those of `python -m bench.statements` after the second cut of 2026-12-06 (the
first: docs/performance/results/2026-12-06-trade-workflow.md; the second reads a proposal's
context in one read, the trade with its parties, the rules (and, recording, whether the hold
was resolved) in one read after the lock, the hold in one read, and on PostgreSQL writes a
trade's state with its history line in one statement). The third pass added one statement to
accept and record: the exchange's fee account is locked apart, last, when the hold's write books
it, so that trades queue on that one row for the write and the commit only (`locked_last`);
a change that needs more statements must say why, here and there. A transfer reads its
accounts' owners (one statement): an adjustment into or out of an enterprise's account is held
to the trade rules and four eyes (decision "An adjustment of a holder's account is a transfer,
with four eyes"); here four-eyes is off and only cash moves, so nothing more is read. Counted
on the second trade of a pair: the first creates the balance rows it finds missing (a retry on
PostgreSQL) and fills the store's caches.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from bench.statements import StatementCounter
from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest
from ledger.persistence.store import Store
from ledger.services import adjustments, trading
from ledger.services.journal import PostEntry
from tests.integration.registry_support import build_registry, of, so2_trade

# step -> the most statements it may send, per database (transaction control not counted)
MOST = {
    "postgresql": {"transfer": 4, "propose": 3, "accept": 7, "record": 8},
    "sqlite": {"transfer": 7, "propose": 4, "accept": 12, "record": 13},
}
STEPS = ("transfer", "propose", "accept", "record")


def steps(store: Store, number: int) -> dict[str, Callable[[], object]]:
    """A regulator's transfer of cash from E1 to E2, and E1's sale of SO2 to E4 (another city:
    its eligibility is read), proposed by E1, accepted by E4, recorded by the province."""
    seller, buyer, regulator = of(store, "E1"), of(store, "E4"), of(store, "HEBEI")
    cash = Decimal("1.00")
    transfer = PostEntry(
        f"transfer-{number}",
        "transfer",
        (
            PostingRequest("E1:cash", "CNY", Side.DEBIT, cash),
            PostingRequest("E2:cash", "CNY", Side.CREDIT, cash),
        ),
    )
    trade_id = f"T{number}"
    return {
        "transfer": lambda: adjustments.post_entry(store, regulator, transfer),
        "propose": lambda: trading.propose(store, seller, so2_trade(trade_id, buyer="E4")),
        "accept": lambda: trading.accept(store, buyer, trade_id),
        "record": lambda: trading.record(store, regulator, trade_id),
    }


@pytest.fixture
def counted(store: Store) -> dict[str, list[str]]:
    """Each step's statements, on the second round of steps."""
    build_registry(store)
    for step in steps(store, 1).values():
        step()
    second = steps(store, 2)  # its actors made before counting
    counter = StatementCounter(store.engine)
    statements = {}
    for name in STEPS:
        with counter.counting() as tally:
            second[name]()
        statements[name] = tally.statements
    return statements


def test_no_trade_step_sends_more_statements_than_it_did_after_the_cut(
    store: Store, counted: dict[str, list[str]]
) -> None:
    most = MOST[store.engine.dialect.name]
    grown = [
        f"{name}: {len(statements)} statements, at most {most[name]}:\n" + "\n".join(statements)
        for name, statements in counted.items()
        if len(statements) > most[name]
    ]
    assert not grown, "\n\n".join(grown)
