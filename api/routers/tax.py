"""Environmental tax, incentives and verified reductions: compute a quarter (lines and totals),
file and read returns, the tax policy, incentives (book, equipment credit, clawback, credit
schedule), verified reductions and the rights obligations of a verified report. Translation
only: the services scope, check and audit; a create retried with the same body answers the
stored record, 201 with `Idempotent-Replayed: true`."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Path, Query, Response
from fastapi.responses import JSONResponse

from api import registry_schemas as rs
from api import tax_schemas as ts
from api.answers import PENDING, ApprovalOut, created, or_pending, pending_answer
from api.auth import Acts
from api.dependencies import Cursor, Filter, Store
from api.routing import Routes
from ledger.domain.access import Pending
from ledger.domain.bounds import check_year, is_digits, parse_month
from ledger.domain.errors import InvalidField
from ledger.domain.incentives import IncentiveKind, Release
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.tax_filing import Quarter, Source
from ledger.domain.tax_tables import TableKind
from ledger.services import incentives, reductions, tax, tax_tables

router = Routes(prefix="/v1")

TAX: list[str | Enum] = ["environmental tax"]
INCENTIVES: list[str | Enum] = ["tax incentives"]
Code = Annotated[str, Path(max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
QuarterPath = Annotated[str, Path(pattern=r"^[0-9]{4}Q[1-4]$")]
RecordPath = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
ReportQuery = Annotated[str, Query(max_length=48, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
Year = Annotated[int | None, Query(ge=2000, le=2100)]
YearPath = Annotated[int, Path(ge=2000, le=2100)]
MonthQuery = Annotated[str, Query(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$", examples=["2026-01"])]
CitPayable = Annotated[list[str], Query(max_length=40, description="YEAR:CNY, e.g. 2025:12000.00")]
T = TypeVar("T")
R = TypeVar("R")


@router.get(
    "/tax/parties/{code}/quarters/{quarter}",
    response_model=ts.TaxComputationOut,
    tags=TAX,
)
def compute_quarter(
    code: Code,
    quarter: QuarterPath,
    store: Store,
    actor: Acts,
    source: Literal["reports", "monitoring"] = "reports",
) -> ts.TaxComputationOut:
    """The quarter's monthly lines (per outlet and pollutant) and totals, computed now: from
    verified reports, or previewed from CEMS monthly aggregates. Nothing is filed."""
    computation = tax.compute_quarter(store, actor, code, Quarter.parse(quarter), Source(source))
    return ts.computation_out(computation)


@router.post("/tax/returns", response_model=ts.TaxReturnOut, status_code=201, tags=TAX)
def file_return(
    body: ts.TaxReturnIn, store: Store, actor: Acts, response: Response
) -> ts.TaxReturnOut:
    """File the quarter's return from verified reports; its Article 13 reduction is booked as
    an incentive in the same transaction. The quarter filed already, on the same data: the
    return filed, as a replay."""
    made = tax.file_return(store, actor, body.party, Quarter.parse(body.quarter))
    return created(response, made, ts.return_out)


@router.get("/tax/returns", response_model=ts.TaxReturnPage, tags=TAX)
def list_returns(  # noqa: PLR0917 - query filters
    store: Store,
    actor: Acts,
    party: Filter = None,
    year: Year = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> ts.TaxReturnPage:
    """Filed returns in filing order (of the parties you may see)."""
    page = tax.list_returns(store, actor, party, year, cursor, limit)
    return ts.TaxReturnPage(
        returns=[ts.return_out(filed) for filed in page.items], next_cursor=page.next_cursor
    )


@router.get("/tax/returns/{return_id}", response_model=ts.TaxReturnOut, tags=TAX)
def get_return(return_id: RecordPath, store: Store, actor: Acts) -> ts.TaxReturnOut:
    """One filed return with its lines."""
    return ts.return_out(tax.get_return(store, actor, return_id))


@router.get("/tax/policy", response_model=ts.TaxPolicyOut, tags=TAX)
def get_policy(store: Store, actor: Acts) -> ts.TaxPolicyOut:
    """The tax policy settings (rules.md §1.3 open decisions) in force."""
    return ts.policy_out(tax.get_policy(store, actor))


@router.put("/tax/policy", response_model=ts.TaxPolicyOut, tags=TAX)
def set_policy(body: ts.TaxPolicyIn, store: Store, actor: Acts) -> ts.TaxPolicyOut:
    """Change some settings; the others keep their value. Applies to returns filed later."""
    changes = body.model_dump(exclude_none=True)
    return ts.policy_out(tax.set_policy(store, actor, changes))


@router.get("/tax/parties/{code}/years/{year}", response_model=ts.AnnualTaxOut, tags=TAX)
def annual_tax(code: Code, year: YearPath, store: Store, actor: Acts) -> ts.AnnualTaxOut:
    """The year's totals, per outlet and overall, over the return in force of each quarter
    (its latest version, unless void); quarters without one are listed."""
    return ts.annual_out(tax.annual_tax(store, actor, code, year))


# -- the tax tables -------------------------------------------------------------------------------


@router.get("/tax/tables", response_model=ts.TableEntryPage, tags=TAX)
def list_table_entries(
    store: Store,
    actor: Acts,
    kind: Literal["rate", "equivalent", "membership"] | None = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> ts.TableEntryPage:
    """The entries of the tax tables (rates, equivalent values, tier memberships) in recording
    order. For each subject, the entry with the latest `valid_from` on or before a month's
    first day is in force (of those, the last recorded)."""
    page = tax_tables.list_entries(
        store, actor, None if kind is None else TableKind(kind), cursor, limit
    )
    return ts.TableEntryPage(
        entries=[ts.entry_out(entry) for entry in page.items], next_cursor=page.next_cursor
    )


@router.post("/tax/tables", response_model=ApprovalOut, status_code=202, tags=TAX)
def record_table_entry(body: ts.TableEntryIn, store: Store, actor: Acts) -> JSONResponse:
    """Ask for an entry of the tax tables: always four-eyes (`tax_table`), it is recorded when
    another administrator approves the request (its `result` is the entry). The same entry
    again under its `id` answers the request (pending or decided) as a replay; another one
    under that id is a 409."""
    asked = tax_tables.record_entry(store, actor, body.id, body.valid_from, body.to_domain())
    assert isinstance(asked, Pending), "a tax table entry is always four-eyes"
    return pending_answer(asked)


@router.get("/tax/parties/{code}/schedule", response_model=ts.ScheduleOut, tags=TAX)
def schedule(code: Code, month: MonthQuery, store: Store, actor: Acts) -> ts.ScheduleOut:
    """The scheme, tier, rates and equivalent values the enterprise is taxed at in `month`
    (its city's or county's membership; none: the national minimum)."""
    first_day = parse_month(month, "month")
    return ts.schedule_out(code, month, tax_tables.schedule_of(store, actor, code, first_day))


# -- incentives -----------------------------------------------------------------------------------


@router.get("/incentives", response_model=ts.IncentivePage, tags=INCENTIVES)
def list_incentives(  # noqa: PLR0917 - query filters
    store: Store,
    actor: Acts,
    party: Filter = None,
    kind: Literal["article13_reduction", "equipment_credit"] | None = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> ts.IncentivePage:
    """Incentives in booking order (of the parties you may see), with any reversal."""
    page = incentives.list_incentives(
        store, actor, party, None if kind is None else IncentiveKind(kind), cursor, limit
    )
    return ts.IncentivePage(
        incentives=[ts.incentive_out(i) for i in page.items], next_cursor=page.next_cursor
    )


@router.get("/incentives/{incentive_id}", response_model=ts.IncentiveOut, tags=INCENTIVES)
def get_incentive(incentive_id: RecordPath, store: Store, actor: Acts) -> ts.IncentiveOut:
    """One incentive."""
    return ts.incentive_out(incentives.get_incentive(store, actor, incentive_id))


@router.post(
    "/incentives",
    response_model=ts.IncentiveOut,
    status_code=201,
    tags=INCENTIVES,
    responses=PENDING,
)
def book_incentive(body: ts.IncentiveIn, store: Store, actor: Acts, response: Response) -> Any:
    """Book an incentive on an existing basis; refused beyond what the basis supports. Under
    four-eyes (`tax_incentive`): 202 and a request."""
    made = incentives.book_incentive(
        store, actor, body.basis_id, body.id, rs.fen(body.amount, "amount")
    )
    return or_pending(made, lambda done: created(response, done, ts.incentive_out))


@router.post(
    "/equipment-credits",
    response_model=ts.IncentiveOut,
    status_code=201,
    tags=INCENTIVES,
    responses=PENDING,
)
def grant_equipment_credit(
    body: ts.EquipmentCreditIn, store: Store, actor: Acts, response: Response
) -> Any:
    """Book the CIT credit of 10% of a qualifying equipment investment (rounded down), for an
    enterprise, acquired by today, not credited under another id (the same description).
    Under four-eyes (`tax_incentive`): 202 and a request."""
    investment = incentives.EquipmentInvestment(
        body.id,
        body.party,
        rs.fen(body.investment, "investment"),
        body.acquired_on,
        body.description,
    )
    made = incentives.grant_equipment_credit(store, actor, investment)
    return or_pending(made, lambda done: created(response, done, ts.incentive_out))


@router.post(
    "/equipment-credits/{equipment_id}/clawback",
    response_model=list[ts.IncentiveOut],
    tags=INCENTIVES,
)
def claw_back(
    equipment_id: RecordPath, body: ts.ClawbackIn, store: Store, actor: Acts, response: Response
) -> list[ts.IncentiveOut]:
    """The equipment was transferred or leased out: within 5 years, its credit is clawed back.
    The same clawback again answers the same, marked `Idempotent-Replayed`."""
    clawed = incentives.claw_back(store, actor, equipment_id, body.transferred_on, body.detail)
    return created(response, clawed, lambda done: [ts.incentive_out(i) for i in done])


@router.get(
    "/parties/{code}/equipment-credit-schedule",
    response_model=list[ts.CreditYearOut],
    tags=INCENTIVES,
)
def credit_schedule(
    code: Code, store: Store, actor: Acts, cit_payable: CitPayable
) -> list[ts.CreditYearOut]:
    """Use of the enterprise's equipment credits against CIT payable per year (oldest first,
    5-year carry-forward, then lapse)."""
    payable: dict[int, int] = {}
    for item in cit_payable:
        year, _, amount = item.partition(":")
        if not (is_digits(year) and len(year) == 4) or not amount:  # int() of 4,301 digits fails
            raise InvalidField(f"{item!r} is not YEAR:CNY", field="cit_payable")
        if int(year) in payable:  # two figures for one year: neither is the right one
            raise InvalidField(f"year {int(year)} is given twice", field="cit_payable")
        payable[check_year(int(year), "cit_payable")] = rs.fen(
            amount, "cit_payable", zero_allowed=True
        )
    schedule = incentives.credit_schedule(store, actor, code, payable)
    return [ts.credit_year_out(year) for year in schedule]


# -- verified reductions and rights obligations ---------------------------------------------------


@router.post("/reductions", response_model=ts.ReductionOut, status_code=201, tags=INCENTIVES)
def verify_reduction(
    body: ts.ReductionIn, store: Store, actor: Acts, response: Response
) -> ts.ReductionOut:
    """Verify baseline − actual from a verified report and release the surplus by policy: the
    baseline is derived (entitlement or pre-retrofit CEMS, the lower), one per report and
    pollutant."""
    request = reductions.ReductionRequest(
        id=body.id,
        report_id=body.report_id,
        pollutant=body.pollutant,
        release=Release(body.release),
        authority=body.authority,
        vintage=body.vintage,
        retrofit_month=None
        if body.retrofit_month is None
        else parse_month(body.retrofit_month, "retrofit_month"),
    )
    return created(response, reductions.verify_reduction(store, actor, request), ts.reduction_out)


@router.get("/reductions", response_model=ts.ReductionPage, tags=INCENTIVES)
def list_reductions(
    store: Store,
    actor: Acts,
    party: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> ts.ReductionPage:
    """Verified reductions in verification order (of the parties you may see)."""
    page = reductions.list_reductions(store, actor, party, cursor, limit)
    return ts.ReductionPage(
        reductions=[ts.reduction_out(r) for r in page.items], next_cursor=page.next_cursor
    )


@router.get("/rights-obligations", response_model=list[ts.RightsObligationOut], tags=INCENTIVES)
def rights_obligations(
    report_id: ReportQuery, store: Store, actor: Acts
) -> list[ts.RightsObligationOut]:
    """A verified report's emissions per rights pollutant against the rights held for its year."""
    found = reductions.rights_obligations(store, actor, report_id)
    return [ts.obligation_out(obligation) for obligation in found]
