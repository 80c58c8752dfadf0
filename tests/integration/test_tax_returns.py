"""Environmental tax through the services and the database: returns from verified reports,
the Article 13 incentive booked with each return, and the cases of rules.md §1."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from ledger.domain.reports import ReportLine
from ledger.domain.tax import Disqualification
from ledger.domain.tax_filing import FiledReturn, Quarter, TaxDataMissing, TaxReturnExists
from ledger.persistence.store import Store
from ledger.services import incentives, queries, tax
from tests.integration.tax_support import (
    P,
    build_tax_registry,
    filer,
    line,
    regulator,
    verified_report,
    worked_example,
)

D = Decimal
Q2 = Quarter(2026, 2)
APRIL, MAY, JUNE = Q2.months()


@pytest.fixture
def registry(store: Store) -> Store:
    build_tax_registry(store)
    return store


def file_q2(store: Store, party: str = "E01") -> FiledReturn:
    """The enterprise's filer files its second quarter of 2026 (a first filing)."""
    made = tax.file_return(store, filer(store, party), party, Q2)
    assert not made.replayed
    return made.record


def quarter_of_worked_examples(store: Store, party: str = "E01") -> str:
    return verified_report(
        store, party, "2026Q2", [x for m in (APRIL, MAY, JUNE) for x in worked_example(m)]
    )


def test_the_worked_example_is_filed_to_the_fen_and_its_reduction_booked(registry: Store) -> None:
    report = quarter_of_worked_examples(registry)

    filed = file_q2(registry)

    april = filed.computed.months[0]
    assert (april.total_before, april.total_due, april.total_reduction) == (
        D("273342.73"),
        D("248661.79"),
        D("24680.94"),
    )
    assert filed.computed.total_due == 3 * D("248661.79")
    assert filed.report_ids == (report,)
    (incentive,) = incentives.list_incentives(
        registry, regulator(registry), "E01", None, None, 10
    ).items
    assert incentive.amount_fen == 3 * 2_468_094
    assert incentive.basis_fen == incentive.amount_fen
    assert incentive.report_ids == (report,)
    stored = tax.get_return(registry, regulator(registry), filed.id)
    assert stored == filed
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_a_quarter_without_a_verified_report_for_a_month_is_refused(registry: Store) -> None:
    verified_report(registry, "E01", "2026-04", worked_example(APRIL))
    verified_report(registry, "E01", "2026-05", worked_example(MAY))

    with pytest.raises(TaxDataMissing) as refused:
        tax.compute_quarter(registry, regulator(registry), "E01", Q2)
    assert "2026-06" in refused.value.detail


def test_a_quarter_is_built_from_three_monthly_reports(registry: Store) -> None:
    ids = [
        verified_report(registry, "E01", "2026-04", worked_example(APRIL)),
        verified_report(registry, "E01", "2026-05", [line(MAY, P.SO2, "10", "35")]),
        verified_report(registry, "E01", "2026-06", []),
    ]

    computed = tax.compute_quarter(registry, regulator(registry), "E01", Q2)

    assert computed.report_ids == tuple(sorted(ids))
    april, may, june = computed.computed.months
    assert april.total_due == D("248661.79")
    # SO2 10/35 = 0.286 < 0.5: half; 8,640 kg / 0.95 × 4.8 × 0.5
    assert may.line("SINTER-1", P.SO2).factor == D("0.50")
    assert may.total_due == D("21827.37")
    assert june.lines == ()
    assert computed.computed.total_due == april.total_due + may.total_due


def test_two_outlets_of_one_enterprise_each_get_their_lines(registry: Store) -> None:
    lines = [x for outlet in ("SINTER-1", "SINTER-2") for x in worked_example(APRIL, outlet)]
    verified_report(registry, "E01", "2026-04", lines)
    verified_report(registry, "E01", "2026-05", [])
    verified_report(registry, "E01", "2026-06", [])

    april = tax.compute_quarter(registry, regulator(registry), "E01", Q2).computed.months[0]

    assert len(april.lines) == 6
    assert april.total_due == 2 * D("248661.79")
    assert april.line("SINTER-2", P.SO2).tax_due == D("65482.11")


def test_an_hourly_exceedance_at_one_outlet_removes_every_reduction_of_the_month(
    registry: Store,
) -> None:
    lines = worked_example(APRIL, "SINTER-1") + worked_example(APRIL, "SINTER-2", exceedances=1)
    verified_report(registry, "E01", "2026Q2", lines)

    filed = file_q2(registry)

    april = filed.computed.months[0]
    assert april.total_reduction == 0
    assert april.total_due == april.total_before
    so2 = april.line("SINTER-1", P.SO2)
    assert so2.disqualifications == (Disqualification.TAXPAYER_EXCEEDANCE,)
    assert (
        incentives.list_incentives(registry, regulator(registry), "E01", None, None, 10).items == []
    )


def test_a_quarter_is_filed_once(registry: Store) -> None:
    quarter_of_worked_examples(registry)
    first = file_q2(registry)

    again = tax.file_return(registry, filer(registry), "E01", Q2)

    assert (again.record, again.replayed) == (first, True)
    assert (
        len(incentives.list_incentives(registry, regulator(registry), "E01", None, None, 9).items)
        == 1
    )
    tax.set_policy(registry, regulator(registry), {"inclusive_thresholds": True})
    with pytest.raises(TaxReturnExists):  # filing now would make another return
        tax.file_return(registry, filer(registry), "E01", Q2)


def three_months(registry: Store, april: list[ReportLine], party: str = "E01") -> None:
    verified_report(registry, party, "2026-04", april)
    verified_report(registry, party, "2026-05", [])
    verified_report(registry, party, "2026-06", [])


def test_a_higher_rate_pollutant_ranking_fourth_is_not_taxed(registry: Store) -> None:
    # E07 is tier 1: SO2 and NOx at 9.6 CNY per equivalent, other air at 4.8. NOx ranks 4th on
    # equivalents, so it is untaxed although its rate is twice that of the three taxed ones.
    three_months(
        registry,
        [
            line(APRIL, P.SOOT, "6", "10", mass=D(21_800)),  # 10,000 eq
            line(APRIL, P.CO, "6", "10", mass=D(150_300)),  # 9,000 eq
            line(APRIL, P.HCL, "6", "10", mass=D(86_000)),  # 8,000 eq
            line(APRIL, P.NOX, "6", "10", mass=D(950)),  # 1,000 eq at 9.6
        ],
        party="E07",
    )

    filed = tax.file_return(registry, regulator(registry), "E07", Q2).record

    nox = (
        tax.get_return(registry, regulator(registry), filed.id)
        .computed.months[0]
        .line("SINTER-1", P.NOX)
    )
    assert (nox.rank, nox.taxed, nox.rate, nox.tax_due) == (4, False, D("9.6"), D("0.00"))
    taxed = [x.pollutant for x in filed.computed.months[0].lines if x.taxed]
    assert taxed == [P.SOOT, P.CO, P.HCL]


@pytest.mark.parametrize(
    ("mean", "factor"),
    [
        ("17.49", "0.50"),  # 0.4997 of 35
        ("17.5", "0.75"),  # exactly 0.5: strict, so 75%
        ("17.51", "0.75"),
        ("24.49", "0.75"),  # 0.6997
        ("24.5", "1.00"),  # exactly 0.7: no reduction
        ("24.51", "1.00"),
    ],
)
def test_ratios_just_below_and_above_half_and_seventy_percent(
    registry: Store, mean: str, factor: str
) -> None:
    three_months(registry, [line(APRIL, P.SO2, mean, "35")])

    filed = file_q2(registry)

    stored = tax.get_return(registry, regulator(registry), filed.id).computed.months[0]
    so2 = stored.line("SINTER-1", P.SO2)
    assert so2.factor == D(factor)
    assert so2.ratio == Fraction(D(mean)) / 35
    assert stored == filed.computed.months[0]


def test_an_inclusive_threshold_policy_reduces_at_exactly_seventy_percent(registry: Store) -> None:
    three_months(registry, [line(APRIL, P.SO2, "24.5", "35")])
    tax.set_policy(registry, regulator(registry), {"inclusive_thresholds": True})

    filed = file_q2(registry)

    assert filed.computed.months[0].line("SINTER-1", P.SO2).factor == D("0.75")
    assert filed.policy.inclusive_thresholds
    assert tax.get_policy(registry, filer(registry)).scope.value == "taxpayer"


def test_water_pollutants_take_the_top_five_class_1_and_top_three_others(registry: Store) -> None:
    outfall = "OUTFALL-1"
    class_1 = [P.TOTAL_HG, P.TOTAL_CD, P.TOTAL_CR, P.CR6, P.TOTAL_AS, P.TOTAL_PB]
    others = [P.COD, P.NH3_N, P.SS, P.TOTAL_P]
    lines = [
        line(APRIL, pollutant, "1", "10", outlet=outfall, mass=D("0.01") * (index + 1))
        for index, pollutant in enumerate(class_1)
    ] + [
        line(APRIL, pollutant, "1", "10", outlet=outfall, mass=D(100) * (index + 1))
        for index, pollutant in enumerate(others)
    ]
    three_months(registry, lines)

    filed = file_q2(registry)

    april = tax.get_return(registry, regulator(registry), filed.id).computed.months[0]
    assert sum(x.taxed for x in april.lines if x.pollutant in class_1) == 5
    assert sum(x.taxed for x in april.lines if x.pollutant in others) == 3
    ss = april.line(outfall, P.SS)  # 300 kg / 4 kg = 75 eq: the least of the others
    assert (ss.rank, ss.taxed, ss.tax_due) == (4, False, D("0.00"))
    nh3n = april.line(outfall, P.NH3_N)  # 200 / 0.8 = 250 eq × 5.6 (tier 3) × 0.5 (1/10)
    assert nh3n.tax_due == D("700.00")
