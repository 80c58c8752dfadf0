"""A small registry for the registry's integration tests, and a fingerprint of the whole ledger
(every balance row and every record) to show that a refused request changed nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text

from ledger.domain.access import Actor, Role
from ledger.domain.registry import Entitlement, Party, PartyKind, Trade
from ledger.persistence.store import Store
from ledger.services import parties, rights
from tests.factories import actor, known_city

TRADE_DAY = date(2026, 3, 1)
TABLES = (
    "balances",
    "entries",
    "trades",
    "trade_events",
    "pledges",
    "entitlements",
    "obligations",
    "surrenders",
    "trading_blocks",
)


CITIES = (
    ("Tangshan", True, "Hai River"),
    ("Xingtai", False, "Hai River"),
    ("Chengde", True, "Luan River"),
)


def of(store: Store, party: str) -> Actor:
    """The representative of a party: HEBEI's regulator, a city's authority (TANGSHAN ...), an
    enterprise's (or the exchange's)."""
    if party == "HEBEI":
        return actor(store, Role.REGULATOR, party)
    if party in {city.upper() for city, _, _ in CITIES}:
        return actor(store, Role.CITY_AUTHORITY, party)
    return actor(store, Role.ENTERPRISE, party)


def after_deadline(store: Store, deadline: date = date(2027, 12, 31)) -> None:
    """Move the store's clock to the morning after `deadline` (Beijing), when it may close."""
    moment = datetime(deadline.year, deadline.month, deadline.day, 18, tzinfo=UTC)
    store.clock = lambda: moment


def build_registry(store: Store) -> None:
    """HEBEI and EXCHANGE; Tangshan (may receive, Hai River), Xingtai (may not), Chengde (Luan
    River); E1, E2 in Tangshan, E3 in Xingtai, E4 in Chengde; 100 t/a SO2 and 50 t/a COD
    (2026–2030) for E1 and 10 t/a SO2 for E2; 1,000,000 CNY each."""
    parties.bootstrap(
        store,
        Party("HEBEI", PartyKind.AUTHORITY, "Hebei"),
        Party("EXCHANGE", PartyKind.EXCHANGE, "Exchange"),
        operator="test",
    )
    regulator = of(store, "HEBEI")
    for city, may, basin in CITIES:
        known_city(store, regulator, city, may, basin)
        parties.register_party(
            store, regulator, Party(city.upper(), PartyKind.AUTHORITY, f"{city} city", city=city)
        )
    for code, city in (
        ("E1", "Tangshan"),
        ("E2", "Tangshan"),
        ("E3", "Xingtai"),
        ("E4", "Chengde"),
    ):
        parties.register_party(store, regulator, Party(code, PartyKind.ENTERPRISE, code, city=city))
        rights.deposit_cash(store, regulator, f"{code}-start", code, 100_000_000)
    entitle(store, "E1", "SO2", 100_000)
    entitle(store, "E1", "COD", 50_000)
    entitle(store, "E2", "SO2", 10_000)


def entitle(store: Store, party: str, pollutant: str, units: int, first: int = 2026) -> None:
    rights.confirm_entitlement(
        store,
        of(store, "HEBEI"),
        Entitlement(f"{party}-{pollutant}", party, pollutant, units, first, first + 4),
    )


def so2_trade(trade_id: str = "X1", **changes: Any) -> Trade:
    """E1 sells 10 t/a of SO2 to E2 at 6,000 CNY/t, proposed by E1."""
    values: dict[str, Any] = {
        "id": trade_id,
        "seller": "E1",
        "buyer": "E2",
        "proposer": "E1",
        "family": "SO2",
        "units": 10_000,
        "price_fen": 600_000,
        "first_vintage": None,
        "last_vintage": None,
        "trade_date": TRADE_DAY,
    }
    values.update(changes)
    return Trade(**values)


def fingerprint(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the ledger's balances and the registry's records."""
    with store.engine.connect() as connection:
        return {
            table: [tuple(row) for row in connection.execute(text(f"SELECT * FROM {table}"))]
            for table in TABLES
        }
