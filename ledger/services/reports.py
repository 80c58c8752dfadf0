"""Use cases of emission reports: draft (from CEMS aggregates and/or agency, coefficient or
estimate lines), submit, verify or reject, correct (a new version), invalidate; reads.

The workflow is `ledger.domain.reports`; the database enforces it again (migration 0005). Reads
take the caller's `Scope`: a report out of scope raises `ReportNotFound`, like a missing one.
Writes take the acting `Principal`: its id is recorded as creator, submitter, verifier or
invalidator, and the verifier must not be the submitter.

For the tax and incentives: `verified_facts` (by report id) and `verified_report_for` (the
verified report covering an enterprise's month) run inside the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from ledger.domain.access import Principal, Scope
from ledger.domain.cems import TAX_POLLUTANT, StoredMonth
from ledger.domain.errors import PartyNotFound
from ledger.domain.pages import check_page_size, decode_cursor
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import PartyKind
from ledger.domain.reports import (
    CORRECTABLE,
    InvalidReportLine,
    Method,
    NoReportData,
    Period,
    Report,
    ReportAlreadyCorrected,
    ReportLine,
    ReportNotFound,
    ReportNotVerified,
    ReportPeriodTaken,
    ReportStatus,
    ReportTransitionRefused,
    VerifiedFacts,
    check_decider,
    check_lines,
    check_transition,
    report_id,
)
from ledger.domain.tax import PollutantMonth
from ledger.domain.tax_tables import Pollutant
from ledger.services import incentives
from ledger.services.transactions import in_transaction, read


@dataclass(frozen=True, slots=True)
class Content:
    """What a draft is made of: CEMS aggregates (if `from_monitoring`) plus the given lines.

    `particulate_as` names the outlets whose measured PM is taxed as general dust (or soot);
    by default PM is soot (combustion flue gas).
    """

    from_monitoring: bool = True
    lines: tuple[ReportLine, ...] = ()
    particulate_as: Mapping[str, Pollutant] | None = None


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report with its lines (and, after an invalidation, the incentives it reversed)."""

    report: Report
    lines: tuple[ReportLine, ...]
    reversed_incentives: tuple[str, ...] = ()


# -- writes ------------------------------------------------------------------------------------


def draft_report(
    uow_factory: UnitOfWorkFactory, actor: Principal, party: str, period: Period, content: Content
) -> ReportView:
    """A new draft, version 1, of `party`'s report for `period` (no other report may overlap)."""

    def work(uow: UnitOfWork) -> ReportView:
        _enterprise(uow, actor.scope, party)
        for other in uow.reports.of_party(party):
            if other.period.overlaps(period):
                raise ReportPeriodTaken(
                    f"report {other.id} covers {other.period}; correct it instead",
                    field="period",
                )
        report = _new(uow, actor, party, period, 1, None)
        return _add(uow, report, _lines(uow, party, period, content))

    return in_transaction(uow_factory, work)


def correct_report(
    uow_factory: UnitOfWorkFactory, actor: Principal, report_id_: str, content: Content
) -> ReportView:
    """A new draft version of a verified, rejected or invalidated report (`supersedes` it)."""

    def work(uow: UnitOfWork) -> ReportView:
        old = _visible(uow, actor.scope, report_id_, lock=True)
        if old.status not in CORRECTABLE:
            raise ReportTransitionRefused(
                f"report {old.id} is {old.status.value}; only verified, rejected or "
                "invalidated reports are corrected",
                field="status",
            )
        if old.superseded_by is not None:
            raise ReportAlreadyCorrected(f"report {old.id} has version {old.superseded_by}")
        report = _new(uow, actor, old.party, old.period, old.version + 1, old.id)
        return _add(uow, report, _lines(uow, old.party, old.period, content))

    return in_transaction(uow_factory, work)


def submit_report(uow_factory: UnitOfWorkFactory, actor: Principal, report_id_: str) -> ReportView:
    """The enterprise submits its draft; from now on its figures are fixed."""

    def work(uow: UnitOfWork) -> ReportView:
        report = _visible(uow, actor.scope, report_id_, lock=True)
        status = check_transition(report, "submit")
        changed = replace(report, status=status, submitted_by=actor.id, submitted_at=uow.now())
        return _save(uow, changed)

    return in_transaction(uow_factory, work)


def verify_report(
    uow_factory: UnitOfWorkFactory, actor: Principal, report_id_: str, note: str = ""
) -> ReportView:
    """A verifier (never the submitter) verifies; a version it corrects becomes superseded."""
    return _decide(uow_factory, actor, report_id_, "verify", note)


def reject_report(
    uow_factory: UnitOfWorkFactory, actor: Principal, report_id_: str, note: str
) -> ReportView:
    """A verifier (never the submitter) rejects; the enterprise may submit a correction."""
    return _decide(uow_factory, actor, report_id_, "reject", note)


def invalidate_report(
    uow_factory: UnitOfWorkFactory, actor: Principal, report_id_: str, reason: str
) -> ReportView:
    """A regulator invalidates a verified report and, in the same transaction, every incentive
    that rested on it is reversed (`ledger.services.incentives.reverse_for_report`)."""

    def work(uow: UnitOfWork) -> ReportView:
        report = _visible(uow, actor.scope, report_id_, lock=True)
        status = check_transition(report, "invalidate")
        changed = replace(
            report,
            status=status,
            invalidated_by=actor.id,
            invalidated_at=uow.now(),
            invalidation_reason=reason,
        )
        view = _save(uow, changed)
        reversed_ = incentives.reverse_for_report(uow, report.id, reason)
        return replace(view, reversed_incentives=tuple(i.id for i in reversed_))

    return in_transaction(uow_factory, work)


def _decide(
    uow_factory: UnitOfWorkFactory, actor: Principal, report_id_: str, step: str, note: str
) -> ReportView:
    def work(uow: UnitOfWork) -> ReportView:
        report = _visible(uow, actor.scope, report_id_, lock=True)
        status = check_transition(report, step)
        check_decider(report, actor.id)
        now = uow.now()
        changed = replace(
            report, status=status, decided_by=actor.id, decided_at=now, decision_note=note
        )
        view = _save(uow, changed)
        if status is ReportStatus.VERIFIED and report.supersedes is not None:
            _supersede(uow, report.supersedes)
        return view

    return in_transaction(uow_factory, work)


def _supersede(uow: UnitOfWork, old_id: str) -> None:
    old = uow.reports.get(old_id, lock=True)
    assert old is not None, old_id  # a foreign key keeps it
    uow.reports.update(replace(old, status=check_transition(old, "supersede")))


# -- reads -------------------------------------------------------------------------------------


def get_report(uow_factory: UnitOfWorkFactory, scope: Scope, report_id_: str) -> ReportView:
    """A report and its lines (404 if out of scope)."""

    def work(uow: UnitOfWork) -> ReportView:
        report = _visible(uow, scope, report_id_)
        return ReportView(report, tuple(uow.reports.lines(report.id)))

    return read(uow_factory, work)


def list_reports(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    scope: Scope,
    party: str | None,
    status: ReportStatus | None,
    cursor: str | None,
    limit: int,
) -> list[tuple[int, Report]]:
    """Reports the scope sees, in creation order, one page after `cursor`."""
    after = decode_cursor("reports", cursor)
    check_page_size(limit)
    return read(uow_factory, lambda uow: uow.reports.list(scope, party, status, after, limit))


def verified_facts(uow: UnitOfWork, report_id_: str) -> VerifiedFacts:
    """A verified report's lines as tax facts, by month (inside the caller's unit of work).

    Raises `ReportNotFound` or `ReportNotVerified` (superseded, invalidated and pending reports
    are not a basis for anything).
    """
    report = uow.reports.get(report_id_)
    if report is None:
        raise ReportNotFound(f"no report {report_id_!r}", field="report_id")
    if report.status is not ReportStatus.VERIFIED:
        raise ReportNotVerified(f"report {report.id} is {report.status.value}", field="report_id")
    lines = tuple(uow.reports.lines(report.id))
    months: dict[date, tuple[PollutantMonth, ...]] = {
        month: tuple(line.facts() for line in lines if line.month == month)
        for month in report.period.months()
    }
    assert report.decided_by is not None and report.decided_at is not None, report
    return VerifiedFacts(
        report.id,
        report.party,
        report.period,
        report.version,
        report.decided_by,
        report.decided_at,
        months,
        lines,
    )


def verified_report_for(uow: UnitOfWork, party: str, month: date) -> Report | None:
    """The verified report in force for `party`'s `month` (any day of it), if there is one."""
    return uow.reports.verified_covering(party, month.replace(day=1))


# -- helpers -----------------------------------------------------------------------------------


def _enterprise(uow: UnitOfWork, scope: Scope, code: str) -> None:
    party = uow.registry.get_party(code)
    if party is None or not scope.sees(party.code, party.city):
        raise PartyNotFound(f"no party {code!r}", field="party")
    if party.kind is not PartyKind.ENTERPRISE:
        raise PartyNotFound(f"{code!r} is not an enterprise", field="party")


def _visible(uow: UnitOfWork, scope: Scope, report_id_: str, *, lock: bool = False) -> Report:
    report = uow.reports.get(report_id_, lock=lock)
    if report is not None and not scope.unlimited:
        party = uow.registry.get_party(report.party)
        if party is None or not scope.sees(party.code, party.city):
            report = None
    if report is None:
        raise ReportNotFound(f"no report {report_id_!r}", field="report_id")
    return report


def _new(  # noqa: PLR0917 - a report's identity
    uow: UnitOfWork,
    actor: Principal,
    party: str,
    period: Period,
    version: int,
    supersedes: str | None,
) -> Report:
    return Report(
        id=report_id(party, period, version),
        party=party,
        period=period,
        version=version,
        status=ReportStatus.DRAFT,
        created_by=actor.id,
        created_at=uow.now(),
        supersedes=supersedes,
    )


def _add(uow: UnitOfWork, report: Report, lines: Sequence[ReportLine]) -> ReportView:
    uow.reports.add(report, lines)
    return ReportView(report, tuple(lines))


def _save(uow: UnitOfWork, report: Report) -> ReportView:
    uow.reports.update(report)
    return ReportView(report, tuple(uow.reports.lines(report.id)))


def _lines(uow: UnitOfWork, party: str, period: Period, content: Content) -> tuple[ReportLine, ...]:
    """CEMS lines from the stored aggregates, then the given lines; checked together."""
    for index, line in enumerate(content.lines):
        if line.method is Method.CEMS:
            raise InvalidReportLine(
                "CEMS lines come from the stored monthly aggregates; give agency, coefficient "
                "or estimate lines",
                field=f"lines[{index}].method",
            )
    cems: tuple[ReportLine, ...] = ()
    if content.from_monitoring:
        stored = uow.monitoring.months(party, None, None, period.first_month, period.last_month)
        cems = tuple(_cems_line(month, content.particulate_as or {}) for month in stored)
    lines = cems + content.lines
    if not lines:
        raise NoReportData(f"no monitoring data and no lines for {party} in {period}")
    outlets = frozenset(o.outlet for o in uow.monitoring.outlets(party))
    check_lines(period, outlets, lines)
    return lines


def _cems_line(stored: StoredMonth, particulate_as: Mapping[str, Pollutant]) -> ReportLine:
    aggregate = stored.aggregate
    pollutant = TAX_POLLUTANT[aggregate.pollutant]
    if aggregate.pollutant == "PM":
        pollutant = particulate_as.get(aggregate.outlet, pollutant)
    standard = aggregate.standard
    return ReportLine(
        month=aggregate.month,
        outlet=aggregate.outlet,
        pollutant=pollutant,
        measured_as=aggregate.pollutant,
        method=Method.CEMS,
        mass_kg=aggregate.mass_kg,
        mean_concentration=aggregate.mean_on_standard_basis,
        standard_mg=None if standard is None else standard.limit_mg_nm3,
        reference_o2=None if standard is None else standard.reference_o2,
        exceedances=aggregate.exceedances,
        month_valid=aggregate.month_valid,
        valid_hours=aggregate.valid_hours,
        valid_days=aggregate.valid_days,
    )
