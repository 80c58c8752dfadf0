"""Water outlets (rules §7.7): online hourly water data made into days, validity, mass,
exceedances by day, and the water rows the import accepts or refuses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

from ledger.domain.cems import OutletKey, StoredHour, month_hours, parse_row
from ledger.domain.monitoring import EmissionStandard, MonthlyAggregate
from ledger.domain.taxed_months import months_as_taxed
from ledger.domain.water import day_mass_kg

MARCH = date(2025, 3, 1)
FIRST, END = month_hours(MARCH)
COD_STANDARD = EmissionStandard(Decimal(50), Decimal(16))  # an outlet's air reference O2


def w(offset: int, c: str = "40", q: int = 100, minutes: int = 60, flag: str = "N") -> StoredHour:
    """Hour `offset` of March: COD `c` mg/L, `q` m³/h."""
    return StoredHour(FIRST + offset, int(Decimal(c) * 1000), q * 100, 0, minutes, flag)


def cod_march(hours: list[StoredHour]) -> MonthlyAggregate:
    (month,) = months_as_taxed("WW-1", "COD", [MARCH], COD_STANDARD, window=hours)
    return month


def full() -> list[StoredHour]:
    return [w(offset) for offset in range(END - FIRST)]


def test_a_month_is_the_sum_of_its_days_concentration_times_volume() -> None:
    month = cod_march(full())
    # 40 mg/L × 2,400 m³ a day × 1e-3 = 96 kg a day, 31 days
    assert month.mass_kg == Decimal(96 * 31)
    assert month.mean_on_standard_basis == Fraction(40)
    assert (month.valid_days, month.month_valid, month.exceedances) == (31, True, 0)
    assert month.standard == EmissionStandard(Decimal(50))  # no reference O2 for water


def test_a_faulty_flow_meter_does_not_make_a_day_count_zero() -> None:
    hours = full()
    for offset in range(24, 48):
        hours[offset] = w(offset, flag="D")
    month = cod_march(hours)
    assert month.mass_kg == Decimal(96 * 31)  # the day is substituted (gap of 24 h, neighbours)
    assert (month.valid_days, month.substituted_hours) == (30, 24)


def test_a_day_above_the_standard_is_an_exceedance_whether_its_hours_are_valid_or_not() -> None:
    hours = full()
    hours[5] = w(5, c="500", minutes=44)  # (23 × 40 + 500) / 24 = 59.2 > 50
    hours[30] = w(30, c="3000", flag="T")  # over range: the day exceeds
    month = cod_march(hours)
    assert month.exceedances == 2
    assert [moment.isoformat() for moment in month.exceedance_hours] == [
        "2025-02-28T16:00:00+00:00",
        "2025-03-01T16:00:00+00:00",
    ]


def test_a_days_mass_is_rounded_half_up_to_the_milligram() -> None:
    assert day_mass_kg(Fraction(4, 3), Fraction(1)) == Decimal("0.001333")
    assert day_mass_kg(Fraction(1, 2000), Fraction(1)) == Decimal("0.000001")  # half a mg: up


def test_the_import_takes_water_rows_and_refuses_an_o2_on_them() -> None:
    outlets = {("E1", "WW-1"): OutletKey(1, "E1")}
    row = ["E1", "WW-1", "COD", "2025-03-01T00:00+08:00", "40", "100", "0", "60", "N"]
    assert not isinstance(parse_row(row, 2, outlets), list)
    refused = parse_row([*row[:6], "3", *row[7:]], 2, outlets)
    assert isinstance(refused, list)
    assert [problem.code for problem in refused] == ["o2_not_applicable_to_water"]
    too_high = parse_row([*row[:4], "2500", *row[5:]], 2, outlets)
    assert isinstance(too_high, list)
    assert [problem.code for problem in too_high] == ["concentration_above_analyser_range"]


def test_a_daily_composite_sample_comes_as_its_days_hours_with_their_flows() -> None:
    # The laboratory's day value (COD 40 mg/L) on each hour of the day, with the hour's flow:
    # mass = c × Σ flows × 1e-3 = 40 × (12 × 50 + 12 × 150) × 1e-3 = 96 kg.
    day = [w(offset, q=50 if offset < 12 else 150) for offset in range(24)]
    month = cod_march(day)
    assert (month.mass_kg, month.mean_on_standard_basis, month.valid_days) == (
        Decimal(96),
        Fraction(40),
        1,
    )
    # Flow known for only 19 hours: the day is not valid (≥ 20 valid hours of flow), and its
    # 5 hours without a record are not left out: substituted by the highest valid hour before
    # them (capture 19/24 < 90 %), 50 m³/h at 40 mg/L. 40 × (1,850 + 5 × 50) × 1e-3 = 84 kg.
    short = day[:10] + day[15:]
    month = cod_march(short)
    assert (month.valid_days, month.substituted_hours, month.mass_kg) == (0, 5, Decimal(84))
