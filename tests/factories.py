"""Small builders for tests: a registry with instruments and accounts ready to post."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ledger.domain.access import (
    Actor,
    FourEyesPolicy,
    Principal,
    PrincipalRecord,
    Role,
    StoredToken,
    hash_secret,
    new_token,
)
from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.entries import PostingRequest
from ledger.domain.ports import AccountDraft, UnitOfWorkFactory
from ledger.domain.registry import City, CityYear
from ledger.services import journal, parties, registry

SO2 = Instrument(
    "SO2-2026", "SO2 emission right, vintage 2026", InstrumentKind.EMISSION_RIGHT, "t", 3
)
CEA = Instrument(
    "CEA-2025", "Carbon emission allowance 2025", InstrumentKind.CARBON_ALLOWANCE, "tCO2", 0
)
CNY = Instrument("CNY", "Chinese yuan", InstrumentKind.CASH, "CNY", 2)
# Four-eyes off, but for what no configuration turns off (enrolment, reopening a period): the
# tests of four-eyes turn it on themselves.
NO_FOUR_EYES = FourEyesPolicy(frozenset())


def actor(
    store: UnitOfWorkFactory,
    role: Role = Role.REGULATOR,
    party: str | None = None,
    *,
    principal: str | None = None,
    person: str | None = None,
) -> Actor:
    """An actor of `role` acting as `party`, its principal registered on first use (straight
    through the repository: how it got a credential is not what these tests are about)."""
    principal_id = principal or f"{role.value}-{party or 'all'}".lower().replace("_", "-")
    with store() as uow:
        record = uow.access.get_principal(principal_id)
        if record is None:
            record = PrincipalRecord(
                principal_id,
                principal_id,
                "user",
                role,
                party,
                True,
                datetime.now(UTC),
                None,
                person or principal_id,
            )
            uow.access.add_principal(record)
            uow.commit()
        city = None if party is None else uow.access.city_of(party)
    return Actor(Principal(record.id, record.name, record.role, record.party, city or None))


def setup_registry(store: UnitOfWorkFactory, *holders: str) -> None:
    """Instruments SO2-2026, CEA-2025 and CNY; an issuance account and non-negative holders,
    registered and opened by a regulator."""
    regulator = actor(store)
    for instrument in (SO2, CEA, CNY):
        registry.register_instrument(store, regulator, instrument)
    registry.open_account(
        store,
        regulator,
        AccountDraft("ISSUANCE", "HEBEI", "Provincial issuance", Side.DEBIT, False, None),
    )
    for code in holders:
        registry.open_account(
            store, regulator, AccountDraft(code, code, f"{code} holdings", Side.CREDIT, True, None)
        )


def transfer(
    entry_id: str,
    source: str,
    destination: str,
    amount: str,
    instrument: str = "SO2-2026",
    *,
    pending: bool = False,
    entry_type: str = "transfer",
) -> journal.PostEntry:
    """An entry moving `amount` from `source` (debited) to `destination` (credited)."""
    return journal.PostEntry(
        entry_id=entry_id,
        entry_type=entry_type,
        postings=(
            PostingRequest(source, instrument, Side.DEBIT, Decimal(amount)),
            PostingRequest(destination, instrument, Side.CREDIT, Decimal(amount)),
        ),
        pending=pending,
    )


def token_for(store: UnitOfWorkFactory, actor_: Actor) -> str:
    """A bearer token for the actor's principal, stored straight through the repository."""
    with store() as uow:
        issued = new_token(actor_.id, uow.now() + timedelta(days=30))
        uow.access.add_token(
            StoredToken(
                issued.id,
                actor_.id,
                "test",
                uow.now(),
                issued.expires_at,
                None,
                hash_secret(issued.secret),
            )
        )
        uow.commit()
    return issued.secret


CITY_YEARS = range(2020, 2031)  # the years the tests' trades and sales fall in


def known_city(
    store: UnitOfWorkFactory,
    regulator: Actor,
    name: str,
    may_receive: bool,
    basin: str = "Hai River",
) -> None:
    """Make a city known, in `basin`, with the same eligibility decided for every test year."""
    parties.set_city(store, regulator, City(name, basin))
    for year in CITY_YEARS:
        parties.decide_city_year(store, regulator, CityYear(name, year, may_receive))
