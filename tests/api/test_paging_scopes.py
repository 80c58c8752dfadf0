"""Every listing pages inside its caller's scope: the pages, joined, are exactly the filtered
whole (a property test over page sizes, for every listing and every kind of scope).

The filtered whole is computed here, independently of the services: the regulator's complete
listing, kept where a record's party (any of them: a trade's seller or buyer) is the caller's
own or lies in the caller's city. Every page but the last is full, so a short page never tells
a scoped caller that records it cannot see exist. Public listings (reserve offers, the tax
tables) are the whole for every reader. Fields an enterprise is not shown (`WITHHELD`: who set
a block) are null in its view of the records it sees.

The ledger is the demo registry with what it lacks seeded through the use cases (blocks,
penalties, deductions, returns, reductions, ...): every listing holds records of parties of
several cities, or the property would hold of nothing (a test checks it).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from ledger.domain.access import Actor, Role
from ledger.domain.cems import csv_rows
from ledger.domain.incentives import Release
from ledger.domain.penalties import RightsPenalty
from ledger.domain.registry import (
    PROVINCE,
    BlockKind,
    Listing,
    ListingMode,
    Obligation,
    Pledge,
    TradingBlock,
)
from ledger.domain.reports import Method, Period, ReportLine
from ledger.domain.tax_filing import Quarter
from ledger.entrypoints import demo
from ledger.persistence.engine import create_ledger_engine
from ledger.persistence.store import Store
from ledger.services import (
    blocks,
    compliance,
    listings,
    monitoring,
    penalties,
    reductions,
    reports,
    rights,
    tax,
)
from ledger.services.reductions import ReductionRequest
from ledger.settings import Settings
from tests.api.support import headers_for
from tests.factories import NO_FOUR_EYES, actor
from tests.integration.monitoring_support import HEADER, line, stamp
from tests.integration.tax_support import worked_example

Json = dict[str, Any]

# path, query, the key of its items, the fields naming a record's parties
LISTINGS: list[tuple[str, dict[str, str], str, tuple[str, ...]]] = [
    ("/v1/accounts", {}, "accounts", ("party",)),
    ("/v1/parties", {}, "parties", ("code",)),
    ("/v1/outlets", {}, "outlets", ("party",)),
    ("/v1/entitlements", {}, "entitlements", ("party",)),
    ("/v1/pledges", {}, "pledges", ("party",)),
    ("/v1/trades", {}, "trades", ("seller", "buyer")),
    ("/v1/obligations", {}, "obligations", ("party",)),
    ("/v1/reports", {}, "reports", ("enterprise",)),
    ("/v1/tax/returns", {}, "returns", ("party",)),
    ("/v1/incentives", {}, "incentives", ("party",)),
    ("/v1/reductions", {}, "reductions", ("party",)),
    ("/v1/cems/months", {"from": "2025-01", "to": "2025-12"}, "months", ("enterprise",)),
    ("/v1/trading-blocks", {}, "blocks", ("party",)),
    ("/v1/rights-penalties", {}, "penalties", ("party",)),
    ("/v1/carbon-deductions", {}, "deductions", ("party",)),
    # Public to every reader: no party's record (offers of the reserves, the tax tables).
    ("/v1/listings", {}, "listings", ()),
    ("/v1/tax/tables", {}, "entries", ()),
]
# Fields an enterprise's answers leave out (null), by listing: who set a block (decision "A block
# is lifted by its setter's authority or a wider one").
WITHHELD: dict[str, dict[str, None]] = {"/v1/trading-blocks": {"set_by": None}}
# Whose view: the role, the party it acts as, and what it sees (party, city or everything).
VIEWERS = [
    (Role.REGULATOR, PROVINCE, None, None),
    (Role.FINANCE, None, None, None),
    (Role.CITY_AUTHORITY, "TANGSHAN", None, "Tangshan"),
    (Role.ENTERPRISE, "E01", "E01", None),
    (Role.ENTERPRISE, "E07", "E07", None),
]


@pytest.fixture
def invariants_hold_afterwards() -> None:
    """Overrides tests/api/conftest.py's per-test check: this module reads one demo ledger."""


@pytest.fixture(scope="module")
def demo_client(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TestClient]:
    path = tmp_path_factory.mktemp("paging") / "ledger.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    store = Store(create_ledger_engine(url, sqlite_synchronous="NORMAL"))
    demo.load(store)
    _seed_what_the_demo_lacks(Store(create_ledger_engine(url), four_eyes=NO_FOUR_EYES))
    unlimited = Settings(
        database_url=url, failed_auth_limit="1000000/minute", request_limit="1000000/minute"
    )
    with TestClient(create_app(unlimited, store=store)) as client:
        yield client


# Enterprises of three cities (E01 and E04 in Tangshan, E02 in Handan, E05 in Xingtai, E07 in
# Langfang), each with an outlet no CEMS obligation covers (an agency's lines are theirs).
SEEDED = (("E01", "SINTER-1"), ("E02", "SINTER-1"), ("E04", "KILN-1"), ("E05", "FURNACE-1"))


def _seed_what_the_demo_lacks(store: Store) -> None:
    """Records of the listings the demo holds none (or one) of, for parties of several cities:
    a block on each enterprise; for each of `SEEDED`, a rights penalty on a report showing an
    hourly exceedance, a filed return (its incentive), a verified reduction, a pledge and a day
    of CEMS hours; a closed 2025 carbon obligation of each carbon enterprise, its shortfall
    deducted from two 2026 allocations; three more reserve listings of Tangshan."""
    regulator = actor(store, Role.REGULATOR, PROVINCE, principal="seeding-regulator")
    for n in range(1, 9):
        block = TradingBlock(f"PB-E0{n}", f"E0{n}", BlockKind.ENFORCEMENT, date(2030, 1, 1))
        blocks.set_block(store, regulator, block)
    for party, outlet in SEEDED:
        report_id = _exceeding_report(store, party, outlet)
        penalty = RightsPenalty(f"PP-{party}", "", report_id, "NOx", 10_000_000)
        penalties.book_penalty(store, regulator, penalty)
    for party in ("E01", "E02", "E04", "E07", "E08"):
        owed = Obligation(f"PO-{party}", party, 2025, 100, date(2026, 6, 30))
        compliance.set_obligation(store, regulator, owed)
        compliance.close_deadline(store, regulator, owed.id, 10_000)
        for n in (1, 2):
            allocation = f"PA-{party}-{n}"
            rights.issue_carbon(
                store, regulator, allocation, party_code=party, family="CEA", year=2026, units=60
            )
    for party, outlet in SEEDED:
        _filed_and_reduced(store, regulator, party, outlet)
    _cems_months(store)
    tangshan = actor(store, Role.CITY_AUTHORITY, "TANGSHAN", principal="seeding-tangshan")
    for n in range(1, 4):
        offer = Listing(
            f"PL-{n}", "TANGSHAN", "NOx", 1_000, 600_000, ListingMode.FIXED_PRICE, date(2026, 3, 1)
        )
        listings.create_listing(store, tangshan, offer)
    store.dispose()


def _filed_and_reduced(store: Store, regulator: Actor, party: str, outlet: str) -> None:
    """`party`'s verified report of 2026Q2 (an agency's lines under the standards), its return
    filed (its Article 13 reduction booked as an incentive), an SO2 reduction verified on it,
    and 1 t/a of its NOx pledged (E05's SO2 is, whole)."""
    months = (date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1))
    lines = [x for month in months for x in worked_example(month, outlet)]
    report_id = _verified(store, party, "2026Q2", lines)
    filer = actor(store, Role.ENTERPRISE, party, principal=f"seeding-{party}".lower())
    tax.file_return(store, filer, party, Quarter.parse("2026Q2"))
    request = ReductionRequest(f"PR-{party}", report_id, "SO2", Release.NONE)
    reductions.verify_reduction(store, regulator, request)
    pledge = Pledge(f"PG-{party}", party, "NOx", 1_000, "Bank", 2027, 2027)
    rights.pledge(store, regulator, pledge)


def _cems_months(store: Store) -> None:
    """A day of SO2 hours of one outlet of each of `SEEDED`'s enterprises, in May 2025."""
    rows = [
        line(stamp(1, hour, date(2025, 5, 1)), outlet=f"{party},{outlet}")
        for party, outlet in SEEDED
        for hour in range(24)
    ]
    content = HEADER + "".join(rows)
    digest = hashlib.sha256(content.encode()).hexdigest()
    network = actor(store, Role.CEMS_NETWORK, principal="seeding-network")
    monitoring.import_cems(
        store, network, lambda: csv_rows(content.splitlines(keepends=True)), digest, "seed.csv"
    )


def _exceeding_report(store: Store, party: str, outlet: str) -> str:
    """`party`'s report of July 2026 (an agency's lines, one hourly NOx exceedance), drafted,
    submitted and verified; its id."""
    return _verified(
        store, party, "2026-07", worked_example(date(2026, 7, 1), outlet, exceedances=1)
    )


def _verified(store: Store, party: str, period: str, lines: list[ReportLine]) -> str:
    """A report of `party` with `lines` (an agency's, the standard the permit's), drafted and
    submitted by its enterprise, verified by a verifier; its id."""
    agency = tuple(replace(x, method=Method.AGENCY, standard_mg=None) for x in lines)
    filer = actor(store, Role.ENTERPRISE, party, principal=f"seeding-{party}".lower())
    content = reports.Content(from_monitoring=False, lines=agency)
    view = reports.draft_report(store, filer, party, Period.parse(period), content).record
    reports.submit_report(store, filer, view.report.id)
    verifier = actor(store, Role.VERIFIER, principal="seeding-verifier")
    reports.verify_report(store, verifier, view.report.id)
    return view.report.id


@pytest.mark.parametrize(
    ("path", "query", "key", "fields"), LISTINGS, ids=[listing[0] for listing in LISTINGS]
)
def test_every_listing_holds_records_of_several_cities_or_is_public(
    demo_client: TestClient, path: str, query: dict[str, str], key: str, fields: tuple[str, ...]
) -> None:
    # Else the property below would hold of an empty listing, or of one no scope hides rows of.
    city_of = {p["code"]: p["city"] for p in _everything(demo_client, "/v1/parties", {}, "parties")}
    records = _everything(demo_client, path, query, key)
    cities = {city_of.get(record[name]) for record in records for name in fields}

    assert len(records) >= 3
    assert len(cities) >= 2 or not fields


def _everything(client: TestClient, path: str, query: dict[str, str], key: str) -> list[Json]:
    regulator = headers_for(client, "regulator", party=PROVINCE, principal="paging-regulator")
    response = client.get(path, params={**query, "limit": "1000"}, headers=regulator)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[Json] = response.json()[key]
    return items


def _paged(  # noqa: PLR0917 - a listing, whose view and the page size
    client: TestClient,
    path: str,
    query: dict[str, str],
    key: str,
    headers: dict[str, str],
    size: int,
) -> list[list[Json]]:
    pages, cursor = [], None
    while True:
        params = {**query, "limit": str(size), **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        pages.append(response.json()[key])
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages


@pytest.mark.parametrize(
    ("role", "party", "own", "city"), VIEWERS, ids=[f"{v[0].value}-{v[1]}" for v in VIEWERS]
)
@pytest.mark.parametrize(
    ("path", "query", "key", "fields"), LISTINGS, ids=[listing[0] for listing in LISTINGS]
)
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=9))
def test_the_pages_of_a_listing_are_exactly_what_the_scope_sees(  # noqa: PLR0917
    demo_client: TestClient,
    role: Role,
    party: str | None,
    own: str | None,
    city: str | None,
    path: str,
    query: dict[str, str],
    key: str,
    fields: tuple[str, ...],
    size: int,
) -> None:
    parties = _everything(demo_client, "/v1/parties", {}, "parties")
    city_of = {p["code"]: p["city"] for p in parties}
    headers = headers_for(
        demo_client, role.value, party=party, principal=f"paging-{role.value}-{party}"
    )

    def seen(record: Json) -> bool:
        named = [record[name] for name in fields]
        if not fields:  # public: every reader sees every record
            return True
        if own is not None:
            return own in named
        if city is not None:
            return any(city_of.get(code) == city for code in named)
        return True

    withheld = WITHHELD.get(path, {}) if role is Role.ENTERPRISE else {}
    expected = [{**r, **withheld} for r in _everything(demo_client, path, query, key) if seen(r)]
    pages = _paged(demo_client, path, query, key, headers, size)

    assert [r for page in pages for r in page] == expected
    assert all(len(page) == size for page in pages[:-1])
