"""Instruments and accounts: register, open, look up, freeze, unfreeze, close. Translation
only: authority, scope and every rule live in `ledger.services.registry`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response

from api import schemas
from api.answers import mark_replayed
from api.auth import Acts
from api.convert import account_out, instrument_out
from api.dependencies import Cursor, Filter, Store
from api.routing import Routes
from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.ports import AccountDraft
from ledger.services import registry

router = Routes(prefix="/v1")

AccountCode = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
InstrumentCodePath = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


@router.post(
    "/instruments", response_model=schemas.InstrumentOut, status_code=201, tags=["instruments"]
)
def register_instrument(
    body: schemas.InstrumentIn, store: Store, actor: Acts, response: Response
) -> schemas.InstrumentOut:
    """Register an instrument; its scale is fixed for good. The same definition again answers
    it with `Idempotent-Replayed: true`; another under the same code is a 409."""
    made = registry.register_instrument(
        store,
        actor,
        Instrument(body.code, body.name, InstrumentKind(body.kind), body.unit, body.scale),
    )
    mark_replayed(response, made.replayed)
    return instrument_out(made.record)


@router.get("/instruments", response_model=list[schemas.InstrumentOut], tags=["instruments"])
def list_instruments(store: Store, actor: Acts) -> list[schemas.InstrumentOut]:
    """Every registered instrument."""
    return [instrument_out(i) for i in registry.list_instruments(store, actor)]


@router.get("/instruments/{code}", response_model=schemas.InstrumentOut, tags=["instruments"])
def get_instrument(code: InstrumentCodePath, store: Store, actor: Acts) -> schemas.InstrumentOut:
    """One instrument."""
    return instrument_out(registry.get_instrument(store, actor, code))


@router.post("/accounts", response_model=schemas.AccountOut, status_code=201, tags=["accounts"])
def open_account(
    body: schemas.AccountIn, store: Store, actor: Acts, response: Response
) -> schemas.AccountOut:
    """Open an account; normal side and non-negative flag are fixed. The same definition again
    answers it with `Idempotent-Replayed: true`; another under the same code is a 409."""
    made = registry.open_account(
        store,
        actor,
        AccountDraft(
            body.code,
            body.party,
            body.name,
            Side(body.normal_side),
            body.non_negative,
            body.instrument,
        ),
    )
    mark_replayed(response, made.replayed)
    return account_out(made.record)


@router.get("/accounts", response_model=schemas.AccountPage, tags=["accounts"])
def list_accounts(
    store: Store,
    actor: Acts,
    party: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> schemas.AccountPage:
    """The accounts you see in opening order, optionally of one party; follow `next_cursor`."""
    page = registry.list_accounts(store, actor, party, cursor, limit)
    return schemas.AccountPage(
        accounts=[account_out(a) for a in page.items], next_cursor=page.next_cursor
    )


@router.get("/accounts/{code}", response_model=schemas.AccountOut, tags=["accounts"])
def get_account(code: AccountCode, store: Store, actor: Acts) -> schemas.AccountOut:
    """One account with its current flags."""
    return account_out(registry.get_account(store, actor, code))


@router.post("/accounts/{code}/freeze", response_model=schemas.AccountOut, tags=["accounts"])
def freeze_account(code: AccountCode, store: Store, actor: Acts) -> schemas.AccountOut:
    """Freeze: the account accepts no more debits until unfrozen."""
    return account_out(registry.freeze_account(store, actor, code))


@router.post("/accounts/{code}/unfreeze", response_model=schemas.AccountOut, tags=["accounts"])
def unfreeze_account(code: AccountCode, store: Store, actor: Acts) -> schemas.AccountOut:
    """Unfreeze: debits are accepted again."""
    return account_out(registry.unfreeze_account(store, actor, code))


@router.post("/accounts/{code}/close", response_model=schemas.AccountOut, tags=["accounts"])
def close_account(code: AccountCode, store: Store, actor: Acts) -> schemas.AccountOut:
    """Close an empty account for good: it accepts no postings at all."""
    return account_out(registry.close_account(store, actor, code))
