"""Booking drafts against balances: account rules, limits and running balances, plus properties
over random entries (the counters stay balanced; a non-negative account never goes below zero)."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, replace

from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.entries import (
    BalanceKey,
    PostingDraft,
    PostingRecord,
    book,
    release_pending,
)
from ledger.domain.errors import InsufficientBalance
from tests.unit.refusals import refusal

DEBIT, CREDIT = Side.DEBIT, Side.CREDIT
SO2 = "SO2-2026"
INSTRUMENTS = (SO2, "CNY")


def account(id_: int, code: str, normal_side: Side, *, non_negative: bool) -> Account:
    return Account(id_, code, code, code, normal_side, non_negative, None, False, False)


ISSUANCE = account(1, "ISSUANCE", DEBIT, non_negative=False)
PLANT_A = account(2, "PLANT-A", CREDIT, non_negative=True)
PLANT_B = account(3, "PLANT-B", CREDIT, non_negative=True)
ACCOUNTS = {a.code: a for a in (ISSUANCE, PLANT_A, PLANT_B)}


def fresh_balances(accounts: Mapping[str, Account] = ACCOUNTS) -> dict[BalanceKey, Balance]:
    return {
        (a.id, code): Balance(a.id, code, a.normal_side, a.non_negative)
        for a in accounts.values()
        for code in INSTRUMENTS
    }


def move(source: str, destination: str, units: int) -> tuple[PostingDraft, ...]:
    return (PostingDraft(source, SO2, DEBIT, units), PostingDraft(destination, SO2, CREDIT, units))


def funded(units: int) -> dict[BalanceKey, Balance]:
    """Balances after ISSUANCE issued `units` of SO2 to PLANT-A."""
    balances = fresh_balances()
    book(move("ISSUANCE", "PLANT-A", units), ACCOUNTS, balances, pending=False)
    return balances


# -- examples -------------------------------------------------------------------------------


def test_issuing_credits_the_holder_and_debits_the_issuance_account_by_the_same_amount() -> None:
    balances = funded(30_000)

    assert balances[(PLANT_A.id, SO2)].posted == 30_000
    assert balances[(ISSUANCE.id, SO2)].posted == 30_000


def test_each_booked_posting_carries_the_running_counters_after_it() -> None:
    balances = funded(30_000)

    booked = book(move("PLANT-A", "PLANT-B", 10_000), ACCOUNTS, balances, pending=False)

    assert [(b.account_code, b.debits_after, b.credits_after) for b in booked] == [
        ("PLANT-A", 10_000, 30_000),
        ("PLANT-B", 0, 10_000),
    ]


def test_a_hold_reserves_the_amount_without_moving_the_posted_balance() -> None:
    balances = funded(30_000)

    booked = book(move("PLANT-A", "PLANT-B", 10_000), ACCOUNTS, balances, pending=True)

    seller, buyer = balances[(PLANT_A.id, SO2)], balances[(PLANT_B.id, SO2)]
    assert (seller.posted, seller.available) == (30_000, 20_000)
    assert (buyer.posted, buyer.available) == (0, 0)
    assert all(b.debits_after is None and b.credits_after is None for b in booked)


def test_selling_more_than_is_held_is_refused_as_insufficient() -> None:
    balances = funded(30_000)

    error = refusal(
        lambda: book(move("PLANT-A", "PLANT-B", 30_001), ACCOUNTS, balances, pending=False)
    )

    assert error.code == "insufficient_balance"
    assert error.context == {"account": "PLANT-A", "instrument": SO2}


def test_selling_exactly_what_is_held_empties_the_account() -> None:
    balances = funded(30_000)

    book(move("PLANT-A", "PLANT-B", 30_000), ACCOUNTS, balances, pending=False)

    assert balances[(PLANT_A.id, SO2)].posted == 0


def test_selling_what_is_already_on_hold_is_refused_as_insufficient() -> None:
    balances = funded(30_000)
    book(move("PLANT-A", "PLANT-B", 20_000), ACCOUNTS, balances, pending=True)

    error = refusal(
        lambda: book(move("PLANT-A", "PLANT-B", 10_001), ACCOUNTS, balances, pending=False)
    )

    assert error.code == "insufficient_balance"


def test_a_frozen_seller_is_refused_even_when_covered() -> None:
    balances = funded(30_000)
    accounts = {**ACCOUNTS, "PLANT-A": replace(PLANT_A, frozen=True)}

    error = refusal(lambda: book(move("PLANT-A", "PLANT-B", 1), accounts, balances, pending=False))

    assert error.code == "account_frozen"


def test_a_frozen_account_can_still_receive() -> None:
    balances = funded(30_000)
    accounts = {**ACCOUNTS, "PLANT-B": replace(PLANT_B, frozen=True)}

    book(move("PLANT-A", "PLANT-B", 5_000), accounts, balances, pending=False)

    assert balances[(PLANT_B.id, SO2)].posted == 5_000


def test_voiding_a_hold_makes_the_reserved_amount_available_again() -> None:
    balances = funded(30_000)
    hold = move("PLANT-A", "PLANT-B", 20_000)
    book(hold, ACCOUNTS, balances, pending=True)

    release_pending(
        [PostingRecord(p.account_code, p.instrument_code, p.side, p.units) for p in hold],
        ACCOUNTS,
        balances,
    )

    assert balances[(PLANT_A.id, SO2)].available == 30_000


# -- properties -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    accounts: dict[str, Account]
    entries: list[tuple[bool, tuple[PostingDraft, ...]]]  # (pending, postings)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A few accounts of either normal side, some non-negative, and random balanced entries."""
    shapes = draw(st.lists(st.tuples(st.sampled_from(Side), st.booleans()), min_size=2, max_size=5))
    accounts = {
        f"A{i}": account(i + 1, f"A{i}", side, non_negative=non_negative)
        for i, (side, non_negative) in enumerate(shapes)
    }
    codes = sorted(accounts)
    legs = st.tuples(
        st.sampled_from(codes),
        st.sampled_from(codes),
        st.sampled_from(INSTRUMENTS),
        st.integers(min_value=1, max_value=10_000),
    )
    entries = []
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        pending = draw(st.booleans())
        chosen = draw(st.lists(legs, min_size=1, max_size=4))
        postings = [
            posting
            for debit, credit, instrument, units in chosen
            for posting in (
                PostingDraft(debit, instrument, DEBIT, units),
                PostingDraft(credit, instrument, CREDIT, units),
            )
        ]
        entries.append((pending, tuple(draw(st.permutations(postings)))))
    return Scenario(accounts, entries)


def expected_short(
    accounts: Mapping[str, Account],
    balances: Mapping[BalanceKey, Balance],
    postings: tuple[PostingDraft, ...],
    *,
    pending: bool,
) -> bool:
    """Computed independently of `book`: would a non-negative balance end up below zero?"""
    after: dict[BalanceKey, list[int]] = {
        key: [b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending]
        for key, b in balances.items()
    }
    for p in postings:
        slot = (0 if p.side is DEBIT else 1) + (2 if pending else 0)
        after[(accounts[p.account_code].id, p.instrument_code)][slot] += p.units
    for (account_id, _), (dp, cp, dpend, cpend) in after.items():
        acct = next(a for a in accounts.values() if a.id == account_id)
        available = dp - cp - cpend if acct.normal_side is DEBIT else cp - dp - dpend
        if acct.non_negative and available < 0:
            return True
    return False


def run(scenario: Scenario) -> dict[BalanceKey, Balance]:
    """Book every entry in turn, as the journal does: a refused entry changes no balance."""
    balances = fresh_balances(scenario.accounts)
    for pending, postings in scenario.entries:
        attempt = copy.deepcopy(balances)
        try:
            book(postings, scenario.accounts, attempt, pending=pending)
        except InsufficientBalance:
            continue
        balances = attempt
    return balances


@given(scenarios())
def test_booking_random_balanced_entries_keeps_debits_equal_to_credits_per_instrument(
    scenario: Scenario,
) -> None:
    balances = run(scenario)

    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for (_, instrument), b in balances.items():
        for i, value in enumerate(
            (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending)
        ):
            totals[instrument][i] += value
    for debits_posted, credits_posted, debits_pending, credits_pending in totals.values():
        assert debits_posted == credits_posted
        assert debits_pending == credits_pending


@given(scenarios())
def test_booking_never_leaves_a_non_negative_balance_below_zero(scenario: Scenario) -> None:
    balances = run(scenario)

    assert all(b.available >= 0 for b in balances.values() if b.non_negative)


@given(scenarios())
def test_booking_refuses_an_entry_exactly_when_a_non_negative_balance_would_go_below_zero(
    scenario: Scenario,
) -> None:
    balances = fresh_balances(scenario.accounts)
    for pending, postings in scenario.entries:
        short = expected_short(scenario.accounts, balances, postings, pending=pending)
        attempt = copy.deepcopy(balances)
        try:
            book(postings, scenario.accounts, attempt, pending=pending)
        except InsufficientBalance:
            assert short, "refused although every non-negative balance stays covered"
            continue
        assert not short, "accepted although a non-negative balance went below zero"
        balances = attempt
