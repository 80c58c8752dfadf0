"""Rules §7.1–7.2 through the services, on both databases: a faulty monitor no longer lowers
the mass, a flag no longer hides an exceedance, and both reach the report lines and the tax."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from ledger.domain.access import Forbidden
from ledger.domain.reports import Period
from ledger.domain.tax_filing import Quarter
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import monitoring, reports, tax
from tests.integration.monitoring_support import (
    MARCH,
    build_outlets,
    clerk,
    full_month,
    import_lines,
    line,
    regulator,
    stamp,
    verifier,
)

Q1 = Period.parse("2025Q1")


@pytest.fixture
def outlets(store: Store) -> Store:
    build_outlets(store)
    return store


def with_hours(changes: dict[int, str]) -> list[str]:
    """A full March of SO2 at 20 mg/Nm³ (20 kg an hour), with some hours replaced."""
    lines = full_month(c="20")
    for index, replacement in changes.items():
        lines[index] = replacement
    return lines


def hour_of(index: int) -> str:
    return stamp(1 + index // 24, index % 24)


def verified_lines(store: Store) -> reports.ReportView:
    view = reports.draft_report(store, clerk(store), "E1", Q1, reports.Content()).record
    reports.submit_report(store, clerk(store), view.report.id)
    reports.verify_report(store, verifier(store), view.report.id, "checked")
    return reports.get_report(store, regulator(store), view.report.id)


def test_sixty_fault_hours_are_substituted_and_shown_on_the_report_line(outlets: Store) -> None:
    faults = {
        index: line(hour_of(index), c="0", minutes="0", flag="D") for index in range(100, 160)
    }
    import_lines(outlets, with_hours(faults))
    (month,) = monitoring.list_months(
        outlets, regulator(outlets), monitoring.MonthFilter(MARCH, MARCH), None, 10
    ).items
    # Before: 684 valid hours × 20 kg = 13,680 kg (1,200 kg off). Now 744 × 20 = 14,880 kg.
    assert month.aggregate.mass_kg == Decimal(14_880)
    (report_line,) = verified_lines(outlets).lines
    assert report_line.mass_kg == Decimal(14_880)
    assert report_line.substituted and report_line.substituted_hours == 60
    assert report_line.substitution == (("max_720_valid_hours", 60),)
    assert report_line.valid_hours == 684  # validity stays on measured hours


def test_a_clean_month_keeps_its_reduction(outlets: Store) -> None:
    quarter = Quarter(2025, 1)
    import_lines(outlets, full_month(c="20"))
    verified_lines(outlets)
    computed = tax.compute_quarter(outlets, regulator(outlets), "E1", quarter).computed
    assert computed.months[2].line("SINTER-1", Pollutant.SO2).factor == Decimal("0.75")


def test_the_issue_attempt_a_500_hour_with_44_minutes_and_an_over_range_hour(
    outlets: Store,
) -> None:
    changes = {
        50: line(hour_of(50), c="500", minutes="44"),
        60: line(hour_of(60), c="1500", flag="T"),
    }
    import_lines(outlets, with_hours(changes))
    view = verified_lines(outlets)
    (report_line,) = view.lines
    assert report_line.exceedances == 2
    assert [moment.isoformat() for moment in report_line.exceedance_hours] == [
        "2025-03-02T18:00:00+00:00",
        "2025-03-03T04:00:00+00:00",
    ]
    computed = tax.compute_quarter(outlets, regulator(outlets), "E1", Quarter(2025, 1)).computed
    so2 = computed.months[2].line("SINTER-1", Pollutant.SO2)
    assert so2.factor == Decimal("1.00")
    assert [reason.value for reason in so2.disqualifications] == ["hourly_exceedance"]


def test_new_hours_after_a_gap_recompute_the_month_before(outlets: Store) -> None:
    # March ends with a gap still open: substituted by the maximum of the valid hours before.
    march = full_month(c="20")
    march[-3:] = [line(stamp(31, h), c="0", flag="B") for h in (21, 22, 23)]
    march[100] = line(hour_of(100), c="80")
    import_lines(outlets, march)
    first = monitoring.list_months(
        outlets, regulator(outlets), monitoring.MonthFilter(MARCH, MARCH), None, 10
    ).items[0]
    assert first.aggregate.substitution == (("max_720_valid_hours", 3),)
    # April's first hour closes the 3-hour gap: March is recomputed with the neighbours' mean.
    import_lines(outlets, [line(stamp(1, 0, MARCH.replace(month=4)), c="40")])
    again = monitoring.list_months(
        outlets, regulator(outlets), monitoring.MonthFilter(MARCH, MARCH), None, 10
    ).items[0]
    assert again.aggregate.substitution == (("neighbour_mean", 3),)
    assert again.aggregate.mass_kg == Decimal(740 * 20 + 80 + 3 * 30)


def test_months_stored_before_the_rules_are_recomputed_by_a_regulator(outlets: Store) -> None:
    faults = {i: line(hour_of(i), c="0", minutes="0", flag="D") for i in range(100, 160)}
    import_lines(outlets, with_hours(faults))
    march = monitoring.MonthFilter(MARCH, MARCH)
    (stored,) = monitoring.list_months(outlets, regulator(outlets), march, None, 10).items
    stale = replace(stored.aggregate, mass_kg=Decimal(13_680), substituted_hours=0, substitution=())
    with outlets() as uow:  # what a month aggregated before migration 0015 looks like
        (outlet,) = [o for o in uow.monitoring.outlets("E1") if o.outlet == "SINTER-1"]
        uow.monitoring.put_month(outlet.seq, stale, uow.now())
        uow.commit()
    with pytest.raises(Forbidden):
        monitoring.recompute_months(outlets, clerk(outlets), MARCH, MARCH)
    assert monitoring.recompute_months(outlets, regulator(outlets), MARCH, MARCH) == 1
    (again,) = monitoring.list_months(outlets, regulator(outlets), march, None, 10).items
    assert (again.aggregate.mass_kg, again.aggregate.substituted_hours) == (Decimal(14_880), 60)
