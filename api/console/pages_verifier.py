"""A verifier's pages: reports awaiting verification, each with its lines and a chart of their
masses against nothing but themselves (the figures the verifier decides on); verify, or reject
with a reason. Others who may read reports see the same list in their scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.console import charts
from api.console.permissions import PREFIX
from api.console.web import Acts, Form, act, context_of, gettext, render
from api.dependencies import Cursor, IdPath
from ledger.domain.access import Role
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.reports import Period, ReportStatus
from ledger.services import reports

router = APIRouter()
STATUSES = "^(" + "|".join(s.value for s in ReportStatus) + ")$"
Status = Annotated[str | None, Query(pattern=STATUSES)]


@router.get("/reports", include_in_schema=False)
def awaiting(
    request: Request, actor: Acts, status: Status = None, cursor: Cursor = None
) -> Response:
    """Reports in a state (by default: an enterprise's drafts, everyone else's submitted ones,
    awaiting verification), with their lines."""
    store = context_of(request).store
    status = status or ("draft" if actor.role is Role.ENTERPRISE else "submitted")
    page = reports.list_reports(store, actor, None, ReportStatus(status), cursor, PAGE_SIZE_DEFAULT)
    _ = gettext(request)
    views = []
    for report in page.items:
        view = reports.get_report(store, actor, report.id)
        labels = [f"{line.month:%Y-%m} {line.outlet} {line.pollutant.value}" for line in view.lines]
        chart = charts.Chart(
            _("Emissions reported in %(report)s") % {"report": report.id},
            _("Mass of each line of the report (kg), by month, outlet and pollutant."),
            labels,
            [charts.Series(_("mass"), [line.mass_kg for line in view.lines])],
            unit="kg",
        )
        views.append((view, chart))
    return render(
        request,
        "reports.html",
        views=views,
        next_cursor=page.next_cursor,
        state=status,
        statuses=[s.value for s in ReportStatus],
    )


@router.post("/reports", include_in_schema=False)
def draft(request: Request, actor: Acts, form: Form) -> Response:
    """Draft the enterprise's report of a period from its monitoring data."""
    _ = gettext(request)
    store = context_of(request).store
    party = actor.party or form.get("party", "")

    def run() -> reports.ReportView:
        period = Period.parse(form.get("period", ""))
        return reports.draft_report(store, actor, party, period, reports.Content()).record

    def done(view: reports.ReportView) -> str:
        return _("Report %(id)s drafted.") % {"id": view.report.id}

    return act(request, f"{PREFIX}/reports?status=draft", done, run)


@router.post("/reports/{report_id}/submit", include_in_schema=False)
def submit(request: Request, report_id: IdPath, actor: Acts, form: Form) -> Response:
    del form
    _ = gettext(request)
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/reports?status=submitted",
        _("Report %(id)s submitted.") % {"id": report_id},
        lambda: reports.submit_report(store, actor, report_id),
    )


@router.post("/reports/{report_id}/verify", include_in_schema=False)
def verify(request: Request, report_id: IdPath, actor: Acts, form: Form) -> Response:
    _ = gettext(request)
    done = _("Report %(id)s verified.") % {"id": report_id}
    note = form.get("note", "")
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/reports",
        done,
        lambda: reports.verify_report(store, actor, report_id, note),
    )


@router.post("/reports/{report_id}/reject", include_in_schema=False)
def reject(request: Request, report_id: IdPath, actor: Acts, form: Form) -> Response:
    _ = gettext(request)
    done = _("Report %(id)s rejected.") % {"id": report_id}
    reason = form.get("reason", "")
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/reports",
        done,
        lambda: reports.reject_report(store, actor, report_id, reason),
    )
