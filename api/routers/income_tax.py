"""Corporate income tax support, booked (rules §1.4): a tax year of an enterprise's equipment
credits (use and lapse), and retrofit projects with their 3+3-year exemption schedule and the
years booked on them. Translation only: the services scope, check and audit."""

from __future__ import annotations

from enum import Enum
from fractions import Fraction
from typing import Annotated, Any

from fastapi import Path, Response
from pydantic import Field

from api.answers import PENDING, created, or_pending
from api.auth import Acts
from api.dependencies import IdPath, Store
from api.registry_schemas import Dated, PartyCode, RecordId, Text, Year, cny, fen
from api.routing import Routes
from api.schemas import AmountText, Strict
from ledger.domain.income_tax import CreditYearRecord, ProjectYear, RetrofitProject
from ledger.services import income_tax

router = Routes(prefix="/v1")
INCENTIVES: list[str | Enum] = ["tax incentives"]
Code = Annotated[str, Path(max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]


class CreditYearIn(Strict):
    party: PartyCode
    year: Year
    cit_payable_cny: AmountText = Field(description="the year's CIT payable before the credit")
    business_date: Dated = None


class CreditMoveOut(Strict):
    incentive: str
    kind: str = Field(description="`use` against the CIT payable, or `lapse` after 5 years")
    amount_cny: str


class CreditYearOut(Strict):
    party: str
    year: int
    cit_payable_cny: str
    used_cny: str
    lapsed_cny: str
    moves: list[CreditMoveOut]


def credit_year_out(record: CreditYearRecord) -> CreditYearOut:
    return CreditYearOut(
        party=record.party,
        year=record.year,
        cit_payable_cny=cny(record.cit_payable_fen),
        used_cny=cny(record.used_fen),
        lapsed_cny=cny(record.lapsed_fen),
        moves=[
            CreditMoveOut(incentive=m.incentive_id, kind=m.kind, amount_cny=cny(m.amount_fen))
            for m in record.moves
        ],
    )


class ProjectIn(Strict):
    id: RecordId
    party: PartyCode
    first_revenue_year: Year
    description: Text = ""


class ScheduleYearOut(Strict):
    year: int
    exempt_share: str = Field(description="of the CIT on the project's income: 1 or 1/2")


class ProjectYearIn(Strict):
    year: Year
    income_cny: AmountText = Field(description="the project's taxable income of the year")
    business_date: Dated = None


class ProjectYearOut(Strict):
    year: int
    income_cny: str
    exempt_cny: str = Field(description="income × 25% × the year's share, rounded down")


class ProjectOut(Strict):
    id: str
    party: str
    first_revenue_year: int
    description: str
    schedule: list[ScheduleYearOut]
    years: list[ProjectYearOut]


def _share(share: Fraction) -> str:
    return str(share)


def project_year_out(booked: ProjectYear) -> ProjectYearOut:
    return ProjectYearOut(
        year=booked.year, income_cny=cny(booked.income_fen), exempt_cny=cny(booked.exempt_fen)
    )


def project_out(project: RetrofitProject, years: list[ProjectYear]) -> ProjectOut:
    return ProjectOut(
        id=project.id,
        party=project.party,
        first_revenue_year=project.first_revenue_year,
        description=project.description,
        schedule=[ScheduleYearOut(year=y, exempt_share=_share(s)) for y, s in project.schedule()],
        years=[project_year_out(y) for y in years],
    )


@router.post(
    "/equipment-credit-years",
    response_model=CreditYearOut,
    status_code=201,
    tags=INCENTIVES,
    responses=PENDING,
)
def book_credit_year(body: CreditYearIn, store: Store, actor: Acts, response: Response) -> Any:
    """Book a tax year of the enterprise's equipment credits: what lapsed after 5 years
    (`tax_credit_lapse`) and what was used against the CIT payable, oldest first
    (`tax_credit_use`). Years are booked in order, none after the current year. Under
    four-eyes (`tax_incentive`): 202 and a request."""
    payable = fen(body.cit_payable_cny, "cit_payable_cny", zero_allowed=True)
    made = income_tax.book_credit_year(
        store, actor, body.party, body.year, payable, body.business_date
    )
    return or_pending(made, lambda done: created(response, done, credit_year_out))


@router.get(
    "/parties/{code}/equipment-credit-years", response_model=list[CreditYearOut], tags=INCENTIVES
)
def credit_years(code: Code, store: Store, actor: Acts) -> list[CreditYearOut]:
    """The enterprise's booked tax years of its equipment credits."""
    return [credit_year_out(y) for y in income_tax.credit_years(store, actor, code)]


@router.post(
    "/retrofit-projects",
    response_model=ProjectOut,
    status_code=201,
    tags=INCENTIVES,
    responses=PENDING,
)
def register_project(body: ProjectIn, store: Store, actor: Acts, response: Response) -> Any:
    """Record a qualifying retrofit project of an enterprise: its income is exempt from CIT in
    its first 3 revenue years and taxed at half in the next 3 (the schedule). The first revenue
    year is not after the current one, and a project is registered once (its description).
    Under four-eyes (`tax_incentive`): 202 and a request."""
    project = RetrofitProject(body.id, body.party, body.first_revenue_year, body.description)
    made = income_tax.register_project(store, actor, project)
    return or_pending(made, lambda done: created(response, done, lambda p: project_out(p, [])))


@router.get("/retrofit-projects/{project_id}", response_model=ProjectOut, tags=INCENTIVES)
def get_project(project_id: IdPath, store: Store, actor: Acts) -> ProjectOut:
    """A retrofit project, its exemption schedule and the years booked on it."""
    view = income_tax.get_project(store, actor, project_id)
    return project_out(view.project, view.years)


@router.post(
    "/retrofit-projects/{project_id}/years",
    response_model=ProjectYearOut,
    status_code=201,
    tags=INCENTIVES,
    responses=PENDING,
)
def book_project_year(
    project_id: IdPath, body: ProjectYearIn, store: Store, actor: Acts, response: Response
) -> Any:
    """Book a year's income of the project and the CIT it is exempted from, as a
    `tax_exemption` entry; no year after the current one. Under four-eyes (`tax_incentive`):
    202 and a request."""
    income = fen(body.income_cny, "income_cny", zero_allowed=True)
    made = income_tax.book_project_year(
        store, actor, project_id, body.year, income, body.business_date
    )
    return or_pending(made, lambda done: created(response, done, project_year_out))
