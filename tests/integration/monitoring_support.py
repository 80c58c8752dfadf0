"""A registry with two enterprises and their outlets, the actors of the tests, and CSV builders
for the monitoring and emission-report tests."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from ledger.domain.access import Actor, Role
from ledger.domain.cems import FIELDS, ImportRecord, csv_rows
from ledger.domain.monitoring import CHINA_STANDARD_TIME
from ledger.domain.pages import Created
from ledger.domain.permits import Permit
from ledger.domain.registry import Outlet, Party, PartyKind
from ledger.persistence.store import Store
from ledger.services import monitoring, parties, permits
from tests.factories import actor, known_city

MARCH = date(2025, 3, 1)
PERMITS_FROM = date(2024, 1, 1)
HEADER = ",".join(FIELDS) + "\n"


def build_outlets(store: Store) -> None:
    """E1 (Tangshan): SINTER-1, standards SO2 35 / NOx 50 / PM 10 at reference O2 16 %;
    E2 (Handan): UNIT-1, SO2 35 without a reference O2. Both in tax tier 3."""
    registrar = regulator(store)
    parties.register_party(store, registrar, Party("HEBEI", PartyKind.AUTHORITY, "Hebei"))
    for code, city in (("E1", "Tangshan"), ("E2", "Handan")):
        known_city(store, registrar, city, may_receive=True)
        parties.register_party(
            store, registrar, Party(code, PartyKind.ENTERPRISE, code, city=city, tax_tier=3)
        )
    parties.add_outlet(store, registrar, Outlet("E1", "SINTER-1"))
    parties.add_outlet(store, registrar, Outlet("E2", "UNIT-1"))
    set_permit(store, "E1", "SINTER-1", {"SO2": "35", "NOx": "50", "PM": "10"}, o2="16")
    set_permit(store, "E2", "UNIT-1", {"SO2": "35"})


def set_permit(
    store: Store,
    party: str,
    outlet: str,
    standards: dict[str, str],
    o2: str | None = None,
    *,
    since: date = PERMITS_FROM,
    cems_required: bool = False,
    removal: dict[str, str] | None = None,
) -> Permit:
    """The outlet's permit from `since` on, set by the regulator (the tests run without four
    eyes; tests/integration/test_permits.py has them)."""
    permit = Permit(
        party,
        outlet,
        since,
        {p: Decimal(v) for p, v in standards.items()},
        None if o2 is None else Decimal(o2),
        {p: Decimal(v) for p, v in (removal or {}).items()},
        cems_required,
        f"PERMIT-{party}-{outlet}",
    )
    made = permits.set_permit(store, regulator(store), permit)
    assert isinstance(made, Created), made
    return made.record


def network(store: Store) -> Actor:
    """The monitoring network's service account: it delivers CEMS data."""
    return actor(store, Role.CEMS_NETWORK, principal="cems-network")


def regulator(store: Store) -> Actor:
    return actor(store, Role.REGULATOR, principal="reg-1")


def clerk(store: Store, party: str = "E1") -> Actor:
    """An enterprise's clerk ("e1-user" for E1): its scope is its enterprise."""
    return actor(store, Role.ENTERPRISE, party, principal=f"{party.lower()}-user")


def verifier(store: Store) -> Actor:
    return actor(store, Role.VERIFIER, principal="ver-1")


def city_authority(store: Store, city: str) -> Actor:
    """A city authority's principal (registered as the city's authority party)."""
    code = city.upper()
    parties.register_party(
        store, regulator(store), Party(code, PartyKind.AUTHORITY, city, city=city)
    )
    return actor(store, Role.CITY_AUTHORITY, code, principal=f"{code.lower()}-user")


def stamp(day: int, hour: int, month: date = MARCH) -> str:
    start = datetime(month.year, month.month, day, tzinfo=CHINA_STANDARD_TIME)
    return (start + timedelta(hours=hour)).isoformat(timespec="minutes")


def line(  # noqa: PLR0917 - a CSV row
    hour_start: str,
    c: str = "20",
    q: str = "1000000",
    o2: str = "16",
    minutes: str = "60",
    flag: str = "N",
    pollutant: str = "SO2",
    outlet: str = "E1,SINTER-1",
) -> str:
    return f"{outlet},{pollutant},{hour_start},{c},{q},{o2},{minutes},{flag}\n"


def full_month(c: str = "20", month: date = MARCH, pollutant: str = "SO2") -> list[str]:
    """Every hour of the month at one value: a valid month."""
    days = ((month.replace(day=28) + timedelta(days=4)).replace(day=1) - month).days
    return [
        line(stamp(day, hour, month), c=c, pollutant=pollutant)
        for day in range(1, days + 1)
        for hour in range(24)
    ]


def import_lines(
    store: Store, lines: Sequence[str], by: Actor | None = None
) -> Created[ImportRecord]:
    """Import a CSV made of the header and `lines` (as the monitoring network unless `by` is
    given)."""
    content = HEADER + "".join(lines)
    digest = hashlib.sha256(content.encode()).hexdigest()
    return monitoring.import_cems(
        store,
        by or network(store),
        lambda: csv_rows(content.splitlines(keepends=True)),
        digest,
        "test.csv",
    )


def count(store: Store, table: str) -> int:
    with store.engine.connect() as connection:
        return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
