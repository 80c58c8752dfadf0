"""Verified reductions and rights compliance, from verified emission reports (rules.md §3–4).

A verified reduction compares a documented baseline with the actual emissions of a verified
report (same capacity, hours scaled) and, by policy, releases the surplus rights it frees:
reclaimed free into a government reserve through the registry's reserve operation
(`reclaim`, one entry referencing the decision), or left tradable in the enterprise's
holdings. Rights compliance compares a report's verified emissions per rights pollutant with
the rights the enterprise holds of that year's vintage: these are its obligations.

Each use case takes the acting `Actor`: a report or reduction out of its scope does not exist
for it. A reduction is verified once per id: the same request again answers the stored one
as a replay (its reclaim replays with it), another request under the id is a 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from math import ceil

from ledger.domain.access import Actor, Pending
from ledger.domain.errors import InvalidField, RecordExists
from ledger.domain.incentives import (
    BaselineKind,
    ReductionClaim,
    Release,
    VerifiedReduction,
    reduction_kg,
)
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import HOLDINGS, PROVINCE, account_code, instrument_code
from ledger.domain.reports import (
    Report,
    ReportLine,
    ReportNotFound,
    ReportNotVerified,
    ReportStatus,
)
from ledger.domain.tax_tables import Pollutant
from ledger.services import rights
from ledger.services.authority import sees, use_case
from ledger.services.transactions import joined, read, run_joined

# Rights pollutants (rules §4) and the tax pollutant their verified mass is reported as.
RIGHTS_POLLUTANTS = {
    "SO2": Pollutant.SO2,
    "NOx": Pollutant.NOX,
    "COD": Pollutant.COD,
    "NH3-N": Pollutant.NH3_N,
}


@dataclass(frozen=True, slots=True)
class ReductionRequest:
    """A regulator's verification of a reduction, resting on a verified report."""

    id: str
    report_id: str
    pollutant: str
    baseline_kind: BaselineKind
    baseline_kg: Decimal
    baseline_hours: int
    actual_hours: int
    release: Release = Release.RESERVE
    authority: str = PROVINCE  # whose reserve takes reclaimed surplus
    vintage: int | None = None  # the vintage released; default: the year after the report


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
        months_invalid=sum(not line.month_valid for line in lines),
        exceedances=sum(line.exceedances for line in lines),
    )


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
        actual = _actual(report, uow.reports.lines(report.id), request.pollutant)
        claim = ReductionClaim(
            party=actual.party,
            pollutant=request.pollutant,
            year=actual.year,
            baseline_kind=request.baseline_kind,
            baseline_kg=request.baseline_kg,
            baseline_hours=request.baseline_hours,
            actual_kg=actual.kg,
            actual_hours=request.actual_hours,
            months_invalid=actual.months_invalid,
            exceedances=actual.exceedances,
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
        )
        uow.tax.add_reduction(record)
        return Created(record)

    return run_joined(uow_factory, work, actor=actor)


def _verified_already(
    uow: UnitOfWork, actor: Actor, stored: VerifiedReduction, request: ReductionRequest
) -> Created[VerifiedReduction]:
    """A reduction verified under this id already: this request's own (the same claim, and the
    same reclaim, which replays), or a conflict."""
    claim = stored.claim
    asked = (
        request.report_id,
        request.pollutant,
        request.baseline_kind,
        request.baseline_kg,
        request.baseline_hours,
        request.actual_hours,
        request.release,
    )
    kept = (
        stored.report_id,
        claim.pollutant,
        claim.baseline_kind,
        claim.baseline_kg,
        claim.baseline_hours,
        claim.actual_hours,
        stored.release,
    )
    if asked != kept or not sees(uow, actor, claim.party):
        raise RecordExists(f"reduction {request.id} exists", field="id")
    if stored.entry_id is not None:  # another authority or vintage: the reclaim refuses it
        _release(uow, actor, request, claim, stored.reduction_kg)
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
    year (kg = units): the enterprise complies when `shortfall_units` is 0."""

    report_id: str
    party: str
    pollutant: str
    instrument: str
    verified_units: int  # kg, rounded up: an obligation is never understated
    held_units: int
    exceedances: int

    @property
    def shortfall_units(self) -> int:
        return max(self.verified_units - self.held_units, 0)


@use_case("rights_obligations.read")
def rights_obligations(
    uow_factory: UnitOfWorkFactory, actor: Actor, report_id: str
) -> list[RightsObligation]:
    """The obligations a verified report creates, one per rights pollutant it reports."""

    def work(uow: UnitOfWork) -> list[RightsObligation]:
        report = _verified(uow, actor, report_id)
        lines = uow.reports.lines(report.id)  # once, for every pollutant
        found = []
        for pollutant in RIGHTS_POLLUTANTS:
            actual = _actual(report, lines, pollutant)
            if actual.kg == 0:
                continue
            code = instrument_code(pollutant, actual.year)
            found.append(
                RightsObligation(
                    report_id=report.id,
                    party=report.party,
                    pollutant=pollutant,
                    instrument=code,
                    verified_units=ceil(actual.kg),
                    held_units=_held(uow, report.party, code),
                    exceedances=actual.exceedances,
                )
            )
        return found

    return read(uow_factory, work)


def _held(uow: UnitOfWork, party: str, instrument: str) -> int:
    code = account_code(party, HOLDINGS)
    account = uow.accounts.get_many([code]).get(code)
    if account is None:
        return 0
    balance = uow.journal.balance_of(account.id, instrument)
    return 0 if balance is None else balance.posted
