"""Environmental protection tax use cases: compute a quarter's lines, file the return (and book
its tax and its Article 13 reduction as an incentive), amend it when a report it rests on is
corrected (rules §7.5), list and read returns, read and set the policy.

Facts come from verified emission reports (the report in force for each month of the quarter)
or, for a preview only, from the CEMS monthly aggregates. A month without them is
`tax_data_missing`: the tax is never computed on nothing. A month whose report has no line is
a month without taxable emissions (an empty month, tax 0).

Each month is taxed at the schedule in force on its first day for the enterprise's place (its
city and county: `tax_tables`); the outlets of an enterprise are at its registered place.

Every use case takes the acting `Actor`: an enterprise out of its scope does not exist for it.
Filing is idempotent on the quarter: filing it again while its return stands answers that
return as a replay when the return is what filing now would make, and is `tax_return_exists`
when it is not on the same reports (the policy changed since). When the latest return rests on
a report no longer in force, filing makes the amended return (`amend_in`): the next version,
booking the difference of tax and replacing the incentive, every entry referencing both
returns; verifying a correction does the same at once (`amend_for_correction`), and so does
recording a penalty-basis event for a filed quarter (`amend_for_event`, rules §1.1, §7.3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.domain.access import Actor
from ledger.domain.accounts import Side
from ledger.domain.bounds import check_year
from ledger.domain.cems import TAX_POLLUTANT
from ledger.domain.entries import Reference
from ledger.domain.incentives import IncentiveBasis, IncentiveKind
from ledger.domain.monitoring import MonthlyAggregate
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.penalty_basis import PenaltyBasisEvent, on_generated_basis
from ledger.domain.ports import AccountDraft, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import CASH, PROVINCE, Party, account_code
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
    AnnualTax,
    FiledReturn,
    Quarter,
    Source,
    TaxDataMissing,
    TaxReturnExists,
    TaxReturnNotFound,
    policy_from_dict,
    policy_to_dict,
    return_id,
    to_fen,
)
from ledger.domain.tax_tables import Pollutant
from ledger.services import incentives, journal, reports
from ledger.services.authority import party_in_scope, sees, use_case, visible_party
from ledger.services.parties import ensure_instruments, move
from ledger.services.permits import PermitsOf
from ledger.services.tax_tables import tables_in
from ledger.services.transactions import in_transaction, read

TAX_OWED = "env_tax_owed"  # the enterprise's environmental tax assessed (debit-normal)
TAX_REVENUE = "env_tax_revenue"  # the province's (credit-normal)


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
    *,
    policy: TaxPolicy | None = None,
) -> Computation:
    """The quarter's monthly lines and totals for one enterprise, inside a unit of work (under
    `policy`, by default the one in force). The penalty-basis events of the enterprise apply by
    themselves (rules §7.3): a line of an outlet in a month an event touches is taxed on the
    generated amount, and the event takes away Article 13 reductions as `policy.scope` says."""
    policy = policy or policy_in(uow)
    tables = tables_in(uow)
    report_of_month: dict[date, str] = {}
    verified: dict[str, VerifiedFacts] = {}  # a quarterly report covers three months: read once
    events = uow.permits.events_of(party.code)
    permits = PermitsOf(uow, party.code)
    months = []
    for month in quarter.months():
        if source is Source.REPORTS:
            report, facts = _report_facts(uow, party.code, month, verified)
            report_of_month[month] = report
        else:
            facts = _monitoring_facts(uow, party.code, month)
        touching = [event for event in events if event.touches(month)]
        facts = tuple(
            on_generated_basis(fact, touching, permits.in_force(fact.outlet, month))
            for fact in facts
        )
        markers = [PenaltyEvent(event.outlet, event.reason.value) for event in touching]
        schedule = tables.schedule_for(party.city, party.county, month)
        months.append(
            monthly_tax(party.code, month, schedule, facts, penalties=markers, policy=policy)
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
    """File the quarter's return from verified reports, book its tax and its Article 13
    reduction (an incentive), in one transaction. Filing a quarter whose return rests on a
    report no longer in force (corrected or invalidated) files the amended return: the next
    version, booking the difference (`amend_in`). The same return again is a replay; other
    figures on the same reports (a policy changed since) are `tax_return_exists`."""

    def work(uow: UnitOfWork) -> Created[FiledReturn]:
        enterprise = visible_party(uow, actor, party)
        lock_filings(uow, enterprise.code)
        computation = compute_in(uow, enterprise, quarter)
        latest = uow.tax.latest_return(party, quarter.year, quarter.quarter)
        if latest is None:
            return Created(_file_in(uow, actor.id, computation, None))
        if not latest.void and _same(latest, computation):
            return Created(latest, replayed=True)
        if not latest.void and latest.report_ids == computation.report_ids:
            events = _events_since(uow, latest)
            if events:  # recorded before events amended filed returns by themselves
                amended = _amend_for_events(uow, actor.id, enterprise, latest, events)
                if amended is not None:
                    return Created(amended)
            raise TaxReturnExists(f"return {latest.id} is filed on other data", field="quarter")
        return Created(amend_in(uow, actor.id, enterprise, latest))

    return in_transaction(uow_factory, work, actor=actor)


def lock_filings(uow: UnitOfWork, party: str) -> None:
    """Filing `party`'s returns and recording its penalty-basis events take turns (a lock on
    the party's row, held till the commit), taken before the latest return is read: a writer
    that waited reads the return the one before it filed, and the events it recorded, and
    amends that return. Without it, writers at once each computed the same next version, and
    all but one met its unique id (retried once only: the third of three events got a 409)."""
    uow.registry.get_party(party, lock=True)


def _same(filed: FiledReturn, computation: Computation) -> bool:
    return (filed.computed, filed.report_ids, filed.policy) == (
        computation.computed,
        computation.report_ids,
        computation.policy,
    )


def amend_in(uow: UnitOfWork, filed_by: str, party: Party, latest: FiledReturn) -> FiledReturn:
    """Inside the caller's unit of work: the amended return of `latest`'s quarter (rules §7.5),
    computed under `latest`'s policy from the reports now in force. It books the difference of
    tax due (more tax, or a refund) and replaces the Article 13 incentive: `latest`'s is
    reversed (if still active) and the new return's booked, each entry referencing both
    returns. `latest` itself is never changed."""
    computation = compute_in(uow, party, latest.quarter, policy=latest.policy)
    amended = _file_in(uow, filed_by, computation, latest)
    for report in latest.report_ids:
        if report not in amended.report_ids:
            incentives.reverse_for_amendment(uow, latest.id, amended.id, report)
    return amended


def _file_in(
    uow: UnitOfWork, filed_by: str, computation: Computation, latest: FiledReturn | None
) -> FiledReturn:
    """Store the return (version 1, or the next after `latest`) and book its tax and reduction."""
    quarter = Quarter(computation.computed.year, computation.computed.quarter)
    version = 1 if latest is None else latest.version + 1
    party = computation.computed.taxpayer
    filed = FiledReturn(
        id=return_id(party, quarter, version),
        version=version,
        computed=computation.computed,
        source=Source.REPORTS,
        policy=computation.policy,
        report_ids=computation.report_ids,
        filed_by=filed_by,
        filed_at=uow.now(),
        supersedes=None if latest is None else latest.id,
    )
    uow.tax.add_return(filed, computation.report_of_month)
    _book_tax(uow, filed, latest)
    _book_reduction(uow, filed, latest)
    return filed


def _book_tax(uow: UnitOfWork, filed: FiledReturn, latest: FiledReturn | None) -> None:
    """The return's tax due, or for an amended return the difference from the return it
    amends (booked already): `tax_assessment` / `tax_amendment`, the enterprise owing the
    province. A refund swaps the sides; no difference books nothing."""
    due = to_fen(filed.computed.total_due)
    before = 0 if latest is None else to_fen(latest.computed.total_due)
    difference = due - before
    if difference == 0:
        return
    owed, revenue = _ensure_tax_accounts(uow, filed.party)
    source, destination = (owed, revenue) if difference > 0 else (revenue, owed)
    references = [Reference("tax_return", filed.id)]
    if latest is not None:
        references.append(Reference("tax_return", latest.id))
    entry = journal.PostEntry(
        entry_id=f"tax-{filed.id}",
        entry_type="tax_assessment" if latest is None else "tax_amendment",
        postings=tuple(move(source, destination, CASH, abs(difference), 2)),
        memo=f"environmental tax of {filed.id}",
        references=tuple(references),
        metadata={"tax_due_fen": due, "previous_due_fen": before, "difference_fen": difference},
    )
    journal.write_in(uow, [entry])


def _ensure_tax_accounts(uow: UnitOfWork, party: str) -> tuple[str, str]:
    """(the enterprise's tax owed, the province's tax revenue), opened on first use (CNY)."""
    ensure_instruments(uow, CASH, [None])
    owed, revenue = account_code(party, TAX_OWED), account_code(PROVINCE, TAX_REVENUE)
    wanted = {
        owed: AccountDraft(
            owed, party, f"{party}: environmental tax owed", Side.DEBIT, False, CASH
        ),
        revenue: AccountDraft(
            revenue, PROVINCE, "Hebei: environmental tax", Side.CREDIT, False, CASH
        ),
    }
    known = uow.accounts.get_many(wanted)
    for code, draft in wanted.items():
        if code not in known:
            uow.accounts.add(draft, uow.now())
    return owed, revenue


def _book_reduction(uow: UnitOfWork, filed: FiledReturn, latest: FiledReturn | None) -> None:
    """The return's Article 13 reduction becomes the cap of its basis and is booked in full
    (for an amended return, its entry references the amended one too)."""
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
        also = () if latest is None else (Reference("tax_return", latest.id),)
        incentives.book_in(uow, basis.id, f"a13-{filed.id}", cap, memo=memo, also=also)


# -- corrections after filing (rules §7.5) ----------------------------------------------------


def amend_for_correction(uow: UnitOfWork, filed_by: str, old_report: str) -> list[FiledReturn]:
    """Inside the unit of work that verified a correction of `old_report`: every quarter whose
    standing return rested on it gets its amended return. A quarter that cannot be computed
    now (a month without a verified report) keeps its return, whose incentive is reversed
    and basis voided (nothing rests on a superseded report); filing it later amends it. The
    verification holds the party's turn with filings and events (`lock_filings`)."""
    amended = []
    for basis in uow.tax.bases_of_report(old_report):
        filed = None if basis.return_id is None else uow.tax.get_return(basis.return_id)
        if filed is None:
            continue
        latest = uow.tax.latest_return(filed.party, filed.quarter.year, filed.quarter.quarter)
        if latest is None or latest.id != filed.id:
            continue  # amended already
        party = uow.registry.get_party(filed.party)
        assert party is not None, filed.party  # a foreign key keeps it
        try:
            amended.append(amend_in(uow, filed_by, party, filed))
        except TaxDataMissing:
            incentives.reverse_for_amendment(uow, filed.id, None, old_report)
    return amended


# -- penalty-basis events after filing (rules §1.1, §7.3) -------------------------------------


def amend_for_event(uow: UnitOfWork, filed_by: str, event: PenaltyBasisEvent) -> list[FiledReturn]:
    """Inside the unit of work that records `event`: every quarter it touches whose return is
    in force gets its amended return, on the same reports with the event applied (a return is
    never left standing as if the event did not exist). A quarter not filed, or whose return
    is void (its report invalidated), takes the event when it is filed; one already computed
    as it would be now (the event changes nothing in it) is left as it is."""
    party = uow.registry.get_party(event.party)
    assert party is not None, event.party  # the event's outlet is the party's
    amended = []
    for quarter in _quarters(event.first_month, event.last_month):
        latest = uow.tax.latest_return(party.code, quarter.year, quarter.quarter)
        if latest is None or latest.void:
            continue
        made = _amend_for_events(uow, filed_by, party, latest, [event])
        if made is not None:
            amended.append(made)
    return amended


def _amend_for_events(
    uow: UnitOfWork,
    filed_by: str,
    party: Party,
    latest: FiledReturn,
    events: Sequence[PenaltyBasisEvent],
) -> FiledReturn | None:
    """The amended return of `latest`, under its policy, if `events` change what it would be
    now (None if not): the difference of tax booked, `latest`'s incentive reversed and its
    basis voided (it reads void), the new return's incentive booked."""
    try:
        computation = compute_in(uow, party, latest.quarter, policy=latest.policy)
    except TaxDataMissing:
        return None  # cannot be computed now; filing the quarter later applies the events
    if _same(latest, computation):
        return None
    amended = _file_in(uow, filed_by, computation, latest)
    names = ", ".join(event.id for event in events)
    cause = f"penalty-basis event {names} recorded after filing"
    incentives.reverse_for_amendment(uow, latest.id, amended.id, None, cause=cause)
    return amended


def _events_since(uow: UnitOfWork, filed: FiledReturn) -> list[PenaltyBasisEvent]:
    """The events touching `filed`'s quarter recorded after it was filed."""
    months = filed.quarter.months()
    return [
        event
        for event in uow.permits.events_of(filed.party)
        if any(event.touches(month) for month in months)
        and (event.recorded_at is None or event.recorded_at >= filed.filed_at)
    ]


def _quarters(first: date, last: date) -> list[Quarter]:
    """The quarters from `first`'s to `last`'s."""
    start, end = (first.year * 4 + (first.month - 1) // 3, last.year * 4 + (last.month - 1) // 3)
    return [Quarter(index // 4, index % 4 + 1) for index in range(start, end + 1)]


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


@use_case("tax.annual")
def annual_tax(uow_factory: UnitOfWorkFactory, actor: Actor, party: str, year: int) -> AnnualTax:
    """The year's totals, per outlet and overall, over the return in force of each quarter."""
    check_year(year, "year")

    def work(uow: UnitOfWork) -> AnnualTax:
        party_in_scope(uow, actor, party)
        latest = (uow.tax.latest_return(party, year, quarter) for quarter in (1, 2, 3, 4))
        in_force = tuple(filed for filed in latest if filed is not None and not filed.void)
        return AnnualTax(party, year, in_force)

    return read(uow_factory, work)
