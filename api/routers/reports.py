"""Emission reports: draft, submit, verify or reject, correct, invalidate; read.

Reads are scoped (`caller.scope`: another enterprise's report is a 404); writes record the
caller as the actor, and a report is never verified or rejected by the principal that
submitted it.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api import monitoring_schemas as ms
from api.auth import Caller
from api.dependencies import Cursor, Filter, IdPath, Store
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.pages import next_cursor
from ledger.domain.reports import Period, ReportStatus
from ledger.services import reports

router = APIRouter(prefix="/v1", tags=["reports"])

STATUSES = "^(" + "|".join(status.value for status in ReportStatus) + ")$"


@router.post("/reports", response_model=ms.ReportOut, status_code=201)
def draft(body: ms.ReportIn, caller: Caller, store: Store) -> ms.ReportOut:
    """A new draft for an enterprise and period, from CEMS aggregates and/or given lines."""
    view = reports.draft_report(
        store, caller, body.enterprise, Period.parse(body.period), body.to_domain()
    )
    return ms.view_out(view)


@router.get("/reports", response_model=ms.ReportPage)
def list_reports(  # noqa: PLR0917 - query parameters
    caller: Caller,
    store: Store,
    enterprise: Filter = None,
    status: Annotated[str | None, Query(pattern=STATUSES)] = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> ms.ReportPage:
    """Reports the caller may see, in creation order (without their lines)."""
    page = reports.list_reports(
        store,
        caller.scope,
        enterprise,
        ReportStatus(status) if status else None,
        cursor,
        limit,
    )
    return ms.ReportPage(
        reports=[ms.report_out(report) for _, report in page],
        next_cursor=next_cursor("reports", [position for position, _ in page], limit),
    )


@router.get("/reports/{report_id}", response_model=ms.ReportOut)
def get_report(report_id: IdPath, caller: Caller, store: Store) -> ms.ReportOut:
    """A report with its lines."""
    return ms.view_out(reports.get_report(store, caller.scope, report_id))


@router.post("/reports/{report_id}/submit", response_model=ms.ReportOut)
def submit(report_id: IdPath, caller: Caller, store: Store) -> ms.ReportOut:
    """The enterprise submits its draft; its figures are fixed from now on."""
    return ms.view_out(reports.submit_report(store, caller, report_id))


@router.post("/reports/{report_id}/verify", response_model=ms.ReportOut)
def verify(report_id: IdPath, body: ms.DecisionIn, caller: Caller, store: Store) -> ms.ReportOut:
    """A verifier (never the submitter) verifies; the version it corrects is superseded."""
    return ms.view_out(reports.verify_report(store, caller, report_id, body.note))


@router.post("/reports/{report_id}/reject", response_model=ms.ReportOut)
def reject(report_id: IdPath, body: ms.DecisionIn, caller: Caller, store: Store) -> ms.ReportOut:
    """A verifier (never the submitter) rejects; the enterprise may submit a correction."""
    return ms.view_out(reports.reject_report(store, caller, report_id, body.note))


@router.post("/reports/{report_id}/corrections", response_model=ms.ReportOut, status_code=201)
def correct(report_id: IdPath, body: ms.ContentIn, caller: Caller, store: Store) -> ms.ReportOut:
    """A corrected version (a new draft) of a verified, rejected or invalidated report."""
    return ms.view_out(reports.correct_report(store, caller, report_id, body.to_domain()))


@router.post("/reports/{report_id}/invalidate", response_model=ms.ReportOut)
def invalidate(
    report_id: IdPath, body: ms.InvalidationIn, caller: Caller, store: Store
) -> ms.ReportOut:
    """A regulator invalidates a verified report; incentives resting on it are reversed."""
    return ms.view_out(reports.invalidate_report(store, caller, report_id, body.reason))
