"""Income-tax support of rules §1.4, booked, through the services: each tax year's use of the
equipment credit and its lapse after 5 years are entries (and agree with the computed
schedule), years are booked in order, and a retrofit project's income is exempt 3 years, then
halved 3 years, each year booked as an entry."""

from __future__ import annotations

from datetime import date

import pytest

from ledger.domain.errors import RecordExists, RecordNotFound
from ledger.domain.income_tax import (
    CreditYearOutOfOrder,
    CreditYearRecord,
    ProjectYearNotExempt,
    RetrofitProject,
)
from ledger.domain.pages import Created
from ledger.persistence.store import Store
from ledger.services import incentives, income_tax, queries
from tests.integration.tax_support import build_tax_registry, filer, regulator


@pytest.fixture
def credited(store: Store) -> Store:
    """E01's equipment credits: 100,000 CNY earned in 2020, 50,000 CNY earned in 2024."""
    build_tax_registry(store)
    for equipment, investment, acquired in (
        ("EQ-2020", 1_000_000_00, date(2020, 3, 1)),
        ("EQ-2024", 500_000_00, date(2024, 6, 1)),
    ):
        incentives.grant_equipment_credit(
            store,
            regulator(store),
            incentives.EquipmentInvestment(
                equipment, "E01", investment, acquired, f"desulphuriser {equipment}"
            ),
        )
    return store


def posted(store: Store, account: str) -> int:
    return queries.get_balance(store, regulator(store), account, "CNY").balance.posted


def book(store: Store, year: int, payable_fen: int) -> CreditYearRecord:
    booked = income_tax.book_credit_year(store, regulator(store), "E01", year, payable_fen)
    assert isinstance(booked, Created)  # four-eyes is off in these tests
    return booked.record


def test_each_years_use_and_lapse_are_booked_as_the_schedule_computes(credited: Store) -> None:
    payable = {2020: 30_000_00, 2025: 20_000_00, 2026: 10_000_00}

    booked = [book(credited, year, fen) for year, fen in payable.items()]
    computed = incentives.credit_schedule(credited, regulator(credited), "E01", payable)

    assert [(y.used_fen, y.lapsed_fen) for y in booked] == [
        (c.used_fen, c.lapsed_fen) for c in computed
    ]
    assert [(y.used_fen, y.lapsed_fen) for y in booked] == [
        (30_000_00, 0),
        (20_000_00, 0),
        (10_000_00, 50_000_00),  # what is left of the 2020 credit lapses after 2025
    ]
    assert posted(credited, "E01:equipment_credit") == 40_000_00
    assert posted(credited, "E01:equipment_credit_used") == 60_000_00
    assert posted(credited, "HEBEI:tax_expenditure") == 100_000_00  # the lapse is not forgone
    use = queries.get_entry(credited, regulator(credited), "equipment-credit-use-E01-2026").record
    assert use.entry_type == "tax_credit_use"
    assert queries.check_invariants(credited, regulator(credited)) == []


def test_years_are_booked_in_order_and_a_retry_answers_the_same(credited: Store) -> None:
    first = income_tax.book_credit_year(credited, regulator(credited), "E01", 2025, 1_00)
    again = income_tax.book_credit_year(credited, regulator(credited), "E01", 2025, 1_00)

    assert isinstance(first, Created) and isinstance(again, Created)
    assert (first.replayed, again.replayed, again.record) == (False, True, first.record)
    with pytest.raises(RecordExists):
        book(credited, 2025, 2_00)
    with pytest.raises(CreditYearOutOfOrder):
        book(credited, 2024, 1_00)
    assert [y.year for y in income_tax.credit_years(credited, filer(credited), "E01")] == [2025]


def test_a_retrofit_projects_income_is_exempt_three_years_then_halved(credited: Store) -> None:
    project = RetrofitProject("RP1", "E01", 2019, "desulphurisation retrofit")
    income_tax.register_project(credited, regulator(credited), project)

    full = income_tax.book_project_year(credited, regulator(credited), "RP1", 2019, 1_000_000_00)
    half = income_tax.book_project_year(credited, regulator(credited), "RP1", 2022, 1_000_000_01)
    for year in (2018, 2025):
        with pytest.raises(ProjectYearNotExempt):
            income_tax.book_project_year(credited, regulator(credited), "RP1", year, 1_00)

    assert isinstance(full, Created) and isinstance(half, Created)
    assert (full.record.exempt_fen, half.record.exempt_fen) == (250_000_00, 125_000_00)
    assert [str(share) for _, share in project.schedule()] == ["1", "1", "1", "1/2", "1/2", "1/2"]
    assert posted(credited, "E01:income_exemption") == 375_000_00
    view = income_tax.get_project(credited, filer(credited), "RP1")
    assert [y.year for y in view.years] == [2019, 2022]
    with pytest.raises(RecordNotFound):
        income_tax.get_project(credited, filer(credited, "E02"), "RP1")
