"""Verified reductions and rights compliance, from verified emission reports (rules.md §3–4,
§7.8).

A verified reduction compares a baseline with the actual emissions of a verified report and,
by policy, releases the surplus rights it frees: reclaimed free into a government reserve
through the registry's reserve operation (`reclaim`, one entry referencing the decision), or
left tradable in the enterprise's holdings. Rights compliance compares a report's verified
emissions per rights pollutant with the rights the enterprise holds of that year's vintage:
these are its obligations.

The baseline is derived, never typed in (§7.8): the lower, per calendar hour, of the
enterprise's confirmed entitlement for the report's year and the 12 months of CEMS data
before the retrofit, put on the report's calendar hours. Where the enterprise has CEMS data of
the pollutant before the report, those 12 months must all be present and valid (else
`reduction_baseline_unknown`): the retrofit month typed in cannot drop the lower candidate. One
reduction per report and pollutant (the database has a unique index). Invalidating the report,
or verifying a correction of it, reverses its reductions in the same transaction: a reclaim
goes back to the enterprise as far as the reserve still holds it (`reverse_for_report`).
A penalty-basis event touching a month and outlet of the report refuses the reduction (§1.1:
no reduction applies after tampering); recording one reverses those verified before it
(`reverse_for_event`).

Each use case takes the acting `Actor`: a report or reduction out of its scope does not exist
for it. A reduction is verified once per id: the same request again answers the stored one
as a replay (its reclaim replays with it), another request under the id is a 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from math import ceil

from ledger.domain.access import Actor, Pending
from ledger.domain.accounts import Side
from ledger.domain.entries import Reference
from ledger.domain.errors import InvalidField, RecordExists
from ledger.domain.incentives import (
    Baseline,
    BaselineKind,
    ReductionBaselineUnknown,
    ReductionClaim,
    ReductionExists,
    ReductionReversal,
    Release,
    ReversalReason,
    VerifiedReduction,
    calendar_hours,
    lower_baseline,
    months_before,
    reduction_kg,
)
from ledger.domain.limits import DATE_MIN
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.penalty_basis import PenaltyBasisEvent
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import HOLDINGS, PLEDGED, PROVINCE, account_code, instrument_code
from ledger.domain.reports import (
    Report,
    ReportLine,
    ReportNotFound,
    ReportNotVerified,
    ReportStatus,
)
from ledger.domain.tax_tables import Pollutant
from ledger.services import journal, rights
from ledger.services.authority import sees, use_case
from ledger.services.parties import lock_balances, move
from ledger.services.transactions import joined, read, run_joined

# Rights pollutants (rules §4) and the tax pollutant their verified mass is reported as.
RIGHTS_POLLUTANTS = {
    "SO2": Pollutant.SO2,
    "NOx": Pollutant.NOX,
    "COD": Pollutant.COD,
    "NH3-N": Pollutant.NH3_N,
}
REVERSAL_ENTRY_TYPE = "reclaim_reversal"


@dataclass(frozen=True, slots=True)
class ReductionRequest:
    """A regulator's verification of a reduction, resting on a verified report.

    `retrofit_month` ends the CEMS baseline's 12 months (default: the report's first month);
    the baseline itself is derived from the data, and a window the stored CEMS data do not
    cover is refused, never answered with the entitlement alone.
    """

    id: str
    report_id: str
    pollutant: str
    release: Release = Release.RESERVE
    authority: str = PROVINCE  # whose reserve takes reclaimed surplus
    vintage: int | None = None  # the vintage released; default: the year after the report
    retrofit_month: date | None = None


@dataclass(frozen=True, slots=True)
class _Actual:
    party: str
    year: int
    kg: Decimal
    months_invalid: int
    exceedances: int


def _verified(uow: UnitOfWork, actor: Actor, report_id: str) -> Report:
    report = uow.reports.get(report_id)
    if report is None or not sees(uow, actor, report.party):
        raise ReportNotFound(f"report {report_id!r} not found", field="report_id")
    if report.status is not ReportStatus.VERIFIED:
        raise ReportNotVerified(f"report {report_id} is {report.status.value}", field="report")
    return report


def _actual(report: Report, report_lines: Sequence[ReportLine], pollutant: str) -> _Actual:
    taxed_as = RIGHTS_POLLUTANTS.get(pollutant)
    if taxed_as is None:
        raise InvalidField(f"{pollutant!r} is not a rights pollutant", field="pollutant")
    lines = [line for line in report_lines if line.pollutant is taxed_as]
    return _Actual(
        party=report.party,
        year=report.period.year,
        kg=sum((line.mass_kg for line in lines), Decimal(0)),
        months_invalid=sum(not line.valid_measured_month for line in lines),
        exceedances=sum(line.exceedances for line in lines),
    )


# -- the derived baseline (rules §7.8) -------------------------------------------------------


def _baseline(uow: UnitOfWork, report: Report, pollutant: str, retrofit: date) -> Baseline:
    """The lower per calendar hour of the entitlement and the pre-retrofit CEMS baseline."""
    if retrofit.day != 1 or retrofit > report.period.first_month:
        raise InvalidField(
            "the retrofit month is a first day, at the latest the report's first month",
            field="retrofit_month",
        )
    candidates = [
        found
        for found in (
            _entitlement_baseline(uow, report, pollutant),
            _cems_baseline(uow, report, pollutant, retrofit),
        )
        if found is not None
    ]
    return lower_baseline(candidates)


def _entitlement_baseline(uow: UnitOfWork, report: Report, pollutant: str) -> Baseline | None:
    """The rights confirmed for the report's year (units are kg), over that year's hours."""
    year = report.period.year
    found = uow.registry.list_entitlements(report.party, pollutant, 0, 1000)
    units = sum(e.units for _, e in found if e.first_vintage <= year <= e.last_vintage)
    if not units:
        return None
    hours = calendar_hours([date(year, month, 1) for month in range(1, 13)])
    return Baseline(BaselineKind.PRIOR_ENTITLEMENT, Decimal(units), hours)


def _cems_baseline(
    uow: UnitOfWork, report: Report, pollutant: str, retrofit: date
) -> Baseline | None:
    """The mass of the 12 months before the retrofit. None only where the enterprise has no
    CEMS data of the pollutant before the report (the entitlement is then the baseline); with
    some, the 12 months must all be stored and valid, or the reduction is refused rather than
    left on the higher entitlement (§7.8: derived, whichever is lower, not chosen by the
    retrofit month typed in; §3: only from valid months)."""
    before_report = months_before(report.period.first_month, 1)[0]
    history = uow.monitoring.months(report.party, None, pollutant, DATE_MIN, before_report)
    if not history:
        return None
    window = months_before(retrofit)
    aggregates = [m.aggregate for m in history if window[0] <= m.aggregate.month <= window[-1]]
    missing = len(set(window) - {a.month for a in aggregates})
    invalid = len({a.month for a in aggregates if not a.month_valid})
    if missing or invalid:
        raise ReductionBaselineUnknown(
            f"the 12 months before the retrofit ({retrofit:%Y-%m}) have {missing} month(s) "
            f"without CEMS data and {invalid} invalid, while CEMS data of {pollutant} exist",
            field="retrofit_month",
        )
    kg = sum((a.mass_kg for a in aggregates), Decimal(0))
    return Baseline(BaselineKind.CEMS_BASELINE, kg, calendar_hours(window))


# -- verifying -------------------------------------------------------------------------------


@use_case("reductions.verify")
def verify_reduction(
    uow_factory: UnitOfWorkFactory, actor: Actor, request: ReductionRequest
) -> Created[VerifiedReduction]:
    """Verify baseline − actual and release the surplus by policy, in one transaction."""

    def work(uow: UnitOfWork) -> Created[VerifiedReduction]:
        stored = uow.tax.get_reduction(request.id)
        if stored is not None:
            return _verified_already(uow, actor, stored, request)
        report = _verified(uow, actor, request.report_id)
        of_report = uow.tax.reductions_of_report(report.id)
        taken = [r for r in of_report if r.claim.pollutant == request.pollutant]
        if taken:
            raise ReductionExists(
                f"report {report.id} has reduction {taken[0].id} of {request.pollutant}",
                field="report_id",
            )
        lines = uow.reports.lines(report.id)
        actual = _actual(report, lines, request.pollutant)
        retrofit = request.retrofit_month or report.period.first_month
        baseline = _baseline(uow, report, request.pollutant, retrofit)
        claim = ReductionClaim(
            party=actual.party,
            pollutant=request.pollutant,
            year=actual.year,
            baseline_kind=baseline.kind,
            baseline_kg=baseline.kg,
            baseline_hours=baseline.hours,
            actual_kg=actual.kg,
            actual_hours=calendar_hours(report.period.months()),
            months_invalid=actual.months_invalid,
            exceedances=actual.exceedances,
            penalty_events=len(_events_on(uow, report, lines)),
        )
        kg = reduction_kg(claim)
        entry_id = _release(uow, actor, request, claim, kg)
        record = VerifiedReduction(
            id=request.id,
            claim=claim,
            report_id=report.id,
            reduction_kg=kg,
            released_units=kg if request.release is not Release.NONE else 0,
            release=request.release,
            entry_id=entry_id,
            created_at=uow.now(),
            retrofit_month=request.retrofit_month,
        )
        uow.tax.add_reduction(record)
        return Created(record)

    return run_joined(uow_factory, work, actor=actor)


def _verified_already(
    uow: UnitOfWork, actor: Actor, stored: VerifiedReduction, request: ReductionRequest
) -> Created[VerifiedReduction]:
    """A reduction verified under this id already: this request's own (the same report,
    pollutant, retrofit and release, and the same reclaim, which replays), or a conflict."""
    asked = (request.report_id, request.pollutant, request.retrofit_month, request.release)
    kept = (stored.report_id, stored.claim.pollutant, stored.retrofit_month, stored.release)
    if asked != kept or not sees(uow, actor, stored.claim.party):
        raise RecordExists(f"reduction {request.id} exists", field="id")
    if stored.entry_id is not None:  # another authority or vintage: the reclaim refuses it
        _release(uow, actor, request, stored.claim, stored.reduction_kg)
    return Created(stored, replayed=True)


def _release(
    uow: UnitOfWork, actor: Actor, request: ReductionRequest, claim: ReductionClaim, kg: int
) -> str | None:
    """Reclaim the surplus (kg = units of a t right, scale 3) into the reserve, if so decided."""
    if request.release is not Release.RESERVE or kg == 0:
        return None
    vintage = request.vintage or claim.year + 1
    operation = rights.ReserveOperation(
        id=f"reduction-{request.id}",
        action=rights.ReserveAction.RECLAIM,
        authority=request.authority,
        pollutant=claim.pollutant,
        units=kg,
        first_vintage=vintage,
        last_vintage=vintage,
        party=claim.party,
    )
    reclaimed = rights.reserve_operation(joined(uow), actor, operation)
    assert not isinstance(reclaimed, Pending), "a reclaim is never four-eyes"
    (entry,) = reclaimed.record
    return entry.entry_id


# -- penalty-basis events (rules §1.1, §3, §7.3) ---------------------------------------------


def _events_on(
    uow: UnitOfWork, report: Report, lines: Sequence[ReportLine]
) -> list[PenaltyBasisEvent]:
    """The penalty-basis events touching a month of the report on one of its outlets: after
    tampering (or without networked CEMS, illegal discharge, a false return) no reduction
    applies (§1.1), so none is verified on that report, of any pollutant."""
    return [
        event for event in uow.permits.events_of(report.party) if _touches(event, report, lines)
    ]


def _touches(event: PenaltyBasisEvent, report: Report, lines: Sequence[ReportLine]) -> bool:
    on_outlet = any(line.outlet == event.outlet for line in lines)
    return on_outlet and any(event.touches(month) for month in report.period.months())


def reverse_for_event(uow: UnitOfWork, event: PenaltyBasisEvent) -> list[VerifiedReduction]:
    """Inside the unit of work that records `event`: reverse every active reduction of the
    party resting on a report the event touches (as verifying it now would be refused),
    giving back what its reclaim took while the reserve still holds it."""
    reversed_ = []
    for reduction in _active_of(uow, event.party):
        report = None if reduction.report_id is None else uow.reports.get(reduction.report_id)
        if report is None or not _touches(event, report, uow.reports.lines(report.id)):
            continue
        detail = f"report {report.id}: penalty-basis event {event.id} ({event.reason.value})"
        reversal = _reverse_one(uow, reduction, ReversalReason.REPORT_CORRECTED, detail)
        uow.tax.add_reduction_reversal(reduction.id, reversal)
        reversed_.append(reduction)
    return reversed_


def _active_of(uow: UnitOfWork, party: str) -> list[VerifiedReduction]:
    """The party's active reductions (a handful a year: read in pages of 500)."""
    found: list[VerifiedReduction] = []
    after = 0
    while page := uow.tax.list_reductions(party, after, 500):
        found += [reduction for _, reduction in page if reduction.active]
        after = page[-1][0]
    return found


# -- reversal with the report (rules §7.8) ---------------------------------------------------


def reverse_for_report(
    uow: UnitOfWork, report_id: str, reason: ReversalReason, detail: str
) -> list[VerifiedReduction]:
    """Inside the invalidation's (or correction's) unit of work: reverse every active
    reduction resting on `report_id`, giving back what its reclaim took while the reserve
    still holds it."""
    reversed_ = []
    for reduction in uow.tax.reductions_of_report(report_id):
        if reduction.active:
            reversal = _reverse_one(uow, reduction, reason, f"report {report_id}: {detail}")
            uow.tax.add_reduction_reversal(reduction.id, reversal)
            reversed_.append(reduction)
    return reversed_


def _reverse_one(
    uow: UnitOfWork, reduction: VerifiedReduction, reason: ReversalReason, detail: str
) -> ReductionReversal:
    assert reduction.report_id is not None  # reductions of a report name it
    restored, entry_id, unrestored = 0, None, 0
    if reduction.entry_id is not None:  # released into a reserve; otherwise nothing moved
        restored, entry_id = _restore(uow, reduction, reduction.entry_id, detail)
        unrestored = reduction.released_units - restored
    return ReductionReversal(
        reason=reason,
        report_id=reduction.report_id,
        entry_id=entry_id,
        restored_units=restored,
        unrestored_units=unrestored,
        at=uow.now(),
        detail=detail,
    )


def _restore(
    uow: UnitOfWork, reduction: VerifiedReduction, reclaim_id: str, detail: str
) -> tuple[int, str | None]:
    """Move the reclaimed units back from the reserve to the enterprise, as far as the reserve
    has them available (it may have sold some): (units restored, the entry's id)."""
    reclaim = uow.journal.get_many([reclaim_id])[reclaim_id]
    holdings = next(p for p in reclaim.postings if p.side is Side.DEBIT)
    reserve = next(p for p in reclaim.postings if p.side is Side.CREDIT)
    pair = (reserve.account_code, reserve.instrument_code)
    _, balances = lock_balances(uow, [pair])
    units = min(reduction.released_units, max(balances[pair].available, 0))
    if units == 0:
        return 0, None
    entry = journal.PostEntry(
        entry_id=f"reduction-{reduction.id}-reversal",
        entry_type=REVERSAL_ENTRY_TYPE,
        postings=tuple(
            move(reserve.account_code, holdings.account_code, reserve.instrument_code, units, 3)
        ),
        memo=detail[:500],
        references=(
            Reference("reduction", reduction.id),
            Reference("entry", reclaim_id),
            Reference("emission_report", reduction.report_id or ""),
        ),
        metadata={"reverses": reclaim_id, "released_units": reduction.released_units},
    )
    (record,) = journal.write_in(uow, [entry])
    return units, record.entry_id


@use_case("reductions.list")
def list_reductions(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    cursor: str | None,
    limit: int,
) -> Page[VerifiedReduction]:
    """Verified reductions in verification order, of the parties the actor sees."""
    after = decode_cursor("reductions", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.tax.list_reductions(party, after, limit, scope=actor.scope),
    )
    return keyset_page("reductions", rows, limit)


# -- rights compliance -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RightsObligation:
    """A report's verified emissions of a rights pollutant against the rights held for its
    year (kg = units), pledged rights included (rules §7.10: a pledge does not take them away).
    The enterprise complies when nothing is short and no hour exceeded its standard."""

    report_id: str
    party: str
    pollutant: str
    instrument: str
    verified_units: int  # kg, rounded up: an obligation is never understated
    held_units: int  # in holdings and pledged
    exceedances: int
    pledged_units: int = 0  # of `held_units`

    @property
    def shortfall_units(self) -> int:
        return max(self.verified_units - self.held_units, 0)

    @property
    def compliant(self) -> bool:
        return self.shortfall_units == 0 and self.exceedances == 0

    @property
    def findings(self) -> tuple[str, ...]:
        """Why it is not compliant: `shortfall` (emitted above the right), `exceedances`."""
        return tuple(
            name
            for name, found in (
                ("shortfall", self.shortfall_units),
                ("exceedances", self.exceedances),
            )
            if found
        )


@use_case("rights_obligations.read")
def rights_obligations(
    uow_factory: UnitOfWorkFactory, actor: Actor, report_id: str
) -> list[RightsObligation]:
    """The obligations a verified report creates, one per rights pollutant it reports."""
    return read(uow_factory, lambda uow: obligations_of(uow, _verified(uow, actor, report_id)))


def obligations_of(uow: UnitOfWork, report: Report) -> list[RightsObligation]:
    """The rights obligations of a verified report (one per rights pollutant it reports)."""
    lines = uow.reports.lines(report.id)  # once, for every pollutant
    found = []
    for pollutant in RIGHTS_POLLUTANTS:
        actual = _actual(report, lines, pollutant)
        if actual.kg == 0 and actual.exceedances == 0:
            continue
        code = instrument_code(pollutant, actual.year)
        pledged = _posted(uow, account_code(report.party, PLEDGED), code)
        found.append(
            RightsObligation(
                report_id=report.id,
                party=report.party,
                pollutant=pollutant,
                instrument=code,
                verified_units=ceil(actual.kg),
                held_units=_posted(uow, account_code(report.party, HOLDINGS), code) + pledged,
                exceedances=actual.exceedances,
                pledged_units=pledged,
            )
        )
    return found


def verified_report(uow: UnitOfWork, actor: Actor, report_id: str) -> Report:
    """The verified report, if the actor sees it (else report_not_found / report_not_verified)."""
    return _verified(uow, actor, report_id)


def _posted(uow: UnitOfWork, code: str, instrument: str) -> int:
    account = uow.accounts.get_many([code]).get(code)
    if account is None:
        return 0
    balance = uow.journal.balance_of(account.id, instrument)
    return 0 if balance is None else balance.posted
