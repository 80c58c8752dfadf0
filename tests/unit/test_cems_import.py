"""CEMS import rows and the fast monthly tally: every bad value named with its line and field,
and `MonthlyTally` equal to the domain's `MonthlyAccumulator` to the last digit."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction

import pytest

from ledger.domain.cems import (
    FIELDS,
    CemsHour,
    MonthlyTally,
    OutletKey,
    RowProblem,
    StoredHour,
    csv_rows,
    epoch_hour,
    local_month,
    month_hours,
    parse_row,
)
from ledger.domain.monitoring import (
    CHINA_STANDARD_TIME,
    EmissionStandard,
    HourlyRecord,
    MonthlyAccumulator,
)

OUTLETS = {("E1", "SINTER-1"): OutletKey(7, "E1")}
GOOD = ["E1", "SINTER-1", "SO2", "2025-03-01T00:00+08:00", "20.125", "1200000", "16.50", "60", "N"]


def row(**changes: str) -> list[str]:
    fields = dict(zip(FIELDS, GOOD, strict=True))
    fields.update(changes)
    return [fields[name] for name in FIELDS]


def codes(result: object) -> list[tuple[int, str | None, str]]:
    assert isinstance(result, list), result
    return [(p.line, p.field, p.code) for p in result]


def test_a_good_row_becomes_an_hour_in_storage_units() -> None:
    hour = parse_row(row(), 2, OUTLETS)
    assert hour == CemsHour(
        2,
        7,
        "SO2",
        epoch_hour(datetime(2025, 3, 1, tzinfo=CHINA_STANDARD_TIME)),
        20125,
        120000000,
        1650,
        60,
        "N",
    )


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"outlet": "NOPE"}, "outlet", "unknown_outlet"),
        ({"enterprise": "E2"}, "outlet", "unknown_outlet"),
        ({"pollutant": "Hg"}, "pollutant", "unknown_pollutant"),
        ({"hour_start": "yesterday"}, "hour_start", "invalid_hour_start"),
        ({"hour_start": "2025-03-01T00:00"}, "hour_start", "hour_start_without_timezone"),
        ({"hour_start": "2025-03-01T00:30+08:00"}, "hour_start", "hour_start_not_on_the_hour"),
        ({"concentration_mg_nm3": "abc"}, "concentration_mg_nm3", "not_a_number"),
        ({"concentration_mg_nm3": "NaN"}, "concentration_mg_nm3", "not_finite"),
        ({"concentration_mg_nm3": "1.0001"}, "concentration_mg_nm3", "too_precise"),
        ({"concentration_mg_nm3": "-1"}, "concentration_mg_nm3", "negative_concentration"),
        (
            {"concentration_mg_nm3": "1000.001"},
            "concentration_mg_nm3",
            "concentration_above_analyser_range",
        ),
        ({"dry_flow_nm3_h": "-5"}, "dry_flow_nm3_h", "negative_flow"),
        ({"dry_flow_nm3_h": "1E+12"}, "dry_flow_nm3_h", "above_storable_maximum"),
        ({"o2_percent": "21"}, "o2_percent", "o2_at_or_above_21"),
        ({"o2_percent": "-0.5"}, "o2_percent", "o2_negative"),
        ({"valid_minutes": "61"}, "valid_minutes", "valid_minutes_out_of_range"),
        ({"valid_minutes": "6o"}, "valid_minutes", "not_an_integer"),
        ({"flag": "X"}, "flag", "unknown_flag"),
    ],
)
def test_each_bad_value_is_named_with_its_line_and_field(
    changes: dict[str, str], field: str, code: str
) -> None:
    assert codes(parse_row(row(**changes), 9, OUTLETS)) == [(9, field, code)]


def test_an_over_range_hour_flagged_t_may_exceed_the_analyser_range() -> None:
    hour = parse_row(row(concentration_mg_nm3="1500", flag="T"), 3, OUTLETS)
    assert isinstance(hour, CemsHour)


def test_trailing_zeros_beyond_the_scale_are_not_too_precise() -> None:
    assert isinstance(parse_row(row(concentration_mg_nm3="20.12500"), 2, OUTLETS), CemsHour)


def test_every_problem_of_a_row_is_reported_not_only_the_first() -> None:
    problems = parse_row(row(dry_flow_nm3_h="-1", o2_percent="22"), 4, OUTLETS)
    assert [code for _, _, code in codes(problems)] == ["negative_flow", "o2_at_or_above_21"]


def test_csv_rows_accepts_columns_in_any_order_and_counts_physical_lines() -> None:
    text = ["flag," + ",".join(FIELDS[:-1]) + "\n", "\n", "N," + ",".join(GOOD[:-1]) + "\n"]
    assert list(csv_rows(text)) == [(3, GOOD)]


def test_csv_rows_refuses_a_header_without_the_columns() -> None:
    (problem,) = list(csv_rows(["a,b\n", "1,2\n"]))
    assert isinstance(problem, RowProblem)
    assert (problem.line, problem.code) == (1, "invalid_header")


def test_csv_rows_reports_a_row_with_too_few_fields_at_its_line() -> None:
    items = list(csv_rows([",".join(FIELDS) + "\n", "E1,SINTER-1\n"]))
    assert [(p.line, p.code) for p in items if isinstance(p, RowProblem)] == [(2, "malformed_row")]


def test_csv_rows_reports_malformed_quoting() -> None:
    items = list(csv_rows([",".join(FIELDS) + "\n", 'E1,"SINTER\n']))
    assert [p.code for p in items if isinstance(p, RowProblem)] == ["malformed_csv"]


def test_months_are_counted_in_china_standard_time() -> None:
    first, end = month_hours(date(2025, 3, 1))
    assert end - first == 31 * 24
    assert local_month(first) == date(2025, 3, 1)
    assert local_month(first - 1) == date(2025, 2, 1)  # 2025-03-01 00:00 CST is Feb 28 16:00Z


# -- the tally against the domain's accumulator --------------------------------------------------


def random_month(rng: random.Random, month: date) -> tuple[list[HourlyRecord], list[StoredHour]]:
    first, end = month_hours(month)
    records, stored = [], []
    for hour in range(first, end):
        if rng.random() < 0.03:
            continue  # a missing hour
        c, q, o2 = rng.randint(0, 60_000), rng.randint(0, 150_000_000), rng.randint(300, 2000)
        minutes = rng.choice([60, 60, 60, 50, 44, 0])
        flag = rng.choice("NNNNNNNNNNNNCDFT")
        stored.append(StoredHour(hour, c, q, o2, minutes, flag))
        start = datetime.fromtimestamp(hour * 3600, CHINA_STANDARD_TIME)
        records.append(
            HourlyRecord(
                "O",
                "SO2",
                start,
                Decimal(c).scaleb(-3),
                Decimal(q).scaleb(-2),
                Decimal(o2).scaleb(-2),
                minutes,
                flag,
            )
        )
    return records, stored


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "standard",
    [
        None,
        EmissionStandard(Decimal(35)),
        EmissionStandard(Decimal(35), Decimal(16)),
        EmissionStandard(Decimal("50.5"), Decimal("6.25")),
    ],
)
def test_the_tally_gives_exactly_the_accumulators_aggregate(
    seed: int, standard: EmissionStandard | None
) -> None:
    rng = random.Random(seed)
    month = date(2025, rng.choice([1, 2, 6]), 1)
    records, stored = random_month(rng, month)
    accumulator = MonthlyAccumulator("O", "SO2", month, standard)
    tally = MonthlyTally("O", "SO2", month, standard)
    for record, hour in zip(records, stored, strict=True):
        accumulator.add(record)
        tally.add(hour)
    assert tally.aggregate() == accumulator.aggregate()


def test_a_hand_computed_month_of_three_hours() -> None:
    """Two valid hours (20 and 40 mg at O2 16 % and 11 %, 1,000,000 Nm³/h) and one in
    calibration: mass = (20 + 40) × 1e6 × 1e-6 = 60 kg; at reference O2 16 %, the corrected
    hours are 20 × 5/5 = 20 and 40 × 5/10 = 20, mean 20 < 35: no exceedance."""
    first, _ = month_hours(date(2025, 3, 1))
    tally = MonthlyTally("O", "SO2", date(2025, 3, 1), EmissionStandard(Decimal(35), Decimal(16)))
    tally.add(StoredHour(first, 20_000, 100_000_000, 1600, 60, "N"))
    tally.add(StoredHour(first + 1, 40_000, 100_000_000, 1100, 60, "N"))
    tally.add(StoredHour(first + 2, 90_000, 100_000_000, 1100, 0, "C"))
    aggregate = tally.aggregate()
    assert aggregate.mass_kg == Decimal(60)
    assert aggregate.mean_measured == Fraction(30)
    assert aggregate.mean_on_standard_basis == Fraction(20)
    assert (aggregate.valid_hours, aggregate.hours_received, aggregate.exceedances) == (2, 3, 0)
    assert not aggregate.month_valid


def test_an_hour_just_above_the_standard_on_its_basis_is_an_exceedance() -> None:
    first, _ = month_hours(date(2025, 3, 1))
    tally = MonthlyTally("O", "SO2", date(2025, 3, 1), EmissionStandard(Decimal(35), Decimal(16)))
    tally.add(StoredHour(first + 5, 70_001, 1, 1100, 60, "N"))  # 70.001 × 5/10 = 35.0005
    aggregate = tally.aggregate()
    assert aggregate.exceedances == 1
    assert aggregate.first_exceedance == datetime.fromtimestamp((first + 5) * 3600, UTC)
