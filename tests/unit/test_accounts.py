"""Accounts and balances: sides, posted and available figures, and the account-level rules."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.limits import UNITS_MAX
from tests.unit.refusals import accepted, refusal

HOLDER = Account(
    id=1,
    code="PLANT-A",
    party="PLANT-A",
    name="Plant A holdings",
    normal_side=Side.CREDIT,
    non_negative=True,
    instrument_code=None,
    frozen=False,
    closed=False,
)


def credit_normal(
    *,
    debits_posted: int = 0,
    credits_posted: int = 0,
    debits_pending: int = 0,
    credits_pending: int = 0,
) -> Balance:
    """A non-negative credit-normal balance (a holder's allowances) with the given counters."""
    return Balance(
        1,
        "SO2-2026",
        Side.CREDIT,
        True,
        debits_posted,
        credits_posted,
        debits_pending,
        credits_pending,
    )


def debit_normal(
    *,
    debits_posted: int = 0,
    credits_posted: int = 0,
    debits_pending: int = 0,
    credits_pending: int = 0,
) -> Balance:
    """A non-negative debit-normal balance (an asset account) with the given counters."""
    return Balance(
        2,
        "SO2-2026",
        Side.DEBIT,
        True,
        debits_posted,
        credits_posted,
        debits_pending,
        credits_pending,
    )


# -- sides and balances ---------------------------------------------------------------------


def test_the_opposite_of_debit_is_credit_and_back() -> None:
    assert Side.DEBIT.opposite is Side.CREDIT
    assert Side.CREDIT.opposite is Side.DEBIT


def test_a_credit_normal_balance_is_credits_less_debits() -> None:
    assert credit_normal(credits_posted=900, debits_posted=300).posted == 600


def test_a_debit_normal_balance_is_debits_less_credits() -> None:
    assert debit_normal(debits_posted=900, credits_posted=300).posted == 600


def test_a_balance_that_is_not_non_negative_may_show_a_negative_posted_figure() -> None:
    issuance = Balance(3, "SO2-2026", Side.DEBIT, False, credits_posted=500)

    assert issuance.posted == -500


def test_a_pending_debit_reduces_what_a_credit_normal_account_has_available() -> None:
    balance = credit_normal(credits_posted=1_000, debits_pending=400)

    assert balance.posted == 1_000
    assert balance.available == 600


def test_a_pending_credit_does_not_add_to_what_a_credit_normal_account_has_available() -> None:
    assert credit_normal(credits_posted=1_000, credits_pending=400).available == 1_000


def test_a_pending_credit_reduces_what_a_debit_normal_account_has_available() -> None:
    assert debit_normal(debits_posted=1_000, credits_pending=250).available == 750


def test_a_pending_debit_does_not_add_to_what_a_debit_normal_account_has_available() -> None:
    assert debit_normal(debits_posted=1_000, debits_pending=250).available == 1_000


@pytest.mark.parametrize(
    ("side", "pending", "counter"),
    [
        (Side.DEBIT, False, "debits_posted"),
        (Side.CREDIT, False, "credits_posted"),
        (Side.DEBIT, True, "debits_pending"),
        (Side.CREDIT, True, "credits_pending"),
    ],
)
def test_a_posting_adds_to_the_counter_of_its_side_and_state(
    side: Side, pending: bool, counter: str
) -> None:
    balance = credit_normal()

    balance.add(side, 70, pending=pending)

    assert getattr(balance, counter) == 70
    untouched = {"debits_posted", "credits_posted", "debits_pending", "credits_pending"} - {counter}
    assert all(getattr(balance, name) == 0 for name in untouched)


def test_releasing_a_resolved_hold_takes_it_out_of_the_pending_counter() -> None:
    balance = credit_normal(credits_posted=1_000, debits_pending=400)

    balance.release_pending(Side.DEBIT, 400)

    assert balance.debits_pending == 0
    assert balance.available == 1_000


def test_a_counter_may_reach_the_largest_storable_number_of_units() -> None:
    balance = credit_normal(credits_posted=UNITS_MAX - 5)

    balance.add(Side.CREDIT, 5, pending=False)

    assert balance.credits_posted == UNITS_MAX


def test_a_posting_that_would_overflow_a_counter_is_refused_and_leaves_it_unchanged() -> None:
    balance = credit_normal(credits_posted=UNITS_MAX - 5)

    error = refusal(lambda: balance.add(Side.CREDIT, 6, pending=False))

    assert error.code == "balance_overflow"
    assert balance.credits_posted == UNITS_MAX - 5


def test_a_pending_counter_overflow_is_refused_too() -> None:
    balance = credit_normal(debits_pending=UNITS_MAX)

    assert refusal(lambda: balance.add(Side.DEBIT, 1, pending=True)).code == "balance_overflow"


def test_a_non_negative_balance_with_nothing_left_is_within_its_limit() -> None:
    balance = credit_normal(credits_posted=500, debits_posted=500)

    assert accepted(lambda: balance.check_limit("PLANT-A"))


def test_a_non_negative_balance_below_zero_is_refused_as_insufficient() -> None:
    balance = credit_normal(credits_posted=500, debits_posted=501)

    error = refusal(lambda: balance.check_limit("PLANT-A"))

    assert error.code == "insufficient_balance"
    assert error.context == {"account": "PLANT-A", "instrument": "SO2-2026"}


def test_a_hold_that_would_take_more_than_is_posted_is_refused_as_insufficient() -> None:
    balance = credit_normal(credits_posted=500, debits_pending=501)

    assert refusal(lambda: balance.check_limit("PLANT-A")).code == "insufficient_balance"


def test_an_account_that_is_not_non_negative_may_go_below_zero() -> None:
    issuance = Balance(3, "SO2-2026", Side.DEBIT, False, credits_posted=10**12)

    assert accepted(lambda: issuance.check_limit("ISSUANCE"))


# -- account rules --------------------------------------------------------------------------


def test_an_open_account_accepts_debits_and_credits() -> None:
    assert accepted(lambda: HOLDER.check_can_post(Side.DEBIT, "SO2-2026"))
    assert accepted(lambda: HOLDER.check_can_post(Side.CREDIT, "SO2-2026"))


def test_a_frozen_account_refuses_a_debit() -> None:
    error = refusal(lambda: replace(HOLDER, frozen=True).check_can_post(Side.DEBIT, "SO2-2026"))

    assert error.code == "account_frozen"
    assert error.context == {"account": "PLANT-A"}


def test_a_frozen_account_still_accepts_a_credit() -> None:
    frozen = replace(HOLDER, frozen=True)

    assert accepted(lambda: frozen.check_can_post(Side.CREDIT, "SO2-2026"))


@pytest.mark.parametrize("side", [Side.DEBIT, Side.CREDIT])
def test_a_closed_account_refuses_every_posting(side: Side) -> None:
    error = refusal(lambda: replace(HOLDER, closed=True).check_can_post(side, "SO2-2026"))

    assert error.code == "account_closed"


def test_a_closed_and_frozen_account_reports_that_it_is_closed() -> None:
    account = replace(HOLDER, closed=True, frozen=True)

    assert refusal(lambda: account.check_can_post(Side.DEBIT, "SO2-2026")).code == (
        "account_closed"
    )


def test_an_account_restricted_to_one_instrument_refuses_another() -> None:
    account = replace(HOLDER, instrument_code="CEA-2025")

    error = refusal(lambda: account.check_can_post(Side.CREDIT, "SO2-2026"))

    assert error.code == "instrument_mismatch"
    assert error.field == "instrument"


def test_an_account_restricted_to_one_instrument_accepts_that_instrument() -> None:
    account = replace(HOLDER, instrument_code="CEA-2025")

    assert accepted(lambda: account.check_can_post(Side.DEBIT, "CEA-2025"))


@pytest.mark.parametrize("instrument", ["SO2-2026", "CEA-2025", "CNY"])
def test_an_unrestricted_account_accepts_any_instrument(instrument: str) -> None:
    assert accepted(lambda: HOLDER.check_can_post(Side.CREDIT, instrument))
