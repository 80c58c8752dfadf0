"""An auction's bid under the bidder's id is safely retryable (every create is): the same bid
again answers the stored one, a replay, before the auction's open and price checks (so after it
was outbid or closed too); another bid under the id is a 409 that names nothing of another
bidder's bid; concurrent identical bids write one row. Without an id, a bid is new each time."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from ledger.domain.errors import BidTooLow, InvalidField, LedgerError, RecordExists
from ledger.domain.pages import Created
from ledger.domain.registry import Bid, Listing, ListingMode, ListingState
from ledger.persistence import tables as t
from ledger.persistence.store import Store
from ledger.services import listings
from tests.integration.registry_support import TRADE_DAY, build_registry, entitle, of

AUCTION = "A1"


def auction(store: Store, listing_id: str = AUCTION) -> None:
    """build_registry; Tangshan auctions 1 t/a of its reserve's SO2 from 6,000 CNY/t."""
    build_registry(store)
    entitle(store, "TANGSHAN", "SO2", 50_000)
    offer = Listing(listing_id, "TANGSHAN", "SO2", 1_000, 600_000, ListingMode.AUCTION, TRADE_DAY)
    listings.create_listing(store, of(store, "TANGSHAN"), offer)


@pytest.fixture
def auctioned(store: Store) -> Store:
    auction(store)
    return store


def bid(store: Store, party: str, price_fen: int, bid_id: str | None) -> Created[Bid]:
    return listings.bid(store, of(store, party), AUCTION, price_fen, bid_id=bid_id)


def rows(store: Store) -> list[tuple[str, int, str | None]]:
    """The auction's bid rows: (bidder, price, client id), in the order they came."""
    bids = t.listing_bids
    query = (
        select(bids.c.bidder, bids.c.price_fen, bids.c.client_id)
        .where(bids.c.listing_id == AUCTION)
        .order_by(bids.c.id)
    )
    with store.engine.connect() as connection:
        return [(r.bidder, r.price_fen, r.client_id) for r in connection.execute(query)]


def test_the_same_bid_again_answers_the_stored_bid_and_books_no_second(auctioned: Store) -> None:
    first = bid(auctioned, "E1", 600_000, "E1-B1")
    again = bid(auctioned, "E1", 600_000, "E1-B1")

    assert not first.replayed and again.replayed
    assert again.record.client_id == "E1-B1"
    assert (again.record.bidder, again.record.price_fen, again.record.at) == (
        first.record.bidder,
        first.record.price_fen,
        first.record.at,
    )
    assert rows(auctioned) == [("E1", 600_000, "E1-B1")]


def test_a_retry_is_answered_after_a_higher_bid_and_after_the_close(auctioned: Store) -> None:
    first = bid(auctioned, "E1", 600_000, "E1-B1").record
    bid(auctioned, "E2", 650_000, "E2-B1")
    # Outbid: the same bid again would be too low as a new one; as a retry it is answered.
    outbid = bid(auctioned, "E1", 600_000, "E1-B1")
    assert outbid.replayed and outbid.record.at == first.at and outbid.record.outcome == ""

    closed = listings.close_listing(auctioned, of(auctioned, "TANGSHAN"), AUCTION)
    assert closed.state is ListingState.SOLD
    late = bid(auctioned, "E1", 600_000, "E1-B1")
    won = bid(auctioned, "E2", 650_000, "E2-B1")
    assert late.replayed and won.replayed
    assert won.record.outcome == "won"  # the stored bid as it is now
    assert rows(auctioned) == [("E1", 600_000, "E1-B1"), ("E2", 650_000, "E2-B1")]


def test_another_bid_under_the_id_is_a_409_naming_nothing_of_another_bidder(
    auctioned: Store,
) -> None:
    bid(auctioned, "E1", 600_000, "B1")
    with pytest.raises(RecordExists) as other_price:
        bid(auctioned, "E1", 700_000, "B1")
    assert other_price.value.field == "id"
    assert "price" in other_price.value.detail

    # E2 under E1's id: refused alike whatever it bids, and told neither E1 nor its price.
    for price in (600_000, 700_000):
        with pytest.raises(RecordExists) as taken:
            bid(auctioned, "E2", price, "B1")
        assert taken.value.field == "id"
        assert "E1" not in taken.value.detail and "price" not in taken.value.detail
        assert "6000" not in taken.value.detail and "600000" not in taken.value.detail
    assert rows(auctioned) == [("E1", 600_000, "B1")]


def test_a_bid_id_is_unique_within_its_listing_only(auctioned: Store) -> None:
    offer = Listing("A2", "TANGSHAN", "SO2", 1_000, 600_000, ListingMode.AUCTION, TRADE_DAY)
    listings.create_listing(auctioned, of(auctioned, "TANGSHAN"), offer)
    bid(auctioned, "E1", 600_000, "B1")
    there = listings.bid(auctioned, of(auctioned, "E2"), "A2", 600_000, bid_id="B1")
    assert not there.replayed and there.record.listing_id == "A2"


def test_without_an_id_each_bid_is_new_and_a_retry_is_too_low(auctioned: Store) -> None:
    made = bid(auctioned, "E1", 600_000, None)
    assert not made.replayed and made.record.client_id is None
    with pytest.raises(BidTooLow):
        bid(auctioned, "E1", 600_000, None)
    bid(auctioned, "E2", 650_000, None)
    assert rows(auctioned) == [("E1", 600_000, None), ("E2", 650_000, None)]


@pytest.mark.parametrize("bad", ["", "   ", "x" * 41, "a\x00b"])
def test_a_bid_id_is_one_to_forty_storable_characters(auctioned: Store, bad: str) -> None:
    with pytest.raises(LedgerError) as refused:
        bid(auctioned, "E1", 600_000, bad)
    assert refused.value.field == "id"
    assert isinstance(refused.value, InvalidField) or refused.value.code == "text_not_storable"
    assert rows(auctioned) == []


def test_the_bid_id_is_shown_where_the_bidder_is(auctioned: Store) -> None:
    bid(auctioned, "E1", 600_000, "E1-B1")
    bid(auctioned, "E2", 650_000, "E2-B1")

    def seen(party: str) -> list[tuple[str, str | None]]:
        return [
            (b.bidder, b.client_id)
            for b in listings.get_listing(auctioned, of(auctioned, party), AUCTION)[1]
        ]

    both = [("E1", "E1-B1"), ("E2", "E2-B1")]
    assert seen("TANGSHAN") == both  # the seller
    assert seen("E1") == [("E1", "E1-B1"), ("", None)]
    assert seen("E4") == [("", None), ("", None)]


# -- concurrent identical bids (PostgreSQL: real concurrent writers) ------------------------------

THREADS = 8


@pytest.mark.postgres_only
def test_concurrent_identical_bids_write_one_row_and_each_is_answered(
    postgres_store: Store,
) -> None:
    auction(postgres_store)
    bidder = of(postgres_store, "E1")
    barrier = threading.Barrier(THREADS)

    def send(_: int) -> Created[Bid]:
        barrier.wait(timeout=30)
        return listings.bid(postgres_store, bidder, AUCTION, 600_000, bid_id="E1-B1")

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        answers = list(pool.map(send, range(THREADS)))

    assert sum(not a.replayed for a in answers) == 1
    assert {(a.record.bidder, a.record.price_fen, a.record.client_id) for a in answers} == {
        ("E1", 600_000, "E1-B1")
    }
    assert len({a.record.at for a in answers}) == 1
    assert rows(postgres_store) == [("E1", 600_000, "E1-B1")]
    with postgres_store.engine.connect() as connection:
        count = connection.execute(select(func.count()).select_from(t.listing_bids)).scalar()
    assert count == 1
