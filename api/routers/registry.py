"""Instruments and accounts: register, open, look up, freeze, unfreeze, close."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api import schemas
from api.convert import account_out, instrument_out
from api.dependencies import Store
from api.scoping import View
from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.errors import AccountNotFound
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.pages import next_cursor
from ledger.domain.ports import AccountDraft
from ledger.services import registry

router = APIRouter(prefix="/v1")

AccountCode = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
InstrumentCodePath = Annotated[str, Path(max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


@router.post(
    "/instruments",
    response_model=schemas.InstrumentOut,
    status_code=201,
    tags=["instruments"],
    responses={200: {"model": schemas.InstrumentOut, "description": "Registered already"}},
)
def register_instrument(
    body: schemas.InstrumentIn, store: Store, response: Response
) -> schemas.InstrumentOut:
    """Register an instrument; its scale is fixed for good. Same definition again: 200."""
    instrument, created = registry.register_instrument(
        store, Instrument(body.code, body.name, InstrumentKind(body.kind), body.unit, body.scale)
    )
    response.status_code = 201 if created else 200
    return instrument_out(instrument)


@router.get("/instruments", response_model=list[schemas.InstrumentOut], tags=["instruments"])
def list_instruments(store: Store) -> list[schemas.InstrumentOut]:
    """Every registered instrument."""
    return [instrument_out(i) for i in registry.list_instruments(store)]


@router.get("/instruments/{code}", response_model=schemas.InstrumentOut, tags=["instruments"])
def get_instrument(code: InstrumentCodePath, store: Store) -> schemas.InstrumentOut:
    """One instrument."""
    return instrument_out(registry.get_instrument(store, code))


@router.post(
    "/accounts",
    response_model=schemas.AccountOut,
    status_code=201,
    tags=["accounts"],
    responses={200: {"model": schemas.AccountOut, "description": "Opened already, as defined"}},
)
def open_account(body: schemas.AccountIn, store: Store, response: Response) -> schemas.AccountOut:
    """Open an account; normal side and non-negative flag are fixed. Same definition again: 200."""
    account, created = registry.open_account(
        store,
        AccountDraft(
            body.code,
            body.party,
            body.name,
            Side(body.normal_side),
            body.non_negative,
            body.instrument,
        ),
    )
    response.status_code = 201 if created else 200
    return account_out(account)


@router.get("/accounts", response_model=schemas.AccountPage, tags=["accounts"])
def list_accounts(
    store: Store,
    view: View,
    party: Annotated[str | None, Query(max_length=64)] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> schemas.AccountPage:
    """Accounts in opening order, optionally of one party; follow `next_cursor` for more."""
    if view.excludes(party):
        return schemas.AccountPage(accounts=[], next_cursor=None)
    accounts = registry.list_accounts(store, view.party_filter(party), cursor, limit)
    following = next_cursor("accounts", [account.id for account in accounts], limit)
    visible = [account_out(a) for a in accounts if view.sees(a.party)]
    return schemas.AccountPage(accounts=visible, next_cursor=following)


@router.get("/accounts/{code}", response_model=schemas.AccountOut, tags=["accounts"])
def get_account(code: AccountCode, store: Store, view: View) -> schemas.AccountOut:
    """One account with its current flags."""
    account = registry.get_account(store, code)
    view.require(AccountNotFound, f"account {code!r}", account.party)
    return account_out(account)


@router.post("/accounts/{code}/freeze", response_model=schemas.AccountOut, tags=["accounts"])
def freeze_account(code: AccountCode, store: Store, view: View) -> schemas.AccountOut:
    """Freeze: the account accepts no more debits until unfrozen."""
    view.require_account(code)
    return account_out(registry.set_frozen(store, code, frozen=True))


@router.post("/accounts/{code}/unfreeze", response_model=schemas.AccountOut, tags=["accounts"])
def unfreeze_account(code: AccountCode, store: Store, view: View) -> schemas.AccountOut:
    """Unfreeze: debits are accepted again."""
    view.require_account(code)
    return account_out(registry.set_frozen(store, code, frozen=False))


@router.post("/accounts/{code}/close", response_model=schemas.AccountOut, tags=["accounts"])
def close_account(code: AccountCode, store: Store) -> schemas.AccountOut:
    """Close an empty account for good: it accepts no postings at all."""
    return account_out(registry.close_account(store, code))
