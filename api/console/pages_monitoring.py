"""An enterprise's monitoring and tax pages (readers in scope see the same for a party they
name): the monthly CEMS aggregates of a year against the standard, with exceedances and
substituted hours; the environmental-tax quarters: a quarter computed (from verified reports,
or previewed from monitoring), filed returns with their Article 13 savings, and filing.

Means are shown to 0.01 mg/Nm³ (half-up, for display only; the aggregates keep exact
fractions)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.console import charts, i18n
from api.console.permissions import PREFIX
from api.console.web import (
    RULE_KINDS,
    Acts,
    Form,
    Party,
    act,
    context_of,
    gettext,
    language_of,
    party_of,
    render,
)
from api.dependencies import Cursor
from ledger.domain.access import Actor
from ledger.domain.cems import StoredMonth
from ledger.domain.errors import LedgerError
from ledger.domain.hourly import HourReading, MonthOfHours
from ledger.domain.limits import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, YEAR_MAX, YEAR_MIN
from ledger.domain.ports import UnitOfWorkFactory
from ledger.domain.registry import scale_of
from ledger.domain.tax_filing import FiledReturn, Quarter, Source
from ledger.services import monitoring, rights, tax

router = APIRouter()
Year = Annotated[int | None, Query(ge=YEAR_MIN, le=YEAR_MAX)]
Pollutant = Annotated[str, Query(pattern=r"^(SO2|NOx|PM|CO|NH3-N|COD)$")]
QuarterText = Annotated[str | None, Query(pattern=r"^[0-9]{4}Q[1-4]$")]
MonthText = Annotated[str, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
OUTLET_CODE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
Outlet = Annotated[str, Query(min_length=1, max_length=32, pattern=OUTLET_CODE)]
CENTI = Decimal("0.01")


def shown(mean: Fraction | None) -> Decimal | None:
    """A mean for display: to 0.01 mg/Nm³, half-up."""
    if mean is None:
        return None
    return (Decimal(mean.numerator) / Decimal(mean.denominator)).quantize(CENTI, ROUND_HALF_UP)


@router.get("/monitoring", include_in_schema=False)
def monitoring_page(  # noqa: PLR0917 - the page's filters
    request: Request,
    actor: Acts,
    party: Party = None,
    year: Year = None,
    pollutant: Pollutant = "SO2",
    cursor: Cursor = None,
) -> Response:
    """A year of one pollutant's monthly aggregates, per outlet, against the standard."""
    code = party_of(actor, party)
    shown_year = year or datetime.now(i18n.CHINA_STANDARD_TIME).year
    wanted = monitoring.MonthFilter(
        date(shown_year, 1, 1), date(shown_year, 12, 1), party=code, pollutant=pollutant
    )
    page = monitoring.list_months(
        context_of(request).store, actor, wanted, cursor, PAGE_SIZE_DEFAULT
    )
    return render(
        request,
        "monitoring.html",
        party=code,
        year=shown_year,
        pollutant=pollutant,
        months=page.items,
        next_cursor=page.next_cursor,
        charts=_charts(request, page.items, pollutant),
        shown=shown,
    )


def _charts(
    request: Request, months: list[StoredMonth], pollutant: str
) -> list[tuple[charts.Chart, list[StoredMonth]]]:
    """One chart per outlet: each month's mean on the standard's basis, the standard marked."""
    _ = gettext(request)
    by_outlet: dict[str, list[StoredMonth]] = defaultdict(list)
    for stored in months:
        by_outlet[stored.aggregate.outlet].append(stored)
    drawn = []
    for outlet, found in sorted(by_outlet.items()):
        means = [shown(m.aggregate.mean_on_standard_basis) or Decimal(0) for m in found]
        limits = [
            m.aggregate.standard.limit_mg_nm3 if m.aggregate.standard else None for m in found
        ]
        drawn.append(
            (
                charts.Chart(
                    _("%(pollutant)s at %(outlet)s against the standard")
                    % {"pollutant": pollutant, "outlet": outlet},
                    _(
                        "Monthly mean concentration (mg/Nm³, on the standard's basis); the dashed "
                        "line is the hourly standard."
                    ),
                    [f"{m.aggregate.month:%Y-%m}" for m in found],
                    [charts.Series(_("mean"), means)],
                    unit="mg/Nm³",
                    marks=limits,
                ),
                found,
            )
        )
    return drawn


@router.get("/monitoring/hours", include_in_schema=False)
def hours_page(  # noqa: PLR0917 - the page's filters
    request: Request,
    actor: Acts,
    outlet: Outlet,
    month: MonthText,
    party: Party = None,
    pollutant: Pollutant = "SO2",
) -> Response:
    """A month of an outlet's pollutant hour by hour against the standard (a chart, and the
    same numbers in a table folded by day); an enterprise sees its own outlets only."""
    code = party_of(actor, party)
    first = date(int(month[:4]), int(month[5:]), 1)
    found = monitoring.month_of_hours(
        context_of(request).store, actor, code, outlet, pollutant, first
    )
    return render(
        request,
        "monitoring_hours.html",
        found=found,
        month=month,
        chart=_hourly_chart(request, found),
        days=_by_day(found),
        shown=shown,
    )


def _local(reading: HourReading) -> datetime:
    return reading.hour.astimezone(i18n.CHINA_STANDARD_TIME)


def _by_day(found: MonthOfHours) -> list[tuple[str, list[HourReading]]]:
    """The hours grouped by their CST day, for the table folded by day."""
    days: dict[str, list[HourReading]] = defaultdict(list)
    for reading in found.hours:
        days[f"{_local(reading):%Y-%m-%d}"].append(reading)
    return sorted(days.items())


def _hourly_chart(request: Request, found: MonthOfHours) -> charts.HourlyChart:
    """Each hour's reading (an exceedance in red); a substituted hour at its substitute."""
    _ = gettext(request)
    columns, ticks = [], []
    for index, reading in enumerate(found.hours):
        local = _local(reading)
        if local.hour == 0 and local.day % 5 == 1:
            ticks.append((index, str(local.day)))
        kind = "exceedance" if reading.exceeds else "reading"
        value = reading.value
        if reading.substitute is not None:
            kind, value = "substituted", reading.substitute
        columns.append(charts.Column(shown(value), kind, f"{local:%Y-%m-%d %H:00} CST"))
    standard = found.standard
    return charts.HourlyChart(
        _("%(pollutant)s at %(outlet)s hour by hour in %(month)s")
        % {"pollutant": found.pollutant, "outlet": found.outlet, "month": f"{found.month:%Y-%m}"},
        _(
            "Each hour's concentration (mg/Nm³, on the standard's basis), days of the month "
            "along the axis; exceedances in red, substituted hours in grey at their substitute; "
            "the dashed line is the hourly standard."
        ),
        columns,
        {
            "reading": _("reading"),
            "exceedance": _("exceedance"),
            "substituted": _("substituted"),
        },
        unit="mg/Nm³",
        standard=None if standard is None else standard.limit_mg_nm3,
        days=ticks,
    )


@router.get("/tax", include_in_schema=False)
def tax_page(  # noqa: PLR0917 - the page's filters
    request: Request,
    actor: Acts,
    party: Party = None,
    quarter: QuarterText = None,
    source: Annotated[str, Query(pattern="^(reports|monitoring)$")] = "reports",
    cursor: Cursor = None,
) -> Response:
    """Filed returns (with their Article 13 savings) and, if asked, a quarter computed."""
    code = party_of(actor, party)
    store = context_of(request).store
    page = tax.list_returns(store, actor, code, None, cursor, PAGE_SIZE_DEFAULT)
    computed, refused = None, None
    if quarter is not None:
        try:
            computed = tax.compute_quarter(
                store, actor, code, Quarter.parse(quarter), Source(source)
            )
        except LedgerError as error:  # a rule's answer (no data yet) is shown on the page
            if error.kind not in RULE_KINDS:
                raise
            refused = f"{error.code}: {error.detail}"
    return render(
        request,
        "tax.html",
        party=code,
        returns=page.items,
        next_cursor=page.next_cursor,
        computed=computed,
        refused=refused,
        quarter=quarter or "",
        source=source,
    )


@router.post("/tax/returns", include_in_schema=False)
def file_return(request: Request, actor: Acts, form: Form) -> Response:
    """File a quarter's return from its verified reports."""
    _ = gettext(request)
    code = party_of(actor, form.get("party") or None)
    text = form.get("quarter", "")
    store = context_of(request).store

    def run() -> FiledReturn:
        return tax.file_return(store, actor, code, Quarter.parse(text)).record

    def done(filed: FiledReturn) -> str:
        return _("Return %(id)s filed: %(due)s due.") % {
            "id": filed.id,
            "due": i18n.money(filed.computed.total_due, language_of(request)),
        }

    return act(request, f"{PREFIX}/tax", done, run)


MONTHS_PAGES_MAX = 20  # a year of months of every outlet: a few pages at most


def emissions_against_entitlement(
    request: Request, actor: Actor, code: str, year: int
) -> list[tuple[charts.Chart, list[tuple[str, Decimal, Decimal]]]]:
    """Per pollutant entitled in `year`: the year's emissions so far, month by month and
    cumulated over every outlet (from the monitoring aggregates, kg to t), against the rights
    allocated for the year (the dashed line)."""
    store = context_of(request).store
    entitled: dict[str, int] = defaultdict(int)
    cursor: str | None = None
    for _page in range(MONTHS_PAGES_MAX):
        found = rights.list_entitlements(store, actor, code, None, cursor, PAGE_SIZE_MAX)
        for entitlement in found.items:
            if entitlement.first_vintage <= year <= entitlement.last_vintage:
                entitled[entitlement.pollutant] += entitlement.units
        cursor = found.next_cursor
        if cursor is None:
            break
    _ = gettext(request)
    drawn = []
    for pollutant, units in sorted(entitled.items()):
        monthly = _monthly_tonnes(store, actor, code, pollutant, year)
        if not monthly:
            continue
        allowed = Decimal(units).scaleb(-scale_of(pollutant))
        labels, totals, rows, running = [], [], [], Decimal(0)
        for month, tonnes in sorted(monthly.items()):
            running += tonnes
            labels.append(f"{month:%Y-%m}")
            totals.append(running)
            rows.append((f"{month:%Y-%m}", tonnes, running))
        chart = charts.Chart(
            _("%(pollutant)s emitted in %(year)s against the rights allocated")
            % {"pollutant": pollutant, "year": year},
            _(
                "Emissions cumulated month by month over every outlet (t); the dashed line is "
                "the year's allocated rights (t)."
            ),
            labels,
            [charts.Series(_("emitted so far"), totals)],
            unit="t",
            marks=[allowed] * len(labels),
        )
        drawn.append((chart, rows))
    return drawn


def _monthly_tonnes(
    store: UnitOfWorkFactory, actor: Actor, code: str, pollutant: str, year: int
) -> dict[date, Decimal]:
    wanted = monitoring.MonthFilter(
        date(year, 1, 1), date(year, 12, 1), party=code, pollutant=pollutant
    )
    tonnes: dict[date, Decimal] = defaultdict(Decimal)
    cursor: str | None = None
    for _page in range(MONTHS_PAGES_MAX):
        page = monitoring.list_months(store, actor, wanted, cursor, PAGE_SIZE_MAX)
        for stored in page.items:
            tonnes[stored.aggregate.month] += stored.aggregate.mass_kg / 1000
        cursor = page.next_cursor
        if cursor is None:
            break
    return tonnes
