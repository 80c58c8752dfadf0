"""Wire format of monitoring and emission reports, and conversions from and to the domain.

CEMS values travel as decimal strings ("20.125"), exactly as in the CSV, so the domain reports
every bad value with its location instead of Pydantic coercing it. Masses are decimal strings
in kg, exact; mean concentrations are shown rounded to 0.001 mg/Nm³ (`reported_mean`) and, for
reproducing a decision, as the exact fraction (`"p/q"`) they are stored as.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Annotated, Literal

from pydantic import Field

from api.schemas import NO_NUL, Strict
from ledger.domain.amounts import parse_decimal
from ledger.domain.bounds import parse_month
from ledger.domain.cems import FIELDS, ImportRecord, RowProblem, StoredMonth, plain
from ledger.domain.errors import InvalidField, LedgerError
from ledger.domain.hourly import HourReading, MonthOfHours
from ledger.domain.limits import HOURS_PER_MONTH_MAX
from ledger.domain.monitoring import reported_mean
from ledger.domain.reports import Method, Report, ReportLine
from ledger.domain.tax_tables import Pollutant
from ledger.services.reports import Content, ReportView

CEMS_RECORDS_PER_REQUEST_MAX = 5000
LINES_PER_REPORT_MAX = 2000
Short = Annotated[str, Field(max_length=64), NO_NUL]
Note = Annotated[str, Field(max_length=500), NO_NUL]
MonthText = Annotated[str, Field(pattern=r"^[0-9]{4}-[0-9]{2}$")]
PeriodText = Annotated[str, Field(pattern=r"^[0-9]{4}(-[0-9]{2}|Q[1-4])?$")]
DecimalText = Annotated[str, Field(min_length=1, max_length=40)]


# -- CEMS ------------------------------------------------------------------------------------


class CemsRecordIn(Strict):
    """One hourly record, the same fields as a CSV row."""

    enterprise: Short
    outlet: Short
    pollutant: Short
    hour_start: Short
    concentration_mg_nm3: DecimalText
    dry_flow_nm3_h: DecimalText
    o2_percent: DecimalText
    valid_minutes: int
    flag: Annotated[str, Field(max_length=4)]

    def fields(self) -> list[str]:
        """The record as a CSV row's fields, in `FIELDS` order."""
        return [str(getattr(self, name)) for name in FIELDS]


class CemsRecordsIn(Strict):
    records: Annotated[
        list[CemsRecordIn], Field(min_length=1, max_length=CEMS_RECORDS_PER_REQUEST_MAX)
    ]


class CemsImportOut(Strict):
    import_id: int
    sha256: str
    source: str
    rows: int
    inserted: int
    unchanged: int
    imported_by: str
    imported_at: datetime
    months_recomputed: int


def import_out(record: ImportRecord) -> CemsImportOut:
    assert record.seq is not None
    return CemsImportOut(
        import_id=record.seq,
        sha256=record.sha256,
        source=record.source,
        rows=record.rows,
        inserted=record.inserted,
        unchanged=record.unchanged,
        imported_by=record.imported_by,
        imported_at=record.imported_at,
        months_recomputed=record.months,
    )


def problem_out(problem: RowProblem, *, json_records: bool) -> dict[str, object]:
    """A row problem for the problem+json `errors` list; JSON records are located by index."""
    if json_records:
        where = f"records[{problem.line}]"
        field = where if problem.field is None else f"{where}.{problem.field}"
        return {
            "index": problem.line,
            "field": field,
            "code": problem.code,
            "detail": problem.detail,
        }
    return {
        "line": problem.line,
        "field": problem.field,
        "code": problem.code,
        "detail": problem.detail,
    }


def _mean(value: Fraction | None) -> str | None:
    return None if value is None else str(reported_mean(value))


def _exact(value: Fraction | None) -> str | None:
    return None if value is None else str(value)


class MonthlyAggregateOut(Strict):
    enterprise: str
    outlet: str
    pollutant: str
    month: str
    hours_received: int
    valid_hours: int
    valid_days: int
    valid_days_required: int
    month_valid: bool
    mass_kg: str
    mean_measured_mg_nm3: str | None
    mean_on_standard_basis_mg_nm3: str | None
    mean_on_standard_basis_exact: str | None
    standard_mg_nm3: str | None
    reference_o2_percent: str | None
    exceedances: int
    first_exceedance: datetime | None
    over_range_hours: int
    substituted_hours: int = Field(description="non-valid hours whose values were substituted")
    substitution: dict[str, int] = Field(description="substituted hours by method (rules §7.1)")
    exceedance_hours: list[datetime] = Field(description="every hour above the standard")


def month_out(stored: StoredMonth) -> MonthlyAggregateOut:
    a = stored.aggregate
    return MonthlyAggregateOut(
        enterprise=stored.party,
        outlet=a.outlet,
        pollutant=a.pollutant,
        month=f"{a.month:%Y-%m}",
        hours_received=a.hours_received,
        valid_hours=a.valid_hours,
        valid_days=a.valid_days,
        valid_days_required=a.valid_days_required,
        month_valid=a.month_valid,
        mass_kg=plain(a.mass_kg),
        mean_measured_mg_nm3=_mean(a.mean_measured),
        mean_on_standard_basis_mg_nm3=_mean(a.mean_on_standard_basis),
        mean_on_standard_basis_exact=_exact(a.mean_on_standard_basis),
        standard_mg_nm3=None if a.standard is None else str(a.standard.limit_mg_nm3),
        reference_o2_percent=(
            None
            if a.standard is None or a.standard.reference_o2 is None
            else str(a.standard.reference_o2)
        ),
        exceedances=a.exceedances,
        first_exceedance=a.first_exceedance,
        over_range_hours=a.over_range_hours,
        substituted_hours=a.substituted_hours,
        substitution=dict(a.substitution),
        exceedance_hours=list(a.exceedance_hours),
    )


class MonthlyAggregatePage(Strict):
    months: list[MonthlyAggregateOut]
    next_cursor: str | None


class HourOut(Strict):
    hour: datetime = Field(description="the hour's start")
    flag: str
    valid_minutes: int
    reading_mg_nm3: str | None = Field(
        description="on the standard's basis, rounded as monthly means are; null when stopped"
    )
    reading_exact: str | None
    substitute_mg_nm3: str | None = Field(description="the value substituted for a non-valid hour")
    substitution_method: str | None
    exceeds: bool = Field(description="listed among the monthly aggregate's exceedances")


class MonthOfHoursOut(Strict):
    enterprise: str
    outlet: str
    pollutant: str
    month: str
    standard_mg_nm3: str | None
    hours: list[HourOut]


def _hour_out(h: HourReading) -> HourOut:
    return HourOut(
        hour=h.hour,
        flag=h.flag,
        valid_minutes=h.valid_minutes,
        reading_mg_nm3=_mean(h.value),
        reading_exact=_exact(h.value),
        substitute_mg_nm3=_mean(h.substitute),
        substitution_method=h.method,
        exceeds=h.exceeds,
    )


def hours_out(found: MonthOfHours) -> MonthOfHoursOut:
    return MonthOfHoursOut(
        enterprise=found.party,
        outlet=found.outlet,
        pollutant=found.pollutant,
        month=f"{found.month:%Y-%m}",
        standard_mg_nm3=None if found.standard is None else str(found.standard.limit_mg_nm3),
        hours=[_hour_out(h) for h in found.hours],
    )


# -- reports ---------------------------------------------------------------------------------


def _decimal(text: str, field: str) -> Decimal:
    value = parse_decimal(text, field=field)  # plain digits only: no '1e3', 'NaN', '1_000'
    if value < 0:
        raise InvalidField(f"{text!r} must not be negative", field=field)
    return value


month_of = parse_month  # '2025-03' -> 2025-03-01, within the ledger's range of dates


class ReportLineIn(Strict):
    """A line from an agency measurement, coefficients or an estimate (not CEMS)."""

    month: MonthText
    outlet: Short
    pollutant: Pollutant
    measured_as: Short | None = None
    method: Literal["agency", "coefficient", "estimate"]
    mass_kg: DecimalText
    mean_concentration: DecimalText | None = None
    exceedances: Annotated[int, Field(ge=0, le=HOURS_PER_MONTH_MAX)] = 0
    month_valid: bool = True

    def to_domain(self, index: int) -> ReportLine:
        where = f"lines[{index}]"
        try:
            return self._line(where)
        except LedgerError as error:  # the line's own rules name a field of the line
            if error.field is not None and not error.field.startswith(where):
                error.field = f"{where}.{error.field}"
            raise

    def _line(self, where: str) -> ReportLine:
        mean = self.mean_concentration
        return ReportLine(
            month=month_of(self.month, f"{where}.month"),
            outlet=self.outlet,
            pollutant=self.pollutant,
            measured_as=self.measured_as or self.pollutant.value,
            method=Method(self.method),
            mass_kg=_decimal(self.mass_kg, f"{where}.mass_kg"),
            mean_concentration=(
                None if mean is None else Fraction(_decimal(mean, f"{where}.mean_concentration"))
            ),
            exceedances=self.exceedances,
            month_valid=self.month_valid,
        )


class ContentIn(Strict):
    from_monitoring: bool = True
    lines: Annotated[list[ReportLineIn], Field(max_length=LINES_PER_REPORT_MAX)] = []

    def to_domain(self) -> Content:
        return Content(
            from_monitoring=self.from_monitoring,
            lines=tuple(line.to_domain(index) for index, line in enumerate(self.lines)),
        )


class ReportIn(ContentIn):
    enterprise: Short
    period: PeriodText


class DecisionIn(Strict):
    note: Note = ""


class InvalidationIn(Strict):
    reason: Annotated[str, Field(min_length=1, max_length=500), NO_NUL]


class ReportLineOut(Strict):
    month: str
    outlet: str
    pollutant: str
    measured_as: str
    method: str
    mass_kg: str
    mean_concentration: str | None
    mean_concentration_exact: str | None
    standard_mg: str | None
    reference_o2: str | None
    exceedances: int
    month_valid: bool
    valid_hours: int | None
    valid_days: int | None
    substituted: bool = Field(description="some hours of the line were substituted (§7.1)")
    substituted_hours: int
    substitution: dict[str, int] = Field(description="substituted hours by method (rules §7.1)")
    exceedance_hours: list[datetime] = Field(description="every hour above the standard (§7.2)")


class ReportOut(Strict):
    id: str
    enterprise: str
    period: str
    version: int
    status: str
    supersedes: str | None
    superseded_by: str | None
    created_by: str
    created_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    invalidated_by: str | None
    invalidated_at: datetime | None
    invalidation_reason: str
    lines: list[ReportLineOut] | None = None
    reversed_incentives: list[str] = []
    reversed_reductions: list[str] = []
    amended_returns: list[str] = []


def line_out(line: ReportLine) -> ReportLineOut:
    return ReportLineOut(
        month=f"{line.month:%Y-%m}",
        outlet=line.outlet,
        pollutant=line.pollutant.value,
        measured_as=line.measured_as,
        method=line.method.value,
        mass_kg=plain(line.mass_kg),
        mean_concentration=_mean(line.mean_concentration),
        mean_concentration_exact=_exact(line.mean_concentration),
        standard_mg=None if line.standard_mg is None else str(line.standard_mg),
        reference_o2=None if line.reference_o2 is None else str(line.reference_o2),
        exceedances=line.exceedances,
        month_valid=line.month_valid,
        valid_hours=line.valid_hours,
        valid_days=line.valid_days,
        substituted=line.substituted,
        substituted_hours=line.substituted_hours,
        substitution=dict(line.substitution),
        exceedance_hours=list(line.exceedance_hours),
    )


def report_out(report: Report, view: ReportView | None = None) -> ReportOut:
    return ReportOut(
        id=report.id,
        enterprise=report.party,
        period=str(report.period),
        version=report.version,
        status=report.status.value,
        supersedes=report.supersedes,
        superseded_by=report.superseded_by,
        created_by=report.created_by,
        created_at=report.created_at,
        submitted_by=report.submitted_by,
        submitted_at=report.submitted_at,
        decided_by=report.decided_by,
        decided_at=report.decided_at,
        decision_note=report.decision_note,
        invalidated_by=report.invalidated_by,
        invalidated_at=report.invalidated_at,
        invalidation_reason=report.invalidation_reason,
        lines=None if view is None else [line_out(line) for line in view.lines],
        reversed_incentives=[] if view is None else list(view.reversed_incentives),
        reversed_reductions=[] if view is None else list(view.reversed_reductions),
        amended_returns=[] if view is None else list(view.amended_returns),
    )


def view_out(view: ReportView) -> ReportOut:
    return report_out(view.report, view)


class ReportPage(Strict):
    reports: list[ReportOut]
    next_cursor: str | None
