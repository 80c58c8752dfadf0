"""`emissions-ledger demo`: the synthetic demo registry (ledger/demo_data/*.csv), loaded
through the real use cases.

Every step is a use case performed by a demo principal, with the authority, scope, four-eyes
and audit of any other caller: two administrators enrol each principal (each sees one half of
its code), a regulator registers and allocates (a second regulator approves the allocations
above the four-eyes threshold), the sellers' representatives (enterprises, the exchange,
Tangshan's authority lists its reserve's rights) propose trades and the buyers' accept, the
province records.

`load_reference_data` registers parties, outlets, cities, entitlements, the pledge, carbon
positions and cash deposits; `replay_trades` runs T1–T6 through the trade workflow (propose by
the seller → accept by the buyer → record by the province; a rule violation at acceptance makes
the province refuse the trade with the violation's code); `surrender_at_deadlines` has every
enterprise surrender its verified emissions on its obligation's deadline. Every record is loaded
on its own business date (rules §7.11): the trades on their trade dates, the reference data on
`OPENING_DAY`, the surrenders on the deadline. Every id is deterministic, so the loader refuses
nothing on an already-loaded database only if `is_loaded` is checked first.
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from typing import Any

from ledger.domain.access import Actor, Pending, RequestState, Role
from ledger.domain.errors import LedgerError
from ledger.domain.permits import Permit
from ledger.domain.ports import UnitOfWorkFactory
from ledger.domain.registry import (
    CARBON,
    PROVINCE,
    City,
    CityYear,
    Entitlement,
    Listing,
    ListingMode,
    Obligation,
    Outlet,
    Party,
    PartyKind,
    Pledge,
    Trade,
    TradeState,
    scale_of,
)
from ledger.domain.tax_tables import Pollutant
from ledger.entrypoints.common import opened_store
from ledger.persistence import migrate
from ledger.services import (
    access,
    approvals,
    compliance,
    listings,
    parties,
    permits,
    rights,
    trading,
)
from ledger.settings import Settings

FIRST_VINTAGE = 2025  # the demo's entitlements are confirmed for 2025–2029
# The business date of the reference data (entitlements, carbon allocations, deposits): the
# dataset gives none; the first day of the first vintage, before every trade and pledge.
OPENING_DAY = date(FIRST_VINTAGE, 1, 1)
CITIES = ("Tangshan", "Handan", "Xingtai", "Shijiazhuang", "Langfang")
BASIN = "Hai River"  # every demo city lies in the Hai River basin
RESERVE_STOCK = {"TANGSHAN": {"SO2": "100", "NOx": "200"}}  # t/a in the city's reserve
EXCHANGE_CEA_2024 = 100_000  # tCO2 consigned to the exchange for sale (T6)
DEPOSIT_FEN = 500_000_000  # 5,000,000.00 CNY paid in by every enterprise
PERMITS_FROM = date(2018, 1, 1)  # the demo's permits: in force since the tax began
REFERENCE_O2 = {"steel": "16", "thermal_power": "6", "cement": "10"}
POLLUTANT_NAMES = {"SO2": "SO2", "NOx": "NOx", "CEA": CARBON}
EXCHANGE = "EXCHANGE"
ENTERPRISES = tuple(f"E{number:02}" for number in range(1, 9))  # enterprises.csv


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `demo` on the CLI's parser."""
    commands.add_parser(
        "demo", help="load the synthetic demo registry (parties, rights, trades T1–T6) if absent"
    ).set_defaults(run=run_demo)


def run_demo(settings: Settings, _: argparse.Namespace) -> int:
    """Migrate, then load the demo registry unless a registry is there already."""
    migrate.upgrade(settings.database_url)
    with opened_store(settings) as store:
        if is_loaded(store):
            print("a registry is already loaded; the demo was not loaded again")
            return 0
        loaded = load(store)
    print("demo registry loaded; trades:")
    print(summary(loaded.outcomes))
    print("demo principals (tokens are shown once; send `Authorization: Bearer <token>`):")
    for principal_id, role, token in loaded.tokens:
        print(f"  {principal_id:18} {role.value:15} {token}")
    print("web console: open http://127.0.0.1:8000/ and sign in with one of these tokens")
    return 0


def rows(name: str) -> list[dict[str, str]]:
    """The rows of one demo CSV file shipped inside the package."""
    text = resources.files("ledger").joinpath("demo_data", name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


def units(quantity: str, scale: int) -> int:
    return int(Decimal(quantity).scaleb(scale))


def is_loaded(store: UnitOfWorkFactory) -> bool:
    """Whether the demo's province is registered already."""
    return parties.is_registered(store, PROVINCE)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What loading the demo did: each trade's outcome, and the demo principals' tokens."""

    outcomes: dict[str, str]
    tokens: list[tuple[str, Role, str]]


def load(store: UnitOfWorkFactory) -> Loaded:
    """The whole demo: reference data, the trades, then the surrenders at the deadline."""
    cast = load_reference_data(store)
    outcomes = replay_trades(store, cast)
    surrender_at_deadlines(store, cast)
    return Loaded(outcomes, cast.tokens)


def load_reference_data(store: UnitOfWorkFactory) -> Cast:
    """Parties, principals, rights, outlets, pledges, carbon; the cast that acted. The operator
    registers the province and the exchange, whose principals the administrators enrol; the
    regulator registers every other party, whose principals are enrolled then."""
    parties.bootstrap(
        store,
        Party(PROVINCE, PartyKind.AUTHORITY, "Hebei Province"),
        Party(EXCHANGE, PartyKind.EXCHANGE, "DEMO Hebei Exchange"),
        operator="demo",
    )
    cast = enrol_cast(store)
    cast.enrol(store, [p for p in DEMO_PRINCIPALS if p[2] in (None, PROVINCE, EXCHANGE)])
    _parties(store, cast)
    cast.enrol(store, [p for p in DEMO_PRINCIPALS if p[2] not in (None, PROVINCE, EXCHANGE)])
    for city in CITIES:
        for pollutant, quantity in RESERVE_STOCK.get(city.upper(), {}).items():
            _entitle(store, cast, city.upper(), pollutant, quantity)
    for row in rows("enterprises.csv"):
        _enterprise(store, cast, row)
    for row in rows("outlets.csv"):
        _outlet(store, cast, row)
    for row in rows("encumbrances.csv"):
        _pledge(store, cast, row)
    _carbon(store, cast)
    return cast


def _parties(store: UnitOfWorkFactory, cast: Cast) -> None:
    """The cities' authorities and the enterprises, registered by the regulator."""
    regulator = cast.regulator
    for city in CITIES:
        authority = Party(city.upper(), PartyKind.AUTHORITY, f"{city} city", city=city)
        parties.register_party(store, regulator, authority)
        parties.set_city(store, regulator, City(city, BASIN))
    for row in rows("cities.csv"):  # whether each city may receive air rights, year by year
        may = row["may_receive_air_rights"] == "yes"
        decision = CityYear(row["city"], int(row["year"]), may, row["note"])
        parties.decide_city_year(store, regulator, decision)
    for row in rows("enterprises.csv"):
        city, _, county = row["city_county"].partition("/")
        code = row["enterprise_id"]
        party = Party(
            code,
            PartyKind.ENTERPRISE,
            row["name"],
            credit_code=f"DEMO91130000{code}XX",
            city=city,
            county=county,
            tax_tier=int(row["tax_tier"]),
            industry=row["industry"],
        )
        parties.register_party(store, regulator, party)


def _entitle(
    store: UnitOfWorkFactory, cast: Cast, party: str, pollutant: str, quantity: str
) -> None:
    entitlement = Entitlement(
        f"{party}-{pollutant}-{FIRST_VINTAGE}",
        party,
        pollutant,
        units(quantity, 3),
        FIRST_VINTAGE,
        FIRST_VINTAGE + 4,
        permit=f"PERMIT-{party}",
    )
    confirmed = rights.confirm_entitlement(store, cast.regulator, entitlement, OPENING_DAY)
    cast.approved(store, confirmed)


def _enterprise(store: UnitOfWorkFactory, cast: Cast, row: dict[str, str]) -> None:
    code = row["enterprise_id"]
    _entitle(store, cast, code, "SO2", row["so2_entitlement_t_per_year"])
    _entitle(store, cast, code, "NOx", row["nox_entitlement_t_per_year"])
    rights.deposit_cash(store, cast.regulator, f"{code}-initial", code, DEPOSIT_FEN, OPENING_DAY)


def _outlet(store: UnitOfWorkFactory, cast: Cast, row: dict[str, str]) -> None:
    """The outlet, and its permit (set by one regulator, approved by the other)."""
    measured = (("PM", "pm"), ("SO2", "so2"), ("NOx", "nox"))
    industry = parties.get_party(store, cast.regulator, row["enterprise_id"]).industry
    o2 = REFERENCE_O2.get(industry)
    if industry == "steel" and not row["outlet_id"].startswith("SINTER"):
        o2 = None  # steel's other sources are corrected at the measured O2
    parties.add_outlet(store, cast.regulator, Outlet(row["enterprise_id"], row["outlet_id"]))
    permit = Permit(
        party=row["enterprise_id"],
        outlet=row["outlet_id"],
        effective_from=PERMITS_FROM,
        standards={p: Decimal(row[f"standard_{key}_mg_m3"]) for p, key in measured},
        reference_o2=None if o2 is None else Decimal(o2),
        removal_efficiencies={p: Decimal(row[f"removal_{key}"]) for p, key in measured},
        cems_required=row["cems_required"] == "1",
        reference=f"DEMO-PERMIT-{row['enterprise_id']}-{row['outlet_id']}",
        particulate=Pollutant(row["particulate_tax_category"]),
    )
    cast.approved(store, permits.set_permit(store, cast.regulator, permit))


def _pledge(store: UnitOfWorkFactory, cast: Cast, row: dict[str, str]) -> None:
    first, last = int(row["from"][:4]), int(row["until"][:4])
    rights.pledge(
        store,
        cast.regulator,
        Pledge(
            f"{row['enterprise_id']}-{row['pollutant']}-{first}",
            row["enterprise_id"],
            row["pollutant"],
            units(row["quantity_t_per_year"], 3),
            row["holder"],
            first,
            last,
        ),
        date.fromisoformat(row["from"]),
    )


def _carbon(store: UnitOfWorkFactory, cast: Cast) -> None:
    rights.issue_carbon(
        store,
        cast.regulator,
        "EXCHANGE-CEA-2024",
        party_code=EXCHANGE,
        family=CARBON,
        year=2024,
        units=EXCHANGE_CEA_2024,
        business_date=OPENING_DAY,
    )
    for row in rows("carbon.csv"):
        code, year = row["enterprise_id"], int(row["compliance_year"])
        rights.issue_carbon(
            store,
            cast.regulator,
            f"{code}-CEA-{year}",
            party_code=code,
            family=CARBON,
            year=year,
            units=int(row["free_allocation_tco2"]),
            business_date=OPENING_DAY,
        )
        compliance.set_obligation(
            store,
            cast.regulator,
            Obligation(
                f"{code}-{year}",
                code,
                year,
                int(row["verified_emissions_tco2"]),
                date(year + 1, 12, 31),
            ),
        )


@dataclass(frozen=True, slots=True)
class TradeRow:
    """One line of trades.csv as a proposal."""

    trade: Trade
    vintage: int | None


def trade_rows() -> list[TradeRow]:
    found = []
    for row in rows("trades.csv"):
        family = POLLUTANT_NAMES[row["pollutant"]]
        seller = "TANGSHAN" if row["seller"] == "RESERVE-TANGSHAN" else row["seller"]
        trade_date = date.fromisoformat(row["trade_date"])
        trade = Trade(
            id=row["trade_id"],
            seller=seller,
            buyer=row["buyer"],
            proposer=seller,
            family=family,
            units=units(row["quantity_t_per_year"], scale_of(family)),
            price_fen=units(row["price_cny_per_t"], 2),
            first_vintage=None,
            last_vintage=None,
            trade_date=trade_date,
            mode=row["mode"],
        )
        # A carbon purchase is of the compliance year the buyer is short in.
        found.append(TradeRow(trade, 2024 if family == CARBON else None))
    return found


def replay_trades(store: UnitOfWorkFactory, cast: Cast) -> dict[str, str]:
    """Every demo trade through the workflow; its final state, or `refused: <code>`."""
    outcomes = {}
    for row in trade_rows():
        outcomes[row.trade.id] = replay_trade(store, cast, row)
    return outcomes


def replay_trade(store: UnitOfWorkFactory, cast: Cast, row: TradeRow) -> str:
    """The seller's representative proposes, the buyer's accepts, the province's regulator
    records (or refuses, with the code of the rule the acceptance broke). A sale from a city's
    reserve is a fixed-price listing instead, which the buyer accepts."""
    trade = row.trade
    if trade.seller in {city.upper() for city in CITIES}:
        return replay_listing(store, cast, trade)
    trading.propose(store, cast.of(trade.seller), trade, vintage=row.vintage)
    try:
        trading.accept(store, cast.of(trade.buyer), trade.id)
    except LedgerError as error:
        trading.refuse(store, cast.regulator, trade.id, error.code)
        return f"{TradeState.REFUSED.value}: {error.code}"
    return trading.record(store, cast.regulator, trade.id).state.value


def surrender_at_deadlines(store: UnitOfWorkFactory, cast: Cast) -> None:
    """Every enterprise of carbon.csv surrenders its verified emissions (oldest CEA first) on
    its obligation's deadline, by its own representative. E07 can only because T6 bought its
    shortfall on that same day."""
    for row in rows("carbon.csv"):
        code, year = row["enterprise_id"], int(row["compliance_year"])
        obligation = compliance.status(store, cast.regulator, f"{code}-{year}").obligation
        request = compliance.SurrenderRequest(
            f"{code}-{year}",
            obligation.id,
            obligation.verified_units,
            business_date=obligation.deadline,
        )
        compliance.surrender(store, cast.of(code), request)


def replay_listing(store: UnitOfWorkFactory, cast: Cast, trade: Trade) -> str:
    """The city's authority lists its reserve's rights at the trade's price, the buyer accepts
    the listing (its sale is the trade of the same id), the province records; a listing whose
    acceptance a rule refuses is withdrawn, with the rule's code as the outcome."""
    seller = cast.of(trade.seller)
    listing = Listing(
        trade.id,
        trade.seller,
        trade.family,
        trade.units,
        trade.price_fen,
        ListingMode.FIXED_PRICE,
        trade.trade_date,
    )
    listings.create_listing(store, seller, listing)
    try:
        listings.accept_listing(store, cast.of(trade.buyer), trade.id)
    except LedgerError as error:
        listings.close_listing(store, seller, trade.id)
        return f"{TradeState.REFUSED.value}: {error.code}"
    return trading.record(store, cast.regulator, trade.id).state.value


def summary(outcomes: dict[str, Any]) -> str:
    return "\n".join(f"{trade_id}: {outcome}" for trade_id, outcome in outcomes.items())


# The demo's principals: two administrators (who enrol everyone else, each seeing half of each
# code), two provincial regulators (four-eyes), Tangshan's authority, one representative per
# enterprise and one for the exchange, a verifier, a finance officer and the monitoring
# network's service account (which alone delivers CEMS data).
ADMINISTRATORS = ("demo-admin", "demo-admin-2")
DEMO_PRINCIPALS: tuple[tuple[str, Role, str | None], ...] = (
    ("demo-regulator", Role.REGULATOR, PROVINCE),
    ("demo-regulator-2", Role.REGULATOR, PROVINCE),
    ("demo-tangshan", Role.CITY_AUTHORITY, "TANGSHAN"),
    *((f"demo-{code.lower()}", Role.ENTERPRISE, code) for code in ENTERPRISES),
    ("demo-exchange", Role.ENTERPRISE, EXCHANGE),
    ("demo-verifier", Role.VERIFIER, None),
    ("demo-finance", Role.FINANCE, None),
    ("demo-cems-network", Role.CEMS_NETWORK, None),
)


@dataclass
class Cast:
    """The demo principals as actors, and the tokens they were enrolled with (shown once)."""

    actors: dict[str, Actor] = field(default_factory=dict)
    tokens: list[tuple[str, Role, str]] = field(default_factory=list)

    @property
    def regulator(self) -> Actor:
        return self.actors["demo-regulator"]

    def of(self, party: str) -> Actor:
        """The representative of a party (an enterprise, the exchange, a city's authority)."""
        return next(
            a for a in self.actors.values() if a.party == party and a.id != "demo-regulator-2"
        )

    def approved(self, store: UnitOfWorkFactory, result: object) -> None:
        """If `result` waits for four eyes, the second regulator approves it."""
        if isinstance(result, Pending):
            approver = self.actors["demo-regulator-2"]
            decided = approvals.approve(store, approver, result.request.id)
            assert decided.state is RequestState.APPLIED

    def add(self, store: UnitOfWorkFactory, principal_id: str, role: Role, secret: str) -> None:
        principal = access.authenticate(store, secret)
        self.actors[principal_id] = Actor(principal, target="demo")
        self.tokens.append((principal_id, role, secret))

    def enrol(
        self, store: UnitOfWorkFactory, principals: Iterable[tuple[str, Role, str | None]]
    ) -> None:
        """Create principals (their parties registered) through the real use cases: the first
        administrator asks for each one's enrolment, the second approves; each principal
        redeems its whole code for its token."""
        asking, approving = (self.actors[admin] for admin in ADMINISTRATORS)
        for principal_id, role, party in principals:
            new = access.NewPrincipal(principal_id, principal_id, role, party)
            access.create_principal(store, asking, new)
            asked = access.request_enrolment(store, asking, principal_id)
            decided = approvals.approve(store, approving, asked.pending.request.id)
            assert decided.result is not None
            code = f"{asked.code_part}.{decided.result['code_part']}"
            token = access.redeem_enrolment(store, principal_id, code, "demo")
            self.add(store, principal_id, role, token.secret)


def enrol_cast(store: UnitOfWorkFactory) -> Cast:
    """The cast's two administrators, made at the shell (they enrol everyone else)."""
    cast = Cast()
    for admin in ADMINISTRATORS:
        _, token = access.create_administrator(store, admin, admin, operator="demo")
        cast.add(store, admin, Role.ADMINISTRATOR, token.secret)
    return cast
