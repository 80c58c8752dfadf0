"""Reserve listings in the console: an authority lists its reserve's rights and closes its
listing, enterprises buy at the fixed price or bid, all through the API's use cases."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.console import pages_listings
from ledger.domain.access import Role
from tests.console.conftest import SignedIn, sign_in
from tests.factories import actor, token_for
from tests.integration.registry_support import entitle

LISTING = {
    "pollutant": "SO2",
    "quantity": "5",
    "mode": "fixed_price",
    "price_cny_per_t": "6000",
    "listing_date": "2026-03-01",
}


@pytest.fixture
def reserve(app: FastAPI) -> FastAPI:
    """HEBEI's reserve holds 50 t/a of SO2 (2026–2030)."""
    entitle(app.state.store, "HEBEI", "SO2", 50_000)
    return app


def second_enterprise(app: FastAPI) -> tuple[TestClient, str]:
    """E2's representative (the `signed_in` enterprise is E1's), in English."""
    client = TestClient(app)
    client.cookies.set("ledger_language", "en", path="/console")
    store = app.state.store
    return client, sign_in(client, token_for(store, actor(store, Role.ENTERPRISE, "E2")))


def in_english(signed: tuple[TestClient, str]) -> tuple[TestClient, str]:
    signed[0].cookies.set("ledger_language", "en", path="/console")
    return signed


def test_a_regulator_lists_reserve_rights_and_an_enterprise_buys_them(
    reserve: FastAPI, signed_in: SignedIn
) -> None:
    regulator, csrf = in_english(signed_in(Role.REGULATOR))
    page = regulator.get("/console/listings").text
    assert "List reserve rights" in page and "Floor prices (CNY per t)" in page
    low = regulator.post(
        "/console/listings", data={"csrf": csrf, "id": "L-0", **LISTING, "price_cny_per_t": "1"}
    ).text
    listed = regulator.post("/console/listings", data={"csrf": csrf, "id": "L-1", **LISTING}).text
    assert "Refused: price_below_floor" in low
    assert "Listing L-1 open: 5.000 t/a of SO2 in 2026–2030." in listed

    enterprise, e1_csrf = in_english(signed_in(Role.ENTERPRISE))
    offers = enterprise.get("/console/listings").text
    assert 'action="/console/listings/L-1/accept"' in offers and "List reserve rights" not in offers
    bought = enterprise.post("/console/listings/L-1/accept", data={"csrf": e1_csrf}).text
    again = enterprise.post("/console/listings/L-1/accept", data={"csrf": e1_csrf}).text
    said = "You bought listing L-1: its trade waits for an authority&#39;s record."
    assert said in bought and said in again  # a retry answers the sale
    assert "Sold: its sale is trade L-1" in bought
    other, other_csrf = second_enterprise(reserve)
    with other:
        late = other.post("/console/listings/L-1/accept", data={"csrf": other_csrf}).text
        shown = other.get("/console/listings").text
    assert "Refused: listing_closed" in late
    assert "/console/listings/L-1" not in shown  # open listings by default
    # The seller does not record its own sale: Tangshan's authority, the buyer's city, does.
    city, city_csrf = in_english(signed_in(Role.CITY_AUTHORITY))
    recorded = city.post("/console/trades/L-1/record", data={"csrf": city_csrf})
    assert "Trade L-1 recorded: settled." in recorded.text
    sold = regulator.get("/console/listings", params={"state": "sold"}).text
    assert '<a href="/console/listings/L-1">L-1</a>' in sold


def test_an_auction_takes_bids_and_its_seller_closes_it(
    reserve: FastAPI, signed_in: SignedIn
) -> None:
    regulator, csrf = in_english(signed_in(Role.REGULATOR))
    auction = {**LISTING, "mode": "auction", "price_cny_per_t": "5000"}
    regulator.post("/console/listings", data={"csrf": csrf, "id": "A-1", **auction})
    e1, e1_csrf = in_english(signed_in(Role.ENTERPRISE))
    e2, e2_csrf = second_enterprise(reserve)
    with e2:
        page = e1.get("/console/listings/A-1").text
        low = e1.post(
            "/console/listings/A-1/bids", data={"csrf": e1_csrf, "price_cny_per_t": "4999"}
        )
        e1.post("/console/listings/A-1/bids", data={"csrf": e1_csrf, "price_cny_per_t": "5000"})
        best = e2.post(
            "/console/listings/A-1/bids", data={"csrf": e2_csrf, "price_cny_per_t": "6000"}
        )
        buy = e2.post("/console/listings/A-1/accept", data={"csrf": e2_csrf}).text
        seen_by_e1 = e1.get("/console/listings/A-1").text
    assert 'action="/console/listings/A-1/bids"' in page and "Close the listing" not in page
    assert "Refused: bid_too_low" in low.text
    assert "Bid of CN¥6,000.00 per t placed on listing A-1." in best.text
    assert "Refused: invalid_field" in buy  # an auction is bid for, not bought
    assert '<th scope="row">E1</th>' in seen_by_e1 and '<th scope="row">E2</th>' not in seen_by_e1
    assert "(CN¥6,000.00)" in seen_by_e1  # the best bid so far, to beat
    city, city_csrf = in_english(signed_in(Role.CITY_AUTHORITY))
    assert "Close the listing" not in city.get("/console/listings/A-1").text
    assert city.post("/console/listings/A-1/close", data={"csrf": city_csrf}).status_code == 403
    closed = regulator.post("/console/listings/A-1/close", data={"csrf": csrf}).text
    assert "Listing A-1 closed: sold." in closed
    assert '<th scope="row">E2</th><td></td><td class="num">CN¥6,000.00</td>' in closed
    assert "<td>won</td>" in closed


def test_a_bid_form_sent_twice_places_one_bid(reserve: FastAPI, signed_in: SignedIn) -> None:
    regulator, csrf = in_english(signed_in(Role.REGULATOR))
    auction = {**LISTING, "mode": "auction", "price_cny_per_t": "5000"}
    regulator.post("/console/listings", data={"csrf": csrf, "id": "A-1", **auction})
    e1, e1_csrf = in_english(signed_in(Role.ENTERPRISE))
    page = e1.get("/console/listings/A-1").text
    bid_id = page.split('<input type="hidden" name="id" value="', 1)[1].split('"', 1)[0]
    assert bid_id.startswith("B-")  # each page its own id: the form's retry is a replay
    form = {"csrf": e1_csrf, "id": bid_id, "price_cny_per_t": "5000"}
    first = e1.post("/console/listings/A-1/bids", data=form).text
    again = e1.post("/console/listings/A-1/bids", data=form).text
    said = "Bid of CN¥5,000.00 per t placed on listing A-1."
    assert said in first and said in again and "Refused" not in again
    assert again.count('<th scope="row">E1</th>') == 1
    assert f'<th scope="row">E1</th><td>{bid_id}</td>' in again
    other = e1.post("/console/listings/A-1/bids", data={**form, "price_cny_per_t": "5100"}).text
    assert "Refused: record_exists_with_different_definition" in other


def test_listings_are_shown_a_page_at_a_time_in_the_state_asked_for(
    reserve: FastAPI, signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pages_listings, "ROWS", 1)
    regulator, csrf = signed_in(Role.REGULATOR)  # Chinese: the default
    for listing_id in ("L-1", "L-2", "L-3"):
        regulator.post("/console/listings", data={"csrf": csrf, "id": listing_id, **LISTING})
    regulator.post("/console/listings/L-3/close", data={"csrf": csrf})  # withdrawn
    first = regulator.get("/console/listings").text
    link = first.split('<p class="pager"><a href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = regulator.get("/console/listings" + link).text
    withdrawn = regulator.get("/console/listings", params={"state": "withdrawn"}).text
    every = regulator.get("/console/listings", params={"state": "all"}).text
    row = '<a href="/console/listings/{}">'.format  # the new listing's id may begin "L-2"
    assert row("L-1") in first and row("L-2") not in first and "state=open" in link
    assert row("L-2") in second and row("L-3") not in second
    assert (
        row("L-3") in withdrawn
        and "<td>已撤回</td>" in withdrawn
        and "<td>挂牌中</td>" not in withdrawn
    )
    assert "挂牌出让储备排污权" in every and "储备挂牌" in regulator.get("/console/").text
