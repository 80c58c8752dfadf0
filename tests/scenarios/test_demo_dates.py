"""The demo loaded on its own dates (rules §7.11): every trade takes effect on its trade date,
the reference data on the opening day, the surrenders on the 2025-12-31 deadline; so the reports
as of 2025-12-31 answer the compliance questions, and E07 ends compliant as trades.csv says."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from ledger.domain.errors import EntryNotFound
from ledger.domain.finance import BEIJING, ReportTable
from ledger.entrypoints import demo
from ledger.persistence.store import Store
from ledger.services import compliance, queries, statements
from tests.factories import actor

DEADLINE = date(2025, 12, 31)
# trades.csv: each trade's date, and whether it settles (T4 and T5 are refused at acceptance).
TRADE_DATES = {
    "T1": (date(2025, 3, 18), True),
    "T2": (date(2025, 5, 9), True),
    "T3": (date(2025, 6, 2), True),
    "T4": (date(2026, 2, 10), False),
    "T5": (date(2025, 8, 20), False),
    "T6": (date(2025, 12, 31), True),
}


@pytest.fixture
def loaded(store: Store) -> demo.Loaded:
    return demo.load(store)


def start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING)


def rows(table: ReportTable) -> list[tuple[object, ...]]:
    return list(table)


def test_every_demo_trade_takes_effect_on_its_trade_date(store: Store, loaded: demo.Loaded) -> None:
    del loaded
    for trade_id, (day, settles) in TRADE_DATES.items():
        entry_id = f"trade-{trade_id}-settlement"
        if not settles:
            with pytest.raises(EntryNotFound):
                queries.get_entry(store, actor(store), entry_id)
            continue
        settlement = queries.get_entry(store, actor(store), entry_id).record
        assert settlement.effective_at == start_of(day), trade_id
        assert settlement.recorded_at > settlement.effective_at


def test_e07_is_compliant_for_2024_as_trades_csv_says(store: Store, loaded: demo.Loaded) -> None:
    del loaded
    status = compliance.status(store, actor(store), "E07-2024")

    assert status.obligation.verified_units == 3_200_000
    assert (status.surrendered_units, status.shortfall_units) == (3_200_000, 0)
    assert status.projected_shortfall_units == 0


def test_what_e07_held_at_the_deadline_counts_t6(store: Store, loaded: demo.Loaded) -> None:
    del loaded

    def e07(day: date) -> dict[str, object]:
        table = statements.holdings(store, actor(store), "E07", day)
        return {str(row[0]): row[3] for row in rows(table) if row[1] == "CEA-2024"}

    # The day before the deadline: the free allocation only; on it: T6 bought, all surrendered.
    assert e07(date(2025, 12, 30)) == {"E07:holdings": 3_150_000}
    assert e07(DEADLINE) == {"E07:holdings": 0, "E07:surrendered": 3_200_000}


def test_e01s_2025_statement_shows_its_allocation_and_t1(store: Store, loaded: demo.Loaded) -> None:
    del loaded
    table = statements.account_statement(
        store, actor(store), "E01", "holdings", "SO2-2025", date(2025, 1, 1), DEADLINE
    )

    lines = [(row[0], row[2], row[4], row[5], row[6]) for row in rows(table)]
    assert lines == [
        (None, "opening balance", None, None, Decimal(0)),
        (start_of(demo.OPENING_DAY), "entitlement-E01-SO2-2025-2025", 0, 1500, 1500),
        (start_of(date(2025, 3, 18)), "trade-T1-settlement", 30, 0, 1470),
    ]
    cash = statements.account_statement(
        store, actor(store), "E01", "cash", "CNY", date(2025, 1, 1), DEADLINE
    )
    assert [row[6] for row in rows(cash)] == [0, Decimal("5000000"), Decimal("5184605")]


def test_the_trial_balance_and_supply_as_of_the_deadline_are_complete(
    store: Store, loaded: demo.Loaded
) -> None:
    del loaded
    trial = statements.trial_balance(store, actor(store), "SO2-2025", DEADLINE)
    lines = {row[0]: (row[3], row[4]) for row in rows(trial)}
    assert lines["E01:holdings"] == (0, 1470)
    assert lines["E06:holdings"] == (0, 55)  # 25 t/a entitled + 30 bought in T1
    assert trial.totals["debit"] == trial.totals["credit"] > 0

    supply = {row[0]: row for row in rows(statements.supply(store, actor(store), DEADLINE))}
    cea = dict(zip([c.name for c in statements.SUPPLY_COLUMNS], supply["CEA-2024"], strict=True))
    # Allocations of carbon.csv plus the exchange's 100,000; all but E08's surplus and the
    # exchange's unsold 50,000 surrendered at the deadline.
    assert cea["issued"] == 21_080_000
    assert (cea["surrendered"], cea["held"], cea["difference"]) == (20_990_000, 90_000, 0)
    assert rows(statements.supply(store, actor(store), date(2024, 12, 31))) == []
