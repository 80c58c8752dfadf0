"""Coefficient and estimate lines earn no Article 13 reduction (rules.md §1.3, §3), through the
services on both databases: they measure nothing, so a stated mean concentration is refused,
they are stored as no valid monitoring month, and the tax on a verified report of them reduces
nothing; an agency's measured line keeps its reduction."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from ledger.domain.reports import LineNotMeasured, Method, Period, ReportLine
from ledger.domain.tax import Disqualification
from ledger.domain.tax_filing import Quarter
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import reports, tax
from tests.integration.monitoring_support import build_outlets, clerk, regulator, verifier

Q1 = Quarter(2025, 1)
MONTHS = (date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1))
# The worked example of rules §1.3 (1,200,000 Nm³/h × 720 h): kg and monthly means; E1's
# SINTER-1 has its standards (SO2 35, NOx 50, PM 10).
WORKED = (
    (Pollutant.NOX, "NOx", "34560", "40"),
    (Pollutant.SO2, "SO2", "17280", "20"),
    (Pollutant.SOOT, "PM", "5184", "6"),
)


@pytest.fixture
def outlets(store: Store) -> Store:
    build_outlets(store)  # E1 (Tangshan, tier 3) SINTER-1
    return store


def worked(method: Method, *, with_means: bool = True) -> tuple[ReportLine, ...]:
    return tuple(
        ReportLine(
            month,
            "SINTER-1",
            pollutant,
            measured,
            method,
            Decimal(kg),
            Fraction(mean) if with_means else None,
        )
        for month in MONTHS
        for pollutant, measured, kg, mean in WORKED
    )


def verified(store: Store, lines: tuple[ReportLine, ...]) -> str:
    content = reports.Content(lines=lines)
    report_id = reports.draft_report(store, clerk(store), "E1", Period.parse("2025Q1"), content)
    made = report_id.record.report.id
    reports.submit_report(store, clerk(store), made)
    reports.verify_report(store, verifier(store), made)
    return made


@pytest.mark.parametrize("method", [Method.ESTIMATE, Method.COEFFICIENT])
def test_a_typed_line_stating_a_mean_concentration_is_refused(
    outlets: Store, method: Method
) -> None:
    # The audit's attempt: the worked example entered as estimate lines, with its means.
    for who in (clerk(outlets), regulator(outlets)):
        with pytest.raises(LineNotMeasured) as caught:
            reports.draft_report(
                outlets, who, "E1", Period.parse("2025Q1"), reports.Content(lines=worked(method))
            )
        assert caught.value.field == "lines[0].mean_concentration"


def test_typed_lines_are_taxed_in_full_and_are_no_valid_month(outlets: Store) -> None:
    report_id = verified(outlets, worked(Method.ESTIMATE, with_means=False))

    lines = reports.get_report(outlets, regulator(outlets), report_id).lines
    assert {line.month_valid for line in lines} == {False}  # no monitored month (rules §3)
    computed = tax.compute_quarter(outlets, regulator(outlets), "E1", Q1).computed
    assert computed.months[0].total_before == Decimal("273342.73")
    assert computed.months[0].total_reduction == Decimal(0)
    for line in computed.months[0].lines:
        assert Disqualification.NOT_MEASURED in line.disqualifications


def test_an_agencys_measured_lines_keep_the_reduction(outlets: Store) -> None:
    report_id = verified(outlets, worked(Method.AGENCY))
    assert report_id == "E1-2025Q1-v1"
    computed = tax.compute_quarter(outlets, regulator(outlets), "E1", Q1).computed
    assert computed.months[0].total_reduction == Decimal("24680.94")
