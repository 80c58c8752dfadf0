"""Long work's pages: a job's progress (a CEMS import's, an export's), refreshing itself until
it ends, and the file an export made, for the principal that started it only; from any worker
(`api.console.jobs`).

Downloads are exports run as jobs: a party's account statement and the trial balance, as CSV or
XLSX. The form starts the job and the browser is sent to its page, which shows rows written out
of the report's rows and, when it ends, links the file. The job calls the same use case as the
API's endpoint with the signed-in principal's `Actor`, and writes the report with the API's own
writers (`ledger.services.exports`): the same bytes the API answers. A refusal of the use case
(a party out of scope, an unknown instrument) ends the job, its code and detail on its page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.console.i18n import CHINA_STANDARD_TIME
from api.console.jobs import RUNNING_MAX, Busy, Job, Kept, spool
from api.console.permissions import PREFIX
from api.console.web import (
    SECURITY_HEADERS,
    Acts,
    Form,
    context_of,
    flash,
    gettext,
    party_of,
    redirect,
    render,
)
from api.schemas import BusinessDate
from ledger.domain.errors import LedgerError
from ledger.domain.finance import Cell, ReportTable
from ledger.services import exports, statements

router = APIRouter()
JobId = Annotated[str, PathParam(max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]
INSTRUMENT = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
PARTY = r"^[A-Z0-9][A-Z0-9_-]*$"
M = TypeVar("M", bound=BaseModel)


@router.get("/jobs/{job_id}", include_in_schema=False)
def job_page(request: Request, job_id: JobId, actor: Acts) -> Response:
    """How far the job is; the page refreshes itself every second until it ends."""
    job = context_of(request).jobs.of(actor.id, job_id)
    if job is None:
        return render(request, "error.html", 404, code="job_not_found", detail=job_id)
    return render(request, "job.html", job=job)


@router.get("/jobs/{job_id}/file", include_in_schema=False)
def job_file(request: Request, job_id: JobId, actor: Acts) -> Response:
    """The file an export made, to the principal that started it (another's: not found)."""
    job = context_of(request).jobs.of(actor.id, job_id)
    if job is None or job.kind != "export":
        return render(request, "error.html", 404, code="job_not_found", detail=job_id)
    if job.file is None or not job.ended:
        code = "job_failed" if job.failed else "job_running"
        return render(request, "error.html", 409, code=code, detail=job_id)
    kept = job.file
    headers = {
        **SECURITY_HEADERS,
        "content-disposition": f'attachment; filename="{kept.name}"',
        "content-length": str(kept.size),
    }
    chunks = context_of(request).jobs.chunks(job.id)  # read in the thread pool, a MiB a time
    return StreamingResponse(chunks, media_type=kept.media_type, headers=headers)


# -- exports ------------------------------------------------------------------------------------


class StatementExport(BaseModel):
    """The statement form: one account and instrument of a party over from..to."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
    instrument: str = Field(max_length=32, pattern=INSTRUMENT)
    account: Literal["holdings", "cash", "pledged"] = "holdings"
    first: BusinessDate = Field(alias="from")
    last: BusinessDate = Field(alias="to")
    format: Literal["csv", "xlsx"] = "csv"
    party: str | None = Field(None, max_length=32, pattern=PARTY)


class TrialBalanceExport(BaseModel):
    """The trial balance's download form: an instrument at the end of a day (default: now)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    instrument: str = Field("CNY", max_length=32, pattern=INSTRUMENT)
    as_of: BusinessDate | None = None
    format: Literal["csv", "xlsx"] = "csv"


@router.post("/exports/statement", include_in_schema=False)
def export_statement(request: Request, actor: Acts, form: Form) -> Response:
    """Start a statement's export (the holdings page's form) and show its job."""
    back = f"{PREFIX}/holdings"
    asked = _validated(request, StatementExport, form)
    if asked is None:
        return redirect(back)
    code = party_of(actor, asked.party)
    store = context_of(request).store
    name = f"statement-{code}-{asked.account}-{asked.instrument}-{asked.first}-{asked.last}"
    return _start(
        request,
        actor.id,
        f"{name}.{asked.format}",
        lambda: statements.account_statement(
            store, actor, code, asked.account, asked.instrument, asked.first, asked.last
        ),
        back,
    )


@router.post("/exports/trial-balance", include_in_schema=False)
def export_trial_balance(request: Request, actor: Acts, form: Form) -> Response:
    """Start the trial balance's export (its page's form) and show its job."""
    asked = _validated(request, TrialBalanceExport, form)
    if asked is None:
        return redirect(f"{PREFIX}/trial-balance")
    store = context_of(request).store
    day = asked.as_of or datetime.now(CHINA_STANDARD_TIME).date()
    return _start(
        request,
        actor.id,
        f"trial_balance-{asked.instrument}-{day}.{asked.format}",
        lambda: statements.trial_balance(store, actor, asked.instrument, asked.as_of),
        f"{PREFIX}/trial-balance",
    )


def _validated(request: Request, model: type[M], form: dict[str, str]) -> M | None:
    """The form as the model, its empty fields as not given; a refusal said on the page."""
    try:
        return model.model_validate({key: value for key, value in form.items() if value})
    except ValidationError as error:
        _ = gettext(request)
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors())
        flash(request, "error", f"{_('Refused')}: invalid_field: {fields}")
        return None


def _start(
    request: Request,
    principal_id: str,
    file_name: str,
    report: Callable[[], ReportTable],
    back: str,
) -> Response:
    try:
        job = context_of(request).jobs.start(
            principal_id, file_name, None, lambda job: export(job, report), kind="export"
        )
    except Busy:
        flash_busy(request)
        return redirect(back)
    return redirect(f"{PREFIX}/jobs/{job.id}")


def flash_busy(request: Request) -> None:
    """Say that the principal's running jobs are as many as one may run."""
    _ = gettext(request)
    flash(
        request,
        "error",
        _("You already run %(count)d imports or exports: start another when one has ended.")
        % {"count": RUNNING_MAX},
    )


def export(job: Job, report: Callable[[], ReportTable]) -> tuple[bool, str]:
    """Run the report's use case, then write it in the job's format (its name's extension) to
    a spooled file, counting rows; (failed, what happened)."""
    try:
        table = report()
        job.total = table.size()
        rows = _counting(table.rows, job)
        counted = ReportTable(table.name, table.columns, rows, table.parameters)
        kind = job.what.rsplit(".", 1)[1]
        content = spool()
        try:
            exports.write(counted, kind, content)
        except BaseException:
            content.close()
            raise
    except LedgerError as error:
        return True, f"{error.code}: {error.detail}"
    size = content.tell()
    content.seek(0)
    job.file = Kept(job.what, exports.MEDIA_TYPES[kind], size, content)
    return False, f"{job.done} rows, {size} bytes"


def _counting(rows: Iterable[tuple[Cell, ...]], job: Job) -> Iterator[tuple[Cell, ...]]:
    for done, row in enumerate(rows, start=1):
        yield row
        job.report(done)
