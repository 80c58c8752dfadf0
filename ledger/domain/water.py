"""Water outlets (rules §7.7): a month made of days, from online hourly water data.

An online water analyser reports, per hour, a concentration in mg/L and the hour's flow in m³/h
(stored like CEMS hours, in the same integer units: 0.001 mg/L, 0.01 m³/h). Validity is as for
air: a valid hour is N with ≥ 45 valid minutes, a valid day ≥ 20 valid hours of flow, a valid
month ≥ 25 valid days (February 23) — `cems.MonthlyTally` counts them. Non-valid hours are
substituted as for air (`substitution.substitutes`, rules §7.1): a faulty analyser or flow meter
never makes a day count zero. Then, per CST day with any hour that is not stopped:

- the day's concentration is the mean of its valid readings and substituted concentrations;
  the day's volume the sum of its valid and substituted hourly flows (m³);
- the day's mass is concentration × volume × 1e-3 kg (mg/L × m³ = g), **rounded half-up to the
  milligram** (1e-6 kg): the mean of a day's hours need not be a finite decimal. The month's mass
  is the sum of its rounded days.
- Article 13's monthly concentration is the simple mean of the daily averages (§1.3, water); in
  it each substituted hour counts at the month's highest reading, as for air, so invalidating an
  hour can only raise it.
- An exceedance is a day whose average over every reading (valid or not) is above the standard,
  or a day with an over-range (T) hour; its start is listed. Water standards are daily limits.

Water standards never have a reference O2: the outlet's reference applies to its air pollutants.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from math import floor

from ledger.domain.cems import StoredHour
from ledger.domain.monitoring import DataFlag, MonthlyAggregate
from ledger.domain.substitution import (
    CST_OFFSET_HOURS,
    Substitute,
    SubstitutionMethod,
    is_stopped,
    is_valid,
)

_CONCENTRATION_UNITS = 1000  # per mg/L
_FLOW_UNITS = 100  # per m³/h
_MG_PER_KG = 10**6


@dataclass
class _Day:
    concentrations: list[Fraction]  # valid readings and substituted concentrations (mg/L)
    volume: Fraction  # m³
    readings: list[Fraction]  # every reading of the day, valid or not (mg/L)
    over_range: bool
    valid: list[Fraction]  # the valid readings only
    substituted: int


def _days(hours: Sequence[StoredHour], subs: Sequence[Substitute]) -> dict[int, _Day]:
    days: dict[int, _Day] = {}

    def day_of(hour: int) -> _Day:
        key = (hour + CST_OFFSET_HOURS) // 24
        return days.setdefault(key, _Day([], Fraction(0), [], False, [], 0))

    for hour in hours:
        if is_stopped(hour):
            continue
        day = day_of(hour.hour)
        reading = Fraction(hour.concentration, _CONCENTRATION_UNITS)
        day.readings.append(reading)
        day.over_range = day.over_range or hour.flag == DataFlag.OVER_RANGE.value
        if is_valid(hour):
            day.valid.append(reading)
            day.concentrations.append(reading)
            day.volume += Fraction(hour.dry_flow, _FLOW_UNITS)
    for sub in subs:
        day = day_of(sub.hour)
        day.substituted += 1
        if sub.method is SubstitutionMethod.NO_VALID_HISTORY:
            continue  # nothing to draw from: no value (and no zero) enters the day
        day.concentrations.append(sub.concentration / _CONCENTRATION_UNITS)
        day.volume += sub.dry_flow / _FLOW_UNITS
    return days


def day_mass_kg(concentration: Fraction, volume: Fraction) -> Decimal:
    """c (mg/L) × V (m³) × 1e-3 kg, rounded half-up to the milligram (the one rounding here)."""
    milligrams = floor(concentration * volume * 1000 + Fraction(1, 2))
    return Decimal(milligrams).scaleb(-6)


def complete_water_month(
    valid_only: MonthlyAggregate, hours: Sequence[StoredHour], subs: Sequence[Substitute]
) -> MonthlyAggregate:
    """The month of a water pollutant from its stored hours and their substitutes: validity
    from `valid_only` (the tally), mass, mean and exceedances by day (module docstring)."""
    days = _days(hours, subs)
    highest = max((r for day in days.values() for r in day.readings), default=Fraction(0))
    mass = sum(
        (
            day_mass_kg(sum(day.concentrations, Fraction(0)) / len(day.concentrations), day.volume)
            for day in days.values()
            if day.concentrations
        ),
        Decimal(0),
    )
    means = [
        (sum(day.valid, Fraction(0)) + highest * day.substituted)
        / (len(day.valid) + day.substituted)
        for day in days.values()
        if day.valid or day.substituted
    ]
    mean = sum(means, Fraction(0)) / len(means) if means and valid_only.valid_hours else None
    standard = valid_only.standard
    exceeding = sorted(
        key
        for key, day in days.items()
        if standard is not None
        and day.readings
        and (day.over_range or _average(day.readings) > Fraction(standard.limit_mg_nm3))
    )
    starts = tuple(
        datetime.fromtimestamp((key * 24 - CST_OFFSET_HOURS) * 3600, UTC) for key in exceeding
    )
    return replace(
        valid_only,
        standard=None if standard is None else replace(standard, reference_o2=None),
        mass_kg=mass,
        mean_measured=mean,
        mean_on_standard_basis=None if standard is None else mean,
        exceedances=len(exceeding),
        first_exceedance=starts[0] if starts else None,
        substituted_hours=len(subs),
        substitution=_methods(subs),
        exceedance_hours=starts,
    )


def _day_mean(day: _Day, highest: Fraction) -> Fraction:
    """The day's valid readings, and each substituted hour at the month's highest reading."""
    total = sum(day.valid, Fraction(0)) + highest * day.substituted
    return total / (len(day.valid) + day.substituted)


def _average(values: Sequence[Fraction]) -> Fraction:
    return sum(values, Fraction(0)) / len(values)


def _methods(subs: Sequence[Substitute]) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for sub in subs:
        counts[sub.method.value] = counts.get(sub.method.value, 0) + 1
    return tuple(sorted(counts.items()))
