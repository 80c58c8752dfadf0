"""The trading rules of rules §7.11 through the services: city eligibility per year on trades
and reserve sales alike, transfers within one city, unknown cities; blocks; reclaim of free and
buy-back of paid surplus. Every refusal changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest
from sqlalchemy import text

from ledger.domain.access import (
    FOUR_EYES_DEFAULT,
    FOUR_EYES_OPERATIONS,
    ActorMismatch,
    FourEyesPolicy,
    Pending,
    RequestState,
    Role,
)
from ledger.domain.errors import LedgerError, ListingClosed
from ledger.domain.pages import Created
from ledger.domain.registry import (
    Acquisition,
    BlockKind,
    CityYear,
    Entitlement,
    Listing,
    ListingMode,
    ListingState,
    Party,
    PartyKind,
    Policy,
    TradeState,
    TradingBlock,
)
from ledger.persistence.store import Store
from ledger.services import approvals, blocks, listings, parties, queries, rights, trading
from ledger.services.rights import ReserveAction, ReserveOperation
from tests.factories import actor
from tests.integration.registry_support import (
    TRADE_DAY,
    build_registry,
    entitle,
    fingerprint,
    of,
    so2_trade,
)


@pytest.fixture
def built(store: Store) -> Store:
    """build_registry, and 50 t/a SO2 in Tangshan's reserve."""
    build_registry(store)
    entitle(store, "TANGSHAN", "SO2", 50_000)
    return store


def refused(store: Store, code: str, action: Callable[[], object]) -> str:
    before = fingerprint(store)
    with pytest.raises(LedgerError) as caught:
        action()
    assert caught.value.code == code, caught.value.detail
    assert fingerprint(store) == before
    return caught.value.detail


def sale(op_id: str, party: str) -> ReserveOperation:
    return ReserveOperation(
        op_id, ReserveAction.SALE, "TANGSHAN", "SO2", 5_000, 2026, 2026, party, 600_000
    )


def accepted(store: Store, trade_id: str, seller: str, buyer: str) -> None:
    trade = so2_trade(trade_id, seller=seller, buyer=buyer, proposer=seller)
    trading.propose(store, of(store, seller), trade)
    trading.accept(store, of(store, buyer), trade_id)


def test_a_reserve_sale_is_held_to_the_city_rule_as_a_trade_is(built: Store) -> None:
    regulator = actor(built, Role.REGULATOR)  # of no party: it acts for any authority
    # E3 is in Xingtai, which may not receive air rights.
    refused(
        built,
        "city_may_not_receive",
        lambda: rights.reserve_operation(built, regulator, sale("S1", "E3")),
    )
    trading.propose(
        built,
        of(built, "TANGSHAN"),
        so2_trade("R1", seller="TANGSHAN", buyer="E3", proposer="TANGSHAN"),
    )
    refused(built, "city_may_not_receive", lambda: trading.accept(built, of(built, "E3"), "R1"))
    # Within Tangshan, it sells.
    rights.reserve_operation(built, regulator, sale("S2", "E2"))


def test_the_decision_of_the_trade_year_governs(built: Store) -> None:
    regulator = of(built, "HEBEI")
    parties.decide_city_year(built, regulator, CityYear("Xingtai", TRADE_DAY.year, True, "met"))
    accepted(built, "X1", "E1", "E3")
    # Reversed before recording: the rule is checked again in the recording transaction.
    parties.decide_city_year(built, regulator, CityYear("Xingtai", TRADE_DAY.year, False, "no"))
    refused(built, "city_may_not_receive", lambda: trading.record(built, regulator, "X1"))


def test_within_one_city_no_eligibility_is_asked_and_unknown_cities_are_refused(
    built: Store,
) -> None:
    regulator = of(built, "HEBEI")
    parties.decide_city_year(built, regulator, CityYear("Tangshan", TRADE_DAY.year, False, "no"))
    accepted(built, "X1", "E1", "E2")  # both in Tangshan
    assert trading.record(built, regulator, "X1").state is TradeState.SETTLED
    stranger = Party("E8", PartyKind.ENTERPRISE, "E8", city="Nowhere")
    parties.register_party(built, regulator, stranger)
    rights.deposit_cash(built, regulator, "E8-start", "E8", 100_000_000)
    trading.propose(built, of(built, "E1"), so2_trade("X2", buyer="E8"))
    detail = refused(built, "city_unknown", lambda: trading.accept(built, of(built, "E8"), "X2"))
    assert "Nowhere" in detail


def test_blocks_refuse_transfers_while_active(built: Store) -> None:
    regulator = of(built, "HEBEI")
    enforced = TradingBlock("B1", "E2", BlockKind.ENFORCEMENT, TRADE_DAY)
    blocks.set_block(built, regulator, enforced)
    trading.propose(built, of(built, "E1"), so2_trade("X1"))
    refused(built, "buyer_under_enforcement", lambda: trading.accept(built, of(built, "E2"), "X1"))
    unbound = actor(built, Role.REGULATOR)
    refused(
        built,
        "buyer_under_enforcement",
        lambda: rights.reserve_operation(built, unbound, sale("S1", "E2")),
    )
    # Lifted the day after the trade date: the trade, dated while it held, stays refused.
    blocks.lift_block(built, regulator, "B1", date(2026, 3, 2))
    refused(built, "buyer_under_enforcement", lambda: trading.accept(built, of(built, "E2"), "X1"))
    leased = TradingBlock("B2", "E1", BlockKind.LEASING, TRADE_DAY, "SO2", "leased out")
    blocks.set_block(built, regulator, leased)
    trading.propose(built, of(built, "E1"), so2_trade("X2", trade_date=date(2026, 3, 5)))
    refused(built, "rights_blocked", lambda: trading.accept(built, of(built, "E2"), "X2"))


# -- who lifts a block ---------------------------------------------------------------------------


def lift_audit(store: Store) -> list[tuple[str | None, str, str | None]]:
    with store(read_only=True) as uow:
        lines = uow.access.list_audit(None, 0, 1000)
    return [(line.principal_id, line.outcome, line.code) for line in lines if "lift" in line.action]


def test_a_city_authority_may_not_lift_the_provinces_block(built: Store) -> None:
    province, tangshan = of(built, "HEBEI"), of(built, "TANGSHAN")
    set_ = blocks.set_block(
        built, province, TradingBlock("B1", "E2", BlockKind.ENFORCEMENT, TRADE_DAY)
    )
    assert set_.record.set_by_city is None

    detail = refused(
        built,
        "block_set_by_wider_authority",
        lambda: blocks.lift_block(built, tangshan, "B1", date(2026, 3, 2)),
    )

    assert "the province" in detail
    [kept] = blocks.list_blocks(built, province, "E2", None, 10).items
    assert kept.lifted_on is None
    assert lift_audit(built) == [(tangshan.id, "rejected", "block_set_by_wider_authority")]


def test_the_province_lifts_a_citys_block_and_a_city_its_own(built: Store) -> None:
    province, tangshan = of(built, "HEBEI"), of(built, "TANGSHAN")
    for block_id in ("B1", "B2"):
        made = blocks.set_block(
            built, tangshan, TradingBlock(block_id, "E1", BlockKind.LEASING, TRADE_DAY, "SO2")
        )
        assert made.record.set_by_city == "Tangshan"

    by_province = blocks.lift_block(built, province, "B1", date(2026, 3, 2))
    by_city = blocks.lift_block(built, tangshan, "B2", date(2026, 3, 3))

    assert (by_province.lifted_on, by_province.set_by_city) == (date(2026, 3, 2), "Tangshan")
    assert (by_city.lifted_on, by_city.set_by_city) == (date(2026, 3, 3), "Tangshan")
    assert lift_audit(built) == [(province.id, "ok", None), (tangshan.id, "ok", None)]
    # Another city sees neither: not found, as before.
    chengde = of(built, "CHENGDE")
    chengde_block = TradingBlock("B3", "E4", BlockKind.ENFORCEMENT, TRADE_DAY)
    blocks.set_block(built, chengde, chengde_block)
    refused(
        built,
        "record_not_found",
        lambda: blocks.lift_block(built, tangshan, "B3", date(2026, 3, 2)),
    )


def test_a_block_is_the_setters_whatever_the_request_said_and_a_retry_by_another_is_refused(
    built: Store,
) -> None:
    province, tangshan = of(built, "HEBEI"), of(built, "TANGSHAN")
    claimed = TradingBlock("B1", "E2", BlockKind.ENFORCEMENT, TRADE_DAY, set_by_city=None)
    assert blocks.set_block(built, tangshan, claimed).record.set_by_city == "Tangshan"
    assert blocks.set_block(built, tangshan, claimed).replayed
    refused(
        built,
        "record_exists_with_different_definition",
        lambda: blocks.set_block(built, province, claimed),
    )


def test_a_block_set_before_its_setter_was_recorded_is_lifted_by_the_province_only(
    built: Store,
) -> None:
    province, tangshan = of(built, "HEBEI"), of(built, "TANGSHAN")
    blocks.set_block(built, tangshan, TradingBlock("B1", "E2", BlockKind.ENFORCEMENT, TRADE_DAY))
    with built.engine.begin() as connection:  # as migration 0025 leaves a block set before it
        connection.execute(text("UPDATE trading_blocks SET set_by_city = NULL"))

    refused(
        built,
        "block_set_by_wider_authority",
        lambda: blocks.lift_block(built, tangshan, "B1", date(2026, 3, 2)),
    )
    lifted = blocks.lift_block(built, province, "B1", date(2026, 3, 2))

    assert (lifted.lifted_on, lifted.set_by_city) == (date(2026, 3, 2), None)


def test_free_rights_are_reclaimed_and_paid_ones_bought_back(built: Store) -> None:
    unbound = actor(built, Role.REGULATOR)
    paid = Entitlement("E2-NOx", "E2", "NOx", 10_000, 2026, 2030, acquisition=Acquisition.PAID)
    rights.confirm_entitlement(built, unbound, paid)

    def take(op_id: str, action: ReserveAction, party: str, entitlement: str) -> object:
        op = ReserveOperation(
            op_id,
            action,
            "TANGSHAN",
            entitlement.split("-")[1],
            6_000,
            2027,
            2027,
            party,
            500_000 if action is ReserveAction.BUY_BACK else 0,
            entitlement=entitlement,
        )
        return rights.reserve_operation(built, unbound, op)

    refused(
        built, "acquisition_mismatch", lambda: take("D1", ReserveAction.RECLAIM, "E2", "E2-NOx")
    )
    refused(
        built, "acquisition_mismatch", lambda: take("D2", ReserveAction.BUY_BACK, "E1", "E1-SO2")
    )
    take("D3", ReserveAction.BUY_BACK, "E2", "E2-NOx")
    refused(built, "surplus_exceeded", lambda: take("D4", ReserveAction.BUY_BACK, "E2", "E2-NOx"))
    take("D5", ReserveAction.RECLAIM, "E1", "E1-SO2")


# -- closing a reserve listing ----------------------------------------------------------------


def listed(store: Store, listing_id: str, mode: ListingMode) -> None:
    """Tangshan lists 1 t/a of its reserve's SO2 at 6,000 CNY/t (or from it, by auction)."""
    offer = Listing(listing_id, "TANGSHAN", "SO2", 1_000, 600_000, mode, TRADE_DAY)
    listings.create_listing(store, of(store, "TANGSHAN"), offer)


def test_closing_again_answers_the_close_and_only_the_seller_closes_audited(built: Store) -> None:
    tangshan, province = of(built, "TANGSHAN"), of(built, "HEBEI")
    listed(built, "L1", ListingMode.FIXED_PRICE)

    closed = listings.close_listing(built, tangshan, "L1")
    again = listings.close_listing(built, tangshan, "L1")  # a retry after a lost answer

    assert closed.state is again.state is ListingState.WITHDRAWN
    # Refused for any caller, not only over HTTP, and audited by the use case itself.
    with pytest.raises(ActorMismatch):
        listings.close_listing(built, province, "L1")
    listed(built, "L2", ListingMode.FIXED_PRICE)
    listings.accept_listing(built, of(built, "E2"), "L2")
    with pytest.raises(ListingClosed):  # sold by its buyer's acceptance, not by a close
        listings.close_listing(built, tangshan, "L2")
    with built(read_only=True) as uow:
        lines = uow.access.list_audit(None, 0, 1000)
    assert [
        (line.principal_id, line.outcome, line.code)
        for line in lines
        if line.action == "listings.close"
    ] == [
        (tangshan.id, "ok", None),
        (tangshan.id, "ok", None),
        (province.id, "rejected", "actor_mismatch"),
        (tangshan.id, "rejected", "listing_closed"),
    ]


def test_an_auction_closed_twice_at_once_is_sold_once_and_its_bids_keep_their_outcome(
    built: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    tangshan = of(built, "TANGSHAN")
    listed(built, "A1", ListingMode.AUCTION)
    listings.bid(built, of(built, "E1"), "A1", 600_000)
    listings.bid(built, of(built, "E2"), "A1", 700_000)
    award = listings._award_to

    def overtaken(best: object) -> object:
        """The first close's award runs only after a second close has sold the auction."""
        monkeypatch.setattr(listings, "_award_to", award)
        listings.close_listing(built, tangshan, "A1")
        return award(best)  # type: ignore[arg-type]

    monkeypatch.setattr(listings, "_award_to", overtaken)
    closed = listings.close_listing(built, tangshan, "A1")

    assert closed.state is ListingState.SOLD
    _, bids = listings.get_listing(built, tangshan, "A1")
    assert [(b.bidder, b.outcome) for b in bids] == [("E1", ""), ("E2", "won")]
    assert trading.get_trade(built, tangshan, "A1")[0].buyer == "E2"


# -- buy-backs pay public money: a second regulator, a ceiling, rights bought ------------------


def cash_of(store: Store, account: str) -> int:
    return queries.get_balance(store, actor(store), account, "CNY").balance.posted


def buy_back(  # noqa: PLR0917 - the decision's terms
    op_id: str,
    party: str,
    units: int,
    price_fen: int,
    entitlement: str | None = None,
    vintage: int = 2027,
) -> ReserveOperation:
    """Tangshan buys back `units` t/a of `vintage` (SO2, or the entitlement's pollutant) from
    `party` at `price_fen` per t."""
    return ReserveOperation(
        op_id,
        ReserveAction.BUY_BACK,
        "TANGSHAN",
        entitlement.split("-")[1] if entitlement else "SO2",
        units,
        vintage,
        vintage,
        party,
        price_fen,
        entitlement=entitlement,
    )


def test_a_buy_back_waits_for_a_second_regulator_and_pays_at_most_the_ceiling(
    built: Store,
) -> None:
    """The audit's case: one regulator paid E2 100,000,000 CNY/t from a budget that may go
    below zero. Now the price is refused above the ceiling before anyone is asked, and a
    buy-back within it is only a request until a second person approves it."""
    paid = Entitlement("E2-NOx", "E2", "NOx", 10_000, 2026, 2030, acquisition=Acquisition.PAID)
    rights.confirm_entitlement(built, of(built, "HEBEI"), paid)
    built.four_eyes = FOUR_EYES_DEFAULT
    asking = actor(built, Role.CITY_AUTHORITY, "TANGSHAN", principal="ts-a")
    approving = actor(built, Role.CITY_AUTHORITY, "TANGSHAN", principal="ts-b")
    before = cash_of(built, "E2:cash")

    detail = refused(
        built,
        "price_above_ceiling",
        lambda: rights.reserve_operation(
            built, asking, buy_back("B1", "E2", 1_000, 10_000_000_000, "E2-NOx")
        ),
    )
    assert "6000.00" in detail  # NOx's ceiling: its benchmark price
    asked = rights.reserve_operation(built, asking, buy_back("B2", "E2", 1_000, 600_000, "E2-NOx"))
    assert isinstance(asked, Pending)
    assert asked.request.operation == "buy_back"
    assert cash_of(built, "E2:cash") == before  # nothing paid on one person's word

    with pytest.raises(LedgerError):  # the initiator may not approve their own request
        approvals.approve(built, asking, asked.request.id)
    decided = approvals.approve(built, approving, asked.request.id)

    assert decided.state is RequestState.APPLIED
    assert cash_of(built, "E2:cash") == before + 600_000  # 1 t/a × 6,000 CNY/t
    assert cash_of(built, "TANGSHAN:cash") == -600_000


def test_the_operator_may_take_buy_backs_out_of_four_eyes_and_the_policy_sets_the_ceiling(
    built: Store,
) -> None:
    paid = Entitlement("E2-NOx", "E2", "NOx", 10_000, 2026, 2030, acquisition=Acquisition.PAID)
    rights.confirm_entitlement(built, of(built, "HEBEI"), paid)
    built.four_eyes = FourEyesPolicy(FOUR_EYES_OPERATIONS - {"buy_back"})
    tangshan = of(built, "TANGSHAN")
    parties.set_policy(
        built, of(built, "HEBEI"), Policy(buy_back_ceiling_fen_per_t={"NOx": 700_000})
    )

    booked = rights.reserve_operation(
        built, tangshan, buy_back("B1", "E2", 1_000, 700_000, "E2-NOx")
    )
    assert isinstance(booked, Created)
    refused(
        built,
        "price_above_ceiling",
        lambda: rights.reserve_operation(
            built, tangshan, buy_back("B2", "E2", 1_000, 700_001, "E2-NOx")
        ),
    )
    # A pollutant the policy sets no ceiling for is bought back at no price.
    refused(
        built,
        "price_above_ceiling",
        lambda: rights.reserve_operation(built, tangshan, buy_back("B3", "E2", 1_000, 1)),
    )


def test_a_buy_back_naming_no_entitlement_pays_only_for_rights_bought(built: Store) -> None:
    """E1's SO2 was allocated free: paying for it would turn a reclaim into a gift of public
    money. E2 bought 10 t/a from E1 and 5 t/a from the reserve: that much, no more, is bought
    back; E1, the seller, has nothing bought to sell back."""
    tangshan = of(built, "TANGSHAN")
    refused(
        built,
        "rights_not_paid_for",
        lambda: rights.reserve_operation(
            built, tangshan, buy_back("B1", "E1", 1_000, 500_000, vintage=2026)
        ),
    )
    accepted(built, "X1", "E1", "E2")  # 10 t/a at 6,000 CNY/t
    trading.record(built, tangshan, "X1")
    rights.reserve_operation(built, tangshan, sale("S1", "E2"))  # 5 t/a of 2026

    refused(
        built,
        "rights_not_paid_for",
        lambda: rights.reserve_operation(
            built, tangshan, buy_back("B2", "E1", 1_000, 500_000, vintage=2026)
        ),
    )
    rights.reserve_operation(built, tangshan, buy_back("B3", "E2", 12_000, 500_000, vintage=2026))
    rights.reserve_operation(built, tangshan, buy_back("B4", "E2", 3_000, 500_000, vintage=2026))
    detail = refused(
        built,
        "rights_not_paid_for",
        lambda: rights.reserve_operation(
            built, tangshan, buy_back("B5", "E2", 1, 500_000, vintage=2026)
        ),
    )
    assert "0.000 t/a of SO2-2026" in detail
    # E2 still holds its free 10 t/a of 2026: those are reclaimed, free.
    rights.reserve_operation(
        built,
        tangshan,
        replace(buy_back("B6", "E2", 10_000, 0, vintage=2026), action=ReserveAction.RECLAIM),
    )
