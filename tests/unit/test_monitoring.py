"""CEMS hourly records: impossible values, validity, oxygen correction, monthly aggregates."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.monitoring import (
    CHINA_STANDARD_TIME,
    EmissionStandard,
    HourlyRecord,
    HourStatus,
    Impossible,
    MonthlyAccumulator,
    aggregate_month,
    check_record,
    day_is_valid,
    exceeds_standard,
    hour_status,
    month_is_valid,
    oxygen_corrected,
    problems,
    reported_mean,
)
from tests.unit.refusals import refusal

D = Decimal
SINTER_NOX = EmissionStandard(D(50), reference_o2=D(16))
MEASURED_BASIS_SO2 = EmissionStandard(D(50))


def hour(
    start: datetime = datetime(2026, 3, 1, tzinfo=CHINA_STANDARD_TIME),
    *,
    c: str = "40",
    q: str = "1200000",
    o2: str = "16",
    minutes: int = 60,
    flag: str = "N",
    outlet: str = "SINTER-1",
    pollutant: str = "NOx",
) -> HourlyRecord:
    return HourlyRecord(outlet, pollutant, start, D(c), D(q), D(o2), minutes, flag)


def hours_of(day: date, count: int) -> list[HourlyRecord]:
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA_STANDARD_TIME)
    return [hour(start + timedelta(hours=h)) for h in range(count)]


def month_with(year: int, month: int, full_days: int, short_days: int = 0) -> list[HourlyRecord]:
    """`full_days` days of 20 valid hours, then `short_days` days of 19 valid hours."""
    records: list[HourlyRecord] = []
    for index in range(full_days + short_days):
        records += hours_of(date(year, month, index + 1), 20 if index < full_days else 19)
    return records


# -- impossible values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason", "field"),
    [
        ({"c": "-0.1"}, Impossible.NEGATIVE_CONCENTRATION, "concentration_mg_nm3"),
        ({"q": "-1"}, Impossible.NEGATIVE_FLOW, "dry_flow_nm3_h"),
        ({"o2": "21"}, Impossible.O2_AT_OR_ABOVE_AMBIENT, "o2_percent"),
        ({"o2": "23.5"}, Impossible.O2_AT_OR_ABOVE_AMBIENT, "o2_percent"),
        ({"o2": "-0.01"}, Impossible.O2_NEGATIVE, "o2_percent"),
        ({"minutes": -1}, Impossible.MINUTES_OUT_OF_RANGE, "valid_minutes"),
        ({"minutes": 61}, Impossible.MINUTES_OUT_OF_RANGE, "valid_minutes"),
        ({"c": "1000.1"}, Impossible.ABOVE_ANALYSER_RANGE, "concentration_mg_nm3"),
        ({"flag": "X"}, Impossible.UNKNOWN_FLAG, "flag"),
        ({"flag": "n"}, Impossible.UNKNOWN_FLAG, "flag"),
        ({"c": "NaN"}, Impossible.NOT_FINITE, "concentration_mg_nm3"),
        ({"q": "Infinity"}, Impossible.NOT_FINITE, "dry_flow_nm3_h"),
        ({"start": datetime(2026, 3, 1, 5)}, Impossible.HOUR_NOT_AWARE, "hour_start"),
        (
            {"start": datetime(2026, 3, 1, 5, 30, tzinfo=UTC)},
            Impossible.HOUR_NOT_ALIGNED,
            "hour_start",
        ),
    ],
)
def test_each_impossible_value_is_reported_with_its_reason_and_field(
    changes: dict[str, object], reason: Impossible, field: str
) -> None:
    found = problems(hour(**changes), analyser_max=D(1000))  # type: ignore[arg-type]

    assert [(p.reason, p.field) for p in found] == [(reason, field)]
    assert reason.value.replace("_", " ") in found[0].detail


def test_a_possible_record_has_no_problems_even_at_the_edges() -> None:
    edge = hour(c="1000", q="0", o2="20.99", minutes=0, flag="F")

    assert problems(edge, analyser_max=D(1000)) == ()
    assert problems(hour(o2="0", minutes=60)) == ()


def test_a_value_above_the_analyser_range_is_possible_when_the_hour_is_flagged_over_range() -> None:
    assert problems(hour(c="1500", flag="T"), analyser_max=D(1000)) == ()


def test_without_a_configured_range_any_non_negative_concentration_is_possible() -> None:
    assert problems(hour(c="99999")) == ()


def test_several_impossible_values_are_all_reported_and_refused_at_once() -> None:
    record = hour(c="-1", o2="21", flag="Z")

    error = refusal(lambda: check_record(record))

    assert error.code == "impossible_cems_record"
    assert error.field == "concentration_mg_nm3"
    assert error.context["reasons"] == [
        "negative_concentration",
        "o2_at_or_above_21",
        "unknown_flag",
    ]


def test_check_record_returns_a_possible_record_unchanged() -> None:
    record = hour()

    assert check_record(record) is record


# -- hour, day and month validity -------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "minutes", "status"),
    [
        ("N", 45, HourStatus.VALID),
        ("N", 60, HourStatus.VALID),
        ("N", 44, HourStatus.TOO_FEW_MINUTES),
        *[(flag, 60, HourStatus.NOT_NORMAL) for flag in "FMCDPTSB"],
        ("N", 61, HourStatus.IMPOSSIBLE),
    ],
)
def test_only_a_normal_hour_with_at_least_45_valid_minutes_is_valid(
    flag: str, minutes: int, status: HourStatus
) -> None:
    assert hour_status(hour(flag=flag, minutes=minutes)) is status


def test_a_day_needs_at_least_20_valid_hours() -> None:
    assert day_is_valid(20)
    assert not day_is_valid(19)


@pytest.mark.parametrize(
    ("year", "month", "enough", "too_few"),
    [(2026, 3, 25, 24), (2026, 4, 25, 24), (2026, 2, 23, 22), (2028, 2, 23, 22)],
)
def test_a_month_needs_25_valid_days_and_february_23_leap_year_or_not(
    year: int, month: int, enough: int, too_few: int
) -> None:
    assert month_is_valid(year, month, enough)
    assert not month_is_valid(year, month, too_few)


def test_a_month_of_25_days_with_20_valid_hours_each_is_valid() -> None:
    aggregate = aggregate_month(month_with(2026, 3, 25), "SINTER-1", "NOx", date(2026, 3, 1))

    assert (aggregate.valid_days, aggregate.valid_hours, aggregate.month_valid) == (25, 500, True)


def test_a_day_with_19_valid_hours_does_not_count_so_24_good_days_make_an_invalid_month() -> None:
    records = month_with(2026, 3, 24, short_days=7)

    aggregate = aggregate_month(records, "SINTER-1", "NOx", date(2026, 3, 1))

    assert aggregate.valid_days == 24
    assert aggregate.valid_hours == 24 * 20 + 7 * 19
    assert not aggregate.month_valid


def test_february_is_valid_with_23_valid_days_and_invalid_with_22() -> None:
    good = aggregate_month(month_with(2026, 2, 23), "SINTER-1", "NOx", date(2026, 2, 1))
    short = aggregate_month(month_with(2026, 2, 22, 6), "SINTER-1", "NOx", date(2026, 2, 1))

    assert (good.valid_days_required, good.month_valid) == (23, True)
    assert (short.valid_days, short.month_valid) == (22, False)


def test_invalid_hours_count_towards_neither_validity_nor_mass_nor_mean() -> None:
    start = datetime(2026, 3, 2, tzinfo=CHINA_STANDARD_TIME)
    records = [
        hour(start, c="10", q="1000"),
        hour(start + timedelta(hours=1), c="500", q="1000", flag="C"),
        hour(start + timedelta(hours=2), c="500", q="1000", minutes=30),
        hour(start + timedelta(hours=3), c="-5", q="1000"),
    ]

    aggregate = aggregate_month(records, "SINTER-1", "NOx", date(2026, 3, 1), SINTER_NOX)

    assert (aggregate.hours_received, aggregate.valid_hours) == (4, 1)
    assert aggregate.impossible_hours == 1
    assert aggregate.mass_kg == D("0.01")
    assert aggregate.mean_measured == 10


# -- oxygen correction and exceedance ---------------------------------------------------------


def test_oxygen_correction_scales_by_21_minus_reference_over_21_minus_measured() -> None:
    assert oxygen_corrected(D(30), D(9), D(6)) == Fraction("37.5")
    assert oxygen_corrected(D(30), D(18), D(16)) == 50
    assert oxygen_corrected(D(30), D(16), D(16)) == 30


def test_oxygen_correction_is_exact_where_a_decimal_would_repeat() -> None:
    assert oxygen_corrected(D(10), D("15.3"), D(16)) == Fraction(10 * 5 * 10, 57)


def test_oxygen_correction_refuses_a_measured_oxygen_at_ambient() -> None:
    assert refusal(lambda: oxygen_corrected(D(10), D(21), D(6))).code == "invalid_field"


def test_an_hour_below_the_limit_as_measured_can_exceed_it_once_oxygen_corrected() -> None:
    diluted = hour(c="45", o2="17.5")  # 45 × 5 / 3.5 ≈ 64.3 > 50

    assert exceeds_standard(diluted, SINTER_NOX)
    assert not exceeds_standard(diluted, EmissionStandard(D(50)))


def test_an_hour_exactly_at_the_limit_on_the_standards_basis_is_not_an_exceedance() -> None:
    assert not exceeds_standard(hour(c="30", o2="18"), SINTER_NOX)  # 30 × 5/3 = 50
    assert exceeds_standard(hour(c="30.001", o2="18"), SINTER_NOX)


def test_mass_uses_measured_concentration_while_mean_and_exceedances_use_the_corrected() -> None:
    start = datetime(2026, 3, 3, tzinfo=CHINA_STANDARD_TIME)
    records = [hour(start, c="30", o2="18"), hour(start + timedelta(hours=1), c="36", o2="18")]

    aggregate = aggregate_month(records, "SINTER-1", "NOx", date(2026, 3, 1), SINTER_NOX)

    assert aggregate.mass_kg == D("1200000") * D(66) * D("1E-6")
    assert aggregate.mean_measured == 33
    assert aggregate.mean_on_standard_basis == 55
    assert aggregate.exceedances == 1
    assert aggregate.first_exceedance == (start + timedelta(hours=1)).astimezone(UTC)


def test_without_a_standard_there_is_no_mean_on_its_basis_and_no_exceedance() -> None:
    aggregate = aggregate_month([hour(c="999")], "SINTER-1", "NOx", date(2026, 3, 1))

    assert aggregate.mean_on_standard_basis is None
    assert aggregate.exceedances == 0


def test_reported_mean_rounds_half_up_to_three_places_for_display_only() -> None:
    assert reported_mean(Fraction(20005, 10000)) == D("2.001")
    assert reported_mean(Fraction(100, 3)) == D("33.333")
    assert reported_mean(Fraction(2, 3), places=1) == D("0.7")
    assert reported_mean(Fraction(20005, 10000) - Fraction(1, 10**40)) == D("2.000")


# -- the accumulator's boundaries --------------------------------------------------------------


def test_the_accumulator_refuses_the_same_hour_twice() -> None:
    accumulator = MonthlyAccumulator("SINTER-1", "NOx", date(2026, 3, 1))
    accumulator.add(hour())

    assert refusal(lambda: accumulator.add(hour(c="1"))).code == "cems_record_mismatch"


def test_the_accumulator_refuses_another_outlet_or_pollutant() -> None:
    accumulator = MonthlyAccumulator("SINTER-1", "NOx", date(2026, 3, 1))

    assert refusal(lambda: accumulator.add(hour(outlet="SINTER-2"))).field == "outlet"
    assert refusal(lambda: accumulator.add(hour(pollutant="SO2"))).field == "outlet"


def test_months_are_china_standard_time_so_16_utc_on_the_last_day_is_next_month() -> None:
    accumulator = MonthlyAccumulator("SINTER-1", "NOx", date(2026, 3, 1))
    april_first_local = datetime(2026, 3, 31, 16, tzinfo=UTC)

    assert refusal(lambda: accumulator.add(hour(april_first_local))).field == "hour_start"
    assert accumulator.add(hour(datetime(2026, 3, 31, 15, tzinfo=UTC))) is HourStatus.VALID


def test_the_accumulator_refuses_an_hour_it_cannot_place_in_a_month() -> None:
    accumulator = MonthlyAccumulator("SINTER-1", "NOx", date(2026, 3, 1))

    assert refusal(lambda: accumulator.add(hour(datetime(2026, 3, 1, 5)))).code == (
        "impossible_cems_record"
    )


concentrations = st.decimals(min_value=0, max_value=1000, places=3)
flows = st.decimals(min_value=0, max_value=3_000_000, places=1)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(concentrations, flows, st.integers(0, 60)), min_size=1, max_size=48))
def test_mass_is_the_sum_over_valid_hours_and_does_not_depend_on_the_order_of_records(
    values: list[tuple[Decimal, Decimal, int]],
) -> None:
    start = datetime(2026, 3, 1, tzinfo=CHINA_STANDARD_TIME)
    records = [
        hour(start + timedelta(hours=h), c=str(c), q=str(q), minutes=m)
        for h, (c, q, m) in enumerate(values)
    ]
    shuffled = random.Random(len(records)).sample(records, len(records))

    forward = aggregate_month(records, "SINTER-1", "NOx", date(2026, 3, 1), SINTER_NOX)
    backward = aggregate_month(shuffled, "SINTER-1", "NOx", date(2026, 3, 1), SINTER_NOX)

    expected = sum((c * q for c, q, m in values if m >= 45), D(0)) * D("1E-6")
    assert forward.mass_kg == expected
    assert forward == backward
