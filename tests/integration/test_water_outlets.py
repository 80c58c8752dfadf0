"""Water outlets through the services, on both databases (rules §7.7 and §1.1): online water
data imported, months made of days, and the top 5 class-1 + top 3 other pollutants taxed."""

from __future__ import annotations

from decimal import Decimal

import pytest

from ledger.domain.cems import CemsImportRefused
from ledger.domain.reports import Period
from ledger.domain.tax_filing import Quarter
from ledger.persistence.store import Store
from ledger.services import monitoring, reports, tax
from tests.integration.monitoring_support import (
    MARCH,
    build_outlets,
    clerk,
    import_lines,
    regulator,
    stamp,
    verifier,
)
from tests.integration.water_support import (
    UNTAXED,
    WATER,
    add_water_outlet,
    water_line,
    water_month,
)


@pytest.fixture
def water(store: Store) -> Store:
    build_outlets(store)
    add_water_outlet(store)
    return store


def test_online_water_data_make_a_month_of_days(water: Store) -> None:
    import_lines(water, water_month())
    months = monitoring.list_months(
        water, regulator(water), monitoring.MonthFilter(MARCH, MARCH, pollutant="COD"), None, 10
    ).items
    (cod,) = [stored.aggregate for stored in months]
    assert cod.mass_kg == Decimal(2976)  # 40 mg/L × 2,400 m³ × 1e-3 × 31 days
    assert (cod.valid_days, cod.month_valid, cod.exceedances) == (31, True, 0)


def test_a_water_row_with_an_o2_is_refused(water: Store) -> None:
    with pytest.raises(CemsImportRefused) as caught:
        import_lines(water, [water_line(stamp(1, 0), "COD", "40", o2="5")])
    assert [p.code for p in caught.value.problems] == ["o2_not_applicable_to_water"]


def test_top_five_class_one_and_top_three_other_water_pollutants_are_taxed(water: Store) -> None:
    import_lines(water, water_month())
    made = reports.draft_report(
        water, clerk(water), "E1", Period.parse("2025Q1"), reports.Content()
    ).record
    assert {line.pollutant.value for line in made.lines} == set(WATER)
    reports.submit_report(water, clerk(water), made.report.id)
    reports.verify_report(water, verifier(water), made.report.id, "checked")
    computed = tax.compute_quarter(water, regulator(water), "E1", Quarter(2025, 1)).computed
    lines = computed.months[2].lines
    assert {line.pollutant.value for line in lines if not line.taxed} == UNTAXED
    assert all(line.tax_before == 0 for line in lines if not line.taxed)
    cod = next(line for line in lines if line.pollutant.value == "COD")
    # 2,976 equivalents × 5.6 CNY (tier 3) = 16,665.60; 40/50 = 0.8: no reduction
    assert (cod.tax_before, cod.factor) == (Decimal("16665.60"), Decimal("1.00"))
    cadmium = next(line for line in lines if line.pollutant.value == "total_Cd")
    # 1,488 equivalents × 5.6 = 8,332.80; 0.1/0.5 = 0.2: factor 0.50
    assert (cadmium.tax_before, cadmium.tax_due) == (Decimal("8332.80"), Decimal("4166.40"))
