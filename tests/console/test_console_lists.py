"""Every list of the console comes a page at a time: with the page sizes made small, each list
longer than a page shows a next link, and following the links shows every row exactly once, in
the order of the whole list (the second page shows the rest). Keyset lists (`?cursor=`) and lists
read whole (`?page=`, `web.numbered`) alike; a page's filters (the party) survive its links."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.console import pages_admin, pages_authority, pages_enterprise, pages_listings, web
from api.console.i18n import CHINA_STANDARD_TIME
from ledger.domain.access import FOUR_EYES_OPERATIONS, FourEyesPolicy, Role
from ledger.domain.reconciliation import Tolerance
from ledger.domain.registry import Entitlement, Listing, ListingMode, Obligation, Pledge
from ledger.persistence.store import Store
from ledger.services import compliance, listings, periods, reconciliation, rights, trading
from ledger.services.rights import ReserveAction, ReserveOperation
from tests.console.conftest import Case, sign_in, tokens_of, walk
from tests.factories import actor, token_for
from tests.integration.registry_support import TRADE_DAY, entitle, of, so2_trade

FIXED_PRICE = ListingMode.FIXED_PRICE


def _trades(store: Store) -> str:
    for number in range(3):
        trading.propose(store, of(store, "E1"), so2_trade(f"X{number}"))
    return "/console/trades?party=E1"


def _obligations(store: Store) -> str:
    regulator = of(store, "HEBEI")
    for year in (2025, 2026, 2027):
        obligation = Obligation(f"OB-{year}", "E1", year, 1_000, date(year + 1, 6, 30))
        compliance.set_obligation(store, regulator, obligation)
    return "/console/compliance?party=E1"


def _more_entitlements(store: Store) -> str:
    regulator = of(store, "HEBEI")
    for party in ("E3", "E4"):
        allocation = Entitlement(f"EN-{party}", party, "NOx", 5_000, 2026, 2030)
        rights.confirm_entitlement(store, regulator, allocation)
    return "/console/overview"


def _pending_allocations(store: Store) -> str:
    store.four_eyes = FourEyesPolicy(FOUR_EYES_OPERATIONS)
    asking = actor(store, Role.REGULATOR, "HEBEI", principal="regulator-2")
    for number in range(3):
        big = Entitlement(f"BIG-{number}", "E1", "SO2", 2_000_000, 2031, 2035)
        rights.confirm_entitlement(store, asking, big)
    return "/console/approvals"


def _pledges(store: Store) -> str:
    for number in range(3):
        pledge = Pledge(f"PL-{number}", "E1", "SO2", 1_000, "Bank", 2026, 2026)
        rights.pledge(store, of(store, "HEBEI"), pledge)
    return "/console/pledges?party=E1"


def _reserve(store: Store) -> str:
    reclaim = ReserveOperation(
        "R-1", ReserveAction.RECLAIM, "HEBEI", "SO2", 1_000, 2026, 2028, "E1"
    )
    rights.reserve_operation(store, of(store, "HEBEI"), reclaim)
    return "/console/reserve"


def _market(store: Store) -> str:
    # Two quarters of three trades among three parties each: two cells shown (rules §7.11).
    for quarter, day in enumerate((TRADE_DAY, date(2026, 4, 2))):
        for number, buyer in enumerate(("E2", "E2", "E4")):
            trade_id = f"M{quarter}{number}"
            trade = so2_trade(trade_id, buyer=buyer, trade_date=day, units=1_000)
            trading.propose(store, of(store, "E1"), trade)
            trading.accept(store, of(store, buyer), trade_id)
            trading.record(store, of(store, "HEBEI"), trade_id)
    return "/console/market?year=2026"


def _reconciliation(store: Store) -> str:
    """E1's cash: its opening deposit and two more matched, three receipts nobody booked."""
    regulator = of(store, "HEBEI")
    rights.deposit_cash(store, regulator, "E1-more-1", "E1", 12_300)
    rights.deposit_cash(store, regulator, "E1-more-2", "E1", 45_600)
    finance = actor(store, Role.FINANCE, None)
    day = store.clock().astimezone(CHINA_STANDARD_TIME).date().isoformat()
    lines = [f"{day},,{amount},Bank,line\n" for amount in ("1000000.00", "123.00", "456.00")]
    lines += [f"{day},U{n},{n}.99,Unknown,receipt\n" for n in (1, 2, 3)]
    content = "date,reference,amount,counterparty,description\n" + "".join(lines)
    imported = reconciliation.import_statement(
        store, finance, "E1:cash", "bank", "e1.csv", content.encode()
    )
    started = reconciliation.start_reconciliation(
        store, finance, imported.record.id, Tolerance(0, 0)
    )
    return f"/console/reconciliations/{started.record.reconciliation.id}"


def _periods(store: Store) -> str:
    finance = actor(store, Role.FINANCE, None)
    for month in ("2025-01", "2025-02", "2025-03"):
        periods.close_period(store, finance, month, "month end")
    return "/console/periods"


def _listings(store: Store) -> str:
    entitle(store, "HEBEI", "SO2", 50_000)
    for number in range(3):
        listing = Listing(f"L-{number}", "HEBEI", "SO2", 1_000, 600_000, FIXED_PRICE, TRADE_DAY)
        listings.create_listing(store, of(store, "HEBEI"), listing)
    return "/console/listings"


def _tokens(store: Store) -> str:
    enterprise = actor(store, Role.ENTERPRISE, "E1")
    for _ in range(2):
        token_for(store, enterprise)
    return f"/console/principals/{enterprise.id}"


CASES = {
    "holdings": Case(Role.REGULATOR, "/console/holdings?party=E1", "Holdings of E1 in t"),
    "trades": Case(Role.REGULATOR, "", "Trades you sell or buy in", "cursor", _trades),
    "compliance": Case(Role.ENTERPRISE, "", "Compliance of E1", setup=_obligations),
    "overview-supply": Case(Role.REGULATOR, "/console/overview", "Supply of every instrument"),
    "overview-cities": Case(
        Role.REGULATOR, "", "Rights held by city", "city_page", _more_entitlements
    ),
    "parties": Case(Role.REGULATOR, "/console/parties", "Enterprises in registration", "cursor"),
    "entitlements": Case(
        Role.REGULATOR, "/console/entitlements", "Confirmed entitlements", "cursor"
    ),
    "approvals": Case(
        Role.REGULATOR, "", "Requests waiting for a second", "cursor", _pending_allocations
    ),
    "pledges": Case(Role.REGULATOR, "", "Pledges (t per year", "cursor", _pledges),
    "reserve": Case(Role.REGULATOR, "", "Rights in the reserve", setup=_reserve),
    "market": Case(None, "", "Market prices 2025–2026", setup=_market, size=1),
    "reconciliation-lines": Case(
        Role.FINANCE,
        "",
        "Unmatched statement lines",
        setup=_reconciliation,
        row=r'name="line" value="(\d+)"',
    ),
    "reconciliation-matches": Case(
        Role.FINANCE, "", "<caption>Matches", "matches_page", _reconciliation
    ),
    "periods": Case(Role.FINANCE, "", "Periods closed so far", setup=_periods),
    "principals": Case(Role.ADMINISTRATOR, "/console/principals", "Every principal", "cursor"),
    "tokens": Case(Role.ADMINISTRATOR, "", "Tokens (their secrets", setup=_tokens),
    "listings": Case(Role.ENTERPRISE, "", "Listings in the order", "cursor", _listings),
}


def _small_pages(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(web, "ROWS_PER_PAGE", size)
    for module in (pages_admin, pages_authority, pages_enterprise):
        monkeypatch.setattr(module, "PAGE_SIZE_DEFAULT", size)
    monkeypatch.setattr(pages_listings, "ROWS", size)


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_list_longer_than_a_page_continues_on_the_next(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    case = CASES[name]
    store = app.state.store
    path = case.setup(store) if case.setup else case.path
    with TestClient(app) as client:
        client.cookies.set("ledger_language", "en", path="/console")
        if case.role is not None:
            sign_in(client, tokens_of(app)[case.role])
        (whole,) = walk(client, path, case)  # the ordinary page size: one page
        _small_pages(monkeypatch, case.size)
        pages = walk(client, path, case)
    assert len(whole) > case.size, whole
    assert len(pages) >= 2 and all(len(page) <= case.size for page in pages)
    assert [row for page in pages for row in page] == whole  # each row once, in order
