"""Journal entries: post, read, reverse; pending entries: place, post, void, expire; batch, bulk.

A retried request gets the original response with the header `Idempotent-Replayed: true`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Response

from api import schemas
from api.answers import PENDING, mark_replayed, or_pending
from api.auth import Acts
from api.convert import (
    batch_commands,
    entry_view_out,
    post_entry_command,
    posted_out,
    resolve_command,
    reverse_command,
)
from api.dependencies import Store
from api.routing import Routes
from ledger.services import adjustments, journal, queries

router = Routes(prefix="/v1")

EntryId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
# Records the ledger writes itself (expiries) have ids starting with '~'; they can be read.
AnyEntryId = Annotated[str, Path(max_length=64, pattern=r"^~?[A-Za-z0-9][A-Za-z0-9._:-]*$")]


def _mark(response: Response, posted: journal.Posted) -> schemas.EntryOut:
    mark_replayed(response, posted.replayed)
    return posted_out(posted)


@router.post(
    "/entries",
    response_model=schemas.EntryOut,
    status_code=201,
    tags=["entries"],
    responses=PENDING,
)
def post_entry(body: schemas.EntryIn, store: Store, actor: Acts, response: Response) -> Any:
    """Post a balanced adjustment now (types: transfer, adjustment, correction). The `entry_id`
    makes retries safe. One that creates or destroys rights or cash, or moves anything into or
    out of an enterprise's account, needs four eyes: 202 (the latter obeys the trade rules too).
    Pledged, surrendered and penalties accounts are never adjusted: 422."""
    written = adjustments.post_entry(store, actor, post_entry_command(body))
    return or_pending(written, lambda posted: _mark(response, posted))


@router.get("/entries/{entry_id}", response_model=schemas.EntryOut, tags=["entries"])
def get_entry(entry_id: AnyEntryId, store: Store, actor: Acts) -> schemas.EntryOut:
    """One journal record with its current state (pending entries: posted, voided, expired…)."""
    return entry_view_out(queries.get_entry(store, actor, entry_id))


@router.post(
    "/entries/{entry_id}/reverse",
    response_model=schemas.EntryOut,
    status_code=201,
    tags=["entries"],
    responses=PENDING,
)
def reverse_entry(
    entry_id: EntryId, body: schemas.ReverseIn, store: Store, response: Response, actor: Acts
) -> Any:
    """Reverse a posted adjustment (once) with a new entry that swaps every side. With
    four-eyes on for reversals: 202 and an approval request instead."""
    written = adjustments.reverse_entry(store, actor, reverse_command(entry_id, body))
    return or_pending(written, lambda posted: _mark(response, posted))


@router.post(
    "/pending-entries",
    response_model=schemas.EntryOut,
    status_code=201,
    tags=["pending entries"],
    responses=PENDING,
)
def place_pending_entry(
    body: schemas.PendingEntryIn, store: Store, response: Response, actor: Acts
) -> Any:
    """Place a hold: amounts are reserved (checked against limits now) until posted or voided."""
    written = adjustments.place_pending_entry(store, actor, post_entry_command(body, pending=True))
    return or_pending(written, lambda posted: _mark(response, posted))


@router.post(
    "/pending-entries/{entry_id}/post",
    response_model=schemas.EntryOut,
    status_code=201,
    tags=["pending entries"],
)
def post_pending_entry(
    entry_id: EntryId, body: schemas.PostPendingIn, store: Store, response: Response, actor: Acts
) -> schemas.EntryOut:
    """Post a hold in full, or the part named in `postings`; what is left is released. Only
    holds placed here: a trade's hold is the trade workflow's. What it moves into or out of an
    enterprise's account obeys the trade rules again."""
    command = resolve_command(entry_id, body)
    return _mark(response, adjustments.post_pending_entry(store, actor, command))


@router.post(
    "/pending-entries/{entry_id}/void",
    response_model=schemas.EntryOut,
    status_code=201,
    tags=["pending entries"],
)
def void_pending_entry(
    entry_id: EntryId, body: schemas.VoidPendingIn, store: Store, response: Response, actor: Acts
) -> schemas.EntryOut:
    """Void a hold: everything it reserved is released. Only holds placed here."""
    command = resolve_command(entry_id, body)
    return _mark(response, adjustments.void_pending_entry(store, actor, command))


@router.post("/pending-entries/expire", response_model=schemas.ExpiryOut, tags=["pending entries"])
def expire_pending_entries(store: Store, actor: Acts) -> schemas.ExpiryOut:
    """Expire every hold past its deadline now (the server also does this periodically)."""
    return schemas.ExpiryOut(expired=adjustments.expire_pending_entries(store, actor))


@router.post(
    "/batches",
    response_model=schemas.BatchOut,
    status_code=201,
    tags=["batches"],
    responses=PENDING,
)
def post_batch(body: schemas.BatchIn, store: Store, response: Response, actor: Acts) -> Any:
    """Post several adjustments in one database transaction: all of them or none."""
    return or_pending(
        adjustments.post_batch(store, actor, batch_commands(body)),
        lambda posted: _batch_out(response, posted),
    )


def _batch_out(response: Response, posted: list[journal.Posted]) -> schemas.BatchOut:
    mark_replayed(response, bool(posted) and all(p.replayed for p in posted))
    return schemas.BatchOut(entries=[posted_out(p) for p in posted])


@router.post("/bulk", response_model=schemas.BulkOut, tags=["batches"])
def post_bulk(body: schemas.BatchIn, store: Store, actor: Acts) -> schemas.BulkOut:
    """Post each adjustment on its own; every item gets its outcome and, if rejected, its code."""
    results = adjustments.post_bulk(store, actor, batch_commands(body))
    return schemas.BulkOut(
        results=[
            schemas.BulkItemOut(
                index=r.index,
                entry_id=r.entry_id,
                outcome=r.outcome,
                entry=posted_out(r.posted) if r.posted else None,
                code=r.error.code if r.error else None,
                field=r.error.field if r.error else None,
                detail=r.error.detail if r.error else None,
            )
            for r in results
        ]
    )
