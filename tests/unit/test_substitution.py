"""Substitution of non-valid CEMS hours (rules §7.1) and exceedances on every reading (§7.2):
the pure functions over stored hours, with the properties issue 14 asks for."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.cems import MonthlyTally, StoredHour, month_hours
from ledger.domain.monitoring import EmissionStandard, MonthlyAggregate
from ledger.domain.substitution import (
    LOOKBACK_HOURS,
    SubstitutionMethod,
    affected_months,
    substitutes,
)
from ledger.domain.tax import PollutantMonth, monthly_tax
from ledger.domain.tax_tables import Pollutant
from ledger.domain.taxed_months import months_as_taxed

MARCH = date(2025, 3, 1)
FIRST, END = month_hours(MARCH)
STANDARD = EmissionStandard(Decimal(35))
MG = 1000  # storage units per mg/Nm³
FLOW = 100_000_000  # 1,000,000 Nm³/h in 0.01 Nm³/h


def h(  # noqa: PLR0917 - an hour's columns
    offset: int, c: int = 20, q: int = FLOW, minutes: int = 60, flag: str = "N", o2: int = 1600
) -> StoredHour:
    """The hour `offset` hours after 1 March 2025 00:00 CST, c in mg/Nm³."""
    return StoredHour(FIRST + offset, c * MG, q, o2, minutes, flag)


def march(
    hours: list[StoredHour], standard: EmissionStandard | None = STANDARD
) -> MonthlyAggregate:
    (month,) = months_as_taxed("O", "SO2", [MARCH], standard, window=hours)
    return month


def valid_only(hours: list[StoredHour]) -> MonthlyAggregate:
    tally = MonthlyTally("O", "SO2", MARCH, STANDARD)
    for hour in hours:
        if FIRST <= hour.hour < END:
            tally.add(hour)
    return tally.aggregate()


def full_month(c: int = 20) -> list[StoredHour]:
    return [h(offset, c) for offset in range(END - FIRST)]


# -- the rules, one by one ------------------------------------------------------------------------


def test_sixty_fault_hours_no_longer_take_mass_off_the_month() -> None:
    # The issue's case: 60 fault hours in a month added 0 kg (1,200 kg off at 20 kg an hour).
    hours = full_month()
    for offset in range(100, 160):
        hours[offset] = h(offset, flag="D")
    month = march(hours)
    assert valid_only(hours).mass_kg == Decimal(684 * 20)
    assert month.mass_kg == Decimal(744 * 20)  # the 60 hours substituted at 20 kg each
    assert month.substituted_hours == 60
    # capture 684/744 = 91.9 % ≥ 90 %, gap of 60 h > 24 h: the maximum of the valid hours before
    assert month.substitution == ((SubstitutionMethod.MAX_720.value, 60),)


def test_a_short_gap_takes_the_mean_of_its_neighbours() -> None:
    hours = full_month()
    hours[10] = h(10, c=10)
    hours[11] = h(11, c=99, flag="P")
    hours[12] = h(12, c=99, flag="B")
    hours[13] = h(13, c=30)
    (first, second) = substitutes(hours, FIRST, END)
    assert first.method is SubstitutionMethod.NEIGHBOUR_MEAN
    assert (first.concentration, second.concentration) == (
        Fraction(20 * MG),
        Fraction(20 * MG),
    )  # (10 + 30) / 2


def test_a_low_capture_rate_takes_the_maximum_of_2160_valid_hours() -> None:
    hours = [h(offset, c=30 if offset == 5 else 20) for offset in range(48)]
    hours += [h(offset, flag="M") for offset in range(48, 744)]
    month = march(hours)
    assert month.substitution == ((SubstitutionMethod.MAX_2160.value, 696),)
    assert month.mass_kg == Decimal(47 * 20 + 30 + 696 * 30)


def test_missing_hours_between_stored_ones_are_substituted() -> None:
    hours = [h(offset) for offset in range(744) if not 200 <= offset < 230]
    assert march(hours).mass_kg == Decimal(744 * 20)


def test_an_f_hour_counts_zero_only_when_the_flow_says_the_outlet_stopped() -> None:
    hours = full_month()
    for offset in range(300, 340):
        hours[offset] = h(offset, c=0, q=0, minutes=0, flag="F")  # stopped: no flow
    stopped = march(hours)
    assert (stopped.mass_kg, stopped.substituted_hours) == (Decimal(704 * 20), 0)
    for offset in range(300, 340):
        hours[offset] = h(offset, c=0, minutes=0, flag="F")  # flow through the stack: a fault
    running = march(hours)
    assert (running.mass_kg, running.substituted_hours) == (Decimal(744 * 20), 40)


def test_with_no_valid_history_hours_are_counted_not_invented() -> None:
    hours = [h(offset, flag="D") for offset in range(10)] + [h(offset) for offset in range(10, 744)]
    month = march(hours)
    assert month.substitution == ((SubstitutionMethod.NO_VALID_HISTORY.value, 10),)
    assert month.mass_kg == Decimal(734 * 20)


def test_history_reaches_into_the_months_before() -> None:
    february = [
        StoredHour(FIRST - LOOKBACK_HOURS // 2 + i, 50 * MG, FLOW, 1600, 60, "N") for i in range(3)
    ]
    hours = february + [h(offset, flag="D") for offset in range(30)] + [h(30)]
    month = march(hours)
    # the quarter's capture rate is tiny: the maximum of the valid hours before, months back
    assert month.mass_kg == Decimal(30 * 50 + 20)


def test_an_hour_with_44_valid_minutes_at_500_is_an_exceedance() -> None:
    hours = full_month()
    hours[50] = h(50, c=500, minutes=44)
    month = march(hours)
    assert (month.exceedances, month.valid_hours) == (1, 743)
    assert month.exceedance_hours[0].timestamp() == (FIRST + 50) * 3600


def test_an_over_range_hour_is_always_an_exceedance_and_a_lower_bound_for_mass() -> None:
    hours = full_month()
    hours[60] = h(60, c=1500, flag="T")
    month = march(hours)
    assert month.exceedances == 1
    assert month.mass_kg == Decimal(743 * 20 + 1500)  # its reading, not the 20 of its neighbours
    assert march(hours, standard=None).exceedances == 0  # nothing to exceed without a standard


def test_the_issue_case_loses_the_reduction() -> None:
    # A 500 mg/m³ hour with 44 valid minutes and an over-range hour at 1,500 mg/m³ kept 0.75.
    hours = full_month(c=20)  # 20 / 35 = 0.57: a 0.75 factor
    assert factor(march(hours)) == Decimal("0.75")
    hours[50] = h(50, c=500, minutes=44)
    hours[60] = h(60, c=1500, flag="T")
    assert factor(march(hours)) == Decimal("1.00")


def test_new_hours_recompute_the_month_before_the_quarter_and_three_after() -> None:
    assert affected_months(date(2025, 5, 1)) == tuple(date(2025, m, 1) for m in (4, 5, 6, 7, 8))
    assert affected_months(date(2025, 1, 1))[0] == date(2024, 12, 1)


# -- properties -----------------------------------------------------------------------------------

FLAGS = st.sampled_from(["N", "N", "N", "N", "F", "M", "C", "D", "P", "T", "S", "B"])


@st.composite
def months_of_hours(draw: st.DrawFn) -> list[StoredHour]:
    """A month of March hours with random values, flags, minutes and missing hours."""
    length = draw(st.integers(1, 744))
    hours = []
    for offset in range(length):
        if draw(st.booleans()) and draw(st.booleans()) and draw(st.booleans()):
            continue  # a missing hour, one in eight
        flag = draw(FLAGS)
        q = 0 if flag == "F" and draw(st.booleans()) else draw(st.integers(0, 2 * FLOW))
        hours.append(
            StoredHour(
                FIRST + offset,
                draw(st.integers(0, 60 * MG)),
                q,
                draw(st.integers(0, 2000)),
                draw(st.integers(0, 60)),
                flag,
            )
        )
    return hours


def factor(month: MonthlyAggregate) -> Decimal:
    fact = PollutantMonth.from_aggregate(month, Pollutant.SO2)
    return monthly_tax("E", MARCH, 3, [fact]).lines[0].factor


@settings(max_examples=40, deadline=None)
@given(months_of_hours())
def test_substitution_never_lowers_the_mass_of_valid_hours(hours: list[StoredHour]) -> None:
    if not hours:
        return
    assert march(hours).mass_kg >= valid_only(hours).mass_kg


@settings(max_examples=40, deadline=None)
@given(months_of_hours())
def test_with_every_hour_valid_substitution_changes_nothing(hours: list[StoredHour]) -> None:
    if not hours:
        return
    stored = {hour.hour: hour for hour in hours}
    every = [
        replace(stored.get(n, h(n - FIRST)), flag="N", valid_minutes=60)
        for n in range(min(stored), max(stored) + 1)
    ]
    month = march(every)
    assert month.mass_kg == valid_only(every).mass_kg
    assert month.substituted_hours == 0


@settings(max_examples=60, deadline=None)
@given(months_of_hours(), st.data())
def test_the_factor_never_improves_when_an_hour_is_invalidated_or_over_range(
    hours: list[StoredHour], data: st.DataObject
) -> None:
    valid = [
        index for index, hour in enumerate(hours) if hour.flag == "N" and hour.valid_minutes >= 45
    ]
    if not valid:
        return
    index = data.draw(st.sampled_from(valid))
    change = data.draw(
        st.sampled_from(
            [{"flag": flag} for flag in ("M", "C", "D", "P", "T", "S", "B")]
            + [{"valid_minutes": 44}, {"valid_minutes": 0}]
        )
    )
    before = factor(march(hours))
    hours[index] = replace(hours[index], **change)
    assert factor(march(hours)) >= before


def test_a_month_when_the_outlet_never_ran_has_no_mass_and_no_mean() -> None:
    month = march([h(offset, c=0, q=0, minutes=0, flag="F") for offset in range(744)])
    assert (month.mass_kg, month.mean_on_standard_basis, month.substituted_hours) == (
        Decimal(0),
        None,
        0,
    )
