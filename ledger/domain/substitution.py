"""Non-valid CEMS hours are substituted (rules.md §7.1) and every reading is judged (§7.2).

Pure functions over one (outlet, pollutant)'s stored hours (`cems.StoredHour`, integer units).
`complete_month` takes the valid-hour tally of a month (`cems.MonthlyTally`) and the hours of a
window around it, and returns the month as the tax must see it:

- **Mass** adds, for every non-valid hour of the month, a substitute concentration × flow
  chosen by the quarter's valid-hour capture rate and the length of the gap (§7.1):

  | capture rate | gap | substitute (concentration and flow each) |
  |---|---|---|
  | ≥ 90 % | ≤ 24 h | mean of the last valid hour before and the first valid hour after |
  | ≥ 90 % | > 24 h, or no valid hour after it yet | maximum of the 720 valid hours before |
  | < 90 % | any | maximum of the 2,160 valid hours before |

  A gap with no valid hour before it has nothing to draw from: its hours add nothing and are
  counted as `no_valid_history` (the penalty basis of §7.3 then governs, set by a regulator).
  An over-range (T) hour takes the higher of its own reading and the substitute: its reading
  is a lower bound.
- **Stopped hours**: an F hour counts zero emissions only when the outlet's flow says it was
  stopped (dry flow 0 in that hour's record); an F hour with flow is a fault (D) hour and is
  substituted like one. Stopped hours neither end a gap nor lengthen it, and are left out of the
  capture rate.
- **Missing hours** (no record at all) between the first and the last stored hour are non-valid
  hours like any other; hours after the last stored one are not known yet and are not counted.
- **Exceedances** are judged on every hour with a reading: every stored hour but a stopped one,
  whatever its flag or valid minutes (a flag must not hide a reading); a T hour always counts
  as above the standard. Without a standard nothing is an exceedance.
- **Monthly mean** (for the Article 13 ratio): the valid hours' readings, and each non-valid hour
  at the month's highest reading (on the same basis). So invalidating an hour can only raise the
  mean, never earn a reduction; a month without any valid hour has no mean (no reduction).

Month validity (≥ 25 valid days) stays on measured valid hours only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Context, Decimal, Inexact, Rounded, localcontext
from enum import StrEnum
from fractions import Fraction

from ledger.domain.cems import StoredHour, local_month
from ledger.domain.monitoring import (
    MIN_VALID_MINUTES,
    DataFlag,
    EmissionStandard,
    MonthlyAggregate,
)

CST_OFFSET_HOURS = 8
_AMBIENT_O2_UNITS = 2100  # 21 % in 0.01 %
_CONCENTRATION_UNITS = 1000  # per mg/Nm³
_MASS_SCALE = 3 + 2 + 6  # 0.001 mg/Nm³ × 0.01 Nm³/h → kg: 10^-11
LOOKBACK_HOURS = 366 * 24  # history read before a month: the valid hours of the year before it
LOOKAHEAD_HOURS = 25  # after the month: enough to see whether a gap ends within 24 h
ZERO = Fraction(0)
_EXACT = Context(prec=80, traps=[Inexact, Rounded])


class SubstitutionMethod(StrEnum):
    """How a non-valid hour's values were substituted (§7.1)."""

    NEIGHBOUR_MEAN = "neighbour_mean"
    MAX_720 = "max_720_valid_hours"
    MAX_2160 = "max_2160_valid_hours"
    NO_VALID_HISTORY = "no_valid_history"


@dataclass(frozen=True, slots=True)
class SubstitutionPolicy:
    """§7.1's thresholds, with their documented defaults."""

    capture_rate_min: Fraction = Fraction(9, 10)
    short_gap_hours_max: int = 24
    history_high_capture: int = 720
    history_low_capture: int = 2160


DEFAULT_SUBSTITUTION = SubstitutionPolicy()


@dataclass(frozen=True, slots=True)
class Substitute:
    """The values standing in for one non-valid hour (integer storage units, exact)."""

    hour: int
    concentration: Fraction
    dry_flow: Fraction
    method: SubstitutionMethod


def is_valid(hour: StoredHour) -> bool:
    """Flag N with at least 45 valid minutes."""
    return hour.flag == DataFlag.NORMAL.value and hour.valid_minutes >= MIN_VALID_MINUTES


def is_stopped(hour: StoredHour) -> bool:
    """An F hour whose flow confirms the outlet was stopped; any other F hour is a fault."""
    return hour.flag == DataFlag.SOURCE_STOPPED.value and hour.dry_flow == 0


def quarter_of_hour(hour: int) -> int:
    """A number for the CST calendar quarter of an epoch hour (year × 4 + quarter − 1)."""
    month = local_month(hour)
    return month.year * 4 + (month.month - 1) // 3


@dataclass
class _Gap:
    hours: list[int]  # the non-valid, non-stopped hours of the gap, in order
    valid_before: int  # how many valid hours precede it (index into the valid sequence)


@dataclass(frozen=True, slots=True)
class _Timeline:
    valid: list[StoredHour]
    gaps: list[_Gap]
    capture: dict[int, Fraction]  # quarter → valid hours / counted hours


def _timeline(hours: Sequence[StoredHour]) -> _Timeline:
    """Valid hours in order, the gaps between them, and each quarter's capture rate."""
    by_hour = {h.hour: h for h in hours}
    valid: list[StoredHour] = []
    gaps: list[_Gap] = []
    counted: dict[int, int] = {}
    valid_in: dict[int, int] = {}
    current: _Gap | None = None
    for number in range(min(by_hour), max(by_hour) + 1) if by_hour else ():
        stored = by_hour.get(number)
        if stored is not None and is_stopped(stored):
            continue  # neither ends nor lengthens a gap
        quarter = quarter_of_hour(number)
        counted[quarter] = counted.get(quarter, 0) + 1
        if stored is not None and is_valid(stored):
            valid_in[quarter] = valid_in.get(quarter, 0) + 1
            valid.append(stored)
            current = None
            continue
        if current is None:
            current = _Gap([], len(valid))
            gaps.append(current)
        current.hours.append(number)
    capture = {q: Fraction(valid_in.get(q, 0), n) for q, n in counted.items()}
    return _Timeline(valid, gaps, capture)


def substitutes(
    hours: Sequence[StoredHour],
    first: int,
    end: int,
    policy: SubstitutionPolicy = DEFAULT_SUBSTITUTION,
) -> list[Substitute]:
    """A substitute for each non-valid, non-stopped hour in [first, end), from `hours` (one
    outlet and pollutant, any order: the month and the window around it)."""
    line = _timeline(hours)
    found: list[Substitute] = []
    for gap in line.gaps:
        wanted = [hour for hour in gap.hours if first <= hour < end]
        after = gap.valid_before < len(line.valid)
        by_quarter: dict[int, Substitute] = {}  # a gap's values depend only on the quarter
        for hour in wanted:
            quarter = quarter_of_hour(hour)
            if quarter not in by_quarter:
                by_quarter[quarter] = _substitute(line, gap, hour, after=after, policy=policy)
            found.append(replace(by_quarter[quarter], hour=hour))
    return found


def _substitute(
    line: _Timeline, gap: _Gap, hour: int, *, after: bool, policy: SubstitutionPolicy
) -> Substitute:
    before = line.valid[: gap.valid_before]
    if not before:
        return Substitute(hour, Fraction(0), Fraction(0), SubstitutionMethod.NO_VALID_HISTORY)
    high_capture = line.capture[quarter_of_hour(hour)] >= policy.capture_rate_min
    if high_capture and after and len(gap.hours) <= policy.short_gap_hours_max:
        last, following = before[-1], line.valid[gap.valid_before]
        return Substitute(
            hour,
            Fraction(last.concentration + following.concentration, 2),
            Fraction(last.dry_flow + following.dry_flow, 2),
            SubstitutionMethod.NEIGHBOUR_MEAN,
        )
    if high_capture:
        window, method = policy.history_high_capture, SubstitutionMethod.MAX_720
    else:
        window, method = policy.history_low_capture, SubstitutionMethod.MAX_2160
    history = before[-window:]
    return Substitute(
        hour,
        Fraction(max(h.concentration for h in history)),
        Fraction(max(h.dry_flow for h in history)),
        method,
    )


def affected_months(month: date) -> tuple[date, ...]:
    """The months whose figures new hours in `month` can change: the month before (a gap may
    end in `month`), the months of its quarter (the capture rate), and three months after (the
    history of 2,160 valid hours)."""
    quarter_first = date(month.year, 3 * ((month.month - 1) // 3) + 1, 1)
    firsts = {_add_months(month, offset) for offset in range(-1, 4)}
    firsts |= {_add_months(quarter_first, offset) for offset in range(3)}
    return tuple(sorted(firsts))


def quarter_end(month: date) -> date:
    """The last month of `month`'s quarter (its first day)."""
    return date(month.year, 3 * ((month.month - 1) // 3) + 3, 1)


def _add_months(month: date, offset: int) -> date:
    index = month.year * 12 + month.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


# -- readings on the standard's basis --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Basis:
    """A standard's basis on integer units, so a month's readings compare without Fractions:
    on the basis, a reading is c × scale / divisor(hour) mg/Nm³ (`scale` = (21 − O2_ref) / 1000
    and divisor 21 − O2 when O2-corrected; 1 / 1000 and 1 otherwise)."""

    scale: Fraction
    corrected: bool
    bound: Fraction  # the limit in concentration units × divisor: limit / scale

    @classmethod
    def of(cls, standard: EmissionStandard) -> Basis:
        ref = standard.reference_o2
        scale = Fraction(1, _CONCENTRATION_UNITS)
        if ref is not None:
            scale *= _AMBIENT_O2_UNITS - Fraction(ref) * 100
        return cls(scale, ref is not None, Fraction(standard.limit_mg_nm3) / scale)

    def divisor(self, hour: StoredHour) -> int:
        return _AMBIENT_O2_UNITS - hour.o2 if self.corrected else 1

    def value(self, hour: StoredHour) -> Fraction:
        """The hour's reading in mg/Nm³ on the standard's basis, exact."""
        return hour.concentration * self.scale / self.divisor(hour)

    def exceeds(self, hour: StoredHour) -> bool:
        """§7.2: an over-range hour always exceeds; any other reading when above the limit
        (c × scale > limit × divisor, cross-multiplied on integers)."""
        if hour.flag == DataFlag.OVER_RANGE.value:
            return True
        bound = self.bound
        return hour.concentration * bound.denominator > bound.numerator * self.divisor(hour)

    def highest(self, hours: Sequence[StoredHour]) -> Fraction:
        """The highest reading on the basis (0 without any), compared on integers."""
        best: StoredHour | None = None
        for hour in hours:
            if best is None or hour.concentration * self.divisor(best) > (
                best.concentration * self.divisor(hour)
            ):
                best = hour
        return ZERO if best is None else self.value(best)


# -- the month as the tax sees it ------------------------------------------------------------


def complete_month(
    valid_only: MonthlyAggregate, hours: Sequence[StoredHour], subs: Sequence[Substitute]
) -> MonthlyAggregate:
    """`valid_only` (the tally of the month's valid hours) completed with the month's
    substitutes `subs`, every reading of `hours` (the month's stored hours) judged, and the
    conservative mean."""
    readings = [h for h in hours if not is_stopped(h)]
    stored = {h.hour: h for h in hours}
    floored = [_over_range_floor(sub, stored.get(sub.hour)) for sub in subs]
    with localcontext(_EXACT):
        mass = valid_only.mass_kg + exact_decimal(_mass_kg(floored))
    methods: dict[str, int] = {}
    for sub in subs:
        methods[sub.method.value] = methods.get(sub.method.value, 0) + 1
    standard = valid_only.standard
    basis = None if standard is None else Basis.of(standard)
    exceeding = sorted(h.hour for h in readings if basis is not None and basis.exceeds(h))
    measured = Fraction(max((h.concentration for h in readings), default=0), _CONCENTRATION_UNITS)
    return replace(
        valid_only,
        mass_kg=mass,
        mean_measured=_mean(valid_only.mean_measured, valid_only, len(subs), measured),
        mean_on_standard_basis=None
        if basis is None
        else _mean(
            valid_only.mean_on_standard_basis, valid_only, len(subs), basis.highest(readings)
        ),
        exceedances=len(exceeding),
        first_exceedance=_instant(exceeding[0]) if exceeding else None,
        substituted_hours=len(subs),
        substitution=tuple(sorted(methods.items())),
        exceedance_hours=tuple(_instant(hour) for hour in exceeding),
    )


def _over_range_floor(sub: Substitute, own: StoredHour | None) -> Substitute:
    """An over-range hour's reading is a lower bound: never substitute less than it."""
    if own is None or own.flag != DataFlag.OVER_RANGE.value:
        return sub
    return replace(
        sub,
        concentration=max(sub.concentration, Fraction(own.concentration)),
        dry_flow=max(sub.dry_flow, Fraction(own.dry_flow)),
    )


def _mass_kg(subs: Sequence[Substitute]) -> Fraction:
    """Σ substituted concentration × flow, in kg (exact)."""
    total: Fraction = sum((s.concentration * s.dry_flow for s in subs), Fraction(0))
    return total / Fraction(10**_MASS_SCALE)


def _mean(
    valid_mean: Fraction | None, valid_only: MonthlyAggregate, substituted: int, highest: Fraction
) -> Fraction | None:
    """Valid readings, and each substituted hour at the month's highest reading (≥ them all)."""
    if valid_mean is None:
        return None
    hours = valid_only.valid_hours
    return (valid_mean * hours + highest * substituted) / (hours + substituted)


def _instant(hour: int) -> datetime:
    return datetime.fromtimestamp(hour * 3600, UTC)


def exact_decimal(value: Fraction) -> Decimal:
    """A Fraction whose denominator divides a power of ten, as the exact Decimal."""
    for places in range(40):
        scale = 10**places
        if scale % value.denominator == 0:
            return Decimal(value.numerator * (scale // value.denominator)).scaleb(-places)
    raise ValueError(f"{value} has no finite decimal expansion")
