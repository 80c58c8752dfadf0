"""CEMS import rows: parsing one CSV/JSON row into a checked hour, and a fast exact monthly tally.

An import row names an outlet by (enterprise, outlet), a measured pollutant, the hour start
(ISO 8601 with an offset) and the hour's values. Values are stored as integers of fixed scales
(`CONCENTRATION_SCALE` etc.), so a value finer than its scale is refused, never rounded; the
hour is stored as whole hours since the Unix epoch (UTC), the same instant on every database.

The physical rules are `ledger.domain.monitoring.problems` (negative values, O2 ≥ 21 %, minutes,
flag, analyser range); this module adds the import's own: parse errors, precision, unknown
outlets and pollutants. Every problem carries the line (or record index) and field it is about.

`MonthlyTally` is `monitoring.MonthlyAccumulator` on integers: the same `MonthlyAggregate`,
exact to the last digit (a test checks equality on random months), about 20 times faster
because it sums O2-corrected concentrations per distinct `21 − O2` denominator and combines
them with one common denominator at the end instead of adding a Fraction per hour.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ledger.domain.bounds import DateOutOfRange, check_instant
from ledger.domain.errors import Kind, LedgerError
from ledger.domain.monitoring import (
    CHINA_STANDARD_TIME,
    MIN_VALID_MINUTES,
    DataFlag,
    EmissionStandard,
    HourlyRecord,
    MonthlyAggregate,
    day_is_valid,
    month_is_valid,
    problems,
    valid_days_required,
)
from ledger.domain.tax_tables import Pollutant

CONCENTRATION_SCALE = 3  # mg/Nm³ to 0.001 (µg/Nm³ in storage)
FLOW_SCALE = 2  # Nm³/h to 0.01
O2_SCALE = 2  # % to 0.01
_CONCENTRATION_UNITS: int = 10**CONCENTRATION_SCALE  # per mg/Nm³
_O2_UNITS: int = 10**O2_SCALE  # per %
_O2_AMBIENT_UNITS = 21 * _O2_UNITS
_CST_OFFSET_HOURS = 8
# Storable bounds, far above any real stack, so the integer columns can never overflow.
VALUE_MAX: Mapping[str, Decimal] = {
    "concentration_mg_nm3": Decimal(10**6),
    "dry_flow_nm3_h": Decimal(10**9),
    "o2_percent": Decimal(100),
}
PROBLEMS_SHOWN_MAX = 100  # an import's problem list is cut here; the count is always complete
FIELDS = (
    "enterprise",
    "outlet",
    "pollutant",
    "hour_start",
    "concentration_mg_nm3",
    "dry_flow_nm3_h",
    "o2_percent",
    "valid_minutes",
    "flag",
)

# Measured pollutants an import accepts, with the analyser's default upper range (mg/Nm³).
# A value above it is impossible unless flagged T (over range). Decision: one range per
# pollutant for every outlet (ultra-low-emission analysers); configurable here.
ANALYSER_MAX_MG_NM3: Mapping[str, Decimal] = {
    "SO2": Decimal(1000),
    "NOx": Decimal(1000),
    "PM": Decimal(200),
    "CO": Decimal(5000),
    "NH3": Decimal(100),
    "HCl": Decimal(200),
    "fluoride": Decimal(100),
}

# Water pollutants measured online (rules §7.7), by their tax name, with the analyser's upper
# range in mg/L. In a water row `concentration_mg_nm3` carries mg/L, `dry_flow_nm3_h` the
# hour's flow in m³/h, and `o2_percent` must be 0. Decision: one range per pollutant, as for air.
WATER_ANALYSER_MAX_MG_L: Mapping[str, Decimal] = {
    "COD": Decimal(2000),
    "NH3-N": Decimal(200),
    "SS": Decimal(2000),
    "total_P": Decimal(50),
    "petroleum": Decimal(100),
    "volatile_phenol": Decimal(50),
    "total_Hg": Decimal(1),
    "total_Cd": Decimal(10),
    "total_Cr": Decimal(10),
    "Cr6+": Decimal(10),
    "total_As": Decimal(10),
    "total_Pb": Decimal(10),
    "total_Ni": Decimal(10),
}
ANALYSER_MAX: Mapping[str, Decimal] = {**ANALYSER_MAX_MG_NM3, **WATER_ANALYSER_MAX_MG_L}

# How each measured pollutant is taxed; PM is soot (combustion flue gas) unless the report
# says general dust for that outlet (rules.md §1.2).
TAX_POLLUTANT: Mapping[str, Pollutant] = {
    "SO2": Pollutant.SO2,
    "NOx": Pollutant.NOX,
    "PM": Pollutant.SOOT,
    "CO": Pollutant.CO,
    "NH3": Pollutant.NH3,
    "HCl": Pollutant.HCL,
    "fluoride": Pollutant.FLUORIDE,
    **{name: Pollutant(name) for name in WATER_ANALYSER_MAX_MG_L},
}


def is_water(pollutant: str) -> bool:
    """Whether a measured pollutant is a water pollutant (its month is made of days, §7.7)."""
    return pollutant in WATER_ANALYSER_MAX_MG_L


@dataclass(frozen=True, slots=True)
class RowProblem:
    """One reason a row was refused: where (line, field), a stable code and a sentence."""

    line: int
    field: str | None
    code: str
    detail: str


class CemsImportRefused(
    LedgerError,
    code="cems_import_refused",
    kind=Kind.INVALID,
    title="The CEMS import has invalid rows; nothing was imported",
):
    """The import has problems and stored nothing; `problems` lists the first ones by line."""

    def __init__(self, problems: list[RowProblem], count: int) -> None:
        first = problems[0]
        where = f"line {first.line}" + (f", {first.field}" if first.field else "")
        super().__init__(f"{count} problem(s); first at {where}: {first.detail}", field=first.field)
        self.problems = problems
        self.count = count


@dataclass(frozen=True, slots=True)
class CemsHour:
    """A checked hourly record in storage units, as the import stages it."""

    line: int
    outlet_seq: int
    pollutant: str
    hour: int  # whole hours since 1970-01-01T00:00Z
    concentration: int  # 10^-CONCENTRATION_SCALE mg/Nm³
    dry_flow: int  # 10^-FLOW_SCALE Nm³/h
    o2: int  # 10^-O2_SCALE %
    valid_minutes: int
    flag: str

    def as_row(self) -> tuple[int, int, str, int, int, int, int, int, str]:
        """The staging row: line first, then the stored columns in table order."""
        return (
            self.line,
            self.outlet_seq,
            self.pollutant,
            self.hour,
            self.concentration,
            self.dry_flow,
            self.o2,
            self.valid_minutes,
            self.flag,
        )


@dataclass(frozen=True, slots=True)
class OutletInfo:
    """A registered outlet as monitoring sees it: its row and owner (its standards are its
    permits', by month)."""

    seq: int
    party: str
    outlet: str


@dataclass(frozen=True, slots=True)
class ImportRecord:
    """One accepted import (a file or a JSON batch), identified by the SHA-256 of its bytes."""

    sha256: str
    source: str
    rows: int
    inserted: int
    unchanged: int
    imported_by: str
    imported_at: datetime
    seq: int | None = None
    months: int = 0  # monthly aggregates it recomputed (0 when it inserted no new hour)


@dataclass(frozen=True, slots=True)
class StoredMonth:
    """A stored monthly aggregate, with its listing position and the outlet's enterprise."""

    seq: int
    party: str
    aggregate: MonthlyAggregate


def plain(value: Decimal) -> str:
    """Exact decimal text without exponent or trailing zeros ('40', '0.125'); no rounding."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# -- time ------------------------------------------------------------------------------------


def epoch_hour(moment: datetime) -> int:
    """Whole hours since the epoch of an aware instant on the hour."""
    return int(moment.timestamp()) // 3600


def hour_start(hour: int) -> datetime:
    """The UTC instant of an epoch hour."""
    return datetime.fromtimestamp(hour * 3600, UTC)


def month_hours(month: date) -> tuple[int, int]:
    """[first, end) epoch hours of a calendar month in China Standard Time."""
    first = datetime(month.year, month.month, 1, tzinfo=CHINA_STANDARD_TIME)
    following = (first + timedelta(days=32)).replace(day=1)
    return epoch_hour(first), epoch_hour(following)


def local_month(hour: int) -> date:
    """The first day of the CST month an epoch hour falls in."""
    return _month_of_day((hour + _CST_OFFSET_HOURS) // 24)


@functools.lru_cache(maxsize=4096)
def _month_of_day(day: int) -> date:
    """The first day of the month of a CST day counted from 1970-01-01."""
    local = date(1970, 1, 1) + timedelta(days=day)
    return local.replace(day=1)


# -- reading CSV ---------------------------------------------------------------------------


def csv_rows(lines: Iterable[str]) -> Iterator[tuple[int, list[str]] | RowProblem]:
    """(line number, fields in `FIELDS` order) per data row of a CSV text, or the problem that
    stops reading it (a bad header, a malformed line). Blank lines are skipped; the header may
    order its columns freely. Line numbers count physical lines, the header being line 1.
    """
    reader = csv.reader(lines, strict=True)
    try:
        header = next(reader, None)
        if header is None:
            yield RowProblem(1, None, "empty_file", "the file has no header and no rows")
            return
        order = _column_order(header)
        if isinstance(order, RowProblem):
            yield order
            return
        for fields in reader:
            if not fields:
                continue
            line = reader.line_num
            if len(fields) != len(order):
                yield RowProblem(
                    line, None, "malformed_row", f"expected {len(order)} fields, got {len(fields)}"
                )
                continue
            yield line, [fields[index] for index in order]
    except csv.Error as error:
        yield RowProblem(reader.line_num, None, "malformed_csv", f"malformed CSV: {error}")
    except UnicodeDecodeError:
        yield RowProblem(reader.line_num + 1, None, "not_utf8", "the file is not UTF-8 text")


def _column_order(header: list[str]) -> list[int] | RowProblem:
    names = [name.strip().lstrip("\ufeff") for name in header]
    missing = [name for name in FIELDS if name not in names]
    unknown = [name for name in names if name not in FIELDS]
    if missing or unknown or len(set(names)) != len(names):
        detail = (
            f"the header must name the columns {', '.join(FIELDS)} once each "
            f"(missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})"
        )
        return RowProblem(1, None, "invalid_header", detail)
    return [names.index(name) for name in FIELDS]


# -- parsing one row -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OutletKey:
    """What an import needs to know about an outlet it may write to."""

    seq: int
    party: str


def parse_row(
    fields: Sequence[str], line: int, outlets: Mapping[tuple[str, str], OutletKey]
) -> CemsHour | list[RowProblem]:
    """A checked hour, or every problem of the row (never both, never an exception).

    `outlets` holds only the outlets the importer may write to, so another enterprise's
    outlet is as unknown as one that does not exist.
    """
    if len(fields) != len(FIELDS):
        detail = f"expected {len(FIELDS)} fields ({', '.join(FIELDS)}), got {len(fields)}"
        return [RowProblem(line, None, "malformed_row", detail)]
    enterprise, outlet, pollutant, start, c_text, q_text, o2_text, minutes, flag = fields
    found: list[RowProblem] = []
    key = outlets.get((enterprise, outlet))
    if key is None:
        found.append(_problem(line, "outlet", "unknown_outlet", f"{enterprise}/{outlet}"))
    if pollutant not in ANALYSER_MAX:
        found.append(_problem(line, "pollutant", "unknown_pollutant", pollutant))
    moment = _instant(start, line, found)
    c = _decimal(c_text, "concentration_mg_nm3", CONCENTRATION_SCALE, line, found)
    q = _decimal(q_text, "dry_flow_nm3_h", FLOW_SCALE, line, found)
    o2 = _decimal(o2_text, "o2_percent", O2_SCALE, line, found)
    valid_minutes = _integer(minutes, "valid_minutes", line, found)
    if moment is None or c is None or q is None or o2 is None or valid_minutes is None:
        return found
    record = HourlyRecord(outlet, pollutant, moment, c, q, o2, valid_minutes, flag)
    for problem in problems(record, ANALYSER_MAX.get(pollutant)):
        found.append(RowProblem(line, problem.field, problem.reason.value, problem.detail))
    if is_water(pollutant) and o2 != 0:
        found.append(_problem(line, "o2_percent", "o2_not_applicable_to_water", o2_text))
    if found or key is None:
        return found
    return CemsHour(
        line,
        key.seq,
        pollutant,
        epoch_hour(moment),
        int(c.scaleb(CONCENTRATION_SCALE)),
        int(q.scaleb(FLOW_SCALE)),
        int(o2.scaleb(O2_SCALE)),
        valid_minutes,
        flag,
    )


def _problem(line: int, field: str, code: str, value: str) -> RowProblem:
    return RowProblem(line, field, code, f"{field}: {code.replace('_', ' ')} (got {value!r})")


def _instant(text: str, line: int, found: list[RowProblem]) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        found.append(_problem(line, "hour_start", "invalid_hour_start", text))
        return None
    if moment.tzinfo is not None:  # one without is refused by `problems`
        try:
            check_instant(moment, "hour_start")
        except DateOutOfRange:
            found.append(_problem(line, "hour_start", "date_out_of_range", text))
            return None
    return moment


def _decimal(
    text: str, field: str, scale: int, line: int, found: list[RowProblem]
) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        found.append(_problem(line, field, "not_a_number", text))
        return None
    if not value.is_finite():
        found.append(_problem(line, field, "not_finite", text))
        return None
    if _too_precise(text, value, scale):
        found.append(RowProblem(line, field, "too_precise", f"{field}: at most {scale} decimals"))
        return None
    if abs(value) > VALUE_MAX[field]:
        found.append(_problem(line, field, "above_storable_maximum", text))
        return None
    return value


def _too_precise(text: str, value: Decimal, scale: int) -> bool:
    """Whether `value` has a non-zero digit below 10^-scale (exact, no rounding context)."""
    point = text.find(".")
    if point < 0 and "e" not in text and "E" not in text:
        return False  # a plain integer: the common case of flows and minutes, decided at once
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    extra = -scale - exponent  # digits below the scale: each must be 0
    return extra > 0 and any(digits[-extra:])


def _integer(text: str, field: str, line: int, found: list[RowProblem]) -> int | None:
    try:
        return int(text)
    except ValueError:
        found.append(_problem(line, field, "not_an_integer", text))
        return None


# -- monthly tally ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredHour:
    """An hour as read back from storage (integer units)."""

    hour: int
    concentration: int
    dry_flow: int
    o2: int
    valid_minutes: int
    flag: str


class MonthlyTally:
    """`MonthlyAccumulator` for stored (already checked) hours, on integers; same aggregate.

    Feed each hour of one (outlet, pollutant, month) once; hours are trusted to lie in the
    month and be unique (the table's primary key and the import's checks make them so).
    """

    def __init__(
        self, outlet: str, pollutant: str, month: date, standard: EmissionStandard | None
    ) -> None:
        self.outlet, self.pollutant, self.standard = outlet, pollutant, standard
        self.month = month.replace(day=1)
        self._received = 0
        self._over_range = 0
        self._valid_per_day: dict[int, int] = {}
        self._sum_c = 0
        self._sum_cq = 0
        self._per_denominator: dict[int, int] = {}  # 21 − O2 (units) → Σ c (units)
        self._exceedances = 0
        self._first_exceedance: int | None = None
        limit = Fraction(standard.limit_mg_nm3) if standard else Fraction(0)
        self._limit = (limit.numerator * _CONCENTRATION_UNITS, limit.denominator)
        ref = None if standard is None else standard.reference_o2
        ref_units = None if ref is None else Fraction(ref) * _O2_UNITS
        # An integer whenever the reference O2 has ≤ 2 decimals (always, in practice): the
        # per-hour comparison then stays in machine-sized integers.
        self._ref_units: Fraction | int | None = (
            int(ref_units) if ref_units is not None and ref_units.denominator == 1 else ref_units
        )

    def add(self, hour: StoredHour) -> None:
        """Take one stored hour."""
        self._received += 1
        self._over_range += hour.flag == DataFlag.OVER_RANGE.value
        if hour.flag != DataFlag.NORMAL.value or hour.valid_minutes < MIN_VALID_MINUTES:
            return
        day = (hour.hour + _CST_OFFSET_HOURS) // 24
        self._valid_per_day[day] = self._valid_per_day.get(day, 0) + 1
        self._sum_c += hour.concentration
        self._sum_cq += hour.concentration * hour.dry_flow
        if self.standard is not None and self._take_on_basis(hour):
            self._exceedances += 1
            if self._first_exceedance is None or hour.hour < self._first_exceedance:
                self._first_exceedance = hour.hour

    def _take_on_basis(self, hour: StoredHour) -> bool:
        """Add the hour to the standard-basis sum; True if it exceeds the standard."""
        numerator, denominator = self._limit
        if self._ref_units is None:
            return hour.concentration * denominator > numerator
        ambient_less_o2 = _O2_AMBIENT_UNITS - hour.o2
        self._per_denominator[ambient_less_o2] = (
            self._per_denominator.get(ambient_less_o2, 0) + hour.concentration
        )
        # c × (21 − ref) / (21 − O2) > limit, cross-multiplied (all factors positive).
        left = hour.concentration * (_O2_AMBIENT_UNITS - self._ref_units) * denominator
        return left > numerator * ambient_less_o2

    def aggregate(self) -> MonthlyAggregate:
        """The month's aggregate, equal to what `MonthlyAccumulator` gives for the same hours."""
        valid_hours = sum(self._valid_per_day.values())
        valid_days = sum(day_is_valid(hours) for hours in self._valid_per_day.values())
        year, month = self.month.year, self.month.month
        first = self._first_exceedance
        return MonthlyAggregate(
            outlet=self.outlet,
            pollutant=self.pollutant,
            month=self.month,
            standard=self.standard,
            hours_received=self._received,
            valid_hours=valid_hours,
            valid_days=valid_days,
            valid_days_required=valid_days_required(year, month),
            month_valid=month_is_valid(year, month, valid_days),
            mass_kg=Decimal(self._sum_cq).scaleb(-(CONCENTRATION_SCALE + FLOW_SCALE + 6)),
            mean_measured=self._mean(Fraction(self._sum_c, _CONCENTRATION_UNITS), valid_hours),
            mean_on_standard_basis=self._basis_mean(valid_hours),
            exceedances=self._exceedances,
            first_exceedance=None if first is None else hour_start(first),
            impossible_hours=0,
            over_range_hours=self._over_range,
        )

    @staticmethod
    def _mean(total: Fraction, count: int) -> Fraction | None:
        return total / count if count else None

    def _basis_mean(self, valid_hours: int) -> Fraction | None:
        if self.standard is None:
            return None
        if self._ref_units is None:
            return self._mean(Fraction(self._sum_c, _CONCENTRATION_UNITS), valid_hours)
        # Σ c_h / d_h over one common denominator: one big-integer pass, not a Fraction per hour.
        common = math.lcm(*self._per_denominator) if self._per_denominator else 1
        numerator = sum(c * (common // d) for d, c in self._per_denominator.items())
        total = Fraction(numerator, common) * (_O2_AMBIENT_UNITS - self._ref_units)
        return self._mean(total / _CONCENTRATION_UNITS, valid_hours)
