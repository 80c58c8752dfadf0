"""Use cases for the registry's parties: register one (its chart of accounts opens with it),
outlets, cities, the registry policy; and the helpers the other registry use cases share.

Registering a party or an outlet again with the same definition is a safe retry (answered as a
replay); another definition is a 409. What a scoped actor sees of parties and outlets is its
own party (an enterprise) or its city's (a city authority), filtered in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any, TypeVar

from ledger.domain.access import Actor, AuditRecord
from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.amounts import Instrument, amount_text
from ledger.domain.entries import BalanceKey, PostingRequest
from ledger.domain.errors import (
    BasinMismatch,
    InsufficientBalance,
    RecordExists,
    RecordNotFound,
    RightsPledged,
    UnknownParty,
    VintageExpired,
)
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.ports import AccountDraft, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import (
    AIR_POLLUTANTS,
    CASH,
    CHART,
    PLEDGED,
    WATER_POLLUTANTS,
    City,
    CityYear,
    Outlet,
    Party,
    PartyKind,
    Policy,
    account_code,
    check_receiving_city,
    instrument_for,
)
from ledger.services.authority import party_in_scope, use_case
from ledger.services.transactions import in_transaction, read

EXPIRED_KEY = "expired_instruments"
T = TypeVar("T")


# -- use cases ---------------------------------------------------------------------------------


@use_case("parties.register")
def register_party(uow_factory: UnitOfWorkFactory, actor: Actor, party: Party) -> Created[Party]:
    """Register a party and open its chart of accounts."""

    def work(uow: UnitOfWork) -> Created[Party]:
        existing = uow.registry.get_party(party.code)
        if existing is not None:
            if existing != party:
                raise RecordExists(f"party {party.code} exists, defined otherwise", field="code")
            return Created(existing, replayed=True)
        _register(uow, party)
        return Created(party)

    return in_transaction(uow_factory, work, actor=actor)


def bootstrap(
    uow_factory: UnitOfWorkFactory, province: Party, exchange: Party, operator: str
) -> list[Party]:
    """The operator registers the province and the exchange, those of them not registered yet
    (audited as the operator's): a regulator, who registers every other party, acts as the
    province, so it must exist before the first regulator does. Returns those registered."""

    def work(uow: UnitOfWork) -> list[Party]:
        registered = []
        for party in (province, exchange):
            existing = uow.registry.get_party(party.code)
            if existing is None:
                _register(uow, party)
                registered.append(party)
            elif existing != party:
                raise RecordExists(f"party {party.code} exists, defined otherwise", field="code")
        if registered:
            target = f"{operator}: " + ", ".join(p.code for p in registered)
            action = "operator.bootstrap_parties"
            uow.access.append_audit(
                [AuditRecord(uow.now(), None, None, action, target, "ok", None)]
            )
        return registered

    return in_transaction(uow_factory, work)


def is_registered(uow_factory: UnitOfWorkFactory, code: str) -> bool:
    """Whether a party is registered (the operator's question before bootstrapping)."""
    return read(uow_factory, lambda uow: uow.registry.get_party(code) is not None)


def _register(uow: UnitOfWork, party: Party) -> None:
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


@use_case("parties.read")
def get_party(uow_factory: UnitOfWorkFactory, actor: Actor, code: str) -> Party:
    """One party (404 if unknown or out of the actor's scope)."""
    return read(uow_factory, lambda uow: party_in_scope(uow, actor, code))


@use_case("parties.list")
def list_parties(  # noqa: PLR0917 - query filters
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    kind: PartyKind | None,
    city: str | None,
    cursor: str | None,
    limit: int,
    *,
    name: str | None = None,
) -> Page[Party]:
    """Parties in registration order, optionally of one kind or city, or whose name contains
    `name` (ignoring case), one page after `cursor`."""
    after = decode_cursor("parties", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.registry.list_parties(
            kind, city, after, limit, scope=actor.scope, name=name or None
        ),
    )
    return keyset_page("parties", rows, limit)


@use_case("outlets.add")
def add_outlet(uow_factory: UnitOfWorkFactory, actor: Actor, outlet: Outlet) -> Created[Outlet]:
    """Register an outlet of a party (the party in the path: 404 if not visible)."""

    def work(uow: UnitOfWork) -> Created[Outlet]:
        party_in_scope(uow, actor, outlet.party_code)
        existing = uow.registry.get_outlet(outlet.party_code, outlet.outlet_code)
        if existing is not None:
            if existing != outlet:
                raise RecordExists(
                    f"outlet {outlet.outlet_code} of {outlet.party_code} exists, defined otherwise",
                    field="outlet_code",
                )
            return Created(existing, replayed=True)
        uow.registry.add_outlet(outlet)
        return Created(outlet)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("outlets.list")
def list_outlets(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str | None, cursor: str | None, limit: int
) -> Page[Outlet]:
    after = decode_cursor("outlets", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.registry.list_outlets(party, after, limit, scope=actor.scope),
    )
    return keyset_page("outlets", rows, limit)


@use_case("cities.set")
def set_city(uow_factory: UnitOfWorkFactory, actor: Actor, city: City) -> City:
    """Make a city known to the registry, with its river basin."""

    def work(uow: UnitOfWork) -> City:
        uow.registry.put_city(city)
        return city

    return in_transaction(uow_factory, work, actor=actor)


@use_case("cities.decide")
def decide_city_year(uow_factory: UnitOfWorkFactory, actor: Actor, decision: CityYear) -> CityYear:
    """Decide whether a known city may receive air-pollutant rights in a year (it met the prior
    year's air-quality standard, or not); deciding again replaces the year's decision."""

    def work(uow: UnitOfWork) -> CityYear:
        if uow.registry.get_city(decision.city) is None:
            raise RecordNotFound(f"city {decision.city!r} not found", field="name")
        uow.registry.put_city_year(decision)
        return decision

    return in_transaction(uow_factory, work, actor=actor)


@use_case("cities.read")
def get_city(
    uow_factory: UnitOfWorkFactory, actor: Actor, name: str
) -> tuple[City, list[CityYear]]:
    """A city and its eligibility decisions by year (cities are public registry data)."""
    del actor  # every reader sees every city

    def work(uow: UnitOfWork) -> tuple[City, list[CityYear]]:
        city = uow.registry.get_city(name)
        if city is None:
            raise RecordNotFound(f"city {name!r} not found", field="name")
        return city, uow.registry.city_years(name)

    return read(uow_factory, work)


@use_case("policy.read")
def get_policy(uow_factory: UnitOfWorkFactory, actor: Actor) -> Policy:
    del actor  # the policy is the same for every reader
    return read(uow_factory, policy_of)


@use_case("policy.set")
def set_policy(uow_factory: UnitOfWorkFactory, actor: Actor, policy: Policy) -> Policy:
    """Replace the registry's configurable rules (floors, fee rate, limits, multiplier)."""

    def work(uow: UnitOfWork) -> Policy:
        stored = uow.registry.get_policy() or {}
        uow.registry.put_policy({**stored, **_policy_values(policy)})
        return policy

    return in_transaction(uow_factory, work, actor=actor)


# -- helpers shared by the registry's use cases -----------------------------------------------


def party_of(uow: UnitOfWork, code: str, *, field: str = "party") -> Party:
    party = uow.registry.get_party(code)
    if party is None:
        raise UnknownParty(f"no party {code!r}", field=field)
    return party


@dataclass(frozen=True, slots=True)
class Rules:
    """The registry's policy and the instruments expired since, both kept in its one policies
    row: read together, once, by a use case that checks them after its lock."""

    policy: Policy
    expired: frozenset[str]

    def check_not_expired(self, codes: Iterable[str]) -> None:
        expired = self.expired.intersection(codes)
        if expired:
            raise VintageExpired(f"{sorted(expired)} expired", field="vintage")


def rules_of(uow: UnitOfWork) -> Rules:
    return rules_from(uow.registry.get_policy())


def rules_from(stored: Mapping[str, object] | None) -> Rules:
    """The rules of a policy row read by the caller (None: no row yet)."""
    stored = stored or {}
    return Rules(_policy(stored), frozenset(_expired(stored)))


def policy_of(uow: UnitOfWork) -> Policy:
    return _policy(uow.registry.get_policy() or {})


def _policy(stored: Mapping[str, object]) -> Policy:
    values: dict[str, Any] = {k: v for k, v in stored.items() if k != EXPIRED_KEY}
    for key in ("fee_rate", "ccer_cap", "penalty_multiplier"):
        if key in values:
            values[key] = Decimal(str(values[key]))
    return Policy(**values)


def _policy_values(policy: Policy) -> dict[str, object]:
    return {k: str(v) if isinstance(v, Decimal) else v for k, v in asdict(policy).items()}


def expired_instruments(uow: UnitOfWork) -> set[str]:
    return _expired(uow.registry.get_policy() or {})


def _expired(stored: Mapping[str, object]) -> set[str]:
    value = stored.get(EXPIRED_KEY, [])
    return set(value) if isinstance(value, list) else set()


def mark_expired(uow: UnitOfWork, instrument_code: str) -> None:
    stored = uow.registry.get_policy() or {}
    expired = sorted(_expired(stored) | {instrument_code})
    uow.registry.put_policy({**stored, EXPIRED_KEY: expired})


def check_may_receive(  # noqa: PLR0917 - the transfer's parts
    uow: UnitOfWork,
    family: str,
    giver: Party,
    receiver: Party,
    year: int,
    policy: Policy,
    *,
    found: tuple[City | None, CityYear | None] | None = None,
) -> None:
    """Rules §7.11 on every path by which an enterprise receives rights (a trade, a reserve
    sale): see `registry.check_receiving_city`. The policy's `check_city_eligibility` turns it
    off. `found`: the receiver's city and its decision for `year`, if the caller read them."""
    if not policy.check_city_eligibility or family not in AIR_POLLUTANTS:
        return
    if receiver.city and receiver.city == giver.city:
        return  # within one city: no read needed
    if found is None:
        found = uow.registry.city_in_year(receiver.city, year) if receiver.city else (None, None)
    check_receiving_city(family, giver, receiver, year, *found)


def check_same_basin(
    uow: UnitOfWork, family: str, giver: Party, receiver: Party, policy: Policy
) -> None:
    """Rules §4: water rights pass only within one river basin (a trade, a holder's
    adjustment); a party in a city of no known basin beside one in a known basin is refused.
    The policy's `check_basin` turns it off."""
    if not policy.check_basin or family not in WATER_POLLUTANTS:
        return
    basins = [uow.registry.get_city(p.city) if p.city else None for p in (giver, receiver)]
    names = {city.basin for city in basins if city is not None and city.basin}
    if len(names) > 1 or (len(names) == 1 and any(c is None or not c.basin for c in basins)):
        raise BasinMismatch(
            f"{giver.code} and {receiver.code} are not in one river basin", field="buyer"
        )


def check_not_expired(uow: UnitOfWork, codes: Iterable[str]) -> None:
    rules_of(uow).check_not_expired(codes)


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


def quantity(uow: UnitOfWork, instrument_code: str, units: int) -> str:
    """Units of an instrument as an error names them: "12.500 t of SO2-2026", "3.00 CNY"."""
    return amount_text(uow.instruments.get_many([instrument_code]))(instrument_code, units)


def move(
    source: str, destination: str, instrument_code: str, units: int, scale: int
) -> list[PostingRequest]:
    """Two lines: `units` leave `source` (debit) and reach `destination` (credit)."""
    value = amount(scale, units)
    return [
        PostingRequest(source, instrument_code, Side.DEBIT, value),
        PostingRequest(destination, instrument_code, Side.CREDIT, value),
    ]


Locked = Mapping[tuple[str, str], Balance]  # (account code, instrument) → its locked balance


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
    uow: UnitOfWork,
    party: str,
    source: str,
    instruments: Sequence[str],
    units: int,
    *,
    locked: Locked | None = None,
    disclose: bool = True,
) -> None:
    """After the lock: `source` can give `units` of each instrument; pledged rights cannot.

    A shortfall covered by the party's pledged rights is `rights_pledged`, else
    `insufficient_balance` (the booking would refuse it too, with less to say). `locked`: the
    balances the caller holds already (of `source` and the party's pledged account in each
    instrument), else they are locked here. `disclose` false (the one asking is not the party:
    a trade's counterparty) names no amount the party holds.
    """
    pledged = account_code(party, PLEDGED)
    if locked is None:
        pairs = [(source, code) for code in instruments]
        if uow.accounts.cached([pledged]):
            pairs += [(pledged, code) for code in instruments]
        locked = lock_balances(uow, pairs)[1]
    for code in instruments:
        available = locked[(source, code)].available
        if available >= units:
            continue
        in_pledge = locked.get((pledged, code))
        if in_pledge is not None and in_pledge.posted > 0:
            detail = (
                f"{party} holds only {quantity(uow, code, available)} unpledged; "
                f"{quantity(uow, code, in_pledge.posted)} are pledged"
                if disclose
                else f"{party} cannot deliver the {quantity(uow, code, units)} asked for: some "
                "of its rights are pledged"
            )
            raise RightsPledged(detail, field="quantity")
        if not disclose:
            raise InsufficientBalance(
                f"{party} cannot deliver the {quantity(uow, code, units)} asked for",
                field="quantity",
            )
        raise InsufficientBalance(
            f"account {source} holds only {quantity(uow, code, available)}",
            field="quantity",
            account=source,
            instrument=code,
        )
