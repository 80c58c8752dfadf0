"""Finance: reports as JSON, CSV or XLSX (`?format=` or the Accept header), period close and
reopening (four eyes), statement imports and reconciliations, and the public market report.
Translation only: who sees which rows, and every rule, is the services'."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from enum import Enum
from typing import IO, Annotated, Literal

from fastapi import Body, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from api import finance_schemas as fs
from api.answers import mark_replayed
from api.auth import Acts
from api.dependencies import Store
from api.routing import Routes
from api.schemas import BusinessDate
from ledger.domain.access import Pending
from ledger.domain.finance import ReportTable
from ledger.domain.pages import Created
from ledger.domain.reconciliation import Tolerance
from ledger.services import exports, periods, statements
from ledger.services import reconciliation as rec

router = Routes(prefix="/v1")

Format = Annotated[Literal["json", "csv", "xlsx"] | None, Query(alias="format")]
AsOf = Annotated[BusinessDate | None, Query(description="a Beijing calendar day; omit for now")]
Axis = Annotated[Literal["effective", "recorded"], Query()]
First = Annotated[BusinessDate, Query(alias="from")]
Last = Annotated[BusinessDate, Query(alias="to")]
PeriodLabel = Annotated[str, Path(max_length=8, pattern=r"^[0-9]{4}(-[0-9]{2}|-Q[1-4])?$")]
RecordId = Annotated[str, Path(max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
InstrumentCode = Annotated[str, Query(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
Code = Annotated[str, Path(max_length=32, pattern=r"^[A-Z0-9][A-Z0-9_-]*$")]
REPORTS: list[str | Enum] = ["finance reports"]
XLSX_SPOOL_BYTES = 8 * 1024 * 1024  # an XLSX larger than this spills to a temporary file


def _format(request: Request, requested: str | None) -> str:
    if requested is not None:
        return requested
    accept = request.headers.get("accept", "")
    for name in ("xlsx", "csv"):
        if exports.MEDIA_TYPES[name].split(";")[0] in accept:
            return name
    return "json"


def render(table: ReportTable, request: Request, requested: str | None) -> Response:
    """The report in the asked format, streamed."""
    name = _format(request, requested)
    disposition = {"content-disposition": f'attachment; filename="{table.name}.{name}"'}
    if name == "csv":
        return StreamingResponse(
            exports.csv_chunks(table), media_type=exports.MEDIA_TYPES["csv"], headers=disposition
        )
    if name == "xlsx":
        spool = tempfile.SpooledTemporaryFile(max_size=XLSX_SPOOL_BYTES)  # noqa: SIM115 - streamed
        exports.write_xlsx(table, spool)
        spool.seek(0)
        return StreamingResponse(
            _drain(spool), media_type=exports.MEDIA_TYPES["xlsx"], headers=disposition
        )
    return StreamingResponse(exports.json_chunks(table), media_type=exports.MEDIA_TYPES["json"])


def _drain(spool: IO[bytes]) -> Iterator[bytes]:
    with spool:
        while chunk := spool.read(64 * 1024):
            yield chunk


# -- reports ------------------------------------------------------------------------------------


@router.get("/finance/trial-balance", tags=REPORTS)
def trial_balance(  # noqa: PLR0917 - query parameters
    request: Request,
    store: Store,
    actor: Acts,
    instrument: Annotated[str, Query(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")],
    as_of: AsOf = None,
    axis: Axis = "effective",
    format: Format = None,
) -> Response:
    """Every account's net balance in one instrument as of a day, debit and credit columns."""
    table = statements.trial_balance(store, actor, instrument, as_of, axis)
    return render(table, request, format)


@router.get("/finance/supply", tags=REPORTS)
def supply(
    request: Request,
    store: Store,
    actor: Acts,
    as_of: AsOf = None,
    format: Format = None,
) -> Response:
    """Per instrument: issued, held, pledged, surrendered, retired, cancelled, in reserve;
    `difference` must be zero."""
    return render(statements.supply(store, actor, as_of), request, format)


@router.get("/finance/parties/{code}/holdings", tags=REPORTS)
def holdings(  # noqa: PLR0917 - query parameters
    code: Code,
    request: Request,
    store: Store,
    actor: Acts,
    as_of: AsOf = None,
    format: Format = None,
) -> Response:
    """A party's balance in every account and instrument as of a day."""
    return render(statements.holdings(store, actor, code, as_of), request, format)


@router.get("/finance/parties/{code}/statement", tags=REPORTS)
def account_statement(  # noqa: PLR0917 - query parameters
    code: Code,
    request: Request,
    store: Store,
    actor: Acts,
    first: First,
    last: Last,
    account: Annotated[str, Query(max_length=32, pattern=r"^[a-z_]+$")] = "cash",
    instrument: InstrumentCode = "CNY",
    format: Format = None,
) -> Response:
    """Movements of `{code}:{account}` in an instrument over from..to with running balances
    (cash by default; `account=holdings&instrument=SO2-2026` for rights)."""
    table = statements.account_statement(store, actor, code, account, instrument, first, last)
    return render(table, request, format)


@router.get("/finance/trades", tags=REPORTS)
def trades(  # noqa: PLR0917 - query parameters
    request: Request,
    store: Store,
    actor: Acts,
    first: First,
    last: Last,
    state: Annotated[str | None, Query(pattern=r"^[a-z]+$")] = "settled",
    format: Format = None,
) -> Response:
    """Trades dated from..to (settled by default) with their value."""
    return render(statements.trades(store, actor, first, last, state), request, format)


@router.get("/finance/tax-returns", tags=REPORTS)
def tax_returns(
    request: Request,
    store: Store,
    actor: Acts,
    year: Annotated[int, Query(ge=2000, le=2100)],
    format: Format = None,
) -> Response:
    """Filed environmental-tax returns of a year with their totals."""
    return render(statements.tax_returns(store, actor, year), request, format)


@router.get("/market-report", tags=["public"])
def market_report(
    request: Request,
    store: Store,
    first: First,
    last: Last,
    format: Format = None,
) -> Response:
    """Public, no token: per quarter, market (bilateral trades, reserve sales, buy-backs) and
    pollutant, settled volume and volume-weighted price; no party is named."""
    return render(statements.market_report(store, first, last), request, format)


# -- periods --------------------------------------------------------------------------------


@router.get("/periods", response_model=fs.PeriodList, tags=["periods"])
def list_periods(store: Store, actor: Acts) -> fs.PeriodList:
    """Every period ever closed, with its state."""
    return fs.PeriodList(periods=[fs.period_out(p) for p in periods.list_periods(store, actor)])


@router.get("/periods/{label}", response_model=fs.PeriodOut, tags=["periods"])
def get_period(label: PeriodLabel, store: Store, actor: Acts) -> fs.PeriodOut:
    return fs.period_out(periods.get_period(store, actor, label))


@router.post("/periods/{label}/close", response_model=fs.PeriodOut, tags=["periods"])
def close_period(
    label: PeriodLabel, store: Store, actor: Acts, body: fs.ReasonIn | None = None
) -> fs.PeriodOut:
    """Close a month (2026-03), quarter (2026-Q1) or year (2026) that has ended: entries
    effective in it are refused from then on (`period_closed`)."""
    reason = body.reason if body is not None else ""
    return fs.period_out(periods.close_period(store, actor, label, reason))


@router.post(
    "/periods/{label}/reopen",
    response_model=fs.ReopenRequestOut,
    status_code=202,
    tags=["periods"],
)
def reopen_period(
    label: PeriodLabel, body: fs.ReopenIn, store: Store, actor: Acts, response: Response
) -> fs.ReopenRequestOut:
    """Ask for a closed period to be reopened; another person of the same authority approves
    the request (`period_reopen`) for it to happen. The same request again under its `id`
    answers it with `Idempotent-Replayed: true`; another one under that id is a 409."""
    asked = periods.reopen_period(store, actor, label, body.reason, body.id)
    assert isinstance(asked, Pending), "reopening is always four-eyes"
    mark_replayed(response, asked.replayed)
    request = asked.request
    return fs.ReopenRequestOut(
        request_id=request.id,
        operation=request.operation,
        state=request.state.value,
        expires_at=request.expires_at,
    )


# -- statements and reconciliations -----------------------------------------------------------


def _reconciliation(
    response: Response, made: Created[rec.ReconciliationReport]
) -> fs.ReconciliationOut:
    mark_replayed(response, made.replayed)
    return fs.reconciliation_out(made.record)


@router.post(
    "/statement-imports",
    response_model=fs.StatementImportOut,
    status_code=201,
    tags=["reconciliation"],
)
def import_statement(  # noqa: PLR0917 - query parameters and the file
    response: Response,
    store: Store,
    actor: Acts,
    account: Annotated[str, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")],
    content: Annotated[bytes, Body(media_type="text/csv")],
    source: Annotated[Literal["bank", "exchange"], Query()] = "bank",
    currency: Annotated[str, Query(max_length=32, pattern=r"^[A-Za-z0-9]+$")] = "CNY",
    filename: Annotated[str, Query(max_length=200)] = "statement.csv",
) -> fs.StatementImportOut:
    """Import a statement CSV (body; columns date, reference, amount, counterparty,
    description[, currency]) whole or not at all. The file is its own id: the same file again
    answers the first import (`Idempotent-Replayed: true`); to another account, source or
    currency, 409."""
    made = rec.import_statement(store, actor, account, source, filename, content, currency)
    mark_replayed(response, made.replayed)
    record = made.record
    return fs.StatementImportOut(
        import_id=record.id,
        account=record.account_code,
        source=record.source,
        currency=record.currency,
        filename=record.filename,
        sha256=record.sha256,
        lines=record.line_count,
        first_date=record.first_date,
        last_date=record.last_date,
        imported_by=record.imported_by,
        imported_at=record.imported_at,
    )


@router.post(
    "/reconciliations",
    response_model=fs.ReconciliationOut,
    status_code=201,
    tags=["reconciliation"],
)
def start_reconciliation(
    body: fs.ReconciliationIn, store: Store, actor: Acts, response: Response
) -> fs.ReconciliationOut:
    """Reconcile an imported statement against its account's postings: by reference, then by
    amount and date within the tolerances, then split payments. One per import: the same
    request again answers it as it stands (`Idempotent-Replayed: true`)."""
    tolerance = Tolerance(body.amount_tolerance_fen, body.date_tolerance_days)
    made = rec.start_reconciliation(store, actor, body.import_id, tolerance)
    return _reconciliation(response, made)


@router.get(
    "/reconciliations/{reconciliation_id}",
    response_model=fs.ReconciliationOut,
    tags=["reconciliation"],
)
def get_reconciliation(
    reconciliation_id: RecordId, store: Store, actor: Acts
) -> fs.ReconciliationOut:
    """Matches, unmatched lines and postings, and differences."""
    return fs.reconciliation_out(rec.get_report(store, actor, reconciliation_id))


@router.post(
    "/reconciliations/{reconciliation_id}/matches",
    response_model=fs.ReconciliationOut,
    status_code=201,
    tags=["reconciliation"],
)
def match_manually(
    reconciliation_id: RecordId,
    body: fs.ManualMatchIn,
    store: Store,
    actor: Acts,
    response: Response,
) -> fs.ReconciliationOut:
    """Match unmatched statement lines with unmatched postings by hand, with a reason, under
    your id for the match (a retry answers `Idempotent-Replayed: true`)."""
    made = rec.match_manually(
        store, actor, reconciliation_id, body.id, body.lines, body.postings, body.reason
    )
    return _reconciliation(response, made)


@router.post(
    "/reconciliations/{reconciliation_id}/matches/{match_id}/unmatch",
    response_model=fs.ReconciliationOut,
    tags=["reconciliation"],
)
def unmatch(
    reconciliation_id: RecordId,
    match_id: int,
    body: fs.RequiredReasonIn,
    store: Store,
    actor: Acts,
) -> fs.ReconciliationOut:
    """Undo a match, with a reason."""
    report = rec.unmatch(store, actor, reconciliation_id, match_id, body.reason)
    return fs.reconciliation_out(report)


@router.post(
    "/reconciliations/{reconciliation_id}/confirm",
    response_model=fs.ReconciliationOut,
    tags=["reconciliation"],
)
def confirm(reconciliation_id: RecordId, store: Store, actor: Acts) -> fs.ReconciliationOut:
    """Confirm the reconciliation as it stands (confirmed_by = the caller); it is frozen."""
    return fs.reconciliation_out(rec.confirm(store, actor, reconciliation_id))
