"""Use cases of emission reports: draft (from CEMS aggregates and/or agency, coefficient or
estimate lines), submit, verify or reject, correct (a new version), invalidate; reads.

The workflow is `ledger.domain.reports`; the database enforces it again (migration 0005). Each
use case takes the acting `Actor`: a report out of its scope raises `ReportNotFound`, exactly
like a missing one; its principal is recorded as creator, submitter, verifier or invalidator,
and the verifier is never the submitter (nor the same person under another principal).

A draft's id is its enterprise, period and version, so a retried draft or correction finds
the version it made: the same content again is a replay, other content under it a conflict.

For the tax and incentives: `verified_facts` (by report id) and `verified_report_for` (the
verified report covering an enterprise's month) run inside the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from ledger.domain.access import Actor, Forbidden, Role
from ledger.domain.cems import TAX_POLLUTANT, StoredMonth
from ledger.domain.errors import InvalidField, LedgerError
from ledger.domain.incentives import ReversalReason
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.permits import PARTICULATES
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import PartyKind
from ledger.domain.reports import (
    CORRECTABLE,
    CemsDataNotReported,
    CemsLinesRequired,
    InvalidReportLine,
    LineNotMeasured,
    LineStatesStandard,
    Method,
    NoReportData,
    ParticulateNotPermitted,
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
    VerifierIsSubmitter,
    check_decider,
    check_lines,
    check_transition,
    report_id,
)
from ledger.domain.tax import PollutantMonth
from ledger.domain.tax_tables import Medium, Pollutant
from ledger.services import incentives, reductions
from ledger.services.authority import sees, use_case, visible_party
from ledger.services.permits import PermitsOf
from ledger.services.transactions import in_transaction, read


@dataclass(frozen=True, slots=True)
class Content:
    """What a draft is made of: the stored CEMS aggregates plus the given lines.

    `from_monitoring` false asks for no CEMS lines: it is refused while CEMS data are stored
    for the period (they are never left out of a report, rules §7.4), and means nothing else.

    What measured PM is taxed as (soot or general dust) is the outlet's permit's, never the
    draft's (rules §7.4).
    """

    from_monitoring: bool = True
    lines: tuple[ReportLine, ...] = ()


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report with its lines (and, after an invalidation or a verified correction, the
    incentives and verified reductions that were reversed with it)."""

    report: Report
    lines: tuple[ReportLine, ...]
    reversed_incentives: tuple[str, ...] = ()
    reversed_reductions: tuple[str, ...] = ()
    amended_returns: tuple[str, ...] = ()


# -- writes ------------------------------------------------------------------------------------


@use_case("reports.draft")
def draft_report(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str, period: Period, content: Content
) -> Created[ReportView]:
    """A new draft, version 1, of `party`'s report for `period` (no other report may overlap)."""

    def work(uow: UnitOfWork) -> Created[ReportView]:
        enterprise = visible_party(uow, actor, party, field="enterprise")
        if enterprise.kind is not PartyKind.ENTERPRISE:
            raise InvalidField(f"{party!r} is not an enterprise", field="enterprise")
        report = _new(uow, actor, party, period, 1, None)
        stored = uow.reports.get(report.id)
        if stored is None:
            _check_period_free(uow, party, period)
        lines = _lines(uow, actor, party, period, content)
        if stored is not None:
            taken = ReportPeriodTaken(
                f"report {stored.id} covers {period} with other lines; correct it instead",
                field="period",
            )
            return _replayed(uow, stored, lines, taken)
        return Created(_add(uow, report, lines))

    return in_transaction(uow_factory, work, actor=actor)


def _check_period_free(uow: UnitOfWork, party: str, period: Period) -> None:
    for other in uow.reports.of_party(party):
        if other.period.overlaps(period):
            raise ReportPeriodTaken(
                f"report {other.id} covers {other.period}; correct it instead", field="period"
            )


@use_case("reports.correct")
def correct_report(
    uow_factory: UnitOfWorkFactory, actor: Actor, report_id_: str, content: Content
) -> Created[ReportView]:
    """A new draft version of a verified, rejected or invalidated report (`supersedes` it)."""

    def work(uow: UnitOfWork) -> Created[ReportView]:
        old = _visible(uow, actor, report_id_, lock=True)
        if old.superseded_by is None and old.status not in CORRECTABLE:
            raise ReportTransitionRefused(
                f"report {old.id} is {old.status.value}; only verified, rejected or "
                "invalidated reports are corrected",
                field="status",
            )
        governing = () if actor.role is Role.REGULATOR else _regulators_lines(uow, old)
        lines = _lines(uow, actor, old.party, old.period, content, governing)
        if old.superseded_by is not None:
            stored = uow.reports.get(old.superseded_by)
            assert stored is not None, old.superseded_by  # a foreign key keeps it
            taken = ReportAlreadyCorrected(f"report {old.id} has version {stored.id}")
            return _replayed(uow, stored, lines, taken)
        report = _new(uow, actor, old.party, old.period, old.version + 1, old.id)
        return Created(_add(uow, report, lines))

    return in_transaction(uow_factory, work, actor=actor)


def _replayed(
    uow: UnitOfWork, stored: Report, lines: tuple[ReportLine, ...], conflict: LedgerError
) -> Created[ReportView]:
    """The version a draft or correction makes, made already: with the same lines it is this
    request's own (a retry), answered as a replay; with other lines, `conflict`."""
    stored_lines = tuple(uow.reports.lines(stored.id))
    if stored_lines != lines:
        raise conflict
    return Created(ReportView(stored, stored_lines), replayed=True)


@use_case("reports.submit")
def submit_report(uow_factory: UnitOfWorkFactory, actor: Actor, report_id_: str) -> ReportView:
    """The enterprise submits its draft (a regulator, a version it drafted itself); from now on
    its figures are fixed."""

    def work(uow: UnitOfWork) -> ReportView:
        report = _visible(uow, actor, report_id_, lock=True)
        if actor.role is Role.REGULATOR and report.created_by != actor.id:
            raise Forbidden("a regulator submits only a version it drafted itself")
        status = check_transition(report, "submit")
        changed = replace(report, status=status, submitted_by=actor.id, submitted_at=uow.now())
        return _save(uow, changed)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("reports.verify")
def verify_report(
    uow_factory: UnitOfWorkFactory, actor: Actor, report_id_: str, note: str = ""
) -> ReportView:
    """A verifier (never the submitter) verifies; a version it corrects becomes superseded."""
    return _decide(uow_factory, actor, report_id_, "verify", note)


@use_case("reports.reject")
def reject_report(
    uow_factory: UnitOfWorkFactory, actor: Actor, report_id_: str, note: str
) -> ReportView:
    """A verifier (never the submitter) rejects; the enterprise may submit a correction."""
    return _decide(uow_factory, actor, report_id_, "reject", note)


@use_case("reports.invalidate")
def invalidate_report(
    uow_factory: UnitOfWorkFactory, actor: Actor, report_id_: str, reason: str
) -> ReportView:
    """A regulator invalidates a verified report and, in the same transaction, every incentive
    and verified reduction that rested on it is reversed (`reverse_for_report` of
    `ledger.services.incentives` and `ledger.services.reductions`)."""

    def work(uow: UnitOfWork) -> ReportView:
        report = _visible(uow, actor, report_id_, lock=True)
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
        undone = reductions.reverse_for_report(
            uow, report.id, ReversalReason.REPORT_INVALIDATED, reason or "invalidated"
        )
        return replace(
            view,
            reversed_incentives=tuple(i.id for i in reversed_),
            reversed_reductions=tuple(r.id for r in undone),
        )

    return in_transaction(uow_factory, work, actor=actor)


def _decide(
    uow_factory: UnitOfWorkFactory, actor: Actor, report_id_: str, step: str, note: str
) -> ReportView:
    def work(uow: UnitOfWork) -> ReportView:
        if step == "verify":
            _take_turn_with_filings(uow, _visible(uow, actor, report_id_).party)
        report = _visible(uow, actor, report_id_, lock=True)
        status = check_transition(report, step)
        _check_not_the_submitter(uow, report, actor)
        now = uow.now()
        changed = replace(
            report, status=status, decided_by=actor.id, decided_at=now, decision_note=note
        )
        view = _save(uow, changed)
        if status is ReportStatus.VERIFIED:
            _check_carries_cems(uow, report)
        if status is ReportStatus.VERIFIED and report.supersedes is not None:
            return _supersede(uow, actor, report.supersedes, view)
        return view

    return in_transaction(uow_factory, work, actor=actor)


def _take_turn_with_filings(uow: UnitOfWork, party: str) -> None:
    """A verification that supersedes a report amends its party's filed returns: it takes its
    turn with the party's filings and penalty-basis events (`tax.lock_filings`) before it
    locks a report row, so that every path locks the party, then reports, then balances. An
    event recorded meanwhile had amended the return first, and the verification amends that
    one; without the turn, both made the same next version and met its unique id."""
    from ledger.services import tax  # noqa: PLC0415 - the tax reads reports: no import cycle

    tax.lock_filings(uow, party)


def _check_not_the_submitter(uow: UnitOfWork, report: Report, actor: Actor) -> None:
    """Four eyes are two people: not the submitting principal, nor its person under another."""
    check_decider(report, actor.id)
    submitter = uow.access.get_principal(report.submitted_by or "")
    decider = uow.access.get_principal(actor.id)
    if submitter is not None and decider is not None and submitter.person == decider.person:
        raise VerifierIsSubmitter(
            f"the person who submitted report {report.id} cannot decide on it", field="verifier"
        )


def _supersede(uow: UnitOfWork, actor: Actor, old_id: str, view: ReportView) -> ReportView:
    """The corrected version is verified: the old one is superseded, the verified reductions
    resting on it are reversed (rules §7.8) and each return filed on it is amended (§7.5), in
    the verification's transaction: nothing is left on a superseded report."""
    from ledger.services import tax  # noqa: PLC0415 - the tax reads reports: no import cycle

    old = uow.reports.get(old_id, lock=True)
    assert old is not None, old_id  # a foreign key keeps it
    uow.reports.update(replace(old, status=check_transition(old, "supersede")))
    detail = f"corrected by {view.report.id}"
    undone = reductions.reverse_for_report(uow, old.id, ReversalReason.REPORT_CORRECTED, detail)
    amended = tax.amend_for_correction(uow, actor.id, old.id)
    return replace(
        view,
        reversed_reductions=tuple(r.id for r in undone),
        amended_returns=tuple(r.id for r in amended),
    )


# -- reads -------------------------------------------------------------------------------------


@use_case("reports.read")
def get_report(uow_factory: UnitOfWorkFactory, actor: Actor, report_id_: str) -> ReportView:
    """A report and its lines (404 if out of scope)."""

    def work(uow: UnitOfWork) -> ReportView:
        report = _visible(uow, actor, report_id_)
        return ReportView(report, tuple(uow.reports.lines(report.id)))

    return read(uow_factory, work)


@use_case("reports.list")
def list_reports(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    status: ReportStatus | None,
    cursor: str | None,
    limit: int,
) -> Page[Report]:
    """Reports the actor sees, in creation order, one page after `cursor`."""
    after = decode_cursor("reports", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.reports.list(party, status, after, limit, scope=actor.scope),
    )
    return keyset_page("reports", rows, limit)


def verified_facts(uow: UnitOfWork, report_id_: str) -> VerifiedFacts:
    """A verified report's lines as tax facts, by month (inside the caller's unit of work).

    Raises `ReportNotFound` or `ReportNotVerified` (superseded, invalidated and pending reports
    are not a basis for anything).
    """
    report = uow.reports.get(report_id_)
    if report is None:
        raise ReportNotFound(f"report {report_id_!r} not found", field="report_id")
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


def _visible(uow: UnitOfWork, actor: Actor, report_id_: str, *, lock: bool = False) -> Report:
    report = uow.reports.get(report_id_, lock=lock)
    if report is None or not sees(uow, actor, report.party):
        raise ReportNotFound(f"report {report_id_!r} not found", field="report_id")
    return report


def _new(  # noqa: PLR0917 - a report's identity
    uow: UnitOfWork,
    actor: Actor,
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


def _lines(  # noqa: PLR0917 - the report's identity, what is given, what governs
    uow: UnitOfWork,
    actor: Actor,
    party: str,
    period: Period,
    content: Content,
    governing: tuple[ReportLine, ...] = (),
) -> tuple[ReportLine, ...]:
    """CEMS lines from the stored aggregates, then the given lines; checked together; each with
    the standard of its outlet's permit for its month (rules.md §7.4).

    A regulator's given line replaces the CEMS line of the same month, outlet and pollutant
    (the regulator's data govern); an enterprise's may not stand where CEMS data govern. The
    `governing` lines (a regulator's, in an earlier version) replace the enterprise's and the
    CEMS lines of their month, outlet and pollutant in every later version."""
    _check_given(content.lines)
    stored = uow.monitoring.months(party, None, None, period.first_month, period.last_month)
    permits = PermitsOf(uow, party)
    cems = tuple(_cems_line(month, permits) for month in stored)
    given_lines = content.lines
    if actor.role is Role.REGULATOR:
        given = {_key(line) for line in content.lines}
        cems = tuple(line for line in cems if _key(line) not in given)
    else:
        kept = {_key(line) for line in governing}
        given_lines = tuple(line for line in content.lines if _key(line) not in kept)
        _check_cems_governs(given_lines, stored, permits)
        cems = tuple(line for line in cems if _key(line) not in kept)
        given_lines += tuple(
            replace(line, standard_mg=None, reference_o2=None) for line in governing
        )
    if stored and not content.from_monitoring:
        raise CemsLinesRequired(
            f"CEMS data are stored for {party} in {period}; a report carries them "
            "(from_monitoring cannot be false)",
            field="from_monitoring",
        )
    _check_unmeasured(content.lines)
    _check_particulates(content.lines, permits)
    given_lines = tuple(
        line if line.measured else replace(line, month_valid=False) for line in given_lines
    )
    lines = cems + given_lines
    if not lines:
        raise NoReportData(f"no monitoring data and no lines for {party} in {period}")
    outlets = frozenset(o.outlet for o in uow.monitoring.outlets(party))
    check_lines(period, outlets, lines)
    return tuple(_with_permit(line, permits) for line in lines)


def _regulators_lines(uow: UnitOfWork, report: Report) -> tuple[ReportLine, ...]:
    """The lines a regulator stated in the newest version it drafted of this report (the
    versions are followed back through `supersedes`): they govern every later version."""
    version: Report | None = report
    while version is not None:
        drafter = uow.access.get_principal(version.created_by)
        if drafter is not None and drafter.role is Role.REGULATOR:
            lines = uow.reports.lines(version.id)
            return tuple(line for line in lines if line.method is not Method.CEMS)
        version = None if version.supersedes is None else uow.reports.get(version.supersedes)
    return ()


def _key(line: ReportLine) -> tuple[date, str, Pollutant]:
    return line.month, line.outlet, line.pollutant


def _check_given(lines: tuple[ReportLine, ...]) -> None:
    """Given lines are agency, coefficient or estimate lines and state no standard."""
    for index, line in enumerate(lines):
        if line.method is Method.CEMS:
            raise InvalidReportLine(
                "CEMS lines come from the stored monthly aggregates; give agency, coefficient "
                "or estimate lines",
                field=f"lines[{index}].method",
            )
        if line.standard_mg is not None or line.reference_o2 is not None:
            raise LineStatesStandard(
                "a report line never states its standard: it is the outlet's permit's",
                field=f"lines[{index}].standard_mg",
            )


def _check_unmeasured(lines: tuple[ReportLine, ...]) -> None:
    """Coefficient and estimate lines measure nothing (rules §1.3, §3): a stated mean
    concentration is refused (`_lines` stores them as no valid monitoring month), so that
    neither the Article 13 reduction nor a verified reduction rests on typed figures. Their
    exceedances stand as stated: an admitted exceedance only takes a reduction away."""
    for index, line in enumerate(lines):
        if not line.measured and line.mean_concentration is not None:
            raise LineNotMeasured(
                f"a {line.method.value} line has no measured concentration; only CEMS and "
                "agency lines state one",
                field=f"lines[{index}].mean_concentration",
            )


def _check_particulates(lines: tuple[ReportLine, ...], permits: PermitsOf) -> None:
    """A given PM line is soot or general dust as its outlet's permit says (rules §1.2, §7.4):
    general dust is taxed ~45 % lower, so it is not the drafter's choice."""
    for index, line in enumerate(lines):
        taxed_as = _particulate(permits, line.outlet, line.month)
        if line.pollutant in PARTICULATES and line.pollutant is not taxed_as:
            raise ParticulateNotPermitted(
                f"{line.outlet}'s permit taxes its PM in {line.month:%Y-%m} as "
                f"{taxed_as.value}, not {line.pollutant.value}",
                field=f"lines[{index}].pollutant",
            )


def _particulate(permits: PermitsOf, outlet: str, month: date) -> Pollutant:
    """What the permit in force taxes the outlet's measured PM as (soot without a permit)."""
    permit = permits.in_force(outlet, month)
    return Pollutant.SOOT if permit is None else permit.particulate


def _check_cems_governs(
    lines: tuple[ReportLine, ...], stored: Sequence[StoredMonth], permits: PermitsOf
) -> None:
    """An enterprise's line may not replace CEMS: not where the permit requires CEMS, nor where
    CEMS data of that outlet, pollutant and month are stored."""
    monitored = {(m.aggregate.month, m.aggregate.outlet, m.aggregate.pollutant) for m in stored}
    for index, line in enumerate(lines):
        permit = permits.in_force(line.outlet, line.month)
        if permit is not None and permit.cems_required:
            why = "its permit requires CEMS"
        elif (line.month, line.outlet, _measured(line)) in monitored:
            why = "CEMS data are stored for it"
        else:
            continue
        raise CemsLinesRequired(
            f"{line.outlet} {line.measured_as} {line.month:%Y-%m}: {why}; its lines come from "
            "CEMS (with substitution), not from agency, coefficient or estimate figures",
            field=f"lines[{index}].method",
        )


def _check_carries_cems(uow: UnitOfWork, report: Report) -> None:
    """What is verified carries every CEMS month stored for its period, as stored now: data
    may arrive (or be re-aggregated under a new permit) after the draft. Only a regulator's
    line (`_regulators_lines`) stands instead of a CEMS line (rules §7.4)."""
    period = report.period
    stored = uow.monitoring.months(report.party, None, None, period.first_month, period.last_month)
    lines = {_measured_key(line): line for line in uow.reports.lines(report.id)}
    ruled = {_measured_key(line) for line in _regulators_lines(uow, report)}
    for month in stored:
        aggregate = month.aggregate
        key = (aggregate.month, aggregate.outlet, aggregate.pollutant)
        line = lines.get(key)
        if key in ruled or (line is not None and _as_stored(line, month)):
            continue
        why = "has no CEMS line" if line is None or line.method is not Method.CEMS else "differs"
        raise CemsDataNotReported(
            f"report {report.id}: {aggregate.outlet} {aggregate.pollutant} "
            f"{aggregate.month:%Y-%m} {why} from the stored CEMS data; reject it so that the "
            "enterprise corrects it",
            field="lines",
        )


def _measured_key(line: ReportLine) -> tuple[date, str, str]:
    return line.month, line.outlet, _measured(line)


def _as_stored(line: ReportLine, stored: StoredMonth) -> bool:
    """A CEMS line with the stored aggregate's figures (its standard is the permit's)."""
    fresh = _cems_line(stored, None)
    figures = ("mass_kg", "mean_concentration", "exceedances", "month_valid")
    counts = ("valid_hours", "valid_days", "substituted_hours", "substitution")
    return line.method is Method.CEMS and all(
        getattr(line, name) == getattr(fresh, name) for name in figures + counts
    )


def _measured(line: ReportLine) -> str:
    """What the permit names the line's pollutant by: particulates (soot, dust) are PM."""
    return "PM" if line.pollutant in PARTICULATES else line.measured_as


def _with_permit(line: ReportLine, permits: PermitsOf) -> ReportLine:
    """The line with the standard and reference O2 of the permit in force in its month."""
    permit = permits.in_force(line.outlet, line.month)
    standard = None if permit is None else permit.standard(_measured(line))
    air = line.pollutant.medium is Medium.AIR  # water standards are never O2-corrected
    return replace(
        line,
        standard_mg=None if standard is None else standard.limit_mg_nm3,
        reference_o2=None if standard is None or not air else standard.reference_o2,
    )


def _cems_line(stored: StoredMonth, permits: PermitsOf | None) -> ReportLine:
    """The stored aggregate as a line; its PM taxed as the permit in force says (`permits`
    None: as soot, for comparing figures only)."""
    aggregate = stored.aggregate
    pollutant = TAX_POLLUTANT[aggregate.pollutant]
    if aggregate.pollutant == "PM" and permits is not None:
        pollutant = _particulate(permits, aggregate.outlet, aggregate.month)
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
        substituted_hours=aggregate.substituted_hours,
        substitution=aggregate.substitution,
        exceedance_hours=aggregate.exceedance_hours,
    )
