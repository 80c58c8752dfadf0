"""Use cases for instruments and accounts: register, open, freeze, unfreeze, close, look up.

Registering or opening again with the same definition returns what exists (a safe retry);
the same code with another definition is a 409.
"""

from __future__ import annotations

from ledger.domain.accounts import Account
from ledger.domain.amounts import Instrument
from ledger.domain.errors import (
    AccountExistsWithDifferentDefinition,
    AccountNotEmpty,
    AccountNotFound,
    InstrumentExistsWithDifferentDefinition,
    InstrumentNotFound,
    UnknownInstrument,
)
from ledger.domain.pages import check_page_size, decode_cursor
from ledger.domain.ports import AccountDraft, UnitOfWork, UnitOfWorkFactory
from ledger.services.transactions import in_transaction, read


def register_instrument(
    uow_factory: UnitOfWorkFactory, instrument: Instrument
) -> tuple[Instrument, bool]:
    """Register an instrument; returns it and whether it was created now."""

    def work(uow: UnitOfWork) -> tuple[Instrument, bool]:
        existing = uow.instruments.get_many([instrument.code]).get(instrument.code)
        if existing is None:
            uow.instruments.add(instrument, uow.now())
            return instrument, True
        if existing != instrument:
            raise InstrumentExistsWithDifferentDefinition(
                f"instrument {instrument.code} exists as {existing}", field="code"
            )
        return existing, False

    return in_transaction(uow_factory, work)


def get_instrument(uow_factory: UnitOfWorkFactory, code: str) -> Instrument:
    """One instrument by code (404 if unknown)."""
    found = read(uow_factory, lambda uow: uow.instruments.get_many([code]))
    if code not in found:
        raise InstrumentNotFound(f"no instrument {code!r}", field="code")
    return found[code]


def list_instruments(uow_factory: UnitOfWorkFactory) -> list[Instrument]:
    """Every registered instrument, by code."""
    return read(uow_factory, lambda uow: uow.instruments.list())


def open_account(uow_factory: UnitOfWorkFactory, draft: AccountDraft) -> tuple[Account, bool]:
    """Open an account; returns it and whether it was opened now."""

    def work(uow: UnitOfWork) -> tuple[Account, bool]:
        if draft.instrument_code is not None and not uow.instruments.get_many(
            [draft.instrument_code]
        ):
            raise UnknownInstrument(f"no instrument {draft.instrument_code!r}", field="instrument")
        existing = uow.accounts.get_many([draft.code]).get(draft.code)
        if existing is None:
            return uow.accounts.add(draft, uow.now()), True
        if _definition(existing) != draft:
            raise AccountExistsWithDifferentDefinition(
                f"account {draft.code} exists with another definition", field="code"
            )
        return existing, False

    return in_transaction(uow_factory, work)


def _definition(account: Account) -> AccountDraft:
    return AccountDraft(
        account.code,
        account.party,
        account.name,
        account.normal_side,
        account.non_negative,
        account.instrument_code,
    )


def get_account(uow_factory: UnitOfWorkFactory, code: str) -> Account:
    """One account by code, with its current flags (404 if unknown)."""
    return read(uow_factory, lambda uow: find_account(uow, code))


def find_account(uow: UnitOfWork, code: str) -> Account:
    account = uow.accounts.get_many([code]).get(code)
    if account is None:
        raise AccountNotFound(f"no account {code!r}", field="code", account=code)
    return account


def list_accounts(
    uow_factory: UnitOfWorkFactory, party: str | None, cursor: str | None, limit: int
) -> list[Account]:
    """Accounts in opening order, optionally of one party, one page after `cursor`."""
    after = decode_cursor("accounts", cursor)
    check_page_size(limit)
    return read(uow_factory, lambda uow: uow.accounts.list(party, after, limit))


def set_frozen(uow_factory: UnitOfWorkFactory, code: str, *, frozen: bool) -> Account:
    """Freeze (no more debits) or unfreeze an account."""

    def work(uow: UnitOfWork) -> Account:
        account = find_account(uow, code)
        uow.accounts.set_flags(account.id, frozen=frozen, closed=account.closed)
        return find_account(uow, code)

    return in_transaction(uow_factory, work)


def close_account(uow_factory: UnitOfWorkFactory, code: str) -> Account:
    """Close an account for good; only an empty one (nothing posted or pending) may close."""

    def work(uow: UnitOfWork) -> Account:
        # Lock the account row (no new balance row can be created for it: the foreign key
        # check waits) and its balances, so no entry lands between the check and the close.
        account = uow.accounts.lock(code)
        if account is None:
            raise AccountNotFound(f"no account {code!r}", field="code", account=code)
        keys = [(account.id, b.instrument_code) for b in uow.journal.balances_of(account.id)]
        _, balances = uow.journal.lock({code: account}, keys)
        for balance in balances.values():
            if balance.posted or balance.debits_pending or balance.credits_pending:
                raise AccountNotEmpty(
                    f"account {code} still holds {balance.instrument_code}", field="code"
                )
        uow.accounts.set_flags(account.id, frozen=account.frozen, closed=True)
        return find_account(uow, code)

    return in_transaction(uow_factory, work)
