"""The demo registry replayed: trades T1–T6 through the real workflow on both databases, each
outcome as trades.csv expects, the final holdings of every party, and supply conservation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.domain.registry import PROVINCE, ListingMode, ListingState, TradeState
from ledger.entrypoints import demo
from ledger.persistence.store import Store
from ledger.services import listings, queries, trading
from tests.factories import actor

VINTAGES = range(2025, 2030)
RIGHTS_SUFFIXES = ("holdings", "pledged", "reserve", "surrendered")

# What trades.csv says about each trade, as the workflow reports it.
EXPECTED_OUTCOMES = {
    "T1": "settled",
    "T2": "settled",
    "T3": "settled",
    "T4": "refused: city_may_not_receive",
    "T5": "refused: rights_pledged",
    "T6": "settled",
}


def held(store: Store, account: str, instrument: str) -> Decimal:
    view = queries.get_balance(store, actor(store), account, instrument)
    return view.instrument.to_amount(view.balance.posted)


@pytest.fixture
def cast(store: Store) -> demo.Cast:
    return demo.load_reference_data(store)


@pytest.fixture
def outcomes(store: Store, cast: demo.Cast) -> dict[str, str]:
    return demo.replay_trades(store, cast)


def expected_rights() -> dict[tuple[str, str], Decimal]:
    """t/a per vintage in each rights account: entitlements, then the settled trades."""
    expected: dict[tuple[str, str], Decimal] = {}
    for row in demo.rows("enterprises.csv"):
        code = row["enterprise_id"]
        expected[(f"{code}:holdings", "SO2")] = Decimal(row["so2_entitlement_t_per_year"])
        expected[(f"{code}:holdings", "NOx")] = Decimal(row["nox_entitlement_t_per_year"])
    for code, stock in demo.RESERVE_STOCK.items():
        for pollutant, quantity in stock.items():
            expected[(f"{code}:reserve", pollutant)] = Decimal(quantity)
    for trade_id, seller, buyer, pollutant, quantity in (
        ("T1", "E01:holdings", "E06:holdings", "SO2", "30"),
        ("T2", "E07:holdings", "E08:holdings", "NOx", "150"),
        ("T3", "TANGSHAN:reserve", "E04:holdings", "NOx", "40"),
    ):
        assert EXPECTED_OUTCOMES[trade_id] == "settled"
        expected[(seller, pollutant)] -= Decimal(quantity)
        expected[(buyer, pollutant)] += Decimal(quantity)
    return expected


def test_every_demo_trade_ends_as_trades_csv_expects(outcomes: dict[str, str]) -> None:
    assert outcomes == EXPECTED_OUTCOMES


def test_settled_and_refused_trades_keep_their_state_and_history(
    store: Store, cast: demo.Cast, outcomes: dict[str, str]
) -> None:
    del outcomes
    t1, t1_history = trading.get_trade(store, cast.regulator, "T1")
    t4, t4_history = trading.get_trade(store, cast.regulator, "T4")

    assert t1.state.value == "settled"
    assert [e.state.value for e in t1_history] == ["proposed", "accepted", "settled"]
    assert t4.state.value == "refused"
    assert [(e.state.value, e.note) for e in t4_history] == [
        ("proposed", ""),
        ("refused", "city_may_not_receive"),
    ]


def test_each_trade_is_proposed_by_its_seller_accepted_by_its_buyer_recorded_by_the_province(
    store: Store, cast: demo.Cast, outcomes: dict[str, str]
) -> None:
    # T3 is sold by Tangshan's authority from its reserve, T6 by the exchange: through the
    # workflow by their own principals, like every enterprise.
    del outcomes
    for trade_id, seller, buyer in (("T3", "TANGSHAN", "E04"), ("T6", demo.EXCHANGE, "E07")):
        trade, history = trading.get_trade(store, cast.of(seller), trade_id)
        assert (trade.seller, trade.buyer) == (seller, buyer)
        assert [(e.state.value, e.actor) for e in history] == [
            ("proposed", seller),
            ("accepted", buyer),
            ("settled", PROVINCE),
        ]


def test_e01_holds_1470_t_of_so2_2026_and_the_ledger_says_why(
    store: Store, cast: demo.Cast, outcomes: dict[str, str]
) -> None:
    del outcomes
    assert held(store, "E01:holdings", "SO2-2026") == Decimal("1470")

    allocation = queries.get_entry(store, cast.regulator, "entitlement-E01-SO2-2025-2026").record
    settlement = queries.get_entry(store, cast.regulator, "trade-T1-settlement").record
    assert [(r.kind, r.id) for r in allocation.references] == [
        ("entitlement", "E01-SO2-2025"),
        ("permit", "PERMIT-E01"),
    ]
    assert [(r.kind, r.id) for r in settlement.references] == [("trade", "T1")]


def test_every_party_holds_its_entitlement_moved_by_the_settled_trades_in_every_vintage(
    store: Store, outcomes: dict[str, str]
) -> None:
    del outcomes
    expected = expected_rights()
    # E05's SO2 is pledged for 2025–2027: it sits in the pledged account in those vintages.
    for vintage in VINTAGES:
        for (account, pollutant), quantity in expected.items():
            want = quantity
            if account == "E05:holdings" and pollutant == "SO2" and vintage <= 2027:
                want = Decimal(0)
            assert held(store, account, f"{pollutant}-{vintage}") == want, (account, vintage)
        pledged = Decimal(90) if vintage <= 2027 else Decimal(0)
        assert held(store, "E05:pledged", f"SO2-{vintage}") == pledged


def test_the_carbon_purchase_and_every_cash_leg_settle_with_their_fees(
    store: Store, outcomes: dict[str, str]
) -> None:
    del outcomes
    assert held(store, "E07:holdings", "CEA-2024") == Decimal(3_200_000)
    assert held(store, "EXCHANGE:holdings", "CEA-2024") == Decimal(50_000)
    start = Decimal(5_000_000)
    # T1: 30 t × 6,200 = 186,000.00; fee 1.5% = 2,790.00, half each.
    assert held(store, "E06:cash", "CNY") == start - Decimal("187395.00")
    assert held(store, "E01:cash", "CNY") == start + Decimal("184605.00")
    # T3 is a reserve sale: no fee, the proceeds are the city's non-tax revenue.
    assert held(store, "E04:cash", "CNY") == start - Decimal("240000.00")
    assert held(store, "TANGSHAN:revenue", "CNY") == Decimal("240000.00")
    # T6: 50,000 tCO2 × 98 = 4,900,000.00; fee 73,500.00, half each.
    assert held(store, "E07:cash", "CNY") == start + Decimal("1161225.00") - Decimal("4936750.00")
    assert held(store, "EXCHANGE:cash", "CNY") == Decimal("4863250.00")
    assert held(store, "EXCHANGE:revenue", "CNY") == Decimal("2790") + Decimal("17550") + Decimal(
        "73500"
    )
    # Refused trades moved nothing.
    assert held(store, "E02:cash", "CNY") == start
    assert held(store, "E05:cash", "CNY") == start


def test_supply_is_conserved_per_instrument_after_the_scenario(
    store: Store, outcomes: dict[str, str]
) -> None:
    del outcomes
    codes = [f"{p}-{v}" for p in ("SO2", "NOx") for v in VINTAGES] + ["CEA-2024"]
    for code in codes:
        lines = queries.get_trial_balance(store, actor(store), code).lines
        by_account = {line.account_code: line for line in lines}
        issued = by_account[f"{PROVINCE}:issuance"].debit
        gone = sum(
            line.credit
            for line in lines
            if line.account_code.endswith((":cancellation", ":retirement"))
        )
        holdings = sum(line.credit for line in lines if line.account_code.endswith(RIGHTS_SUFFIXES))
        assert issued - gone == holdings, code
    assert queries.check_invariants(store, actor(store)) == []


def test_replaying_a_settled_trade_changes_nothing(
    store: Store, cast: demo.Cast, outcomes: dict[str, str]
) -> None:
    del outcomes
    before = held(store, "E06:holdings", "SO2-2025")

    # A retry answers with the settled trade.
    replayed = trading.record(store, cast.regulator, "T1")

    assert replayed.state is TradeState.SETTLED
    assert held(store, "E06:holdings", "SO2-2025") == before
    assert queries.get_entry(store, cast.regulator, "trade-T1-hold").state == "posted"


def test_t3_is_a_fixed_price_listing_of_tangshans_reserve_bought_by_e04(
    store: Store, cast: demo.Cast, outcomes: dict[str, str]
) -> None:
    del outcomes
    listing, bids = listings.get_listing(store, cast.of("E04"), "T3")
    assert (listing.seller, listing.mode, listing.state) == (
        "TANGSHAN",
        ListingMode.FIXED_PRICE,
        ListingState.SOLD,
    )
    assert (listing.price_fen, listing.units, bids) == (600_000, 40_000, [])
