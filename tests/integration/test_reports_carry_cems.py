"""Stored CEMS data are never left out of a report (rules.md §7.4, §1.1), through the services on
both databases: a draft that asks for no CEMS lines while CEMS data are stored is refused (the
enterprise's and the regulator's alike), and a verifier cannot verify a report that omits CEMS
data stored for its period or carries other figures than the stored ones, because data may
arrive after the draft."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest

from ledger.domain.access import Actor
from ledger.domain.reports import (
    CemsDataNotReported,
    CemsLinesRequired,
    Method,
    Period,
    ReportLine,
    ReportStatus,
)
from ledger.domain.tax_tables import Pollutant
from ledger.persistence.store import Store
from ledger.services import reports
from tests.integration.monitoring_support import (
    MARCH,
    build_outlets,
    clerk,
    full_month,
    import_lines,
    regulator,
    verifier,
)

PERIOD = Period.parse("2025-03")
SO2_KG = Decimal(14880)  # 20 mg/Nm³ x 1,000,000 Nm³/h x 744 h


@pytest.fixture
def outlets(store: Store) -> Store:
    build_outlets(store)  # E1 SINTER-1, no CEMS obligation on its permit
    return store


def co_estimate(month: date = MARCH) -> ReportLine:
    """The audit's line: a 1 kg CO "estimate" instead of the outlet's measured SO2."""
    return ReportLine(month, "SINTER-1", Pollutant.CO, "CO", Method.ESTIMATE, Decimal(1))


def draft(store: Store, who: Actor, **content: object) -> str:
    made = reports.draft_report(store, who, "E1", PERIOD, reports.Content(**content))  # type: ignore[arg-type]
    return made.record.report.id


def submitted(store: Store, **content: object) -> str:
    report_id = draft(store, clerk(store), **content)
    reports.submit_report(store, clerk(store), report_id)
    return report_id


def so2_of(store: Store, report_id: str) -> list[tuple[Method, Decimal]]:
    view = reports.get_report(store, regulator(store), report_id)
    return [(x.method, x.mass_kg) for x in view.lines if x.pollutant is Pollutant.SO2]


def test_an_enterprise_cannot_draft_without_its_stored_cems_data(outlets: Store) -> None:
    import_lines(outlets, full_month("20"))
    with pytest.raises(CemsLinesRequired) as caught:
        draft(outlets, clerk(outlets), from_monitoring=False, lines=(co_estimate(),))
    assert caught.value.field == "from_monitoring"
    assert reports.list_reports(outlets, regulator(outlets), "E1", None, None, 10).items == []


def test_a_regulator_cannot_draft_without_the_stored_cems_data_either(outlets: Store) -> None:
    import_lines(outlets, full_month("20"))
    with pytest.raises(CemsLinesRequired) as caught:
        draft(outlets, regulator(outlets), from_monitoring=False, lines=(co_estimate(),))
    assert caught.value.field == "from_monitoring"


def test_a_draft_carries_the_stored_cems_data_beside_the_given_lines(outlets: Store) -> None:
    import_lines(outlets, full_month("20"))
    report_id = draft(outlets, clerk(outlets), lines=(co_estimate(),))
    assert so2_of(outlets, report_id) == [(Method.CEMS, SO2_KG)]


def test_without_stored_cems_data_a_draft_of_other_lines_only_is_fine(outlets: Store) -> None:
    report_id = draft(outlets, clerk(outlets), from_monitoring=False, lines=(co_estimate(),))
    assert so2_of(outlets, report_id) == []


def test_cems_data_arriving_after_the_draft_stop_its_verification(outlets: Store) -> None:
    report_id = submitted(outlets, from_monitoring=False, lines=(co_estimate(),))
    import_lines(outlets, full_month("20"))  # the month's SO2 arrives from the network

    with pytest.raises(CemsDataNotReported) as caught:
        reports.verify_report(outlets, verifier(outlets), report_id)

    assert caught.value.field == "lines"
    assert "SINTER-1 SO2 2025-03 has no CEMS line" in str(caught.value)
    rejected = reports.reject_report(outlets, verifier(outlets), report_id, "SO2 left out")
    assert rejected.report.status is ReportStatus.REJECTED
    corrected = reports.correct_report(
        outlets, clerk(outlets), report_id, reports.Content(lines=(co_estimate(),))
    ).record.report.id
    reports.submit_report(outlets, clerk(outlets), corrected)
    verified = reports.verify_report(outlets, verifier(outlets), corrected)
    assert verified.report.status is ReportStatus.VERIFIED
    assert so2_of(outlets, corrected) == [(Method.CEMS, SO2_KG)]


def test_a_cems_line_older_than_the_stored_month_is_not_verified(outlets: Store) -> None:
    first_half, second_half = full_month("20")[:360], full_month("20")[360:]
    import_lines(outlets, first_half)
    report_id = submitted(outlets)
    import_lines(outlets, second_half)  # the rest of March: more mass than the draft carries

    with pytest.raises(CemsDataNotReported) as caught:
        reports.verify_report(outlets, verifier(outlets), report_id)
    assert "SINTER-1 SO2 2025-03 differs" in str(caught.value)


def test_a_regulators_line_stands_instead_of_the_cems_line_at_verification(
    outlets: Store,
) -> None:
    import_lines(outlets, full_month("20"))
    ruled = ReportLine(
        MARCH, "SINTER-1", Pollutant.SO2, "SO2", Method.AGENCY, Decimal(5000), Fraction(34)
    )
    report_id = draft(outlets, regulator(outlets), lines=(ruled,))
    reports.submit_report(outlets, regulator(outlets), report_id)
    verified = reports.verify_report(outlets, verifier(outlets), report_id)
    assert verified.report.status is ReportStatus.VERIFIED
    assert so2_of(outlets, report_id) == [(Method.AGENCY, Decimal(5000))]
