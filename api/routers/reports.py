"""Emission reports: draft, submit, verify or reject, correct, invalidate; read.

Translation only: the services scope every read (another enterprise's report is a 404), record
the actor on every step, and refuse a verifier who submitted. A draft or correction retried
with the same content answers the stored version, 201 with `Idempotent-Replayed: true`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Response

from api import monitoring_schemas as ms
from api.answers import created
from api.auth import Acts
from api.dependencies import Cursor, Filter, IdPath, Store
from api.routing import Routes
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.pages import Created
from ledger.domain.reports import Period, ReportStatus
from ledger.services import reports

router = Routes(prefix="/v1", tags=["reports"])

STATUSES = "^(" + "|".join(status.value for status in ReportStatus) + ")$"


def _created(response: Response, made: Created[reports.ReportView]) -> ms.ReportOut:
    return created(response, made, ms.view_out)


@router.post("/reports", response_model=ms.ReportOut, status_code=201)
def draft(body: ms.ReportIn, actor: Acts, store: Store, response: Response) -> ms.ReportOut:
    """A new draft for an enterprise and period, from CEMS aggregates and/or given lines."""
    made = reports.draft_report(
        store, actor, body.enterprise, Period.parse(body.period), body.to_domain()
    )
    return _created(response, made)


@router.get("/reports", response_model=ms.ReportPage)
def list_reports(  # noqa: PLR0917 - query parameters
    actor: Acts,
    store: Store,
    enterprise: Filter = None,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> ms.ReportPage:
    """Reports the caller may see, in creation order (without their lines)."""
    page = reports.list_reports(
        store, actor, enterprise, ReportStatus(status) if status else None, cursor, limit
    )
    return ms.ReportPage(
        reports=[ms.report_out(report) for report in page.items], next_cursor=page.next_cursor
    )


@router.get("/reports/{report_id}", response_model=ms.ReportOut)
def get_report(report_id: IdPath, actor: Acts, store: Store) -> ms.ReportOut:
    """A report with its lines."""
    return ms.view_out(reports.get_report(store, actor, report_id))


@router.post("/reports/{report_id}/submit", response_model=ms.ReportOut)
def submit(report_id: IdPath, actor: Acts, store: Store) -> ms.ReportOut:
    """The enterprise submits its draft (a regulator, a version it drafted); its figures are fixed
    from now on."""
    return ms.view_out(reports.submit_report(store, actor, report_id))


@router.post("/reports/{report_id}/verify", response_model=ms.ReportOut)
def verify(report_id: IdPath, body: ms.DecisionIn, actor: Acts, store: Store) -> ms.ReportOut:
    """A verifier (never the submitter) verifies; the version it corrects is superseded."""
    return ms.view_out(reports.verify_report(store, actor, report_id, body.note))


@router.post("/reports/{report_id}/reject", response_model=ms.ReportOut)
def reject(report_id: IdPath, body: ms.DecisionIn, actor: Acts, store: Store) -> ms.ReportOut:
    """A verifier (never the submitter) rejects; the enterprise may submit a correction."""
    return ms.view_out(reports.reject_report(store, actor, report_id, body.note))


@router.post("/reports/{report_id}/corrections", response_model=ms.ReportOut, status_code=201)
def correct(
    report_id: IdPath, body: ms.ContentIn, actor: Acts, store: Store, response: Response
) -> ms.ReportOut:
    """A corrected version (a new draft) of a verified, rejected or invalidated report."""
    return _created(response, reports.correct_report(store, actor, report_id, body.to_domain()))


@router.post("/reports/{report_id}/invalidate", response_model=ms.ReportOut)
def invalidate(
    report_id: IdPath, body: ms.InvalidationIn, actor: Acts, store: Store
) -> ms.ReportOut:
    """A regulator invalidates a verified report; incentives resting on it are reversed."""
    return ms.view_out(reports.invalidate_report(store, actor, report_id, body.reason))
