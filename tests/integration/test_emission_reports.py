"""Emission reports on both databases: the workflow, four eyes, corrections, invalidation, the
facts the tax reads, and verified figures that the database itself refuses to change."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from ledger.domain.access import Forbidden, Role
from ledger.domain.errors import UnknownParty
from ledger.domain.reports import (
    InvalidReportLine,
    Method,
    NoReportData,
    Period,
    ReportAlreadyCorrected,
    ReportLine,
    ReportNotFound,
    ReportNotVerified,
    ReportPeriodTaken,
    ReportStatus,
    ReportTransitionRefused,
    VerifierIsSubmitter,
)
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import reports
from tests.factories import actor
from tests.integration.monitoring_support import (
    MARCH,
    build_outlets,
    city_authority,
    clerk,
    full_month,
    import_lines,
    regulator,
    verifier,
)

Q1 = Period.parse("2025Q1")
CEMS = reports.Content()


@pytest.fixture
def monitored(store: Store) -> Store:
    """E1's SINTER-1 monitored for all of March 2025 (SO2 20 mg/Nm³ and NOx 30 mg/Nm³)."""
    build_outlets(store)
    import_lines(store, full_month(c="20") + full_month(c="30", pollutant="NOx"))
    return store


def draft(store: Store, content: reports.Content = CEMS) -> reports.ReportView:
    """E1's clerk drafts E1's first quarter."""
    made = reports.draft_report(store, clerk(store), "E1", Q1, content)
    assert not made.replayed
    return made.record


def verified(store: Store) -> str:
    view = draft(store)
    reports.submit_report(store, clerk(store), view.report.id)
    reports.verify_report(store, verifier(store), view.report.id, "checked against CEMS")
    return view.report.id


def status_of(store: Store, report_id: str) -> ReportStatus:
    return reports.get_report(store, regulator(store), report_id).report.status


def agency_line(month: date = MARCH, mass: str = "100") -> ReportLine:
    return ReportLine(
        month, "SINTER-1", Pollutant.SOOT, "PM", Method.AGENCY, Decimal(mass), Fraction(4)
    )


def test_a_draft_is_built_from_the_monthly_aggregates(monitored: Store) -> None:
    view = draft(monitored)
    assert view.report.id == "E1-2025Q1-v1"
    assert view.report.status is ReportStatus.DRAFT
    so2 = {line.pollutant: line for line in view.lines}[Pollutant.SO2]
    assert so2.method is Method.CEMS
    assert so2.mass_kg == Decimal(14880)
    assert so2.mean_concentration == Fraction(20)
    assert (so2.standard_mg, so2.reference_o2, so2.month_valid) == (Decimal(35), Decimal(16), True)


def test_agency_lines_may_complete_the_monitoring_data(monitored: Store) -> None:
    view = draft(monitored, reports.Content(lines=(agency_line(),)))
    assert {line.method for line in view.lines} == {Method.CEMS, Method.AGENCY}


def test_a_line_outside_the_period_or_of_an_unknown_outlet_is_refused(monitored: Store) -> None:
    for line in (agency_line(date(2025, 4, 1)), replace(agency_line(), outlet="NOPE")):
        with pytest.raises(InvalidReportLine):
            draft(monitored, reports.Content(lines=(line,)))


def test_a_report_without_any_data_is_refused(monitored: Store) -> None:
    with pytest.raises(NoReportData):
        reports.draft_report(monitored, clerk(monitored), "E1", Period.parse("2024"), CEMS)


def test_an_overlapping_period_is_refused(monitored: Store) -> None:
    draft(monitored)
    with pytest.raises(ReportPeriodTaken):
        reports.draft_report(monitored, clerk(monitored), "E1", Period.parse("2025-03"), CEMS)


def test_the_workflow_from_draft_to_verified(monitored: Store) -> None:
    report_id = verified(monitored)
    view = reports.get_report(monitored, regulator(monitored), report_id)
    assert view.report.status is ReportStatus.VERIFIED
    assert (view.report.submitted_by, view.report.decided_by) == ("e1-user", "ver-1")


def test_the_submitter_cannot_verify_or_reject_its_own_report(monitored: Store) -> None:
    # Its enterprise principal is no verifier; its person under a verifier principal is still
    # the person who submitted.
    view = draft(monitored)
    reports.submit_report(monitored, clerk(monitored), view.report.id)
    same_person = actor(monitored, Role.VERIFIER, principal="ver-2", person="e1-user")
    with pytest.raises(Forbidden):
        reports.verify_report(monitored, clerk(monitored), view.report.id)
    with pytest.raises(VerifierIsSubmitter):
        reports.verify_report(monitored, same_person, view.report.id)
    with pytest.raises(VerifierIsSubmitter):
        reports.reject_report(monitored, same_person, view.report.id, "no")
    assert status_of(monitored, view.report.id) is ReportStatus.SUBMITTED


def test_steps_out_of_order_are_refused(monitored: Store) -> None:
    view = draft(monitored)
    with pytest.raises(ReportTransitionRefused):
        reports.verify_report(monitored, verifier(monitored), view.report.id)
    with pytest.raises(ReportTransitionRefused):
        reports.invalidate_report(monitored, regulator(monitored), view.report.id, "fraud")


def test_a_rejected_report_is_corrected_by_a_new_version(monitored: Store) -> None:
    view = draft(monitored)
    reports.submit_report(monitored, clerk(monitored), view.report.id)
    reports.reject_report(monitored, verifier(monitored), view.report.id, "PM missing")
    content = reports.Content(lines=(agency_line(),))
    v2 = reports.correct_report(monitored, clerk(monitored), view.report.id, content).record
    assert (v2.report.id, v2.report.supersedes) == ("E1-2025Q1-v2", view.report.id)
    reports.submit_report(monitored, clerk(monitored), v2.report.id)
    reports.verify_report(monitored, verifier(monitored), v2.report.id)
    old = reports.get_report(monitored, regulator(monitored), view.report.id).report
    assert (old.status, old.superseded_by) == (ReportStatus.SUPERSEDED, "E1-2025Q1-v2")


def test_a_verified_report_stays_in_force_until_its_correction_is_verified(
    monitored: Store,
) -> None:
    report_id = verified(monitored)
    v2 = reports.correct_report(monitored, clerk(monitored), report_id, CEMS).record
    other = reports.Content(lines=(agency_line(),))
    with pytest.raises(ReportAlreadyCorrected):
        reports.correct_report(monitored, clerk(monitored), report_id, other)
    assert in_force(monitored) == report_id
    reports.submit_report(monitored, clerk(monitored), v2.report.id)
    reports.verify_report(monitored, verifier(monitored), v2.report.id)
    assert in_force(monitored) == v2.report.id


def in_force(store: Store) -> str | None:
    with store() as uow:
        report = reports.verified_report_for(uow, "E1", MARCH)
    return None if report is None else report.id


def test_verified_facts_are_the_tax_facts_by_month(monitored: Store) -> None:
    report_id = verified(monitored)
    with monitored() as uow:
        facts = reports.verified_facts(uow, report_id)
    assert set(facts.months) == set(Q1.months())
    assert facts.months[date(2025, 1, 1)] == ()
    march = {fact.pollutant: fact for fact in facts.months[MARCH]}
    assert march[Pollutant.NOX].mass_kg == Decimal(22320)
    assert march[Pollutant.NOX].mean_concentration == Fraction(30)
    assert march[Pollutant.NOX].standard_mg == Decimal(50)


def test_facts_of_an_unverified_report_are_refused(monitored: Store) -> None:
    view = draft(monitored)
    with monitored() as uow, pytest.raises(ReportNotVerified):
        reports.verified_facts(uow, view.report.id)


def test_a_regulator_invalidates_a_verified_report(monitored: Store) -> None:
    report_id = verified(monitored)
    view = reports.invalidate_report(
        monitored, regulator(monitored), report_id, "CEMS data tampered"
    )
    assert view.report.status is ReportStatus.INVALIDATED
    assert view.reversed_incentives == ()
    assert in_force(monitored) is None


def test_another_enterprises_report_does_not_exist_for_it(monitored: Store) -> None:
    view = draft(monitored)
    e2 = clerk(monitored, "E2")
    for report_id in (view.report.id, "E1-2025Q1-v9"):  # out of scope, and unknown: alike
        with pytest.raises(ReportNotFound) as refused:
            reports.get_report(monitored, e2, report_id)
        assert (refused.value.detail, refused.value.field) == (
            f"report {report_id!r} not found",
            "report_id",
        )
    with pytest.raises(ReportNotFound):
        reports.submit_report(monitored, e2, view.report.id)
    with pytest.raises(UnknownParty):
        reports.draft_report(monitored, e2, "E1", Period.parse("2025Q2"), CEMS)
    assert reports.list_reports(monitored, e2, None, None, None, 10).items == []
    assert reports.list_reports(monitored, e2, "E1", None, None, 10).items == []
    tangshan = city_authority(monitored, "Tangshan")
    assert len(reports.list_reports(monitored, tangshan, None, None, None, 10).items) == 1


def test_a_retried_draft_answers_the_draft_it_made(monitored: Store) -> None:
    first = draft(monitored)

    again = reports.draft_report(monitored, clerk(monitored), "E1", Q1, CEMS)
    other = reports.Content(lines=(agency_line(),))
    with pytest.raises(ReportPeriodTaken):
        reports.draft_report(monitored, clerk(monitored), "E1", Q1, other)

    assert (again.record, again.replayed) == (first, True)
    assert reports.list_reports(monitored, regulator(monitored), "E1", None, None, 10).items == [
        first.report
    ]


def test_a_retried_correction_answers_the_version_it_made(monitored: Store) -> None:
    report_id = verified(monitored)
    content = reports.Content(lines=(agency_line(),))
    first = reports.correct_report(monitored, clerk(monitored), report_id, content)

    again = reports.correct_report(monitored, clerk(monitored), report_id, content)

    assert (first.replayed, again.replayed) == (False, True)
    assert again.record == first.record
    assert again.record.report.id == "E1-2025Q1-v2"


# -- the database's own guards -------------------------------------------------------------------


def refused(store: Store, statement: str) -> None:
    with pytest.raises(sqlalchemy.exc.DatabaseError), store.engine.begin() as connection:
        connection.execute(text(statement))


def test_the_database_refuses_to_change_a_verified_reports_lines(monitored: Store) -> None:
    report_id = verified(monitored)
    where = f"WHERE report_id = '{report_id}'"
    refused(monitored, f"UPDATE emission_report_lines SET mass_kg = '1' {where}")
    refused(monitored, f"DELETE FROM emission_report_lines {where}")
    refused(
        monitored,
        "INSERT INTO emission_report_lines (report_id, line_no, month, outlet_code, pollutant, "
        "measured_as, method, mass_kg, exceedances, month_valid) VALUES "
        f"('{report_id}', 99, '2025-03-01', 'SINTER-1', 'CO', 'CO', 'agency', '1', 0, false)",
    )


def test_the_database_refuses_to_change_a_verified_report(monitored: Store) -> None:
    report_id = verified(monitored)
    where = f"WHERE id = '{report_id}'"
    refused(monitored, f"UPDATE emission_reports SET period = '2025Q2' {where}")
    refused(monitored, f"UPDATE emission_reports SET status = 'draft' {where}")
    refused(monitored, f"UPDATE emission_reports SET decided_by = 'someone' {where}")
    refused(monitored, f"DELETE FROM emission_reports {where}")
    assert status_of(monitored, report_id) is ReportStatus.VERIFIED


def test_the_database_refuses_a_verifier_who_submitted(monitored: Store) -> None:
    view = draft(monitored)
    reports.submit_report(monitored, clerk(monitored), view.report.id)
    refused(
        monitored,
        "UPDATE emission_reports SET status = 'verified', decided_by = 'e1-user' "
        f"WHERE id = '{view.report.id}'",
    )
