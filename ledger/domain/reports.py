"""Emission reports: what an enterprise declares for a period, and the workflow that verifies it.

A report covers one enterprise and one period (a month `2025-03`, a quarter `2025Q1` or a year
`2025`) and has one line per (month, outlet, pollutant) with the facts the tax needs
(`ledger.domain.tax.PollutantMonth`) and the method that produced them (rules.md §1.1: CEMS,
certified agency, coefficients / material balance, provincial estimate).

Workflow (`TRANSITIONS`)::

    draft ──submit──► submitted ──verify──► verified ──invalidate──► invalidated
                          └──reject──► rejected
    verified / rejected / invalidated ──correct──► a new draft, version n+1, `supersedes` = old;
    when that version is verified, the old one becomes superseded.

- The enterprise submits; a verifier verifies or rejects; the verifier is never the principal
  that submitted (also a CHECK in the database). A regulator invalidates a verified report
  (e.g. found fraudulent) and every incentive that rested on it is reversed with it.
- A CEMS line carries how many of its hours were substituted and by which method (rules §7.1)
  and every hour that exceeded the standard (§7.2), so the verifier sees them.
- Figures are fixed from submission on: the database refuses any change to a report's lines
  unless the report is a draft, and any change to a verified report but its supersession or
  invalidation. Corrections are new versions, never edits.
- Report ids are `{party}-{period}-v{version}`: one chain of versions per enterprise and
  period, and the periods of one enterprise's chains never overlap, so each month of an
  enterprise has at most one verified report in force.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from ledger.domain.bounds import check_date, check_year
from ledger.domain.errors import InvalidField, Kind, LedgerError
from ledger.domain.tax import PollutantMonth
from ledger.domain.tax_tables import Pollutant


class ReportNotFound(
    LedgerError, code="report_not_found", kind=Kind.NOT_FOUND, title="Emission report not found"
):
    """No such report, or not one the caller may see."""


class ReportTransitionRefused(
    LedgerError,
    code="report_transition_refused",
    kind=Kind.CONFLICT,
    title="The report's state does not allow this step",
):
    """The report is not in a state that allows this step."""


class VerifierIsSubmitter(
    LedgerError,
    code="verifier_is_submitter",
    kind=Kind.UNPROCESSABLE,
    title="A report cannot be verified or rejected by its submitter",
):
    """A principal tried to verify or reject a report it submitted itself."""


class ReportPeriodTaken(
    LedgerError,
    code="report_period_taken",
    kind=Kind.CONFLICT,
    title="A report already covers this period",
):
    """The enterprise already has a report for an overlapping period (correct it instead)."""


class ReportAlreadyCorrected(
    LedgerError,
    code="report_already_corrected",
    kind=Kind.CONFLICT,
    title="The report already has a corrected version",
):
    """The report already has a newer version."""


class ReportNotVerified(
    LedgerError, code="report_not_verified", kind=Kind.CONFLICT, title="The report is not verified"
):
    """Facts were asked of a report that is not verified."""


class NoReportData(
    LedgerError,
    code="no_report_data",
    kind=Kind.UNPROCESSABLE,
    title="No data for this enterprise and period",
):
    """A report would have no lines: no monitoring aggregates and no lines given."""


class InvalidReportLine(
    LedgerError, code="invalid_report_line", kind=Kind.INVALID, title="A report line is not valid"
):
    """A report line is outside the period, duplicated, or names an unknown outlet."""


class LineStatesStandard(
    LedgerError,
    code="line_states_standard",
    kind=Kind.INVALID,
    title="A report line never states its standard",
):
    """A given line carries a standard or reference O2: both come from the outlet's permit."""


class CemsLinesRequired(
    LedgerError,
    code="cems_lines_required",
    kind=Kind.UNPROCESSABLE,
    title="This outlet's lines come from CEMS",
):
    """An enterprise gave an agency, coefficient or estimate line where CEMS data govern (the
    outlet's permit requires CEMS, or CEMS data are stored for that month), or a draft asked to
    leave out CEMS data stored for its period (rules.md §7.4)."""


class CemsDataNotReported(
    LedgerError,
    code="cems_data_not_reported",
    kind=Kind.UNPROCESSABLE,
    title="The report does not carry the stored CEMS data",
):
    """A report leaves out, or carries other figures than, CEMS data stored for its period: a
    month of an outlet and pollutant has no CEMS line, another method's line (not a
    regulator's), or a CEMS line that no longer matches the stored aggregate (rules.md §7.4)."""


class LineNotMeasured(
    LedgerError,
    code="line_not_measured",
    kind=Kind.INVALID,
    title="A coefficient or estimate line states no concentration",
):
    """A coefficient or estimate line states a mean concentration: only measured lines (CEMS,
    a certified agency) have one, and only they may earn the Article 13 reduction (§1.3)."""


class ParticulateNotPermitted(
    LedgerError,
    code="particulate_not_permitted",
    kind=Kind.UNPROCESSABLE,
    title="The outlet's permit taxes its PM otherwise",
):
    """A PM line names soot or general dust against its outlet's permit, which says what the
    outlet's measured PM is taxed as (rules.md §1.2, §7.4)."""


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


# Years 2000–2100 (limits.YEAR_MIN..YEAR_MAX, checked after the pattern), as finance periods
# and tax quarters.
_PERIOD = re.compile(r"^([12]\d{3})(?:-(\d{2})|Q([1-4]))?$", flags=re.ASCII)


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month, quarter or year (months in China Standard Time)."""

    kind: PeriodKind
    year: int
    number: int = 1  # month 1–12, quarter 1–4, 1 for a year

    @classmethod
    def parse(cls, text: str) -> Period:
        """'2025-03', '2025Q1' or '2025'."""
        match = _PERIOD.match(text)
        if match is None:
            raise InvalidField(f"period {text!r} is not YYYY, YYYYQn or YYYY-MM", field="period")
        year, month, quarter = match.groups()
        check_year(int(year), "period")
        if month is not None:
            if not 1 <= int(month) <= 12:
                raise InvalidField(f"no month {month}", field="period")
            return cls(PeriodKind.MONTH, int(year), int(month))
        if quarter is not None:
            return cls(PeriodKind.QUARTER, int(year), int(quarter))
        return cls(PeriodKind.YEAR, int(year))

    def __str__(self) -> str:
        if self.kind is PeriodKind.MONTH:
            return f"{self.year}-{self.number:02d}"
        if self.kind is PeriodKind.QUARTER:
            return f"{self.year}Q{self.number}"
        return str(self.year)

    def months(self) -> tuple[date, ...]:
        """First days of the period's months, in order."""
        if self.kind is PeriodKind.MONTH:
            return (date(self.year, self.number, 1),)
        if self.kind is PeriodKind.QUARTER:
            first = 3 * (self.number - 1) + 1
            return tuple(date(self.year, first + offset, 1) for offset in range(3))
        return tuple(date(self.year, month, 1) for month in range(1, 13))

    @property
    def first_month(self) -> date:
        return self.months()[0]

    @property
    def last_month(self) -> date:
        return self.months()[-1]

    def overlaps(self, other: Period) -> bool:
        return self.first_month <= other.last_month and other.first_month <= self.last_month


class ReportStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    VERIFIED = "verified"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"
    INVALIDATED = "invalidated"


TRANSITIONS: dict[str, tuple[frozenset[ReportStatus], ReportStatus]] = {
    "submit": (frozenset({ReportStatus.DRAFT}), ReportStatus.SUBMITTED),
    "verify": (frozenset({ReportStatus.SUBMITTED}), ReportStatus.VERIFIED),
    "reject": (frozenset({ReportStatus.SUBMITTED}), ReportStatus.REJECTED),
    "invalidate": (frozenset({ReportStatus.VERIFIED}), ReportStatus.INVALIDATED),
    "supersede": (
        frozenset({ReportStatus.VERIFIED, ReportStatus.REJECTED, ReportStatus.INVALIDATED}),
        ReportStatus.SUPERSEDED,
    ),
}
CORRECTABLE = TRANSITIONS["supersede"][0]


class Method(StrEnum):
    """Where a line's figures come from, in the law's order of priority (rules.md §1.1)."""

    CEMS = "cems"  # automatic monitoring: the monthly aggregate of stored hours
    AGENCY = "agency"  # a certified monitoring agency's measurement
    COEFFICIENT = "coefficient"  # official emission coefficients or material balance
    ESTIMATE = "estimate"  # the province's sampling estimate


# Methods that measure a concentration (rules §1.3: the month's mean of measured values); only
# their lines may earn the Article 13 reduction or count as a valid monitoring month (§3).
MEASURED = frozenset({Method.CEMS, Method.AGENCY})


@dataclass(frozen=True, slots=True)
class ReportLine:
    """One (month, outlet, pollutant) of a report: the tax facts and where they come from.

    `pollutant` is the tax identity (PM is `soot` or `general_dust`); `measured_as` is what the
    analyser or agency reported ('PM'). `mean_concentration` is the valid-hour mean on the
    standard's basis (O2-corrected where the standard names a reference O2), exact; None when
    unknown (then no Article 13 reduction). Only measured lines (`MEASURED`) have one: a
    coefficient or estimate line is taxed without reduction. CEMS lines also carry their
    validity counts.
    `standard_mg` and `reference_o2` are the outlet's permit's for the month, filled in by the
    service when the line is drafted: a line given by anyone never states them.
    """

    month: date
    outlet: str
    pollutant: Pollutant
    measured_as: str
    method: Method
    mass_kg: Decimal
    mean_concentration: Fraction | None = None
    standard_mg: Decimal | None = None
    reference_o2: Decimal | None = None
    exceedances: int = 0
    month_valid: bool = True
    valid_hours: int | None = None
    valid_days: int | None = None
    substituted_hours: int = 0  # rules §7.1: non-valid hours whose values were substituted
    substitution: tuple[tuple[str, int], ...] = ()  # (method, hours), by method
    exceedance_hours: tuple[datetime, ...] = ()  # rules §7.2: the hours above the standard

    def __post_init__(self) -> None:
        if self.month.day != 1:
            raise InvalidField("a line's month is its first day", field="month")
        check_date(self.month, "month")
        self.facts()  # the tax's own checks (mass, mean, standard, exceedances)

    @property
    def measured(self) -> bool:
        """Its figures were measured (CEMS, agency), not derived from coefficients or an
        estimate."""
        return self.method in MEASURED

    @property
    def valid_measured_month(self) -> bool:
        """A valid monitoring month (§3): measured, and valid. A stored coefficient or estimate
        line is never one, whatever its `month_valid` says."""
        return self.measured and self.month_valid

    @property
    def substituted(self) -> bool:
        """Marked "substituted" for the verifier: some of its hours are not measured ones."""
        return self.substituted_hours > 0

    def facts(self) -> PollutantMonth:
        """The line as the tax computes it."""
        return PollutantMonth(
            outlet=self.outlet,
            pollutant=self.pollutant,
            mass_kg=self.mass_kg,
            mean_concentration=self.mean_concentration,
            standard_mg=self.standard_mg,
            exceedances=self.exceedances,
            month_valid=self.month_valid,
            measured=self.measured,
        )


@dataclass(frozen=True, slots=True)
class Report:
    """An emission report's header: who, which period, which version, where in the workflow."""

    id: str
    party: str
    period: Period
    version: int
    status: ReportStatus
    created_by: str
    created_at: datetime
    supersedes: str | None = None
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    decided_by: str | None = None  # the verifier who verified or rejected it
    decided_at: datetime | None = None
    decision_note: str = ""
    invalidated_by: str | None = None
    invalidated_at: datetime | None = None
    invalidation_reason: str = ""
    superseded_by: str | None = None


def report_id(party: str, period: Period, version: int) -> str:
    """'E01-2025Q1-v1'."""
    return f"{party}-{period}-v{version}"


def check_transition(report: Report, step: str) -> ReportStatus:
    """The status `step` leads to from the report's; refuses a step its status does not allow."""
    allowed, target = TRANSITIONS[step]
    if report.status not in allowed:
        raise ReportTransitionRefused(
            f"report {report.id} is {report.status.value}; {step} needs "
            + " or ".join(sorted(status.value for status in allowed)),
            field="status",
        )
    return target


def check_decider(report: Report, principal_id: str) -> None:
    """Four eyes: whoever verifies or rejects is not whoever submitted."""
    if report.submitted_by == principal_id:
        raise VerifierIsSubmitter(
            f"{principal_id} submitted report {report.id} and cannot decide on it",
            field="verifier",
        )


def check_lines(period: Period, outlets: frozenset[str], lines: tuple[ReportLine, ...]) -> None:
    """Every line in the period, of a known outlet of the enterprise, and each key once."""
    months = set(period.months())
    seen: set[tuple[date, str, Pollutant]] = set()
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        if line.month not in months:
            raise InvalidReportLine(f"{line.month:%Y-%m} is outside {period}", field=where)
        if line.outlet not in outlets:
            raise InvalidReportLine(f"unknown outlet {line.outlet!r}", field=f"{where}.outlet")
        key = (line.month, line.outlet, line.pollutant)
        if key in seen:
            raise InvalidReportLine(
                f"{line.month:%Y-%m} {line.outlet} {line.pollutant.value} appears twice",
                field=where,
            )
        seen.add(key)


@dataclass(frozen=True, slots=True)
class VerifiedFacts:
    """What a verified report says, month by month, in the tax's terms.

    The tax (and incentives, reductions, obligations) computes from this and references
    `report_id`; if the report is later invalidated, everything that rested on it is reversed.
    """

    report_id: str
    party: str
    period: Period
    version: int
    verified_by: str
    verified_at: datetime
    months: dict[date, tuple[PollutantMonth, ...]]
    lines: tuple[ReportLine, ...]
