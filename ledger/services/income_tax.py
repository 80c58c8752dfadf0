"""Corporate income tax support of rules §1.4, booked: each tax year's use of the equipment
credit against CIT payable and its lapse after the 5-year carry-forward, and the 3+3-year
exemption of a qualifying retrofit project's income.

Accounts (CNY, fen, restricted to CNY; opened on first use):

| account | normal side | balance means |
|---|---|---|
| `{enterprise}:equipment_credit` | credit | equipment credit granted, not yet used or lapsed |
| `{enterprise}:equipment_credit_used` | credit | equipment credit used against CIT payable |
| `{enterprise}:income_exemption` | credit | CIT exempted on retrofit-project income |
| `HEBEI:tax_expenditure` | debit | tax forgone by the province |

A tax year of the credit is one `tax_credit_use` entry (credit → used) and one `tax_credit_lapse`
entry (credit → back to the expenditure: the tax was not forgone after all), each only if
non-zero; a project's year is one `tax_exemption` entry (expenditure → exemption). Each is
idempotent on its record: the same request again answers the record as a replay, another one
under it is a 409.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from ledger.domain.access import Actor, Pending
from ledger.domain.accounts import Side
from ledger.domain.bounds import check_year
from ledger.domain.business_dates import FIELD as BUSINESS_DATE
from ledger.domain.entries import Reference
from ledger.domain.errors import RecordExists, RecordNotFound
from ledger.domain.finance import beijing_date
from ledger.domain.incentives import (
    IncentiveKind,
    IncentiveRegistered,
    NotAnEnterprise,
    same_thing_key,
)
from ledger.domain.income_tax import (
    LAPSE,
    USE,
    CreditLeft,
    CreditYearOutOfOrder,
    CreditYearRecord,
    ProjectYear,
    RetrofitProject,
    check_tax_year,
    exemption_fen,
    settle_year,
)
from ledger.domain.pages import Created
from ledger.domain.payloads import from_payload, to_payload
from ledger.domain.ports import AccountDraft, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import CASH, PROVINCE, PartyKind, account_code
from ledger.services import incentives, journal
from ledger.services.authority import gate, party_in_scope, sees, use_case, visible_party
from ledger.services.business_dates import booked_on, effective_at
from ledger.services.parties import ensure_instruments, lock_balances, move
from ledger.services.transactions import in_transaction, read

CREDIT, USED, EXEMPTION = "equipment_credit", "equipment_credit_used", "income_exemption"
EXPENDITURE = account_code(PROVINCE, "tax_expenditure")
TAX_INCENTIVE = incentives.TAX_INCENTIVE


def _ensure_accounts(uow: UnitOfWork, party: str, *suffixes: str) -> None:
    """The province's expenditure account and the party's accounts named, opened if new."""
    ensure_instruments(uow, CASH, [None])
    wanted = {
        EXPENDITURE: AccountDraft(
            EXPENDITURE, PROVINCE, "Hebei: tax expenditure", Side.DEBIT, False, CASH
        ),
        **{
            account_code(party, s): AccountDraft(
                account_code(party, s),
                party,
                f"{party}: {s.replace('_', ' ')}",
                Side.CREDIT,
                True,
                CASH,
            )
            for s in suffixes
        },
    }
    known = uow.accounts.get_many(wanted)
    for code, draft in wanted.items():
        if code not in known:
            uow.accounts.add(draft, uow.now())


# -- the equipment credit's tax years -------------------------------------------------------


@use_case("equipment_credits.book_year")
def book_credit_year(  # noqa: PLR0917 - a tax year's inputs
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str,
    year: int,
    cit_payable_fen: int,
    business_date: date | None = None,
) -> Created[CreditYearRecord] | Pending:
    """Book a tax year of the enterprise's equipment credits: what lapses (earned more than 5
    years before) and what is used against the year's CIT payable, oldest credit first. Years
    are booked in order, none after the current year; the CIT payable is one regulator's figure,
    so four eyes (`tax_incentive`). The entries take effect on `business_date` (the CIT return's
    date; None: today)."""

    def work(uow: UnitOfWork) -> Created[CreditYearRecord] | Pending:
        enterprise(uow, actor, party)
        check_year(year, "year")
        stored = uow.tax.get_credit_year(f"{party}-{year}")
        if stored is not None:
            dated = all(
                booked_on(uow, f"equipment-credit-{kind}-{stored.id}", business_date)
                for kind in (USE, LAPSE)
            )
            if stored.cit_payable_fen != cit_payable_fen or not dated:
                raise RecordExists(f"tax year {stored.id} is booked", field="year")
            return Created(stored, replayed=True)
        check_tax_year(year, this_year(uow), "year")
        _check_in_order(uow, party, year)
        moment = effective_at(uow, business_date)
        payload = {
            "incentive": "credit_year",
            "party": party,
            "year": year,
            "cit_payable_fen": cit_payable_fen,
            BUSINESS_DATE: None if business_date is None else business_date.isoformat(),
        }
        pending = gate(uow, actor, TAX_INCENTIVE, payload, key=f"credit-year:{party}:{year}")
        if pending is not None:
            return pending
        _ensure_accounts(uow, party, CREDIT, USED)
        lock_balances(uow, [(account_code(party, CREDIT), CASH)])  # one booking at a time
        _check_in_order(uow, party, year)
        record = CreditYearRecord(
            party,
            year,
            cit_payable_fen,
            settle_year(_credits_left(uow, party), year, cit_payable_fen),
        )
        uow.tax.add_credit_year(record, uow.now())
        journal.write_in(uow, _credit_entries(record, moment))
        return Created(record)

    return in_transaction(uow_factory, work, actor=actor)


def _check_in_order(uow: UnitOfWork, party: str, year: int) -> None:
    booked = uow.tax.credit_years_of(party)
    if booked and booked[-1].year >= year:
        raise CreditYearOutOfOrder(
            f"{party}'s tax year {booked[-1].year} is booked: {year} comes too late",
            field="year",
        )


def enterprise(uow: UnitOfWork, actor: Actor, code: str) -> None:
    """A party named for corporate income tax support: visible, and an enterprise."""
    party = visible_party(uow, actor, code)
    if party.kind is not PartyKind.ENTERPRISE:
        raise NotAnEnterprise(f"{code} is no enterprise", field="party")


def this_year(uow: UnitOfWork) -> int:
    """The current tax year (Beijing's calendar, by the unit of work's clock)."""
    return beijing_date(uow.now()).year


def _credits_left(uow: UnitOfWork, party: str) -> list[CreditLeft]:
    """Each active equipment credit of the party with what is left of it."""
    found = uow.tax.list_incentives(party, IncentiveKind.EQUIPMENT_CREDIT, 0, 100_000)
    active = [i for _, i in found if i.active]
    moved = uow.tax.credit_moved_fen([i.id for i in active])
    credits = []
    for incentive in active:
        basis = uow.tax.get_basis(incentive.basis_id)
        if basis is not None and basis.acquired_on is not None:
            left = incentive.amount_fen - moved.get(incentive.id, 0)
            credits.append(CreditLeft(incentive.id, basis.acquired_on.year, left))
    return credits


def _credit_entries(record: CreditYearRecord, moment: datetime | None) -> list[journal.PostEntry]:
    holder = account_code(record.party, CREDIT)
    entries = []
    for kind, entry_type, target in (
        (USE, "tax_credit_use", account_code(record.party, USED)),
        (LAPSE, "tax_credit_lapse", EXPENDITURE),
    ):
        moves = [m for m in record.moves if m.kind == kind]
        if not moves:
            continue
        entries.append(
            journal.PostEntry(
                entry_id=f"equipment-credit-{kind}-{record.id}",
                entry_type=entry_type,
                postings=tuple(move(holder, target, CASH, sum(m.amount_fen for m in moves), 2)),
                references=(
                    Reference("equipment_credit_year", record.id),
                    *(Reference("incentive", m.incentive_id) for m in moves),
                ),
                metadata={"year": record.year, "cit_payable_fen": record.cit_payable_fen},
                effective_at=moment,
            )
        )
    return entries


@use_case("equipment_credits.years")
def credit_years(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str
) -> list[CreditYearRecord]:
    """The enterprise's booked tax years of the equipment credit, in year order."""

    def work(uow: UnitOfWork) -> list[CreditYearRecord]:
        party_in_scope(uow, actor, party)
        return uow.tax.credit_years_of(party)

    return read(uow_factory, work)


# -- retrofit projects: exempt 3 years, halved 3 years ----------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectView:
    """A retrofit project, its exemption schedule and the years booked on it."""

    project: RetrofitProject
    years: list[ProjectYear]


@use_case("retrofit_projects.register")
def register_project(
    uow_factory: UnitOfWorkFactory, actor: Actor, project: RetrofitProject
) -> Created[RetrofitProject] | Pending:
    """Record a qualifying retrofit project from its first revenue year (its schedule follows):
    it exempts the enterprise's income on one regulator's word, so four eyes (`tax_incentive`).
    Refused for a party that is no enterprise, a first revenue year after the current one, and a
    project the enterprise registered under another id (the same description), which would
    restart its exemption."""

    def work(uow: UnitOfWork) -> Created[RetrofitProject] | Pending:
        stored = uow.tax.get_project(project.id)
        if stored is not None:
            if stored != project or not sees(uow, actor, stored.party):
                raise RecordExists(f"project {project.id} exists", field="id")
            return Created(stored, replayed=True)
        enterprise(uow, actor, project.party)
        check_year(project.first_revenue_year, "first_revenue_year")
        check_tax_year(project.first_revenue_year, this_year(uow), "first_revenue_year")
        _check_not_registered(uow, project)
        payload = {"incentive": "retrofit_project", **to_payload(project)}
        pending = gate(uow, actor, TAX_INCENTIVE, payload, key=f"project:{project.id}")
        if pending is not None:
            return pending
        _ensure_accounts(uow, project.party, EXEMPTION)
        lock_balances(uow, [(account_code(project.party, EXEMPTION), CASH)])
        _check_not_registered(uow, project)  # again, now that no other registration runs
        uow.tax.add_project(project, uow.now())
        return Created(project)

    return in_transaction(uow_factory, work, actor=actor)


def _check_not_registered(uow: UnitOfWork, project: RetrofitProject) -> None:
    """The same project (party and description, `same_thing_key`) under another id is refused:
    a new first revenue year would exempt its income again."""
    wanted = same_thing_key(project.party, project.description)
    for other in uow.tax.projects_of(project.party):
        if same_thing_key(other.party, other.description) == wanted:
            raise IncentiveRegistered(
                f"{other.id} is {project.party}'s project {project.description!r} already",
                field="description",
            )


@use_case("retrofit_projects.read")
def get_project(uow_factory: UnitOfWorkFactory, actor: Actor, project_id: str) -> ProjectView:
    """A project with its schedule and booked years; out of scope, not found."""

    def work(uow: UnitOfWork) -> ProjectView:
        project = _project(uow, actor, project_id)
        return ProjectView(project, uow.tax.project_years(project.id))

    return read(uow_factory, work)


@use_case("retrofit_projects.book_year")
def book_project_year(  # noqa: PLR0917 - a project year's inputs
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    project_id: str,
    year: int,
    income_fen: int,
    business_date: date | None = None,
) -> Created[ProjectYear] | Pending:
    """Book a year's income of the project and the CIT it is exempted from (income × 25% × 1
    in years 1-3, × ½ in years 4-6, rounded down to the fen) as a `tax_exemption` entry,
    effective on `business_date` (the CIT return's date; None: today). No year after the
    current one; the income is one regulator's figure, so four eyes (`tax_incentive`)."""

    def work(uow: UnitOfWork) -> Created[ProjectYear] | Pending:
        project = _project(uow, actor, project_id)
        check_year(year, "year")
        booked = ProjectYear(project.id, year, income_fen, exemption_fen(project, year, income_fen))
        stored = {y.year: y for y in uow.tax.project_years(project.id)}.get(year)
        if stored is not None:
            if stored != booked or not booked_on(
                uow, f"retrofit-{project.id}-{year}", business_date
            ):
                raise RecordExists(f"{project.id}'s year {year} is booked", field="year")
            return Created(stored, replayed=True)
        check_tax_year(year, this_year(uow), "year")
        enterprise(uow, actor, project.party)
        moment = effective_at(uow, business_date)
        payload = {
            "incentive": "project_year",
            "project_id": project.id,
            "year": year,
            "income_fen": income_fen,
            BUSINESS_DATE: None if business_date is None else business_date.isoformat(),
        }
        pending = gate(uow, actor, TAX_INCENTIVE, payload, key=f"project-year:{project.id}:{year}")
        if pending is not None:
            return pending
        uow.tax.add_project_year(booked, uow.now())
        if booked.exempt_fen:
            _ensure_accounts(uow, project.party, EXEMPTION)
            exemption = account_code(project.party, EXEMPTION)
            entry = journal.PostEntry(
                entry_id=f"retrofit-{project.id}-{year}",
                entry_type="tax_exemption",
                postings=tuple(move(EXPENDITURE, exemption, CASH, booked.exempt_fen, 2)),
                references=(Reference("retrofit_project", project.id),),
                metadata={
                    "year": year,
                    "income_fen": income_fen,
                    "share": str(project.share(year)),
                },
                effective_at=moment,
            )
            journal.write_in(uow, [entry])
        return Created(booked)

    return in_transaction(uow_factory, work, actor=actor)


def run_approved_tax_incentive(
    uow_factory: UnitOfWorkFactory, actor: Actor, payload: Mapping[str, Any]
) -> Any:
    """The approved `tax_incentive` request, run again for its initiator: its `incentive` says
    which use case asked."""
    kind = payload["incentive"]
    if kind == "equipment_credit":
        return incentives.run_approved_equipment_credit(uow_factory, actor, payload)
    if kind == "incentive":
        return incentives.run_approved_incentive(uow_factory, actor, payload)
    command = {k: v for k, v in payload.items() if k != "incentive"}
    if kind == "retrofit_project":
        return register_project(uow_factory, actor, from_payload(RetrofitProject, command))
    day = payload.get(BUSINESS_DATE)
    business_date = None if day is None else date.fromisoformat(day)
    if kind == "project_year":
        return book_project_year(
            uow_factory,
            actor,
            payload["project_id"],
            int(payload["year"]),
            int(payload["income_fen"]),
            business_date,
        )
    assert kind == "credit_year", f"no tax incentive request of kind {kind!r}"
    return book_credit_year(
        uow_factory,
        actor,
        payload["party"],
        int(payload["year"]),
        int(payload["cit_payable_fen"]),
        business_date,
    )


def _project(uow: UnitOfWork, actor: Actor, project_id: str) -> RetrofitProject:
    found = uow.tax.get_project(project_id)
    if found is None or not sees(uow, actor, found.party):
        raise RecordNotFound(f"project {project_id!r} not found", field="project_id")
    return found
