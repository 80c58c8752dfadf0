"""One month of an outlet's pollutant hour by hour, as the console charts it: each stored hour's
reading on the standard's basis, the substitute standing in for each non-valid hour (rules
§7.1, computed as the monthly aggregate computes it) and the exceedances the stored aggregate
lists (§7.2: exceeding hours for air, each exceeding day's first hour for water).

Readings stay exact Fractions (mg/Nm³, or mg/L for water); rounding is the display's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from fractions import Fraction

from ledger.domain.cems import CONCENTRATION_SCALE, StoredHour, hour_start, month_hours
from ledger.domain.monitoring import EmissionStandard
from ledger.domain.substitution import Basis, is_stopped, substitutes

_CONCENTRATION_UNITS = 10**CONCENTRATION_SCALE  # storage units per mg/Nm³


@dataclass(frozen=True, slots=True)
class HourReading:
    """One stored hour: its reading, and what stands in for it when it is not valid."""

    hour: datetime  # the hour's start (UTC)
    flag: str
    valid_minutes: int
    value: Fraction | None  # on the standard's basis (measured without a standard); None: stopped
    substitute: Fraction | None  # the substituted concentration (measured basis), if any
    method: str | None  # the substitution method, if substituted
    exceeds: bool


@dataclass(frozen=True, slots=True)
class MonthOfHours:
    """An outlet's pollutant for one month, hour by hour."""

    party: str
    outlet: str
    pollutant: str
    month: date  # first day
    standard: EmissionStandard | None
    hours: tuple[HourReading, ...]


def read_month(  # noqa: PLR0917 - what names the month, and its data
    party: str,
    outlet: str,
    pollutant: str,
    month: date,
    standard: EmissionStandard | None,
    window: Sequence[StoredHour],
    exceeding: Collection[datetime],
) -> MonthOfHours:
    """The month's stored hours from `window` (the month and the history substitution reads:
    `substitution.LOOKBACK_HOURS` before, `LOOKAHEAD_HOURS` after), each with its substitute;
    `exceeding` are the aggregate's exceedance instants."""
    start, stop = month_hours(month)
    subs = {sub.hour: sub for sub in substitutes(window, start, stop)}
    basis = None if standard is None else Basis.of(standard)
    readings = []
    for hour in sorted((h for h in window if start <= h.hour < stop), key=lambda h: h.hour):
        sub = subs.get(hour.hour)
        instant = hour_start(hour.hour)
        readings.append(
            HourReading(
                instant,
                hour.flag,
                hour.valid_minutes,
                _value(hour, basis),
                None if sub is None else sub.concentration / _CONCENTRATION_UNITS,
                None if sub is None else sub.method.value,
                instant in exceeding,
            )
        )
    return MonthOfHours(party, outlet, pollutant, month, standard, tuple(readings))


def _value(hour: StoredHour, basis: Basis | None) -> Fraction | None:
    """The reading on the basis; none for a stopped hour (or O2 at ambient: no correction)."""
    if is_stopped(hour):
        return None
    if basis is None:
        return Fraction(hour.concentration, _CONCENTRATION_UNITS)
    if basis.divisor(hour) == 0:
        return None
    return basis.value(hour)
