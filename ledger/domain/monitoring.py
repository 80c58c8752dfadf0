"""Continuous emission monitoring (CEMS): hourly records, their validity and monthly aggregates.

Conventions (rules.md §2–3):

- An hourly record carries the measured concentration (mg/Nm³, dry, standard state), the dry
  flow (Nm³/h), the measured O2 (%), the number of valid minute values and the data flag.
- A valid hour has flag N and ≥ 45 valid minutes; a valid day ≥ 20 valid hours; a valid
  month ≥ 25 valid days (February ≥ 23, leap year or not). Records with impossible values
  are never valid.
- Days and months are calendar days in China Standard Time (UTC+8, no daylight saving);
  hour starts must be timezone-aware and on the hour.
- Mass (kg) = Σ valid hours c_measured × Q × 1e-6: measured concentration × dry flow, never
  oxygen-corrected. It is exact Decimal arithmetic (an inexact step raises, never rounds).
- Comparisons with a standard are made on the standard's basis: oxygen-corrected when the
  standard names a reference O2. Hourly exceedance is `c_ref > limit` (strict), decided on
  the exact rational c_ref (a `Fraction`), so no rounding can flip it. The monthly mean on
  the standard's basis is an exact `Fraction` too (its denominator stays bounded by the lcm
  of the month's 21 − O2 values: ~300 digits and ~15 ms for 744 random hours); the only
  rounding is `reported_mean`, for display, never for a decision.
- This module's accumulator counts exceedances and mass on valid hours only (the law's valid
  hourly averages); what the tax uses completes that with substituted hours and exceedances on
  every reading (rules §7.1–7.2, `ledger.domain.substitution`).

`MonthlyAccumulator` takes records one by one for one (outlet, pollutant, month) and keeps
bounded state (at most 744 hour keys and 31 day counters), then yields a `MonthlyAggregate`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Context, Decimal, Inexact, InvalidOperation, Rounded, localcontext
from enum import Enum
from fractions import Fraction
from math import floor

from ledger.domain.errors import InvalidField, Kind, LedgerError

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
O2_AMBIENT = Decimal(21)
MIN_VALID_MINUTES = 45
MIN_VALID_HOURS_PER_DAY = 20
MIN_VALID_DAYS_PER_MONTH = 25
MIN_VALID_DAYS_FEBRUARY = 23
_MG_PER_KG = Decimal("1E-6")  # mg/Nm³ × Nm³ = mg; × 1e-6 = kg
# Wide enough for a month of sums; traps make an inexact step raise instead of rounding.
_EXACT = Context(prec=80, traps=[Inexact, Rounded, InvalidOperation])


class ImpossibleCemsRecord(
    LedgerError,
    code="impossible_cems_record",
    kind=Kind.INVALID,
    title="The CEMS record has an impossible value",
):
    """A CEMS hourly record with a physically impossible or malformed value."""


class CemsRecordMismatch(
    LedgerError,
    code="cems_record_mismatch",
    kind=Kind.UNPROCESSABLE,
    title="The CEMS record does not belong to this monthly aggregate",
):
    """A record fed to an accumulator for another outlet, pollutant or month, or twice."""


class DataFlag(Enum):
    """Data-transmission flags per hour (rules.md §3); only N can make a valid hour."""

    NORMAL = "N"
    SOURCE_STOPPED = "F"
    MAINTENANCE = "M"
    CALIBRATION = "C"
    FAULT = "D"
    POWER_FAILURE = "P"
    OVER_RANGE = "T"
    SET_VALUE = "S"
    COMMUNICATION_FAILURE = "B"


_FLAGS = frozenset(flag.value for flag in DataFlag)


class Impossible(Enum):
    """Why a record is impossible: a stable code (the value) for each rule."""

    NOT_FINITE = "not_finite"
    NEGATIVE_CONCENTRATION = "negative_concentration"
    NEGATIVE_FLOW = "negative_flow"
    O2_NEGATIVE = "o2_negative"
    O2_AT_OR_ABOVE_AMBIENT = "o2_at_or_above_21"
    MINUTES_OUT_OF_RANGE = "valid_minutes_out_of_range"
    ABOVE_ANALYSER_RANGE = "concentration_above_analyser_range"
    UNKNOWN_FLAG = "unknown_flag"
    HOUR_NOT_AWARE = "hour_start_without_timezone"
    HOUR_NOT_ALIGNED = "hour_start_not_on_the_hour"


@dataclass(frozen=True, slots=True)
class Problem:
    """One impossible value of a record: what, in which field, and a sentence for people."""

    reason: Impossible
    field: str
    detail: str


@dataclass(frozen=True, slots=True)
class HourlyRecord:
    """One CEMS hourly average as received; check it with `problems` before trusting it.

    `flag` is kept as the raw string so an unknown flag can be reported, not lost.
    """

    outlet: str
    pollutant: str
    hour_start: datetime
    concentration_mg_nm3: Decimal
    dry_flow_nm3_h: Decimal
    o2_percent: Decimal
    valid_minutes: int
    flag: str

    @property
    def data_flag(self) -> DataFlag | None:
        """The flag as a `DataFlag`, or None if unknown."""
        return DataFlag(self.flag) if self.flag in _FLAGS else None

    @property
    def local_hour(self) -> datetime:
        """The hour start in China Standard Time (days and months are counted in it)."""
        return self.hour_start.astimezone(CHINA_STANDARD_TIME)


@dataclass(frozen=True, slots=True)
class EmissionStandard:
    """An hourly limit in mg/Nm³ (dry); `reference_o2` set when the limit is O2-corrected."""

    limit_mg_nm3: Decimal
    reference_o2: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.limit_mg_nm3.is_finite() or self.limit_mg_nm3 <= 0:
            raise InvalidField("a standard's limit must be positive", field="limit_mg_nm3")
        ref = self.reference_o2
        if ref is not None and (not ref.is_finite() or not 0 <= ref < O2_AMBIENT):
            raise InvalidField("reference O2 must be in [0, 21)", field="reference_o2")


class HourStatus(Enum):
    """How the accumulator classified an hour."""

    VALID = "valid"
    IMPOSSIBLE = "impossible"
    NOT_NORMAL = "flag_not_normal"
    TOO_FEW_MINUTES = "too_few_valid_minutes"


# -- validation ------------------------------------------------------------------------------


def problems(record: HourlyRecord, analyser_max: Decimal | None = None) -> tuple[Problem, ...]:
    """Every impossible value of `record`, empty if none.

    `analyser_max` is the analyser's upper range (mg/Nm³); a concentration above it is
    impossible unless the hour is flagged T (over range), which already says so.
    """
    found = [*_value_problems(record, analyser_max), *_time_problems(record)]
    if not 0 <= record.valid_minutes <= 60:
        found.append(_p(Impossible.MINUTES_OUT_OF_RANGE, "valid_minutes", record.valid_minutes))
    if record.flag not in _FLAGS:
        found.append(_p(Impossible.UNKNOWN_FLAG, "flag", repr(record.flag)))
    return tuple(found)


def check_record(record: HourlyRecord, analyser_max: Decimal | None = None) -> HourlyRecord:
    """`record` unchanged if possible; else raises `ImpossibleCemsRecord` naming every reason."""
    found = problems(record, analyser_max)
    if found:
        raise ImpossibleCemsRecord(
            "; ".join(problem.detail for problem in found),
            field=found[0].field,
            reasons=[problem.reason.value for problem in found],
        )
    return record


def _p(reason: Impossible, field: str, value: object) -> Problem:
    return Problem(reason, field, f"{field}: {reason.value.replace('_', ' ')} (got {value})")


def _value_problems(record: HourlyRecord, analyser_max: Decimal | None) -> list[Problem]:
    c, q, o2 = record.concentration_mg_nm3, record.dry_flow_nm3_h, record.o2_percent
    found = [
        _p(Impossible.NOT_FINITE, name, value)
        for name, value in (("concentration_mg_nm3", c), ("dry_flow_nm3_h", q), ("o2_percent", o2))
        if not value.is_finite()
    ]
    if c.is_finite() and c < 0:
        found.append(_p(Impossible.NEGATIVE_CONCENTRATION, "concentration_mg_nm3", c))
    over_range_allowed = record.flag == DataFlag.OVER_RANGE.value
    if c.is_finite() and analyser_max is not None and c > analyser_max and not over_range_allowed:
        found.append(_p(Impossible.ABOVE_ANALYSER_RANGE, "concentration_mg_nm3", c))
    if q.is_finite() and q < 0:
        found.append(_p(Impossible.NEGATIVE_FLOW, "dry_flow_nm3_h", q))
    if o2.is_finite() and o2 < 0:
        found.append(_p(Impossible.O2_NEGATIVE, "o2_percent", o2))
    if o2.is_finite() and o2 >= O2_AMBIENT:
        found.append(_p(Impossible.O2_AT_OR_ABOVE_AMBIENT, "o2_percent", o2))
    return found


def _time_problems(record: HourlyRecord) -> list[Problem]:
    start = record.hour_start
    if start.tzinfo is None or start.utcoffset() is None:
        return [_p(Impossible.HOUR_NOT_AWARE, "hour_start", start.isoformat())]
    local = record.local_hour
    if (local.minute, local.second, local.microsecond) != (0, 0, 0):
        return [_p(Impossible.HOUR_NOT_ALIGNED, "hour_start", start.isoformat())]
    return []


# -- validity --------------------------------------------------------------------------------


def hour_status(record: HourlyRecord, analyser_max: Decimal | None = None) -> HourStatus:
    """VALID only for a possible record flagged N with ≥ 45 valid minutes."""
    if problems(record, analyser_max):
        return HourStatus.IMPOSSIBLE
    if record.flag != DataFlag.NORMAL.value:
        return HourStatus.NOT_NORMAL
    if record.valid_minutes < MIN_VALID_MINUTES:
        return HourStatus.TOO_FEW_MINUTES
    return HourStatus.VALID


def day_is_valid(valid_hours: int) -> bool:
    """A valid day has at least 20 valid hours."""
    return valid_hours >= MIN_VALID_HOURS_PER_DAY


def valid_days_required(year: int, month: int) -> int:
    """Valid days a month needs: 23 in February (leap or not), 25 otherwise."""
    return MIN_VALID_DAYS_FEBRUARY if month == 2 else MIN_VALID_DAYS_PER_MONTH


def month_is_valid(year: int, month: int, valid_days: int) -> bool:
    """A valid month has at least `valid_days_required` valid days."""
    return valid_days >= valid_days_required(year, month)


# -- oxygen correction and exceedance ---------------------------------------------------------


def oxygen_corrected(
    concentration: Decimal, o2_measured: Decimal, o2_reference: Decimal
) -> Fraction:
    """c_ref = c × (21 − O2_ref) / (21 − O2_measured), exact (a Fraction, never rounded).

    Refuses O2_measured ≥ 21, where the correction has no meaning.
    """
    if o2_measured >= O2_AMBIENT:
        raise InvalidField("measured O2 must be below 21%", field="o2_percent")
    return (
        Fraction(concentration)
        * Fraction(O2_AMBIENT - o2_reference)
        / Fraction(O2_AMBIENT - o2_measured)
    )


def on_standard_basis(record: HourlyRecord, standard: EmissionStandard) -> Fraction:
    """The record's concentration as the standard measures it (O2-corrected if it says so)."""
    if standard.reference_o2 is None:
        return Fraction(record.concentration_mg_nm3)
    return oxygen_corrected(record.concentration_mg_nm3, record.o2_percent, standard.reference_o2)


def exceeds_standard(record: HourlyRecord, standard: EmissionStandard) -> bool:
    """True if the hourly value on the standard's basis is strictly above the limit (exact)."""
    return on_standard_basis(record, standard) > Fraction(standard.limit_mg_nm3)


def reported_mean(mean: Fraction, places: int = 3) -> Decimal:
    """Display rounding of a mean concentration: half-up to `places` decimals (default 0.001).

    For reports only; every decision (exceedance, Article 13 factor) uses the exact value.
    """
    if mean < 0:
        raise InvalidField("a mean concentration cannot be negative", field="mean")
    steps = floor(mean * 10**places + Fraction(1, 2))  # exact half-up on the Fraction
    return Decimal(steps).scaleb(-places)


# -- monthly aggregation ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MonthlyAggregate:
    """One outlet's month of one pollutant, as the tax and compliance rules need it.

    Means are exact Fractions over valid hours (None without any); `mass_kg` is exact.
    """

    outlet: str
    pollutant: str
    month: date  # first day of the month
    standard: EmissionStandard | None
    hours_received: int
    valid_hours: int
    valid_days: int
    valid_days_required: int
    month_valid: bool
    mass_kg: Decimal
    mean_measured: Fraction | None
    mean_on_standard_basis: Fraction | None
    exceedances: int
    first_exceedance: datetime | None
    impossible_hours: int
    over_range_hours: int
    # rules §7.1–7.2 (`ledger.domain.substitution.complete_month`); a bare valid-hour tally
    # leaves them empty.
    substituted_hours: int = 0
    substitution: tuple[tuple[str, int], ...] = ()  # (method, hours), by method
    exceedance_hours: tuple[datetime, ...] = ()


class MonthlyAccumulator:
    """Feed one (outlet, pollutant, month)'s hourly records in any order; read `aggregate()`.

    Memory is bounded by the month: a set of ≤ 744 hour keys (to refuse duplicates) and ≤ 31
    day counters. Impossible records are counted, not raised: use `check_record` at ingest
    to refuse them instead.
    """

    def __init__(
        self,
        outlet: str,
        pollutant: str,
        month: date,
        standard: EmissionStandard | None = None,
        analyser_max: Decimal | None = None,
    ) -> None:
        self.outlet, self.pollutant = outlet, pollutant
        self.month = month.replace(day=1)
        self.standard, self.analyser_max = standard, analyser_max
        self._seen: set[datetime] = set()
        self._valid_per_day: dict[int, int] = {}
        self._sum_measured = Decimal(0)
        self._sum_basis = Fraction(0)
        self._sum_c_times_q = Decimal(0)
        self._exceedances = 0
        self._first_exceedance: datetime | None = None
        self._impossible = 0
        self._over_range = 0

    def add(self, record: HourlyRecord) -> HourStatus:
        """Take one hour into the aggregate; returns how it was classified."""
        status = hour_status(record, self.analyser_max)
        self._check_belongs(record)
        self._seen.add(record.hour_start)
        self._impossible += status is HourStatus.IMPOSSIBLE
        self._over_range += record.flag == DataFlag.OVER_RANGE.value
        if status is HourStatus.VALID:
            self._take_valid(record)
        return status

    def aggregate(self) -> MonthlyAggregate:
        """The month so far (call it after the last record)."""
        valid_hours = sum(self._valid_per_day.values())
        valid_days = sum(day_is_valid(hours) for hours in self._valid_per_day.values())
        year, month = self.month.year, self.month.month
        return MonthlyAggregate(
            outlet=self.outlet,
            pollutant=self.pollutant,
            month=self.month,
            standard=self.standard,
            hours_received=len(self._seen),
            valid_hours=valid_hours,
            valid_days=valid_days,
            valid_days_required=valid_days_required(year, month),
            month_valid=month_is_valid(year, month, valid_days),
            mass_kg=self._mass_kg(),
            mean_measured=_mean(Fraction(self._sum_measured), valid_hours),
            mean_on_standard_basis=(
                None if self.standard is None else _mean(self._sum_basis, valid_hours)
            ),
            exceedances=self._exceedances,
            first_exceedance=self._first_exceedance,
            impossible_hours=self._impossible,
            over_range_hours=self._over_range,
        )

    def _check_belongs(self, record: HourlyRecord) -> None:
        if (record.outlet, record.pollutant) != (self.outlet, self.pollutant):
            raise CemsRecordMismatch(
                f"record is for {record.outlet}/{record.pollutant}, "
                f"not {self.outlet}/{self.pollutant}",
                field="outlet",
            )
        if record.hour_start.tzinfo is None:  # cannot place it in a month: refuse, not count
            raise ImpossibleCemsRecord("hour_start has no timezone", field="hour_start")
        local = record.local_hour
        if (local.year, local.month) != (self.month.year, self.month.month):
            raise CemsRecordMismatch(
                f"hour {local.isoformat()} is outside {self.month:%Y-%m}", field="hour_start"
            )
        if record.hour_start in self._seen:
            raise CemsRecordMismatch(
                f"hour {local.isoformat()} was already added", field="hour_start"
            )

    def _take_valid(self, record: HourlyRecord) -> None:
        day = record.local_hour.day
        self._valid_per_day[day] = self._valid_per_day.get(day, 0) + 1
        with localcontext(_EXACT):
            self._sum_measured += record.concentration_mg_nm3
            self._sum_c_times_q += record.concentration_mg_nm3 * record.dry_flow_nm3_h
        if self.standard is None:
            return
        self._sum_basis += on_standard_basis(record, self.standard)
        if exceeds_standard(record, self.standard):
            self._exceedances += 1
            start = record.hour_start.astimezone(UTC)
            if self._first_exceedance is None or start < self._first_exceedance:
                self._first_exceedance = start

    def _mass_kg(self) -> Decimal:
        with localcontext(_EXACT):
            return self._sum_c_times_q * _MG_PER_KG


def _mean(total: Fraction, count: int) -> Fraction | None:
    return total / count if count else None


def aggregate_month(
    records: Iterable[HourlyRecord],
    outlet: str,
    pollutant: str,
    month: date,
    standard: EmissionStandard | None = None,
) -> MonthlyAggregate:
    """Convenience: feed `records` into a fresh accumulator and return the aggregate."""
    accumulator = MonthlyAccumulator(outlet, pollutant, month, standard)
    for record in records:
        accumulator.add(record)
    return accumulator.aggregate()
