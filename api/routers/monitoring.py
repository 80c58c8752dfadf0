"""CEMS monitoring: import hourly records (a CSV body or JSON) and read monthly aggregates.

`POST /v1/cems/imports` takes the CSV as the raw request body (`Content-Type: text/csv`),
spooled to a temporary file while its SHA-256 is computed, then imported from it in a worker
thread; the import itself streams, so memory stays bounded. A refused import is a 422
problem+json whose `errors` list the first problems by line and `error_count` counts them all.
An import is keyed by its content's SHA-256: the same bytes again answer the stored import, 201
with `Idempotent-Replayed: true`.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections.abc import Iterator
from typing import Annotated

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api import monitoring_schemas as ms
from api.answers import mark_replayed
from api.auth import Acts
from api.dependencies import Cursor, Filter, Store
from api.errors import problem
from api.routing import Routes
from ledger.domain.access import Actor
from ledger.domain.cems import CemsImportRefused, RowProblem, csv_rows
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.services import monitoring

router = Routes(prefix="/v1", tags=["monitoring"])

SPOOL_IN_MEMORY_BYTES = 8 << 20  # larger uploads spill to a temporary file
CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}},
    }
}
Source = Annotated[str, Query(max_length=200)]


@router.post(
    "/cems/imports",
    response_model=ms.CemsImportOut,
    status_code=201,
    openapi_extra=CSV_BODY,
)
async def import_csv(
    request: Request, actor: Acts, store: Store, response: Response, source: Source = "upload"
) -> ms.CemsImportOut | JSONResponse:
    """Import a CEMS CSV (header: enterprise, outlet, pollutant, hour_start,
    concentration_mg_nm3, dry_flow_nm3_h, o2_percent, valid_minutes, flag): all rows or none."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY_BYTES) as spool:
        digest = hashlib.sha256()
        async for chunk in request.stream():
            digest.update(chunk)
            spool.write(chunk)

        def rows() -> Iterator[tuple[int, list[str]] | RowProblem]:
            spool.seek(0)
            text = io.TextIOWrapper(spool, encoding="utf-8", newline="")
            try:
                yield from csv_rows(text)
            finally:
                text.detach()  # leave the spool open for a retried attempt

        return await run_in_threadpool(
            _import, store, actor, rows, digest.hexdigest(), source, response, json_records=False
        )


@router.post("/cems/records", response_model=ms.CemsImportOut, status_code=201)
def import_records(
    body: ms.CemsRecordsIn, actor: Acts, store: Store, response: Response
) -> ms.CemsImportOut | JSONResponse:
    """Import hourly records as JSON (same fields and rules as the CSV): all or none."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    records = [(index, record.fields()) for index, record in enumerate(body.records)]
    sha256 = hashlib.sha256(canonical).hexdigest()
    return _import(store, actor, lambda: records, sha256, "json", response, json_records=True)


def _import(  # noqa: PLR0917 - one import's inputs
    store: Store,
    actor: Actor,
    rows: monitoring.RowsSource,
    sha256: str,
    source: str,
    response: Response,
    *,
    json_records: bool,
) -> ms.CemsImportOut | JSONResponse:
    try:
        made = monitoring.import_cems(store, actor, rows, sha256, source)
    except CemsImportRefused as refused:
        return problem(
            422,
            refused.code,
            refused.title,
            refused.detail,
            None if json_records else refused.field,
            errors=[ms.problem_out(p, json_records=json_records) for p in refused.problems],
            error_count=refused.count,
        )
    mark_replayed(response, made.replayed)
    return ms.import_out(made.record)


@router.get("/cems/months", response_model=ms.MonthlyAggregatePage)
def list_months(  # noqa: PLR0917 - query parameters
    actor: Acts,
    store: Store,
    first: Annotated[str, Query(alias="from", pattern=r"^[0-9]{4}-[0-9]{2}$")],
    last: Annotated[str, Query(alias="to", pattern=r"^[0-9]{4}-[0-9]{2}$")],
    enterprise: Filter = None,
    outlet: Filter = None,
    pollutant: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
    exceeding: Annotated[
        bool, Query(description="only months with an hourly exceedance (rules §7.2)")
    ] = False,
) -> ms.MonthlyAggregatePage:
    """Monthly aggregates (valid-hour means, mass, validity, exceedances) the caller may see."""
    wanted = monitoring.MonthFilter(
        ms.month_of(first, "from"),
        ms.month_of(last, "to"),
        enterprise,
        outlet,
        pollutant,
        exceeding=exceeding,
    )
    page = monitoring.list_months(store, actor, wanted, cursor, limit)
    return ms.MonthlyAggregatePage(
        months=[ms.month_out(m) for m in page.items], next_cursor=page.next_cursor
    )


@router.get("/cems/hours", response_model=ms.MonthOfHoursOut)
def month_of_hours(  # noqa: PLR0917 - query parameters
    actor: Acts,
    store: Store,
    enterprise: Annotated[str, Query(min_length=1, max_length=64)],
    outlet: Annotated[str, Query(min_length=1, max_length=64)],
    pollutant: Annotated[str, Query(min_length=1, max_length=16)],
    month: Annotated[str, Query(pattern=r"^[0-9]{4}-[0-9]{2}$")],
) -> ms.MonthOfHoursOut:
    """One month of an outlet's pollutant hour by hour: each stored hour's reading on the
    standard's basis, its substitute if not valid, and whether it exceeds (an outlet out of
    the caller's scope is a 404, as an unknown one)."""
    found = monitoring.month_of_hours(
        store, actor, enterprise, outlet, pollutant, ms.month_of(month, "month")
    )
    return ms.hours_out(found)
