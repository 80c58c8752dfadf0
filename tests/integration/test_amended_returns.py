"""Corrections after filing (rules §7.5): a verified correction of a report a return was filed
on amends the return. The amended return books the difference of tax (more, or a refund) and
replaces the Article 13 incentive, each entry referencing both returns; the original return is
never changed; nothing stays on the superseded report."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.domain.access import Actor, Role
from ledger.domain.incentives import ReversalReason
from ledger.domain.registry import Outlet, Party, PartyKind
from ledger.domain.reports import Method, Period, ReportLine
from ledger.domain.tax_filing import FiledReturn, Quarter, to_fen
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import incentives, parties, queries, reports, statements, tax
from tests.factories import actor
from tests.integration.monitoring_support import set_permit
from tests.integration.tax_support import (
    build_tax_registry,
    filer,
    line,
    regulator,
    worked_example,
)

D = Decimal
Q2 = Quarter(2026, 2)
MONTHS = Q2.months()
SO2_STANDARD = {"SO2": "35", "NOx": "50", "PM": "10"}


@pytest.fixture
def registry(store: Store) -> Store:
    build_tax_registry(store)
    parties.add_outlet(store, regulator(store), Outlet("E01", "SINTER-1"))
    set_permit(store, "E01", "SINTER-1", SO2_STANDARD, o2="16")
    return store


def verifier(store: Store) -> Actor:
    return actor(store, Role.VERIFIER, principal="verifier-1")


def agency(lines: list[ReportLine]) -> reports.Content:
    return reports.Content(
        from_monitoring=False,
        # The standard is the outlet's permit's, never the line's.
        lines=tuple(replace(x, method=Method.AGENCY, standard_mg=None) for x in lines),
    )


def quarter_lines(*, exceedances: int = 0, nox: str = "40") -> list[ReportLine]:
    """The worked example in each month of 2026Q2, NOx at `nox` mg/m³ (and `exceedances`
    hours above its standard in April)."""
    lines = []
    for month in MONTHS:
        for x in worked_example(month):
            if x.pollutant is Pollutant.NOX:
                hours = exceedances if month == MONTHS[0] else 0
                x = line(month, Pollutant.NOX, nox, "50", exceedances=hours)  # noqa: PLW2901
            lines.append(x)
    return lines


def verified(store: Store, party: str, period: str, lines: list[ReportLine]) -> str:
    """Drafted and submitted by the enterprise, verified by a verifier: the report's id."""
    who = filer(store, party)
    view = reports.draft_report(store, who, party, Period.parse(period), agency(lines)).record
    reports.submit_report(store, who, view.report.id)
    reports.verify_report(store, verifier(store), view.report.id)
    return view.report.id


def correct(store: Store, report: str, lines: list[ReportLine]) -> reports.ReportView:
    """A correction of `report`, submitted and verified: the verification's view."""
    party = report.split("-", maxsplit=1)[0]
    draft = reports.correct_report(store, filer(store, party), report, agency(lines)).record
    reports.submit_report(store, filer(store, party), draft.report.id)
    return reports.verify_report(store, verifier(store), draft.report.id)


def balance(store: Store, account: str) -> int:
    with store(read_only=True) as uow:
        found = uow.accounts.get_many([account]).get(account)
        if found is None:
            return 0
        held = uow.journal.balance_of(found.id, "CNY")
        return 0 if held is None else held.posted


def due(filed: FiledReturn) -> int:
    return to_fen(filed.computed.total_due)


def reduction(filed: FiledReturn) -> int:
    return to_fen(filed.computed.total_reduction)


def references(store: Store, entry_id: str) -> set[tuple[str, str]]:
    with store(read_only=True) as uow:
        entry = uow.journal.get_many([entry_id])[entry_id]
        return {(r.kind, r.id) for r in entry.references}


def test_a_correction_after_filing_amends_the_return(registry: Store) -> None:
    report = verified(registry, "E01", "2026Q2", quarter_lines())
    first = tax.file_return(registry, filer(registry), "E01", Q2).record

    view = correct(registry, report, quarter_lines(exceedances=1))  # April loses its reduction

    assert view.amended_returns == ("E01-2026Q2-r2",)
    amended = tax.get_return(registry, regulator(registry), "E01-2026Q2-r2")
    assert (amended.supersedes, amended.report_ids) == (first.id, ("E01-2026Q2-v2",))
    assert due(amended) - due(first) == 2_468_094  # April's 24,680.94 CNY reduction is gone
    assert balance(registry, "E01:env_tax_owed") == due(amended)
    assert balance(registry, "HEBEI:env_tax_revenue") == due(amended)
    both = {("tax_return", first.id), ("tax_return", amended.id)}
    assert both <= references(registry, "tax-E01-2026Q2-r2")
    assert both <= references(registry, "incentive-a13-E01-2026Q2-r1-amended")
    assert both <= references(registry, "incentive-a13-E01-2026Q2-r2")
    old, new = (
        incentives.get_incentive(registry, regulator(registry), f"a13-{r.id}")
        for r in (first, amended)
    )
    assert old.reversal is not None
    assert old.reversal.reason is ReversalReason.REPORT_CORRECTED
    assert (new.active, new.amount_fen) == (True, reduction(amended))
    assert balance(registry, "E01:tax_incentives") == reduction(amended)
    unchanged = tax.get_return(registry, regulator(registry), first.id)
    assert (unchanged.computed, unchanged.report_ids) == (first.computed, first.report_ids)
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_a_correction_lowering_the_tax_books_a_refund(registry: Store) -> None:
    report = verified(registry, "E01", "2026Q2", quarter_lines())
    first = tax.file_return(registry, filer(registry), "E01", Q2).record

    correct(registry, report, quarter_lines(nox="20"))

    amended = tax.get_return(registry, regulator(registry), "E01-2026Q2-r2")
    assert due(amended) < due(first)
    assert balance(registry, "E01:env_tax_owed") == due(amended)
    with registry(read_only=True) as uow:
        entry = uow.journal.get_many(["tax-E01-2026Q2-r2"])["tax-E01-2026Q2-r2"]
    assert entry.entry_type == "tax_amendment"
    assert entry.metadata["difference_fen"] == due(amended) - due(first)
    again = tax.file_return(registry, filer(registry), "E01", Q2)
    assert (again.replayed, again.record.id) == (True, amended.id)


def test_an_invalidated_filed_report_keeps_its_tax_until_the_correction_amends_it(
    registry: Store,
) -> None:
    report = verified(registry, "E01", "2026Q2", quarter_lines())
    first = tax.file_return(registry, filer(registry), "E01", Q2).record

    reports.invalidate_report(registry, regulator(registry), report, "forged agency data")

    assert tax.get_return(registry, regulator(registry), first.id).void
    assert balance(registry, "E01:tax_incentives") == 0
    assert balance(registry, "E01:env_tax_owed") == due(first)  # invalidation owes no less

    view = correct(registry, report, quarter_lines(exceedances=1))

    amended = tax.get_return(registry, regulator(registry), view.amended_returns[0])
    assert amended.supersedes == first.id
    assert balance(registry, "E01:env_tax_owed") == due(amended)
    assert balance(registry, "E01:tax_incentives") == reduction(amended)
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_a_quarter_that_cannot_be_amended_yet_keeps_nothing_on_the_superseded_report(
    registry: Store,
) -> None:
    april, may, _ = (verified(registry, "E01", f"{m:%Y-%m}", worked_example(m)) for m in MONTHS)
    first = tax.file_return(registry, filer(registry), "E01", Q2).record
    reports.invalidate_report(registry, regulator(registry), may, "forged agency data")

    view = correct(registry, april, worked_example(MONTHS[0], exceedances=1))

    assert view.amended_returns == ()  # May has no verified report: nothing to compute on
    assert balance(registry, "E01:tax_incentives") == 0
    assert balance(registry, "E01:env_tax_owed") == due(first)

    view = correct(registry, may, worked_example(MONTHS[1]))

    amended = tax.get_return(registry, regulator(registry), view.amended_returns[0])
    assert amended.report_ids == ("E01-2026-04-v2", "E01-2026-05-v2", "E01-2026-06-v1")
    assert balance(registry, "E01:env_tax_owed") == due(amended)
    assert balance(registry, "E01:tax_incentives") == reduction(amended)
    assert queries.check_invariants(registry, regulator(registry)) == []


# -- the invariant: what is booked is what the latest return says -----------------------------

_ENTERPRISES = itertools.count(1)
NOX_MEANS = st.sampled_from(["10", "20", "30", "34", "36", "40", "49"])
CORRECTION = st.tuples(NOX_MEANS, st.integers(min_value=0, max_value=2))


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(first=CORRECTION, corrections=st.lists(CORRECTION, min_size=1, max_size=3))
def test_after_any_corrections_the_booked_tax_is_the_latest_returns(
    registry: Store, first: tuple[str, int], corrections: list[tuple[str, int]]
) -> None:
    party = f"H{next(_ENTERPRISES):02d}"  # one enterprise per example: its own accounts
    registrar = regulator(registry)
    enterprise = Party(party, PartyKind.ENTERPRISE, party, city="Tangshan", tax_tier=3)
    parties.register_party(registry, registrar, enterprise)
    parties.add_outlet(registry, registrar, Outlet(party, "SINTER-1"))
    set_permit(registry, party, "SINTER-1", SO2_STANDARD, o2="16")
    nox, exceedances = first
    report = verified(registry, party, "2026Q2", quarter_lines(exceedances=exceedances, nox=nox))
    tax.file_return(registry, filer(registry, party), party, Q2)

    for nox, exceedances in corrections:
        view = correct(registry, report, quarter_lines(exceedances=exceedances, nox=nox))
        report = view.report.id

        with registry(read_only=True) as uow:
            latest = uow.tax.latest_return(party, 2026, 2)
        assert latest is not None
        assert balance(registry, f"{party}:env_tax_owed") == due(latest)
        assert balance(registry, f"{party}:tax_incentives") == reduction(latest)
    assert queries.check_invariants(registry, regulator(registry)) == []


def test_the_finance_report_counts_each_quarter_once_at_its_latest_return(
    registry: Store,
) -> None:
    report = verified(registry, "E01", "2026Q2", quarter_lines())
    tax.file_return(registry, filer(registry), "E01", Q2)
    correct(registry, report, quarter_lines(exceedances=1))
    amended = tax.get_return(registry, regulator(registry), "E01-2026Q2-r2")

    table = statements.tax_returns(registry, actor(registry, Role.FINANCE), 2026)
    rows = list(table)

    assert [(row[0], row[3]) for row in rows] == [("E01-2026Q2-r2", 2)]
    assert table.totals["tax_due_cny"] == amended.computed.total_due
