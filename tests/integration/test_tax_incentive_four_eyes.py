"""Rules §1.4 incentives book the province's tax expenditure on a regulator's figures, so the
ledger trusts no one regulator with them (rules §7 preamble): an equipment credit, a retrofit
project and its years and an equipment-credit year wait for a second regulator (four-eyes
`tax_incentive`), and whatever one regulator could state to get more is refused before anyone
is asked: an acquisition after today, a tax year after the current one, a party that is no
enterprise, the same equipment or project under a new id."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from ledger.domain.access import FOUR_EYES_DEFAULT, Actor, Pending, RequestState, Role
from ledger.domain.errors import AccountNotFound, LedgerError
from ledger.domain.income_tax import RetrofitProject
from ledger.domain.pages import Created
from ledger.persistence.store import Store
from ledger.services import approvals, incentives, income_tax, queries
from tests.factories import actor
from tests.integration.tax_support import build_tax_registry, regulator

NOW = datetime(2026, 12, 6, 4, tzinfo=UTC)  # 2026-12-06 12:00 in Beijing
SCRUBBER = incentives.EquipmentInvestment(
    "EQ-1", "E01", 1_000_000_00, date(2026, 6, 1), "SCR denitrifier, serial 7731"
)


@pytest.fixture
def taxed(store: Store) -> Store:
    build_tax_registry(store)
    store.clock = lambda: NOW
    return store


def second(store: Store) -> Actor:
    return actor(store, Role.REGULATOR, principal="regulator-b")


def posted(store: Store, account: str) -> int:
    """The account's posted balance (0 while nothing opened it)."""
    try:
        return queries.get_balance(store, regulator(store), account, "CNY").balance.posted
    except AccountNotFound:
        return 0


def refused(code: str, call: Callable[[], object]) -> LedgerError:
    with pytest.raises(LedgerError) as caught:
        call()
    assert caught.value.code == code, caught.value
    return caught.value


def test_an_equipment_credit_waits_for_a_second_regulator(taxed: Store) -> None:
    taxed.four_eyes = FOUR_EYES_DEFAULT

    asked = incentives.grant_equipment_credit(taxed, regulator(taxed), SCRUBBER)
    again = incentives.grant_equipment_credit(taxed, regulator(taxed), SCRUBBER)

    assert isinstance(asked, Pending) and asked.request.operation == "tax_incentive"
    assert isinstance(again, Pending) and again.request.id == asked.request.id
    assert posted(taxed, "HEBEI:tax_expenditure") == 0  # nothing forgone on one person's word
    with pytest.raises(LedgerError):  # the initiator may not approve their own request
        approvals.approve(taxed, regulator(taxed), asked.request.id)
    decided = approvals.approve(taxed, second(taxed), asked.request.id)
    assert decided.state is RequestState.APPLIED
    assert posted(taxed, "E01:equipment_credit") == 100_000_00
    assert posted(taxed, "HEBEI:tax_expenditure") == 100_000_00
    replayed = incentives.grant_equipment_credit(taxed, regulator(taxed), SCRUBBER)
    assert isinstance(replayed, Created) and replayed.replayed


def test_retrofit_projects_their_years_and_credit_years_wait_too(taxed: Store) -> None:
    taxed.four_eyes = FOUR_EYES_DEFAULT
    project = RetrofitProject("RP-A", "E01", 2024, "sinter desulphurisation, permit PN-1")

    asks = [
        income_tax.register_project(taxed, regulator(taxed), project),
        income_tax.book_credit_year(taxed, regulator(taxed), "E01", 2025, 5_00),
    ]
    assert all(isinstance(a, Pending) for a in asks)
    for asked in asks:
        assert isinstance(asked, Pending)
        approvals.approve(taxed, second(taxed), asked.request.id)
    year = income_tax.book_project_year(taxed, regulator(taxed), "RP-A", 2025, 1_000_000_00)
    assert isinstance(year, Pending)
    assert posted(taxed, "HEBEI:tax_expenditure") == 0
    approvals.approve(taxed, second(taxed), year.request.id)

    assert posted(taxed, "E01:income_exemption") == 250_000_00
    assert [y.year for y in income_tax.credit_years(taxed, regulator(taxed), "E01")] == [2025]


def test_a_credit_for_equipment_acquired_after_today_is_refused(taxed: Store) -> None:
    """The audit's case: acquired on 2099-06-01, credited 100,000.00, and never clawed back
    (any real transfer comes before the acquisition)."""
    later = incentives.EquipmentInvestment("EQ-F", "E01", 1_000_000_00, date(2026, 12, 7), "x")

    error = refused(
        "acquired_in_future",
        lambda: incentives.grant_equipment_credit(taxed, regulator(taxed), later),
    )
    assert error.field == "acquired_on"
    today = incentives.EquipmentInvestment("EQ-T", "E01", 1_000_000_00, date(2026, 12, 6), "x")
    assert isinstance(incentives.grant_equipment_credit(taxed, regulator(taxed), today), Created)


def test_incentives_are_for_enterprises_only(taxed: Store) -> None:
    province = incentives.EquipmentInvestment("EQ-H", "HEBEI", 1_000_000_00, date(2026, 1, 1))

    for call in (
        lambda: incentives.grant_equipment_credit(taxed, regulator(taxed), province),
        lambda: income_tax.register_project(
            taxed, regulator(taxed), RetrofitProject("RP-H", "HEBEI", 2024)
        ),
        lambda: income_tax.book_credit_year(taxed, regulator(taxed), "HEBEI", 2025, 1_00),
    ):
        assert refused("incentive_not_for_enterprise", call).field == "party"
    assert posted(taxed, "HEBEI:tax_expenditure") == 0


def test_the_same_equipment_under_a_new_id_is_refused(taxed: Store) -> None:
    incentives.grant_equipment_credit(taxed, regulator(taxed), SCRUBBER)
    renamed = incentives.EquipmentInvestment(
        "EQ-2", "E01", 1_000_000_00, date(2026, 6, 2), "  scr DENITRIFIER,  serial 7731 "
    )

    error = refused(
        "incentive_already_registered",
        lambda: incentives.grant_equipment_credit(taxed, regulator(taxed), renamed),
    )
    assert error.field == "description"
    other = incentives.EquipmentInvestment("EQ-3", "E02", 1_000_000_00, date(2026, 6, 2), "SCR")
    assert isinstance(incentives.grant_equipment_credit(taxed, regulator(taxed), other), Created)
    assert posted(taxed, "E01:equipment_credit") == 100_000_00


def test_a_project_registered_again_under_a_new_id_does_not_restart_its_exemption(
    taxed: Store,
) -> None:
    """The audit's case: RP-B re-registered RP-A with a later first revenue year, and its
    income was exempt again in full."""
    income_tax.register_project(
        taxed, regulator(taxed), RetrofitProject("RP-A", "E01", 2020, "Kiln 3 SCR")
    )

    error = refused(
        "incentive_already_registered",
        lambda: income_tax.register_project(
            taxed, regulator(taxed), RetrofitProject("RP-B", "E01", 2025, "kiln 3 scr")
        ),
    )
    assert error.field == "description"


def test_no_tax_year_after_the_current_one(taxed: Store) -> None:
    """The audit's cases: a project's 2031 income exempted now, and a credit year for 2100
    that locked out every earlier year."""
    income_tax.register_project(taxed, regulator(taxed), RetrofitProject("RP-A", "E01", 2026, "A"))

    for field, call in (
        (
            "first_revenue_year",
            lambda: income_tax.register_project(
                taxed, regulator(taxed), RetrofitProject("RP-B", "E01", 2027, "B")
            ),
        ),
        (
            "year",
            lambda: income_tax.book_project_year(taxed, regulator(taxed), "RP-A", 2027, 1_00),
        ),
        ("year", lambda: income_tax.book_credit_year(taxed, regulator(taxed), "E01", 2100, 5_00)),
    ):
        assert refused("tax_year_in_future", call).field == field
    booked = income_tax.book_credit_year(taxed, regulator(taxed), "E01", 2026, 5_00)
    assert isinstance(booked, Created)  # the current year itself may be booked
    assert posted(taxed, "HEBEI:tax_expenditure") == 0


def test_booking_again_on_a_clawed_back_credits_basis_waits_for_a_second_regulator(
    taxed: Store,
) -> None:
    incentives.grant_equipment_credit(taxed, regulator(taxed), SCRUBBER)
    incentives.claw_back(taxed, regulator(taxed), "EQ-1", date(2026, 9, 1))
    taxed.four_eyes = FOUR_EYES_DEFAULT

    asked = incentives.book_incentive(taxed, regulator(taxed), "equipment-EQ-1", "again", 500)

    assert isinstance(asked, Pending) and asked.request.operation == "tax_incentive"
    assert posted(taxed, "E01:equipment_credit") == 0
    approvals.approve(taxed, second(taxed), asked.request.id)
    assert posted(taxed, "E01:equipment_credit") == 500
