"""Use cases for instruments and accounts: register, open, freeze, unfreeze, close, look up.

Instruments are the ledger's chart: every reader sees all of them. An account is its party's:
an enterprise sees its own, a city authority its city's parties', and one out of scope is
not found, exactly as an unknown one is.

Registering or opening again with the same definition answers what exists as a replay (a safe
retry); the same code with another definition is a 409.
"""

from __future__ import annotations

from typing import TypeVar

from ledger.domain.access import Actor
from ledger.domain.accounts import Account
from ledger.domain.amounts import Instrument
from ledger.domain.errors import (
    AccountExistsWithDifferentDefinition,
    AccountNotEmpty,
    AccountNotFound,
    InstrumentExistsWithDifferentDefinition,
    InstrumentNotFound,
    LedgerError,
    UnknownInstrument,
)
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.ports import AccountDraft, UnitOfWork, UnitOfWorkFactory
from ledger.services.authority import sees, use_case
from ledger.services.transactions import in_transaction, read

T = TypeVar("T")


@use_case("instruments.register")
def register_instrument(
    uow_factory: UnitOfWorkFactory, actor: Actor, instrument: Instrument
) -> Created[Instrument]:
    """Register an instrument; its code is the client's id (the same again: a replay)."""

    def work(uow: UnitOfWork) -> Created[Instrument]:
        existing = uow.instruments.get_many([instrument.code]).get(instrument.code)
        if existing is None:
            uow.instruments.add(instrument, uow.now())
            return Created(instrument)
        if existing != instrument:
            raise InstrumentExistsWithDifferentDefinition(
                f"instrument {instrument.code} exists as {existing}", field="code"
            )
        return Created(existing, replayed=True)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("instruments.read")
def get_instrument(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> Instrument:
    """One instrument by code (404 if unknown)."""
    found = read(uow_factory, lambda uow: uow.instruments.get_many([code]))
    if code not in found:
        raise InstrumentNotFound(f"no instrument {code!r}", field="code")
    return found[code]


@use_case("instruments.list")
def list_instruments(uow_factory: UnitOfWorkFactory, actor: Actor) -> list[Instrument]:
    """Every registered instrument, by code."""
    return read(uow_factory, lambda uow: uow.instruments.list())


@use_case("accounts.open")
def open_account(
    uow_factory: UnitOfWorkFactory, actor: Actor, draft: AccountDraft
) -> Created[Account]:
    """Open an account; its code is the client's id (the same definition again: a replay)."""

    def work(uow: UnitOfWork) -> Created[Account]:
        if draft.instrument_code is not None and not uow.instruments.get_many(
            [draft.instrument_code]
        ):
            raise UnknownInstrument(f"no instrument {draft.instrument_code!r}", field="instrument")
        existing = uow.accounts.get_many([draft.code]).get(draft.code)
        if existing is None:
            return Created(uow.accounts.add(draft, uow.now()))
        if _definition(existing) != draft:
            raise AccountExistsWithDifferentDefinition(
                f"account {draft.code} exists with another definition", field="code"
            )
        return Created(existing, replayed=True)

    return in_transaction(uow_factory, work, actor=actor)


def _definition(account: Account) -> AccountDraft:
    return AccountDraft(
        account.code,
        account.party,
        account.name,
        account.normal_side,
        account.non_negative,
        account.instrument_code,
    )


@use_case("accounts.read")
def get_account(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> Account:
    """One account by code, with its current flags (404 if unknown or out of scope)."""
    return read(uow_factory, lambda uow: visible_account(uow, actor, code))


def find_account(uow: UnitOfWork, code: str) -> Account:
    """An account by code, whoever asks (for use cases that check visibility themselves)."""
    account = uow.accounts.get_many([code]).get(code)
    if account is None:
        raise account_not_found(code)
    return account


def visible_account(uow: UnitOfWork, actor: Actor, code: str) -> Account:
    """The account `code` if the actor sees it: unknown and out of scope are the same 404."""
    return seen_account(uow, actor, code, uow.accounts.get_many([code]).get(code))


def seen_account(uow: UnitOfWork, actor: Actor, code: str, account: Account | None) -> Account:
    """`account`, read by the caller (from the cache, or locked), if the actor sees it."""
    if account is None or not sees(uow, actor, account.party):
        raise account_not_found(code)
    return account


def account_not_found(code: str) -> LedgerError:
    return AccountNotFound(f"account {code!r} not found", field="code", account=code)


@use_case("accounts.list")
def list_accounts(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str | None,
    cursor: str | None,
    limit: int,
) -> Page[Account]:
    """The accounts the actor sees in opening order, optionally of one party, one page after
    `cursor` (filtered in the query: every page is full, or the last one)."""
    after = decode_cursor("accounts", cursor)
    check_page_size(limit)
    accounts = read(
        uow_factory, lambda uow: uow.accounts.list(party, after, limit, scope=actor.scope)
    )
    return keyset_page("accounts", [(account.id, account) for account in accounts], limit)


@use_case("accounts.freeze")
def freeze_account(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> Account:
    """Freeze: the account accepts no more debits until unfrozen."""
    return _set_frozen(uow_factory, actor, code, frozen=True)


@use_case("accounts.unfreeze")
def unfreeze_account(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> Account:
    """Unfreeze: debits are accepted again."""
    return _set_frozen(uow_factory, actor, code, frozen=False)


def _set_frozen(
    uow_factory: UnitOfWorkFactory, actor: Actor, code: str, *, frozen: bool
) -> Account:
    def work(uow: UnitOfWork) -> Account:
        account = visible_account(uow, actor, code)
        uow.accounts.set_flags(account.id, frozen=frozen, closed=account.closed)
        return find_account(uow, code)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("accounts.close")
def close_account(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> Account:
    """Close an account for good; only an empty one (nothing posted or pending) may close."""

    def work(uow: UnitOfWork) -> Account:
        # Lock the account row (no new balance row can be created for it: the foreign key
        # check waits) and its balances, so no entry lands between the check and the close.
        account = seen_account(uow, actor, code, uow.accounts.lock(code))
        keys = [(account.id, b.instrument_code) for b in uow.journal.balances_of(account.id)]
        _, balances = uow.journal.lock({code: account}, keys)
        for balance in balances.values():
            if balance.posted or balance.debits_pending or balance.credits_pending:
                raise AccountNotEmpty(
                    f"account {code} still holds {balance.instrument_code}", field="code"
                )
        uow.accounts.set_flags(account.id, frozen=account.frozen, closed=True)
        return find_account(uow, code)

    return in_transaction(uow_factory, work, actor=actor)
