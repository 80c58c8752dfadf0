"""The registry's pure rules: money arithmetic and its rounding, the trade state machine, prices,
remaining vintages, the CCER cap and the compliance status."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.access import Scope
from ledger.domain.errors import LedgerError
from ledger.domain.registry import (
    ComplianceStatus,
    Obligation,
    Policy,
    Trade,
    TradeAction,
    TradeState,
    ccer_cap_units,
    check_price,
    fee_split_fen,
    instrument_for,
    penalty_fen,
    remaining_vintages,
    trade_value_fen,
)


def trade(**changes: object) -> Trade:
    values: dict[str, object] = {
        "id": "T",
        "seller": "S",
        "buyer": "B",
        "proposer": "S",
        "family": "SO2",
        "units": 30_000,
        "price_fen": 620_000,
        "first_vintage": 2025,
        "last_vintage": 2029,
        "trade_date": date(2025, 3, 18),
    }
    values.update(changes)
    return Trade(**values)  # type: ignore[arg-type]


def test_the_trade_value_is_price_times_quantity_rounded_half_up_to_the_fen() -> None:
    assert trade_value_fen(620_000, 30_000, 3) == 18_600_000
    assert trade_value_fen(1, 500, 3) == 1  # 0.5 fen rounds up
    assert trade_value_fen(1, 499, 3) == 0
    assert trade_value_fen(9_800, 20_000, 0) == 196_000_000


def test_the_fee_is_split_in_halves_with_the_odd_fen_paid_by_the_buyer() -> None:
    assert fee_split_fen(18_600_000, Decimal("0.015")) == (139_500, 139_500)
    assert fee_split_fen(100, Decimal("0.03")) == (2, 1)
    assert fee_split_fen(10, Decimal(0)) == (0, 0)


def test_the_penalty_is_the_multiplier_times_the_average_price_times_the_shortfall() -> None:
    # The rules' example: 865,300 t × 98 CNY × 5 = 423,997,000 CNY.
    assert penalty_fen(865_300, 9_800, Decimal(5)) == 42_399_700_000


def test_a_penalty_multiplier_outside_5_to_10_is_refused() -> None:
    with pytest.raises(LedgerError):
        Policy(penalty_multiplier=Decimal(11))


def test_the_ccer_cap_rounds_down() -> None:
    assert ccer_cap_units(10_019, Decimal("0.05")) == 500


def test_prices_under_the_floor_or_zero_without_reason_are_refused() -> None:
    policy = Policy()
    check_price(trade(price_fen=500_000), policy)
    check_price(trade(price_fen=0, zero_price_reason="group transfer"), policy)
    with pytest.raises(LedgerError, match="floor") as below:
        check_price(trade(price_fen=499_999), policy)
    with pytest.raises(LedgerError) as zero:
        check_price(trade(price_fen=0), policy)
    assert below.value.code == "price_below_floor"
    assert zero.value.code == "price_zero_without_reason"


@pytest.mark.parametrize(
    ("state", "action", "expected"),
    [
        (TradeState.PROPOSED, TradeAction.ACCEPT, TradeState.ACCEPTED),
        (TradeState.PROPOSED, TradeAction.DECLINE, TradeState.DECLINED),
        (TradeState.ACCEPTED, TradeAction.RECORD, TradeState.SETTLED),
        (TradeState.ACCEPTED, TradeAction.RESCIND, TradeState.RESCINDED),
        (TradeState.ACCEPTED, TradeAction.REFUSE, TradeState.REFUSED),
        (TradeState.ACCEPTED, TradeAction.EXPIRE, TradeState.EXPIRED),
    ],
)
def test_legal_transitions_lead_to_their_state(
    state: TradeState, action: TradeAction, expected: TradeState
) -> None:
    assert trade(state=state).next_state(action) is expected


def test_a_settled_trade_accepts_no_action() -> None:
    for action in TradeAction:
        with pytest.raises(LedgerError) as caught:
            trade(state=TradeState.SETTLED).next_state(action)
        assert caught.value.code == "trade_state_invalid"


def test_only_the_counterparty_accepts_and_only_the_proposer_rescinds() -> None:
    with pytest.raises(LedgerError) as caught:
        trade().next_state(TradeAction.ACCEPT, "S")
    assert caught.value.code == "trade_party_invalid"
    assert trade().next_state(TradeAction.RESCIND, "S") is TradeState.RESCINDED


def test_remaining_vintages_start_in_the_trade_year() -> None:
    assert remaining_vintages(2025, 2029, 2026) == (2026, 2029)
    assert remaining_vintages(2025, 2029, 2020) == (2025, 2029)
    with pytest.raises(LedgerError):
        remaining_vintages(2025, 2029, 2030)


def test_instruments_have_the_scale_of_their_unit() -> None:
    assert instrument_for("SO2", 2026).scale == 3
    assert instrument_for("CEA", 2024).scale == 0
    assert instrument_for("CCER", None).code == "CCER"


def test_the_projected_shortfall_counts_what_is_still_held() -> None:
    obligation = Obligation("O", "E", 2024, 3_200_000, date(2025, 12, 31))
    status = ComplianceStatus(obligation, 3_000_000, 0, 150_000)

    assert (status.shortfall_units, status.projected_shortfall_units) == (200_000, 50_000)


@pytest.mark.parametrize(
    ("scope", "setter_city", "covers"),
    [
        (Scope(), None, True),  # the province covers its own blocks
        (Scope(), "Tangshan", True),  # and every city's
        (Scope(city="Tangshan"), "Tangshan", True),  # a city covers its own
        (Scope(city="Tangshan"), None, False),  # not the province's (nor one set before 0025)
        (Scope(city="Tangshan"), "Xingtai", False),  # nor another city's
        (Scope(party="E1"), "Tangshan", False),  # a party covers no authority
        (Scope(party="E1"), None, False),
    ],
)
def test_a_scope_covers_the_province_only_if_unlimited_and_a_city_only_if_its_own(
    scope: Scope, setter_city: str | None, covers: bool
) -> None:
    assert scope.covers_authority(setter_city) is covers
