"""Journal entries: post, read, reverse; pending entries: place, post, void, expire; batch, bulk.

A retried request gets the original response with the header `Idempotent-Replayed: true`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from api import four_eyes, schemas
from api.auth import Caller
from api.convert import (
    batch_commands,
    entry_view_out,
    post_entry_command,
    posted_out,
    resolve_command,
    reverse_command,
)
from api.dependencies import Store
from ledger.services import journal, queries

router = APIRouter(prefix="/v1")

EntryId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
# Records the ledger writes itself (expiries) have ids starting with '~'; they can be read.
AnyEntryId = Annotated[str, Path(max_length=64, pattern=r"^~?[A-Za-z0-9][A-Za-z0-9._:-]*$")]
REPLAYED = "Idempotent-Replayed"


def _mark(response: Response, posted: journal.Posted) -> schemas.EntryOut:
    if posted.replayed:
        response.headers[REPLAYED] = "true"
    return posted_out(posted)


@router.post("/entries", response_model=schemas.EntryOut, status_code=201, tags=["entries"])
def post_entry(body: schemas.EntryIn, store: Store, response: Response) -> schemas.EntryOut:
    """Post a balanced entry now. The `entry_id` makes retries safe."""
    return _mark(response, journal.post_entry(store, post_entry_command(body)))


@router.get("/entries/{entry_id}", response_model=schemas.EntryOut, tags=["entries"])
def get_entry(entry_id: AnyEntryId, store: Store) -> schemas.EntryOut:
    """One journal record with its current state (pending entries: posted, voided, expired…)."""
    return entry_view_out(queries.get_entry(store, entry_id))


@router.post(
    "/entries/{entry_id}/reverse",
    response_model=schemas.EntryOut,
    status_code=201,
    tags=["entries"],
    responses=four_eyes.PENDING,
)
def reverse_entry(  # noqa: PLR0917 - path, body and context
    entry_id: EntryId,
    body: schemas.ReverseIn,
    store: Store,
    response: Response,
    caller: Caller,
    request: Request,
) -> Any:
    """Reverse a posted entry (once) with a new entry that swaps every side. With four-eyes on
    for reversals: 202 and an approval request instead."""
    payload = {"entry_id": entry_id, "body": body.model_dump(mode="json")}
    pending = four_eyes.gate(request, caller, "reversal", payload)
    if pending is not None:
        return pending
    return _mark(response, journal.reverse_entry(store, reverse_command(entry_id, body)))


@router.post(
    "/pending-entries", response_model=schemas.EntryOut, status_code=201, tags=["pending entries"]
)
def place_pending_entry(
    body: schemas.PendingEntryIn, store: Store, response: Response
) -> schemas.EntryOut:
    """Place a hold: amounts are reserved (checked against limits now) until posted or voided."""
    return _mark(response, journal.post_entry(store, post_entry_command(body, pending=True)))


@router.post(
    "/pending-entries/{entry_id}/post",
    response_model=schemas.EntryOut,
    status_code=201,
    tags=["pending entries"],
)
def post_pending_entry(
    entry_id: EntryId, body: schemas.PostPendingIn, store: Store, response: Response
) -> schemas.EntryOut:
    """Post a hold in full, or the part named in `postings`; what is left is released."""
    return _mark(response, journal.post_pending_entry(store, resolve_command(entry_id, body)))


@router.post(
    "/pending-entries/{entry_id}/void",
    response_model=schemas.EntryOut,
    status_code=201,
    tags=["pending entries"],
)
def void_pending_entry(
    entry_id: EntryId, body: schemas.VoidPendingIn, store: Store, response: Response
) -> schemas.EntryOut:
    """Void a hold: everything it reserved is released."""
    return _mark(response, journal.void_pending_entry(store, resolve_command(entry_id, body)))


@router.post("/pending-entries/expire", response_model=schemas.ExpiryOut, tags=["pending entries"])
def expire_pending_entries(store: Store) -> schemas.ExpiryOut:
    """Expire every hold past its deadline now (the server also does this periodically)."""
    return schemas.ExpiryOut(expired=journal.expire_pending_entries(store))


@router.post("/batches", response_model=schemas.BatchOut, status_code=201, tags=["batches"])
def post_batch(body: schemas.BatchIn, store: Store, response: Response) -> schemas.BatchOut:
    """Post several entries in one database transaction: all of them or none."""
    posted = journal.post_batch(store, batch_commands(body))
    if posted and all(p.replayed for p in posted):
        response.headers[REPLAYED] = "true"
    return schemas.BatchOut(entries=[posted_out(p) for p in posted])


@router.post("/bulk", response_model=schemas.BulkOut, tags=["batches"])
def post_bulk(body: schemas.BatchIn, store: Store) -> schemas.BulkOut:
    """Post each entry on its own; every item gets its outcome and, if rejected, its code."""
    results = journal.post_bulk(store, batch_commands(body))
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
