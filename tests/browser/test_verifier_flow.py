"""A verifier verifies a submitted emission report in the console, in Chinese and in English,
in a real browser (the enterprise drafted and submitted it through the use cases)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from ledger.domain.access import Actor
from ledger.domain.reports import Method, Period, ReportLine
from ledger.domain.tax_tables import Pollutant
from ledger.services import access, reports
from tests.browser.conftest import Console, LiveServer

ENGLISH = "Report {} verified."
CHINESE = "报告 {} 已核查通过。"


def submitted_report(server: LiveServer, year: int) -> str:
    """E01 drafts and submits a year's report of one agency-measured line."""
    store = server.store
    e01 = Actor(access.authenticate(store, server.tokens["demo-e01"]))
    line = ReportLine(
        month=date(year, 1, 1),
        outlet="SINTER-1",
        pollutant=Pollutant.SO2,
        measured_as="SO2",
        method=Method.AGENCY,
        mass_kg=Decimal("12345.678"),
    )
    content = reports.Content(from_monitoring=False, lines=(line,))
    made = reports.draft_report(store, e01, "E01", Period.parse(f"{year}-01"), content)
    reports.submit_report(store, e01, made.record.report.id)
    return made.record.report.id


def test_a_verifier_verifies_a_submitted_report(console: Console) -> None:
    year = 2023 if console.language == "zh" else 2024
    report_id = submitted_report(console.server, year)
    console.sign_in("demo-verifier")
    console.open("/console/reports")
    assert report_id in console.text and "12,345.678" in console.text
    form = f"form[action='/console/reports/{report_id}/verify']"
    note = console.driver.find_element("css selector", f"{form} input[name=note]")
    note.send_keys("checked against the agency's measurement")
    console.submit(form)
    expected = CHINESE if console.language == "zh" else ENGLISH
    assert expected.format(report_id) in console.text
    console.open("/console/reports?status=verified")
    assert report_id in console.text
