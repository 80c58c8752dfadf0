"""Finance staff's pages: the trial balance at any date (and its CSV/XLSX), periods (close,
ask to reopen: four-eyes), and reconciliation: import a statement file, see its unmatched lines
beside the account's unmatched postings, match, unmatch, confirm."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from api.console.permissions import PREFIX
from api.console.web import (
    Acts,
    Form,
    PageNumber,
    act,
    context_of,
    flash,
    gettext,
    numbered,
    redirect,
    render,
)
from ledger.domain.access import Pending
from ledger.domain.errors import InvalidField
from ledger.domain.finance import PeriodRecord
from ledger.domain.reconciliation import Tolerance
from ledger.services import periods, reconciliation, statements
from ledger.services.reconciliation import ReconciliationReport

router = APIRouter()
Instrument = Annotated[str, Query(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Label = Annotated[str, Path(max_length=8, pattern=r"^[0-9]{4}(-[0-9]{2}|-Q[1-4])?$")]
ReconciliationId = Annotated[str, Path(max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
SOURCES = ("bank", "exchange")


@router.get("/trial-balance", include_in_schema=False)
def trial_balance(
    request: Request,
    actor: Acts,
    instrument: Instrument = "CNY",
    as_of: date | None = None,
    page: PageNumber = 1,
) -> Response:
    """Every account's balance in one instrument at the end of a day (default: now); its
    CSV/XLSX is an export run as a job (`api.console.pages_jobs`)."""
    table = statements.trial_balance(context_of(request).store, actor, instrument, as_of)
    return render(
        request,
        "trial_balance.html",
        shown=numbered(list(table), page),  # the totals below cover every page
        totals=table.totals,
        instrument=instrument,
        as_of=as_of.isoformat() if as_of else "",
    )


@router.get("/periods", include_in_schema=False)
def periods_page(request: Request, actor: Acts, page: PageNumber = 1) -> Response:
    """Closed (and reopened) periods, the forms to close one and to import a statement."""
    found: list[PeriodRecord] = periods.list_periods(context_of(request).store, actor)
    return render(request, "periods.html", shown=numbered(found, page), sources=SOURCES)


@router.post("/periods/close", include_in_schema=False)
def close(request: Request, actor: Acts, form: Form) -> Response:
    _ = gettext(request)
    label = form.get("label", "")
    done = _("Period %(label)s closed.") % {"label": label}
    store = context_of(request).store
    reason = form.get("reason", "")
    return act(
        request,
        f"{PREFIX}/periods",
        done,
        lambda: periods.close_period(store, actor, label, reason),
    )


@router.post("/periods/{label}/reopen", include_in_schema=False)
def reopen(request: Request, label: Label, actor: Acts, form: Form) -> Response:
    """Ask to reopen: another finance principal approves it in the approvals queue."""
    _ = gettext(request)
    store = context_of(request).store
    reason = form.get("reason", "")
    asked = form.get("id") or f"reopen-{secrets.token_hex(4)}"

    def done(outcome: PeriodRecord | Pending) -> str:
        if isinstance(outcome, Pending):
            message = _("Reopening %(label)s waits for a second principal's approval.")
            return message % {"label": label}
        return _("Period %(label)s reopened.") % {"label": label}

    return act(
        request,
        f"{PREFIX}/periods",
        done,
        lambda: periods.reopen_period(store, actor, label, reason, asked),
    )


@router.post("/statement-imports", include_in_schema=False)
async def import_statement(request: Request, actor: Acts, form: Form) -> Response:
    """Import a statement file and reconcile it against the account at once (both finance's
    alone); then show the reconciliation."""
    _ = gettext(request)
    upload = request.state.files.get("file")
    if upload is None:
        flash(request, "error", f"{_('Refused')}: field_required: file")
        return redirect(f"{PREFIX}/periods")
    content = await upload.read()
    store = context_of(request).store
    account, source = form.get("account", ""), form.get("source", "")
    tolerance = _tolerance(form)
    outcome: list[ReconciliationReport] = []

    def run() -> None:
        imported = reconciliation.import_statement(
            store, actor, account, source, upload.filename or "statement.csv", content
        )
        started = reconciliation.start_reconciliation(store, actor, imported.record.id, tolerance)
        outcome.append(started.record)

    answer = act(request, f"{PREFIX}/periods", _("Statement imported and reconciled."), run)
    if outcome:
        return redirect(f"{PREFIX}/reconciliations/{outcome[0].reconciliation.id}")
    return answer


def _tolerance(form: dict[str, str]) -> Tolerance:
    try:
        fen = int(Decimal(form.get("amount_tolerance_cny") or "0").scaleb(2))
        days = int(form.get("date_tolerance_days") or "0")
    except (ArithmeticError, ValueError):
        raise InvalidField("tolerances are numbers", field="tolerance") from None
    return Tolerance(fen, days)


@router.get("/reconciliations/{reconciliation_id}", include_in_schema=False)
def reconciliation_page(
    request: Request,
    reconciliation_id: ReconciliationId,
    actor: Acts,
    page: PageNumber = 1,
    matches_page: PageNumber = 1,
) -> Response:
    """Unmatched statement lines beside unmatched postings (a page of each), the matches (a
    page at a time, `matches_page`), and the actions."""
    report = reconciliation.get_report(context_of(request).store, actor, reconciliation_id)
    return render(
        request,
        "reconciliation.html",
        report=report,
        lines=numbered(list(report.unmatched_lines), page),
        postings=numbered(list(report.unmatched_postings), page),
        matches=numbered(list(report.matches), matches_page),
        record=report.reconciliation,
        fen=lambda value: Decimal(value).scaleb(-2),
        new_id=f"m-{secrets.token_hex(4)}",
    )


@router.post("/reconciliations/{reconciliation_id}/matches", include_in_schema=False)
async def match(
    request: Request, reconciliation_id: ReconciliationId, actor: Acts, form: Form
) -> Response:
    """Match the ticked lines with the ticked postings, with a reason."""
    _ = gettext(request)
    raw = await request.form()
    store = context_of(request).store
    back = f"{PREFIX}/reconciliations/{reconciliation_id}"

    def run() -> None:
        lines = _ids(raw.getlist("line"), "line")
        postings = _ids(raw.getlist("posting"), "posting")
        reconciliation.match_manually(
            store,
            actor,
            reconciliation_id,
            form.get("id", ""),
            lines,
            postings,
            form.get("reason", ""),
        )

    return act(request, back, _("Matched."), run)


def _ids(values: Sequence[object], field: str) -> list[int]:
    try:
        return [int(str(value)) for value in values]
    except ValueError:
        raise InvalidField(f"{field} ids are numbers", field=field) from None


@router.post(
    "/reconciliations/{reconciliation_id}/matches/{match_id}/unmatch", include_in_schema=False
)
def unmatch(
    request: Request,
    reconciliation_id: ReconciliationId,
    match_id: Annotated[int, Path(ge=1, le=2**62)],
    actor: Acts,
    form: Form,
) -> Response:
    _ = gettext(request)
    store = context_of(request).store
    reason = form.get("reason", "")
    return act(
        request,
        f"{PREFIX}/reconciliations/{reconciliation_id}",
        _("Unmatched."),
        lambda: reconciliation.unmatch(store, actor, reconciliation_id, match_id, reason),
    )


@router.post("/reconciliations/{reconciliation_id}/confirm", include_in_schema=False)
def confirm(
    request: Request, reconciliation_id: ReconciliationId, actor: Acts, form: Form
) -> Response:
    del form
    _ = gettext(request)
    store = context_of(request).store
    return act(
        request,
        f"{PREFIX}/reconciliations/{reconciliation_id}",
        _("Reconciliation confirmed."),
        lambda: reconciliation.confirm(store, actor, reconciliation_id),
    )
