"""One rejection per registry rule: each is refused with its own code and the ledger (balances,
entries and records) is exactly as it was before."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

import pytest

from ledger.domain.errors import LedgerError
from ledger.domain.finance import beijing_date
from ledger.domain.registry import Obligation, Pledge, Policy
from ledger.persistence.store import Store
from ledger.services import compliance, parties, registry, rights, trading
from tests.factories import actor
from tests.integration.registry_support import (
    TRADE_DAY,
    after_deadline,
    build_registry,
    entitle,
    fingerprint,
    of,
    so2_trade,
)


@pytest.fixture
def built(store: Store) -> Store:
    build_registry(store)
    return store


def refused(store: Store, code: str, action: Callable[[], object]) -> str:
    """`action` is refused with `code` and nothing in the ledger changed; the refusal's detail."""
    before = fingerprint(store)
    with pytest.raises(LedgerError) as caught:
        action()
    assert caught.value.code == code, caught.value.detail
    assert fingerprint(store) == before
    return caught.value.detail


def proposed(store: Store, trade_id: str = "X1", **changes: object) -> str:
    trade = so2_trade(trade_id, **changes)
    return trading.propose(store, of(store, trade.proposer), trade).record.id


def accepted(store: Store, trade_id: str, buyer: str = "E2") -> object:
    return trading.accept(store, of(store, buyer), trade_id)


def test_selling_more_than_held_is_insufficient_balance(built: Store) -> None:
    trade = proposed(built, units=100_001)

    refused(built, "insufficient_balance", lambda: accepted(built, trade, "E2"))


def test_selling_pledged_rights_is_rights_pledged(built: Store) -> None:
    rights.pledge(built, of(built, "HEBEI"), Pledge("P1", "E1", "SO2", 95_000, "Bank", 2026, 2030))
    trade = proposed(built)

    refused(built, "rights_pledged", lambda: accepted(built, trade, "E2"))


def test_selling_from_a_frozen_account_is_account_frozen(built: Store) -> None:
    trade = proposed(built)
    registry.freeze_account(built, actor(built), "E1:holdings")

    refused(built, "account_frozen", lambda: accepted(built, trade, "E2"))


def test_recording_a_trade_whose_seller_was_frozen_meanwhile_is_account_frozen(
    built: Store,
) -> None:
    trade = proposed(built)
    accepted(built, trade, "E2")
    registry.freeze_account(built, actor(built), "E1:holdings")

    refused(built, "account_frozen", lambda: trading.record(built, of(built, "HEBEI"), trade))


def test_a_price_under_the_floor_is_price_below_floor(built: Store) -> None:
    refused(built, "price_below_floor", lambda: proposed(built, price_fen=499_999))


def test_a_zero_price_without_a_reason_is_price_zero_without_reason(built: Store) -> None:
    refused(built, "price_zero_without_reason", lambda: proposed(built, price_fen=0))


def test_a_zero_price_with_a_reason_settles_without_a_cash_leg(built: Store) -> None:
    trade = proposed(built, price_fen=0, zero_price_reason="transfer within the group")
    accepted(built, trade, "E2")

    assert trading.record(built, of(built, "HEBEI"), trade).state.value == "settled"


def test_a_buyer_in_a_city_that_may_not_receive_is_city_may_not_receive(built: Store) -> None:
    trade = proposed(built, buyer="E3")

    refused(built, "city_may_not_receive", lambda: accepted(built, trade, "E3"))


def test_water_rights_across_river_basins_are_basin_mismatch(built: Store) -> None:
    trade = proposed(built, buyer="E4", family="COD", price_fen=400_000)

    refused(built, "basin_mismatch", lambda: accepted(built, trade, "E4"))


def test_a_buyer_over_its_holding_limit_is_holding_limit_exceeded(built: Store) -> None:
    parties.set_policy(built, of(built, "HEBEI"), Policy(holding_limit_units={"SO2": 15_000}))
    trade = proposed(built)

    refused(built, "holding_limit_exceeded", lambda: accepted(built, trade, "E2"))


def test_trading_an_expired_vintage_is_vintage_expired(built: Store) -> None:
    rights.expire_vintage(built, of(built, "HEBEI"), "SO2", 2026)
    trade = proposed(built)

    refused(built, "vintage_expired", lambda: accepted(built, trade, "E2"))


def test_accepting_for_the_wrong_party_is_trade_party_invalid(built: Store) -> None:
    trade = proposed(built)

    refused(built, "trade_party_invalid", lambda: accepted(built, trade, "E1"))


def test_surrendering_more_ccer_than_the_cap_is_ccer_cap_exceeded(built: Store) -> None:
    rights.issue_carbon(
        built, of(built, "HEBEI"), "E1-CCER", party_code="E1", family="CCER", year=None, units=1000
    )
    compliance.set_obligation(
        built, of(built, "HEBEI"), Obligation("O1", "E1", 2026, 10_000, date(2027, 12, 31))
    )
    compliance.surrender(
        built, of(built, "E1"), compliance.SurrenderRequest("S1", "O1", 400, "CCER")
    )

    refused(
        built,
        "ccer_cap_exceeded",
        lambda: compliance.surrender(
            built, of(built, "E1"), compliance.SurrenderRequest("S2", "O1", 101, "CCER")
        ),
    )


def test_surrendering_against_a_closed_obligation_is_obligation_closed(built: Store) -> None:
    rights.issue_carbon(
        built, of(built, "HEBEI"), "E1-CEA", party_code="E1", family="CEA", year=2026, units=1000
    )
    compliance.set_obligation(
        built, of(built, "HEBEI"), Obligation("O1", "E1", 2026, 10_000, date(2027, 12, 31))
    )
    after_deadline(built)
    compliance.close_deadline(built, of(built, "HEBEI"), "O1", 9_800)

    refused(
        built,
        "obligation_closed",
        lambda: compliance.surrender(
            built, of(built, "E1"), compliance.SurrenderRequest("S1", "O1", 10)
        ),
    )


def test_selling_rights_pledged_in_only_one_vintage_is_rights_pledged(built: Store) -> None:
    entitle(built, "E2", "NOx", 5_000)
    rights.pledge(built, of(built, "HEBEI"), Pledge("P2", "E2", "NOx", 5_000, "Bank", 2026, 2026))
    trade = proposed(built, "X2", seller="E2", buyer="E1", proposer="E2", family="NOx")

    refused(built, "rights_pledged", lambda: accepted(built, trade, "E1"))


def test_a_reserve_sale_under_the_floor_is_price_below_floor(built: Store) -> None:
    entitle(built, "TANGSHAN", "SO2", 50_000)
    sale = rights.ReserveOperation(
        "D1", rights.ReserveAction.SALE, "TANGSHAN", "SO2", 1_000, 2026, 2030, "E2", 100
    )

    refused(
        built,
        "price_below_floor",
        lambda: rights.reserve_operation(built, of(built, "TANGSHAN"), sale),
    )


RELEASE_DAY = TRADE_DAY + timedelta(days=1)


def test_releasing_a_pledge_again_answers_the_released_pledge_and_books_once(
    built: Store,
) -> None:
    regulator = of(built, "HEBEI")
    pledge = Pledge("P1", "E1", "SO2", 5_000, "Bank", 2026, 2026)
    rights.pledge(built, regulator, pledge, TRADE_DAY)
    first = rights.release_pledge(built, regulator, "P1", RELEASE_DAY)
    released = fingerprint(built)

    assert rights.release_pledge(built, regulator, "P1", RELEASE_DAY) == first
    assert rights.release_pledge(built, regulator, "P1") == first  # a retry without its date
    assert first.released
    assert fingerprint(built) == released


def test_an_undated_release_retried_with_todays_date_answers_the_released_pledge(
    built: Store,
) -> None:
    regulator = of(built, "HEBEI")
    pledge = Pledge("P1", "E1", "SO2", 5_000, "Bank", 2026, 2026)
    rights.pledge(built, regulator, pledge, TRADE_DAY)
    first = rights.release_pledge(built, regulator, "P1")  # effective now
    with built(read_only=True) as uow:
        today = beijing_date(uow.now())

    assert rights.release_pledge(built, regulator, "P1", today) == first


def test_releasing_a_released_pledge_on_another_day_is_pledge_already_released(
    built: Store,
) -> None:
    regulator = of(built, "HEBEI")
    pledge = Pledge("P1", "E1", "SO2", 5_000, "Bank", 2026, 2026)
    rights.pledge(built, regulator, pledge, TRADE_DAY)
    rights.release_pledge(built, regulator, "P1", RELEASE_DAY)

    refused(
        built,
        "pledge_already_released",
        lambda: rights.release_pledge(built, regulator, "P1", RELEASE_DAY + timedelta(days=1)),
    )


# -- what a refusal tells the counterparty --------------------------------------------------


def test_a_buyer_refused_for_the_sellers_shortfall_learns_nothing_the_seller_holds(
    built: Store,
) -> None:
    # E1 holds 100 t/a: the buyer learns that 100.001 t cannot be delivered, not how much can.
    trade = proposed(built, units=100_001)

    detail = refused(built, "insufficient_balance", lambda: accepted(built, trade))

    assert detail == "E1 cannot deliver the 100.001 t of SO2-2026 asked for"


def test_a_buyer_refused_for_the_sellers_pledge_learns_no_amount(built: Store) -> None:
    rights.pledge(built, of(built, "HEBEI"), Pledge("P1", "E1", "SO2", 95_000, "Bank", 2026, 2030))
    trade = proposed(built)

    detail = refused(built, "rights_pledged", lambda: accepted(built, trade))

    assert detail == (
        "E1 cannot deliver the 10.000 t of SO2-2026 asked for: some of its rights are pledged"
    )


def test_a_seller_refused_for_the_buyers_cash_learns_the_cost_not_the_buyers_balance(
    built: Store,
) -> None:
    # E2 (1,000,000.00 CNY) proposes to buy 100 t at 10,000 CNY/t: 1,007,500.00 with its fee.
    trade = proposed(built, units=100_000, price_fen=1_000_000, proposer="E2")

    detail = refused(built, "insufficient_balance", lambda: accepted(built, trade, "E1"))

    assert detail == "E2's cash does not cover the 1007500.00 CNY (price and fee) this trade costs"


def test_a_holding_limit_refusal_names_the_limit_in_tonnes(built: Store) -> None:
    parties.set_policy(built, of(built, "HEBEI"), Policy(holding_limit_units={"SO2": 15_000}))
    trade = proposed(built)

    detail = refused(built, "holding_limit_exceeded", lambda: accepted(built, trade))

    assert detail == "E2 would hold more than the limit of 15.000 t of SO2-2026"


def test_the_party_itself_learns_its_unpledged_holdings_in_tonnes(built: Store) -> None:
    rights.pledge(built, of(built, "HEBEI"), Pledge("P1", "E1", "SO2", 95_000, "Bank", 2026, 2030))

    detail = refused(
        built,
        "rights_pledged",
        lambda: rights.pledge(
            built, of(built, "HEBEI"), Pledge("P2", "E1", "SO2", 10_000, "Bank", 2026, 2026)
        ),
    )

    assert detail == (
        "E1 holds only 5.000 t of SO2-2026 unpledged; 95.000 t of SO2-2026 are pledged"
    )
