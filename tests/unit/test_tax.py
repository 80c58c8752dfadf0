"""Environmental Protection Tax: lines, top-3 selection, Article 13 reductions, quarters."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

from ledger.domain.monitoring import (
    CHINA_STANDARD_TIME,
    EmissionStandard,
    HourlyRecord,
    MonthlyAccumulator,
)
from ledger.domain.reports import Method, ReportLine
from ledger.domain.tax import (
    Disqualification,
    MonthlyTax,
    PenaltyEvent,
    PollutantMonth,
    Scope,
    TaxPolicy,
    monthly_tax,
    quarterly_return,
    reduction_factor,
    round_fen,
    to_money,
)
from ledger.domain.tax_tables import EffectiveDated, Pollutant, equivalent_value, rate
from tests.unit.refusals import refusal

D = Decimal
P = Pollutant
APRIL = date(2026, 4, 1)
SINTER_FLOW = D(1_200_000)
SINTER_HOURS = 720


def sinter_mass(concentration: str) -> Decimal:
    """kg in a month of 720 h at 1,200,000 Nm³/h: c (mg/Nm³) × Q × hours × 1e-6."""
    return D(concentration) * SINTER_FLOW * SINTER_HOURS * D("1E-6")


def fact(
    pollutant: Pollutant,
    mean: str,
    standard: str,
    *,
    outlet: str = "SINTER-1",
    mass: Decimal | None = None,
    exceedances: int = 0,
    month_valid: bool = True,
) -> PollutantMonth:
    return PollutantMonth(
        outlet,
        pollutant,
        sinter_mass(mean) if mass is None else mass,
        D(mean),
        D(standard),
        exceedances,
        month_valid,
    )


def worked_example(outlet: str = "SINTER-1", *, nox_exceedances: int = 0) -> list[PollutantMonth]:
    return [
        fact(P.NOX, "40", "50", outlet=outlet, exceedances=nox_exceedances),
        fact(P.SO2, "20", "35", outlet=outlet),
        fact(P.SOOT, "6", "10", outlet=outlet),
    ]


# -- rules §1.3 worked example -----------------------------------------------------------------


def test_the_worked_example_of_the_rules_is_reproduced_to_the_fen() -> None:
    result = monthly_tax("E01", APRIL, 3, worked_example())

    nox, so2, soot = (result.line("SINTER-1", p) for p in (P.NOX, P.SO2, P.SOOT))
    assert (nox.mass_kg, so2.mass_kg, soot.mass_kg) == (D(34_560), D(17_280), D(5_184))
    assert round_fen(nox.equivalents) == D("36378.95")
    assert round_fen(so2.equivalents) == D("18189.47")
    assert round_fen(soot.equivalents) == D("2377.98")
    assert (nox.factor, so2.factor, soot.factor) == (D("1.00"), D("0.75"), D("0.75"))
    assert (nox.tax_due, so2.tax_due, soot.tax_due) == (
        D("174618.95"),
        D("65482.11"),
        D("8560.73"),
    )
    assert result.total_before == D("273342.73")
    assert result.total_due == D("248661.79")
    assert result.total_reduction == D("24680.94")


def test_the_worked_example_from_720_hourly_cems_records_gives_the_same_tax() -> None:
    standards = {"NOx": ("40", "50", P.NOX), "SO2": ("20", "35", P.SO2), "PM": ("6", "10", P.SOOT)}
    facts = []
    for measured, (c, limit, taxed_as) in standards.items():
        accumulator = MonthlyAccumulator(
            "SINTER-1", measured, APRIL, EmissionStandard(D(limit), reference_o2=D(16))
        )
        start = datetime(2026, 4, 1, tzinfo=CHINA_STANDARD_TIME)
        for h in range(SINTER_HOURS):
            accumulator.add(
                HourlyRecord(
                    "SINTER-1",
                    measured,
                    start + timedelta(hours=h),
                    D(c),
                    SINTER_FLOW,
                    D(16),
                    60,
                    "N",
                )
            )
        facts.append(PollutantMonth.from_aggregate(accumulator.aggregate(), taxed_as))

    result = monthly_tax("E01", APRIL, 3, facts)

    assert (result.total_before, result.total_due) == (D("273342.73"), D("248661.79"))


def test_tax_due_is_rounded_from_the_exact_tax_not_from_the_rounded_tax_before() -> None:
    so2 = monthly_tax("E01", APRIL, 3, worked_example()).line("SINTER-1", P.SO2)

    assert so2.tax_before == D("87309.47")  # 87,309.47368…
    assert so2.tax_due == D("65482.11")  # 87,309.47368… × 0.75; 87,309.47 × 0.75 would give .10
    assert so2.reduction == D("21827.36")


def test_line_amounts_carry_exactly_two_places_and_convert_to_cny_money() -> None:
    nox = monthly_tax("E01", APRIL, 3, worked_example()).line("SINTER-1", P.NOX)

    assert nox.tax_due.as_tuple().exponent == -2
    assert to_money(nox.tax_due) == Money("174618.95", "CNY")


# -- which pollutants are taxed ---------------------------------------------------------------


def test_a_fourth_air_pollutant_by_equivalents_is_untaxed_even_at_a_higher_rate() -> None:
    tier_1 = [  # SO2 at 9.6 CNY would out-tax soot at 4.8, but ranks 4th on equivalents
        fact(P.SO2, "10", "35", mass=D("95")),  # 100 equivalents
        fact(P.SOOT, "5", "10", mass=D("220.18")),  # 101 equivalents
        fact(P.CO, "5", "10", mass=D("3340")),  # 200 equivalents
        fact(P.NH3, "5", "10", mass=D("2727")),  # 300 equivalents
    ]

    result = monthly_tax("E07", APRIL, 1, tier_1)

    ranks = {line.pollutant: (line.rank, line.taxed) for line in result.lines}
    assert ranks == {
        P.NH3: (1, True),
        P.CO: (2, True),
        P.SOOT: (3, True),
        P.SO2: (4, False),
    }
    so2 = result.line("SINTER-1", P.SO2)
    assert so2.rate == D("9.6")
    assert (so2.tax_before, so2.tax_due, so2.reduction) == (D("0.00"), D("0.00"), D("0.00"))
    assert result.total_before == sum((line.tax_before for line in result.lines), D(0))


def test_ranking_is_per_outlet_so_each_outlet_taxes_its_own_top_three() -> None:
    facts = [
        *worked_example("SINTER-1"),
        fact(P.CO, "1", "10", outlet="SINTER-1", mass=D("1")),
        *worked_example("SINTER-2"),
    ]

    result = monthly_tax("E01", APRIL, 3, facts)

    assert sum(line.taxed for line in result.lines) == 6
    assert not result.line("SINTER-1", P.CO).taxed


def test_water_taxes_the_top_five_class_1_pollutants_and_the_top_three_others() -> None:
    class_1 = [P.TOTAL_HG, P.TOTAL_CD, P.TOTAL_CR, P.CR6, P.TOTAL_AS, P.TOTAL_PB]
    others = [P.COD, P.NH3_N, P.SS, P.TOTAL_P]
    facts = [
        fact(p, "1", "10", outlet="WW-1", mass=equivalent_value(p, APRIL) * (10 - i))
        for i, p in enumerate(class_1 + others)
    ]

    result = monthly_tax("E02", APRIL, 3, facts)

    assert [line.pollutant for line in result.lines if line.taxed] == [*class_1[:5], *others[:3]]
    assert result.line("WW-1", P.COD).rate == D("5.6")
    assert result.line("WW-1", P.TOTAL_HG).rate == D("5.6")


# -- Article 13 factors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ratio", "factor"),
    [
        (Fraction(4999, 10000), "0.50"),
        (Fraction(1, 2), "0.75"),
        (Fraction(5001, 10000), "0.75"),
        (Fraction(6999, 10000), "0.75"),
        (Fraction(7, 10), "1.00"),
        (Fraction(7001, 10000), "1.00"),
        (Fraction(6, 5), "1.00"),
    ],
)
def test_thresholds_are_strict_so_exactly_half_gets_75_and_exactly_70_percent_gets_nothing(
    ratio: Fraction, factor: str
) -> None:
    assert reduction_factor(ratio) == D(factor)


def test_an_inclusive_policy_grants_the_reduction_at_exactly_the_threshold() -> None:
    inclusive = TaxPolicy(inclusive_thresholds=True)

    assert reduction_factor(Fraction(7, 10), inclusive) == D("0.75")
    assert reduction_factor(Fraction(1, 2), inclusive) == D("0.50")


@pytest.mark.parametrize(
    ("mean", "factor"),
    [("24.99", "0.50"), ("25", "0.75"), ("25.01", "0.75"), ("34.99", "0.75"), ("35", "1.00")],
)
def test_a_line_takes_its_factor_from_the_monthly_mean_against_the_standard(
    mean: str, factor: str
) -> None:
    line = monthly_tax("E01", APRIL, 3, [fact(P.NOX, mean, "50")]).line("SINTER-1", P.NOX)

    assert line.factor == D(factor)
    assert line.ratio == Fraction(D(mean)) / 50


# -- disqualification --------------------------------------------------------------------------


def test_one_hourly_exceedance_removes_every_reduction_of_the_taxpayer_for_the_month() -> None:
    result = monthly_tax("E01", APRIL, 3, worked_example(nox_exceedances=1))

    assert all(line.factor == D("1.00") for line in result.lines)
    assert result.total_due == result.total_before == D("273342.73")
    assert result.total_reduction == 0
    assert result.line("SINTER-1", P.NOX).disqualifications == (Disqualification.OWN_EXCEEDANCE,)
    assert result.line("SINTER-1", P.SO2).disqualifications == (Disqualification.OUTLET_EXCEEDANCE,)


def test_an_exceeding_outlet_costs_the_other_outlet_its_reduction_under_the_default_policy() -> (
    None
):
    facts = [*worked_example("SINTER-1", nox_exceedances=2), *worked_example("SINTER-2")]

    result = monthly_tax("E01", APRIL, 3, facts)

    so2 = result.line("SINTER-2", P.SO2)
    assert so2.factor == D("1.00")
    assert so2.disqualifications == (Disqualification.TAXPAYER_EXCEEDANCE,)
    assert result.total_reduction == 0


def test_under_the_per_outlet_policy_the_other_outlet_keeps_its_reduction() -> None:
    facts = [*worked_example("SINTER-1", nox_exceedances=2), *worked_example("SINTER-2")]

    result = monthly_tax("E01", APRIL, 3, facts, policy=TaxPolicy(scope=Scope.OUTLET))

    assert result.line("SINTER-2", P.SO2).factor == D("0.75")
    assert result.line("SINTER-2", P.SO2).disqualifications == ()
    assert result.line("SINTER-1", P.SO2).factor == D("1.00")
    assert result.total_reduction == D("24680.94")


def test_under_the_per_outlet_and_pollutant_policy_only_the_exceeding_pollutant_loses() -> None:
    policy = TaxPolicy(scope=Scope.OUTLET_POLLUTANT)

    result = monthly_tax("E01", APRIL, 3, worked_example(nox_exceedances=1), policy=policy)

    assert result.line("SINTER-1", P.SO2).factor == D("0.75")


def test_a_penalty_event_at_one_outlet_removes_reductions_taxpayer_wide_by_default() -> None:
    facts = [*worked_example("SINTER-1"), *worked_example("SINTER-2")]
    tampering = [PenaltyEvent("SINTER-1", "CEMS data tampered")]

    default = monthly_tax("E01", APRIL, 3, facts, penalties=tampering)
    per_outlet = monthly_tax(
        "E01", APRIL, 3, facts, penalties=tampering, policy=TaxPolicy(scope=Scope.OUTLET)
    )

    assert default.total_reduction == 0
    assert per_outlet.line("SINTER-1", P.SO2).disqualifications == (Disqualification.PENALTY_EVENT,)
    assert per_outlet.line("SINTER-2", P.SO2).factor == D("0.75")


def test_an_invalid_monitoring_month_or_missing_mean_or_standard_gets_no_reduction() -> None:
    facts = [
        fact(P.SO2, "10", "35", month_valid=False),
        PollutantMonth("SINTER-1", P.NOX, D(1000), None, D(50)),
        PollutantMonth("SINTER-1", P.SOOT, D(1000), D(1), None),
    ]

    result = monthly_tax("E01", APRIL, 3, facts)

    assert [line.disqualifications for line in result.lines] == [
        (Disqualification.MONTH_INVALID,),
        (Disqualification.NO_VALID_MEAN,),
        (Disqualification.NO_STANDARD,),
    ]
    assert all(line.factor == D("1.00") and line.reduction == 0 for line in result.lines)


# -- quarterly return --------------------------------------------------------------------------


def quarter_months() -> list[MonthlyTax]:
    return [
        monthly_tax("E01", date(2026, 4, 1), 3, worked_example()),
        monthly_tax("E01", date(2026, 5, 1), 3, worked_example(nox_exceedances=1)),
        monthly_tax("E01", date(2026, 6, 1), 3, [fact(P.NOX, "20", "50", mass=D("950"))]),
    ]


def test_the_quarterly_return_sums_three_different_months() -> None:
    months = quarter_months()

    q2 = quarterly_return(reversed(months))

    assert (q2.year, q2.quarter) == (2026, 2)
    assert [m.month.month for m in q2.months] == [4, 5, 6]
    june_due = D("2400.00")  # 950 kg / 0.95 × 4.8 × 0.50
    assert months[2].total_due == june_due
    assert q2.total_due == D("248661.79") + D("273342.73") + june_due
    assert q2.total_before == D("273342.73") * 2 + D("4800.00")
    assert q2.total_reduction == q2.total_before - q2.total_due


@pytest.mark.parametrize(
    "pick",
    [(0, 1), (0, 1, 1), (1, 2, 3), ()],
    ids=["missing", "repeated", "foreign", "none"],
)
def test_a_quarter_with_a_missing_repeated_or_foreign_month_is_refused(
    pick: tuple[int, ...],
) -> None:
    available = [*quarter_months(), monthly_tax("E01", date(2026, 7, 1), 3, [])]
    months = [available[index] for index in pick]

    assert refusal(lambda: quarterly_return(months)).code == "quarter_invalid"


def test_a_quarter_mixing_taxpayers_is_refused() -> None:
    april, may, _ = quarter_months()
    other = monthly_tax("E02", date(2026, 6, 1), 3, [])

    assert refusal(lambda: quarterly_return([april, may, other])).field == "taxpayer"


# -- tables, rounding and refusals -------------------------------------------------------------


def test_rates_are_looked_up_by_tier_and_date() -> None:
    day = date(2026, 1, 1)

    assert [rate(P.SO2, tier, day) for tier in (1, 2, 3)] == [D("9.6"), D("6.0"), D("4.8")]
    assert [rate(P.SOOT, tier, day) for tier in (1, 2, 3)] == [D("4.8")] * 3
    assert [rate(P.COD, tier, day) for tier in (1, 2, 3)] == [D("11.2"), D("7.0"), D("5.6")]
    assert [rate(P.SS, tier, day) for tier in (1, 2, 3)] == [D("5.6")] * 3
    assert equivalent_value(P.GENERAL_DUST, day) == D(4)


def test_no_table_is_in_force_before_2018_and_an_unknown_tier_is_refused() -> None:
    assert refusal(lambda: rate(P.SO2, 3, date(2017, 12, 31))).code == "no_tax_table_in_force"
    assert refusal(lambda: rate(P.SO2, 4, date(2026, 1, 1))).code == "unknown_tax_rate"


def test_an_effective_dated_table_answers_with_the_version_in_force_on_the_day() -> None:
    table = EffectiveDated("demo rates", ((date(2018, 1, 1), D("4.8")), (date(2027, 1, 1), D("6"))))

    assert table.at(date(2026, 12, 31)) == D("4.8")
    assert table.at(date(2027, 1, 1)) == D("6")
    assert refusal(lambda: table.at(date(2017, 12, 31))).code == "no_tax_table_in_force"


def test_round_fen_rounds_half_up_to_the_fen_and_refuses_negative_amounts() -> None:
    assert round_fen(Fraction(5, 1000)) == D("0.01")
    assert round_fen(Fraction(4999, 1_000_000)) == D("0.00")
    assert round_fen(Fraction(12345, 1000)) == D("12.35")
    assert refusal(lambda: round_fen(Fraction(-1, 100))).code == "invalid_field"


def test_the_same_pollutant_twice_at_one_outlet_is_refused() -> None:
    facts = [fact(P.SO2, "1", "35"), fact(P.SO2, "2", "35")]

    assert refusal(lambda: monthly_tax("E01", APRIL, 3, facts)).code == "duplicate_tax_fact"


def test_a_negative_mass_is_refused() -> None:
    error = refusal(lambda: PollutantMonth("S", P.SO2, D("-0.001")))

    assert error.field == "mass_kg"


@pytest.mark.parametrize("mean", [D("-0.01"), D("NaN"), Fraction(-1, 3)])
def test_a_negative_or_non_finite_monthly_mean_is_refused(mean: Decimal | Fraction) -> None:
    error = refusal(lambda: PollutantMonth("S", P.SO2, D(1), mean, D(35)))

    assert error.field == "mean"


# -- properties --------------------------------------------------------------------------------

AIR = [P.SO2, P.NOX, P.SOOT, P.GENERAL_DUST, P.CO, P.FLUORIDE, P.HCL, P.NH3]
facts_strategy = st.lists(
    st.builds(
        PollutantMonth,
        outlet=st.sampled_from(["A", "B"]),
        pollutant=st.sampled_from(AIR),
        mass_kg=st.decimals(min_value=0, max_value=10**7, places=3),
        mean_concentration=st.decimals(min_value=0, max_value=300, places=2),
        standard_mg=st.decimals(min_value=1, max_value=200, places=1),
        exceedances=st.integers(0, 2).map(lambda n: n if n == 2 else 0),
    ),
    max_size=12,
    unique_by=lambda f: (f.outlet, f.pollutant),
)


@settings(max_examples=150, deadline=None)
@given(facts_strategy, st.sampled_from(list(Scope)), st.sampled_from([1, 2, 3]))
def test_tax_due_never_exceeds_tax_before_and_totals_are_sums_of_rounded_lines(
    facts: list[PollutantMonth], scope: Scope, tier: int
) -> None:
    result = monthly_tax("E", APRIL, tier, facts, policy=TaxPolicy(scope=scope))

    for line in result.lines:
        assert D(0) <= line.tax_due <= line.tax_before
        assert line.reduction >= 0
        assert line.tax_before.as_tuple().exponent == -2
    assert result.total_due == sum((line.tax_due for line in result.lines), D(0))
    assert result.total_reduction == result.total_before - result.total_due
    for outlet in ("A", "B"):
        assert sum(line.taxed for line in result.lines if line.outlet == outlet) <= 3


@settings(max_examples=100, deadline=None)
@given(facts_strategy)
def test_a_taxpayer_wide_disqualification_never_yields_less_tax_than_a_narrower_scope(
    facts: list[PollutantMonth],
) -> None:
    wide = monthly_tax("E", APRIL, 3, facts)
    narrow = monthly_tax("E", APRIL, 3, facts, policy=TaxPolicy(scope=Scope.OUTLET_POLLUTANT))

    assert wide.total_due >= narrow.total_due
    assert wide.total_before == narrow.total_before


# -- only measured lines earn the reduction (rules §1.3) ---------------------------------------


@pytest.mark.parametrize("method", [Method.COEFFICIENT, Method.ESTIMATE])
def test_the_worked_example_as_typed_figures_gets_no_reduction(method: Method) -> None:
    # The audit entered the worked example as estimate lines and got 24,680.94 CNY off: a mean
    # stored on such a line (as before the draft refused one) earns nothing.
    lines = [as_report_line(f, method) for f in worked_example()]

    result = monthly_tax("E01", APRIL, 3, [line.facts() for line in lines])

    assert (result.total_before, result.total_reduction) == (D("273342.73"), D(0))
    for line in result.lines:
        assert Disqualification.NOT_MEASURED in line.disqualifications
    assert not any(line.valid_measured_month for line in lines)


def test_the_worked_example_measured_by_an_agency_keeps_its_reduction() -> None:
    lines = [as_report_line(f, Method.AGENCY) for f in worked_example()]
    result = monthly_tax("E01", APRIL, 3, [line.facts() for line in lines])
    assert result.total_reduction == D("24680.94")


def as_report_line(fact: PollutantMonth, method: Method) -> ReportLine:
    measured_as = "PM" if fact.pollutant is P.SOOT else fact.pollutant.value
    return ReportLine(
        APRIL,
        fact.outlet,
        fact.pollutant,
        measured_as,
        method,
        fact.mass_kg,
        Fraction(fact.mean_concentration) if fact.mean_concentration is not None else None,
        fact.standard_mg,
    )
