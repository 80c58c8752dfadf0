"""CEMS imports from the console: upload a CSV, then watch its progress (rows checked and
staged) on a page that refreshes itself until the import ends, all or nothing."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.console.jobs import Busy
from api.console.pages_jobs import flash_busy
from api.console.permissions import PREFIX
from api.console.web import Acts, Form, context_of, flash, gettext, redirect, render
from ledger.domain.access import Actor
from ledger.domain.cems import CemsImportRefused, RowProblem, csv_rows
from ledger.domain.errors import LedgerError
from ledger.domain.ports import UnitOfWorkFactory
from ledger.services import monitoring

router = APIRouter()
CHUNK = 1 << 20


@router.get("/cems-imports", include_in_schema=False)
def import_page(request: Request, actor: Acts) -> Response:
    del actor
    return render(request, "cems_import.html")


@router.post("/cems-imports", include_in_schema=False)
async def start_import(request: Request, actor: Acts, form: Form) -> Response:
    """Keep the uploaded file on disk, start the import in the background, show its job."""
    del form
    _ = gettext(request)
    upload = request.state.files.get("file")
    if upload is None:
        flash(request, "error", f"{_('Refused')}: field_required: file")
        return redirect(f"{PREFIX}/cems-imports")
    digest = hashlib.sha256()
    lines = 0
    with tempfile.NamedTemporaryFile(prefix="console-cems-", suffix=".csv", delete=False) as kept:
        while chunk := await upload.read(CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            kept.write(chunk)
    path = Path(kept.name)
    console = context_of(request)
    name = upload.filename or "cems.csv"
    try:
        job = console.jobs.start(
            actor.id,
            name,
            max(lines - 1, 1),
            lambda job: _import(console.store, actor, path, digest.hexdigest(), name, job.report),
        )
    except Busy:
        path.unlink()
        flash_busy(request)
        return redirect(f"{PREFIX}/cems-imports")
    return redirect(f"{PREFIX}/jobs/{job.id}")


def _import(  # noqa: PLR0917 - one import's inputs
    store: UnitOfWorkFactory,
    actor: Actor,
    path: Path,
    sha256: str,
    name: str,
    report: monitoring.Progress,
) -> tuple[bool, str]:
    """The import (all rows or none); (failed, what happened), the file removed after."""

    def rows() -> Iterator[tuple[int, list[str]] | RowProblem]:
        with path.open(encoding="utf-8", newline="") as text:
            yield from csv_rows(text)

    try:
        made = monitoring.import_cems(store, actor, rows, sha256, name, progress=report)
    except CemsImportRefused as refused:
        first = "; ".join(f"line {p.line}: {p.detail}" for p in refused.problems[:5])
        return True, f"{refused.code}: {refused.detail} ({first})"
    except LedgerError as error:
        return True, f"{error.code}: {error.detail}"
    finally:
        path.unlink(missing_ok=True)
    record = made.record
    if made.replayed:
        return False, f"already imported (import {record.seq})"
    return False, (
        f"import {record.seq}: {record.rows} rows, {record.inserted} new hours, "
        f"{record.unchanged} unchanged, {record.months} monthly aggregates recomputed"
    )
