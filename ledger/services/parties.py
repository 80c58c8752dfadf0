"""Use cases for the registry's parties: register one (its chart of accounts opens with it),
outlets, cities, the registry policy; and the helpers the other registry use cases share.

Registering the same party again with the same definition is a safe retry; another definition
is a 409.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from decimal import Decimal
from typing import Any

from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.amounts import Instrument
from ledger.domain.entries import BalanceKey, PostingRequest
from ledger.domain.errors import (
    InsufficientBalance,
    PartyNotFound,
    RecordExists,
    RightsPledged,
    UnknownParty,
    VintageExpired,
)
from ledger.domain.pages import check_page_size, decode_cursor
from ledger.domain.ports import AccountDraft, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import (
    CASH,
    CHART,
    PLEDGED,
    City,
    Outlet,
    Party,
    PartyKind,
    Policy,
    account_code,
    instrument_for,
)
from ledger.services.transactions import in_transaction, read

EXPIRED_KEY = "expired_instruments"


# -- use cases ---------------------------------------------------------------------------------


def register_party(uow_factory: UnitOfWorkFactory, party: Party) -> tuple[Party, bool]:
    """Register a party and open its chart of accounts; returns it and whether it is new."""

    def work(uow: UnitOfWork) -> tuple[Party, bool]:
        existing = uow.registry.get_party(party.code)
        if existing is not None:
            if existing != party:
                raise RecordExists(f"party {party.code} exists as {existing}", field="code")
            return existing, False
        now = uow.now()
        uow.registry.add_party(party, now)
        ensure_instruments(uow, CASH, [None])
        for line in CHART[party.kind]:
            draft = AccountDraft(
                account_code(party.code, line),
                party.code,
                f"{party.name}: {line.name}",
                line.normal_side,
                line.non_negative,
                None,
            )
            uow.accounts.add(draft, now)
        return party, True

    return in_transaction(uow_factory, work)


def get_party(uow_factory: UnitOfWorkFactory, code: str) -> Party:
    """One party (404 if unknown)."""
    found = read(uow_factory, lambda uow: uow.registry.get_party(code))
    if found is None:
        raise PartyNotFound(f"no party {code!r}", field="code")
    return found


def list_parties(
    uow_factory: UnitOfWorkFactory,
    kind: PartyKind | None,
    city: str | None,
    cursor: str | None,
    limit: int,
) -> list[tuple[int, Party]]:
    """Parties in registration order, optionally of one kind or city, one page after `cursor`."""
    after = decode_cursor("parties", cursor)
    check_page_size(limit)
    return read(uow_factory, lambda uow: uow.registry.list_parties(kind, city, after, limit))


def add_outlet(uow_factory: UnitOfWorkFactory, outlet: Outlet) -> Outlet:
    """Register an outlet of an enterprise."""

    def work(uow: UnitOfWork) -> Outlet:
        party_of(uow, outlet.party_code, field="party")
        uow.registry.add_outlet(outlet)
        return outlet

    return in_transaction(uow_factory, work)


def list_outlets(
    uow_factory: UnitOfWorkFactory, party: str | None, cursor: str | None, limit: int
) -> list[tuple[int, Outlet]]:
    after = decode_cursor("outlets", cursor)
    check_page_size(limit)
    return read(uow_factory, lambda uow: uow.registry.list_outlets(party, after, limit))


def set_city(uow_factory: UnitOfWorkFactory, city: City) -> City:
    """Set a city's eligibility to receive air-pollutant rights and its river basin."""

    def work(uow: UnitOfWork) -> City:
        uow.registry.put_city(city)
        return city

    return in_transaction(uow_factory, work)


def get_policy(uow_factory: UnitOfWorkFactory) -> Policy:
    return read(uow_factory, policy_of)


def set_policy(uow_factory: UnitOfWorkFactory, policy: Policy) -> Policy:
    """Replace the registry's configurable rules (floors, fee rate, limits, multiplier)."""

    def work(uow: UnitOfWork) -> Policy:
        stored = uow.registry.get_policy() or {}
        uow.registry.put_policy({**stored, **_policy_values(policy)})
        return policy

    return in_transaction(uow_factory, work)


# -- helpers shared by the registry's use cases -----------------------------------------------


def party_of(uow: UnitOfWork, code: str, *, field: str = "party") -> Party:
    party = uow.registry.get_party(code)
    if party is None:
        raise UnknownParty(f"no party {code!r}", field=field)
    return party


def policy_of(uow: UnitOfWork) -> Policy:
    stored = uow.registry.get_policy() or {}
    values: dict[str, Any] = {k: v for k, v in stored.items() if k != EXPIRED_KEY}
    for key in ("fee_rate", "ccer_cap", "penalty_multiplier"):
        if key in values:
            values[key] = Decimal(str(values[key]))
    return Policy(**values)


def _policy_values(policy: Policy) -> dict[str, object]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(policy).items()}


def expired_instruments(uow: UnitOfWork) -> set[str]:
    stored = uow.registry.get_policy() or {}
    value = stored.get(EXPIRED_KEY, [])
    return set(value) if isinstance(value, list) else set()


def mark_expired(uow: UnitOfWork, instrument_code: str) -> None:
    stored = uow.registry.get_policy() or {}
    expired = sorted(expired_instruments(uow) | {instrument_code})
    uow.registry.put_policy({**stored, EXPIRED_KEY: expired})


def check_not_expired(uow: UnitOfWork, codes: Iterable[str]) -> None:
    expired = expired_instruments(uow).intersection(codes)
    if expired:
        raise VintageExpired(f"{sorted(expired)} expired", field="vintage")


def ensure_instruments(uow: UnitOfWork, family: str, vintages: Iterable[int | None]) -> list[str]:
    """Register the instruments of a family's vintages that are not registered yet."""
    wanted = [instrument_for(family, vintage) for vintage in vintages]
    known = uow.instruments.get_many(i.code for i in wanted)
    for instrument in wanted:
        if instrument.code not in known:
            uow.instruments.add(instrument, uow.now())
    return [i.code for i in wanted]


def amount(instrument: Instrument | int, units: int) -> Decimal:
    """Units of an instrument (or of a scale) as the exact decimal amount."""
    scale = instrument if isinstance(instrument, int) else instrument.scale
    return Decimal(units).scaleb(-scale)


def move(
    source: str, destination: str, instrument_code: str, units: int, scale: int
) -> list[PostingRequest]:
    """Two lines: `units` leave `source` (debit) and reach `destination` (credit)."""
    value = amount(scale, units)
    return [
        PostingRequest(source, instrument_code, Side.DEBIT, value),
        PostingRequest(destination, instrument_code, Side.CREDIT, value),
    ]


def lock_balances(
    uow: UnitOfWork, pairs: Sequence[tuple[str, str]]
) -> tuple[dict[str, Account], dict[tuple[str, str], Balance]]:
    """Lock the balances of (account code, instrument) pairs; keyed back by those pairs."""
    accounts = uow.accounts.cached(code for code, _ in pairs)
    keys: dict[BalanceKey, tuple[str, str]] = {
        (accounts[code].id, instrument): (code, instrument) for code, instrument in pairs
    }
    locked, balances = uow.journal.lock(accounts, keys)
    return locked, {keys[key]: balance for key, balance in balances.items()}


def check_can_give(
    uow: UnitOfWork, party: str, source: str, instruments: Sequence[str], units: int
) -> None:
    """After the lock: `source` can give `units` of each instrument; pledged rights cannot.

    A shortfall covered by the party's pledged rights is `rights_pledged`, else
    `insufficient_balance` (the booking would refuse it too, with less to say).
    """
    pledged = account_code(party, PLEDGED)
    has_pledged = uow.registry.get_party(party) is not None and bool(uow.accounts.cached([pledged]))
    pairs = [(source, code) for code in instruments]
    if has_pledged:
        pairs += [(pledged, code) for code in instruments]
    _, balances = lock_balances(uow, pairs)
    for code in instruments:
        available = balances[(source, code)].available
        if available >= units:
            continue
        if has_pledged and balances[(pledged, code)].posted > 0:
            raise RightsPledged(
                f"{party} holds only {available} units of {code} unpledged; "
                f"{balances[(pledged, code)].posted} are pledged",
                field="quantity",
            )
        raise InsufficientBalance(
            f"account {source} holds only {available} units of {code}",
            field="quantity",
            account=source,
            instrument=code,
        )
