"""Environmental protection tax use cases: compute a quarter's lines, file the return (and book
its Article 13 reduction as an incentive), list and read returns, read and set the policy.

Facts come from verified emission reports (the report in force for each month of the quarter)
or, for a preview only, from the CEMS monthly aggregates. A month without them is
`tax_data_missing`: the tax is never computed on nothing. A month whose report has no line is
a month without taxable emissions (an empty month, tax 0).

Every use case takes the acting `Actor`: an enterprise out of its scope does not exist for it.
Filing is idempotent on the quarter: filing it again while its return stands answers that
return as a replay when the return is what filing now would make, and is `tax_return_exists`
when it is not (the reports or the policy changed since).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain.access import Actor
from ledger.domain.cems import TAX_POLLUTANT
from ledger.domain.incentives import IncentiveBasis, IncentiveKind
from ledger.domain.monitoring import MonthlyAggregate
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import Party
from ledger.domain.reports import VerifiedFacts
from ledger.domain.tax import (
    PenaltyEvent,
    PollutantMonth,
    QuarterlyReturn,
    TaxPolicy,
    monthly_tax,
    quarterly_return,
)
from ledger.domain.tax_filing import (
    FiledReturn,
    Quarter,
    Source,
    TaxDataMissing,
    TaxReturnExists,
    TaxReturnNotFound,
    TaxTierUnknown,
    policy_from_dict,
    policy_to_dict,
    return_id,
    to_fen,
)
from ledger.domain.tax_tables import Pollutant
from ledger.services import incentives, reports
from ledger.services.authority import party_in_scope, sees, use_case, visible_party
from ledger.services.transactions import in_transaction, read


@dataclass(frozen=True, slots=True)
class Computation:
    """A quarter's tax as computed, with where each month's facts come from."""

    computed: QuarterlyReturn
    source: Source
    policy: TaxPolicy
    report_of_month: Mapping[date, str]

    @property
    def report_ids(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.report_of_month.values())))


# -- policy -----------------------------------------------------------------------------------


def policy_in(uow: UnitOfWork) -> TaxPolicy:
    """The stored settings over the documented defaults."""
    return policy_from_dict(uow.tax.get_policy() or {})


@use_case("tax.policy.read")
def get_policy(uow_factory: UnitOfWorkFactory, actor: Actor) -> TaxPolicy:
    """The settings in force (public to every reader: they are the rules, not anyone's data)."""
    return read(uow_factory, policy_in)


@use_case("tax.policy.set")
def set_policy(
    uow_factory: UnitOfWorkFactory, actor: Actor, changes: Mapping[str, Any]
) -> TaxPolicy:
    """Change some settings (the others keep their value); applies to returns filed later."""

    def work(uow: UnitOfWork) -> TaxPolicy:
        policy = policy_from_dict({**(uow.tax.get_policy() or {}), **changes})
        uow.tax.put_policy(policy_to_dict(policy))
        return policy

    return in_transaction(uow_factory, work, actor=actor)


# -- computing ----------------------------------------------------------------------------------


def compute_in(
    uow: UnitOfWork,
    party: Party,
    quarter: Quarter,
    source: Source = Source.REPORTS,
    penalties: Sequence[tuple[date, PenaltyEvent]] = (),
) -> Computation:
    """The quarter's monthly lines and totals for one enterprise, inside a unit of work."""
    if party.tax_tier is None:
        raise TaxTierUnknown(f"{party.code} has no tax tier", field="party")
    policy = policy_in(uow)
    report_of_month: dict[date, str] = {}
    verified: dict[str, VerifiedFacts] = {}  # a quarterly report covers three months: read once
    months = []
    for month in quarter.months():
        if source is Source.REPORTS:
            report, facts = _report_facts(uow, party.code, month, verified)
            report_of_month[month] = report
        else:
            facts = _monitoring_facts(uow, party.code, month)
        events = [event for day, event in penalties if day.replace(day=1) == month]
        months.append(
            monthly_tax(party.code, month, party.tax_tier, facts, penalties=events, policy=policy)
        )
    return Computation(quarterly_return(months), source, policy, report_of_month)


@use_case("tax.quarter")
def compute_quarter(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str,
    quarter: Quarter,
    source: Source = Source.REPORTS,
) -> Computation:
    """Compute (not file) a quarter's tax from verified reports, or preview it from CEMS."""

    def work(uow: UnitOfWork) -> Computation:
        return compute_in(uow, party_in_scope(uow, actor, party), quarter, source)

    return read(uow_factory, work)


def _report_facts(
    uow: UnitOfWork, party: str, month: date, verified: dict[str, VerifiedFacts]
) -> tuple[str, tuple[PollutantMonth, ...]]:
    report = reports.verified_report_for(uow, party, month)
    if report is None:
        raise TaxDataMissing(
            f"no verified emission report of {party} covers {month:%Y-%m}",
            field="quarter",
            month=f"{month:%Y-%m}",
        )
    if report.id not in verified:
        verified[report.id] = reports.verified_facts(uow, report.id)
    return report.id, verified[report.id].months[month]


def _monitoring_facts(uow: UnitOfWork, party: str, month: date) -> tuple[PollutantMonth, ...]:
    stored = uow.monitoring.months(party, None, None, month, month)
    aggregates = [m.aggregate for m in stored]
    # A month short of valid days is still taxed on its valid hours' mass, without reduction
    # (the line says `monitoring_month_invalid`); a month without one valid hour has no data.
    if not any(aggregate.valid_hours for aggregate in aggregates):
        raise TaxDataMissing(
            f"no valid monitoring hour of {party} in {month:%Y-%m}",
            field="quarter",
            month=f"{month:%Y-%m}",
        )
    return tuple(_fact(aggregate) for aggregate in aggregates)


def _fact(aggregate: MonthlyAggregate) -> PollutantMonth:
    # Measured PM is taxed as soot (combustion flue gas), as the report drafts take it by
    # default; an outlet of process dust needs a report (the preview does not know it).
    taxed_as = TAX_POLLUTANT.get(aggregate.pollutant) or Pollutant(aggregate.pollutant)
    return PollutantMonth.from_aggregate(aggregate, taxed_as)


# -- filing -------------------------------------------------------------------------------------


@use_case("tax.file")
def file_return(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str, quarter: Quarter
) -> Created[FiledReturn]:
    """File the quarter's return from verified reports and book its Article 13 reduction as an
    incentive, in one transaction. A quarter is filed again only after its return was voided
    (a report it rested on was invalidated): the new return is the next version."""

    def work(uow: UnitOfWork) -> Created[FiledReturn]:
        computation = compute_in(uow, visible_party(uow, actor, party), quarter)
        latest = uow.tax.latest_return(party, quarter.year, quarter.quarter)
        if latest is not None and not latest.void:
            if (latest.computed, latest.report_ids, latest.policy) != (
                computation.computed,
                computation.report_ids,
                computation.policy,
            ):
                raise TaxReturnExists(f"return {latest.id} is filed on other data", field="quarter")
            return Created(latest, replayed=True)
        version = 1 if latest is None else latest.version + 1
        filed = FiledReturn(
            id=return_id(party, quarter, version),
            version=version,
            computed=computation.computed,
            source=Source.REPORTS,
            policy=computation.policy,
            report_ids=computation.report_ids,
            filed_by=actor.id,
            filed_at=uow.now(),
            supersedes=None if latest is None else latest.id,
        )
        uow.tax.add_return(filed, computation.report_of_month)
        _book_reduction(uow, filed)
        return Created(filed)

    return in_transaction(uow_factory, work, actor=actor)


def _book_reduction(uow: UnitOfWork, filed: FiledReturn) -> None:
    """The return's Article 13 reduction becomes the cap of its basis and is booked in full."""
    cap = to_fen(filed.computed.total_reduction)
    basis = IncentiveBasis(
        id=f"return-{filed.id}",
        kind=IncentiveKind.ARTICLE_13,
        party=filed.party,
        cap_fen=cap,
        report_ids=filed.report_ids,
        return_id=filed.id,
    )
    uow.tax.add_basis(basis, uow.now())
    if cap > 0:
        memo = f"Article 13 reduction of return {filed.id}"
        incentives.book_in(uow, basis.id, f"a13-{filed.id}", cap, memo=memo)


# -- reads --------------------------------------------------------------------------------------


@use_case("tax.returns.read")
def get_return(uow_factory: UnitOfWorkFactory, actor: Actor, return_id_: str) -> FiledReturn:
    """One filed return (404 if unknown or out of scope)."""

    def work(uow: UnitOfWork) -> FiledReturn:
        found = uow.tax.get_return(return_id_)
        if found is None or not sees(uow, actor, found.party):
            raise TaxReturnNotFound(f"tax return {return_id_!r} not found", field="return_id")
        return found

    return read(uow_factory, work)


@use_case("tax.returns.list")
def list_returns(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    year: int | None,
    cursor: str | None,
    limit: int,
) -> Page[FiledReturn]:
    """Filed returns in filing order, of the parties the actor sees."""
    after = decode_cursor("tax_returns", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.tax.list_returns(party, year, after, limit, scope=actor.scope),
    )
    return keyset_page("tax_returns", rows, limit)
