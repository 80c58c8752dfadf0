"""Reserve listings (rules §4): a city or the province offers its reserve's rights at a fixed
price, or by an electronic auction rising from a starting price of at least the benchmark
(floor) price; an enterprise accepts the fixed price, or bids; the seller closes the auction.

A listing's sale is a trade of the listing's id, seller the authority, dated the listing's date:
accepting (or winning the auction) proposes it as the seller and accepts it as the buyer in one
transaction, so that the same rules and the same hold apply as to a bilateral trade
(`trading.accept_in`); an authority that is no party to it then records or refuses it through
the trade workflow. Closing an auction tries its bids best first (highest price, then
earliest), each in a transaction of its own: a bid whose acceptance a rule refuses (or the
bidder's cash) is marked with the rule's code, and the next one is tried. Closing a listing
its close has closed (a retry) answers it as it is; only its seller closes it. A bid sent under
the bidder's id (unique within its listing) is answered again on a retry, even once outbid or
closed; a bid without one is a new bid each time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from ledger.domain.access import Actor
from ledger.domain.errors import (
    InvalidField,
    LedgerError,
    ListingClosed,
    PriceBelowFloor,
    RecordExists,
    RecordNotFound,
    TradePartyInvalid,
)
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import (
    AIR_POLLUTANTS,
    WATER_POLLUTANTS,
    Bid,
    Listing,
    ListingMode,
    ListingState,
    PartyKind,
    Trade,
    check_bid,
    check_bid_id,
    ranked,
)
from ledger.services import trading
from ledger.services.authority import acting_as, use_case
from ledger.services.business_dates import effective_at
from ledger.services.parties import ensure_instruments, party_of, policy_of
from ledger.services.transactions import in_transaction, read

WON = "won"


@use_case("listings.create")
def create_listing(
    uow_factory: UnitOfWorkFactory, actor: Actor, listing: Listing
) -> Created[Listing]:
    """List reserve rights as their authority: t/a in every vintage from the listing's year to
    the end of the authority's entitlement, at a price (or starting price) of at least the
    benchmark. The same listing again answers the stored one; another under its id is a 409."""

    def work(uow: UnitOfWork) -> Created[Listing]:
        seller = acting_as(actor, listing.seller, field="seller")
        existing = uow.registry.get_listing(listing.id)
        if existing is not None:
            if _as_sent(existing) != _as_sent(listing):
                raise RecordExists(f"listing {listing.id} exists", field="id")
            return Created(existing, replayed=True)
        if party_of(uow, seller, field="seller").kind is not PartyKind.AUTHORITY:
            raise TradePartyInvalid("an authority lists its reserve's rights", field="seller")
        if uow.registry.get_trade(listing.id) is not None:
            raise RecordExists(
                f"trade {listing.id} exists: a listing's sale takes its id", field="id"
            )
        if listing.family not in AIR_POLLUTANTS | WATER_POLLUTANTS:
            raise InvalidField(f"{listing.family!r} is no pollutant's right", field="pollutant")
        floor = policy_of(uow).floor_fen_per_t.get(listing.family, 0)
        if listing.price_fen < floor:
            raise PriceBelowFloor(
                f"{listing.price_fen / 100:.2f} CNY/t is below the {listing.family} benchmark "
                f"of {floor / 100:.2f} CNY/t",
                field="price",
            )
        first, last = trading.rights_vintages(
            uow, listing.family, seller, listing.listing_date.year
        )
        # The sale's trade date: past, not before the vintages sold, not in a closed period.
        effective_at(uow, listing.listing_date, vintages=[first], field="listing_date")
        listed = replace(listing, first_vintage=first, last_vintage=last, state=ListingState.OPEN)
        ensure_instruments(uow, listing.family, range(first, last + 1))
        uow.registry.add_listing(listed, uow.now())
        return Created(listed)

    return in_transaction(uow_factory, work, actor=actor)


def _as_sent(listing: Listing) -> Listing:
    return replace(listing, first_vintage=0, last_vintage=0, state=ListingState.OPEN)


@use_case("listings.accept")
def accept_listing(
    uow_factory: UnitOfWorkFactory, actor: Actor, listing_id: str, party: str | None = None
) -> Trade:
    """An enterprise buys a fixed-price listing: its sale is proposed and accepted (the rules
    checked, the hold placed) in one transaction. Accepting again answers the sale."""

    def work(uow: UnitOfWork) -> Trade:
        buyer = acting_as(actor, party)
        listing = _listing(uow, listing_id, lock=True)
        sale = uow.registry.get_trade(listing.id)
        if listing.state is ListingState.SOLD and sale is not None and sale.buyer == buyer:
            return sale  # a retry of this acceptance
        _check_open(listing)
        if listing.mode is not ListingMode.FIXED_PRICE:
            raise InvalidField(f"listing {listing.id} is an auction: bid", field="listing_id")
        return _sell(uow, listing, buyer, listing.price_fen)

    return in_transaction(uow_factory, work, actor=actor)


@use_case("listings.bid")
def bid(  # noqa: PLR0917 - what a bid is
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    listing_id: str,
    price_fen: int,
    party: str | None = None,
    bid_id: str | None = None,
) -> Created[Bid]:
    """An enterprise bids in an open auction: at least the starting price, above the best bid.

    Under the bidder's `bid_id` (unique within the listing) a bid is safely retryable: the same
    bid again (same bidder, same price) answers the stored one as it is now, a replay, even once
    outbid or after the close; another bid under that id is `RecordExists` (an id another
    bidder took is refused alike, naming nothing of its bid). Without an id each call is a new
    bid, as before bids had ids: a retry is then refused as not above the best bid, which it
    has become."""
    client_id = check_bid_id(bid_id)

    def work(uow: UnitOfWork) -> Created[Bid]:
        bidder = acting_as(actor, party)
        listing = _listing(uow, listing_id, lock=True)  # bids one at a time
        bids = uow.registry.bids_of(listing.id)
        stored = next((b for b in bids if client_id and b.client_id == client_id), None)
        if stored is not None:
            return Created(_replayed(stored, bidder, price_fen), replayed=True)
        _check_open(listing)
        check_bid(listing, price_fen, max((b.price_fen for b in bids), default=None))
        made = Bid(listing.id, bidder, price_fen, uow.now(), client_id=client_id)
        uow.registry.add_bid(made)
        return Created(made)

    return in_transaction(uow_factory, work, actor=actor)


def _replayed(stored: Bid, bidder: str, price_fen: int) -> Bid:
    """`stored` if the bid is sent again by its bidder at its price, else `RecordExists`: naming
    what differs to its bidder, and nothing of another bidder's bid (its id is taken, no more)."""
    if stored.bidder != bidder:
        raise RecordExists(
            f"bid {stored.client_id} exists on listing {stored.listing_id}", field="id"
        )
    if stored.price_fen != price_fen:
        raise RecordExists(
            f"bid {stored.client_id} exists on listing {stored.listing_id} at another "
            "price_cny_per_t",
            field="id",
        )
    return stored


@use_case("listings.close")
def close_listing(uow_factory: UnitOfWorkFactory, actor: Actor, listing_id: str) -> Listing:
    """The seller closes its listing: a fixed-price one is withdrawn; an auction is sold to the
    best bid whose acceptance the rules allow (each tried in its own transaction), or closes
    unsold. Closing again (a retry, or a close that raced this one) answers the listing as the
    close left it."""
    listing = in_transaction(
        uow_factory, lambda uow: _close_first(uow, actor, listing_id), actor=actor
    )
    if listing.state is not ListingState.OPEN:
        return listing
    for best in ranked(read(uow_factory, lambda uow: uow.registry.bids_of(listing_id))):
        try:
            # A refused acceptance is the bid's outcome, noted on it (below), not the close's.
            in_transaction(uow_factory, _award_to(best), actor=actor, audit_rejection=False)
        except ListingClosed:
            break  # closed meanwhile by another close of its seller: answered below
        except LedgerError as refused:
            in_transaction(uow_factory, _mark(best, refused.code), actor=actor)
            continue
        return replace(listing, state=ListingState.SOLD)
    return in_transaction(
        uow_factory, lambda uow: _close_unsold(uow, actor, listing_id), actor=actor
    )


def _close_first(uow: UnitOfWork, actor: Actor, listing_id: str) -> Listing:
    """What a close does in its first transaction: the listing as it is if its close already
    happened, a fixed-price listing withdrawn, an auction without bids closed unsold, an auction
    with bids still open (its bids are tried next)."""
    listing = _listing(uow, listing_id, lock=True)
    acting_as(actor, listing.seller, field="actor")
    if listing.state in _CLOSED_BY_CLOSE[listing.mode]:
        return listing
    _check_open(listing)
    if listing.mode is ListingMode.FIXED_PRICE:
        return _set_state(uow, listing, ListingState.WITHDRAWN)
    if not uow.registry.bids_of(listing_id):
        return _set_state(uow, listing, ListingState.UNSOLD)
    return listing


# The states only its seller's close brings a listing to (a fixed-price one is sold by its buyer's
# acceptance, not by a close): found in one of them, a close is answered as it was.
_CLOSED_BY_CLOSE = {
    ListingMode.FIXED_PRICE: frozenset({ListingState.WITHDRAWN}),
    ListingMode.AUCTION: frozenset({ListingState.SOLD, ListingState.UNSOLD}),
}


def _award_to(best: Bid) -> Callable[[UnitOfWork], Trade]:
    def work(uow: UnitOfWork) -> Trade:
        listing = _listing(uow, best.listing_id, lock=True)
        _check_open(listing)
        sale = _sell(uow, listing, best.bidder, best.price_fen)
        uow.registry.set_bid_outcome(best.seq, WON)
        return sale

    return work


def _mark(refused: Bid, code: str) -> Callable[[UnitOfWork], None]:
    """Note on a bid the rule that refused its acceptance (while the auction is still open: a
    concurrent close may have sold it since)."""

    def work(uow: UnitOfWork) -> None:
        if _listing(uow, refused.listing_id, lock=True).state is ListingState.OPEN:
            uow.registry.set_bid_outcome(refused.seq, code)

    return work


def _close_unsold(uow: UnitOfWork, actor: Actor, listing_id: str) -> Listing:
    """An auction none of whose bids the rules allowed closes unsold (or is answered as another
    close of its seller left it)."""
    listing = _listing(uow, listing_id, lock=True)
    if listing.state in _CLOSED_BY_CLOSE[listing.mode]:
        return listing
    _check_open(listing)
    return _set_state(uow, listing, ListingState.UNSOLD)


def _set_state(uow: UnitOfWork, listing: Listing, state: ListingState) -> Listing:
    uow.registry.set_listing_state(listing.id, state)
    return replace(listing, state=state)


def _sell(uow: UnitOfWork, listing: Listing, buyer: str, price_fen: int) -> Trade:
    """The listing's sale to `buyer` at `price_fen`: proposed by the seller, accepted by the
    buyer (every rule of a trade, the hold), the listing sold."""
    sale = Trade(
        id=listing.id,
        seller=listing.seller,
        buyer=buyer,
        proposer=listing.seller,
        family=listing.family,
        units=listing.units,
        price_fen=price_fen,
        first_vintage=listing.first_vintage,
        last_vintage=listing.last_vintage,
        trade_date=listing.listing_date,
        mode=listing.mode.value,
    )
    if party_of(uow, buyer, field="actor").kind is not PartyKind.ENTERPRISE:
        raise TradePartyInvalid("an enterprise buys a listing", field="actor")
    accepted = trading.accept_in(uow, trading.add_proposal(uow, sale), buyer)
    uow.registry.set_listing_state(listing.id, ListingState.SOLD)
    return accepted


def _listing(uow: UnitOfWork, listing_id: str, *, lock: bool = False) -> Listing:
    listing = uow.registry.get_listing(listing_id, lock=lock)
    if listing is None:
        raise RecordNotFound(f"listing {listing_id!r} not found", field="listing_id")
    return listing


def _check_open(listing: Listing) -> None:
    if listing.state is not ListingState.OPEN:
        raise ListingClosed(f"listing {listing.id} is {listing.state.value}", field="listing_id")


# -- queries (listings are public offers: every reader sees them all) ------------------------


@use_case("listings.read")
def get_listing(
    uow_factory: UnitOfWorkFactory, actor: Actor, listing_id: str
) -> tuple[Listing, list[Bid]]:
    """A listing and its bids (a bidder, and its id of the bid, are named to the bidder, the
    listing's seller and oversight only; others see prices)."""

    def work(uow: UnitOfWork) -> tuple[Listing, list[Bid]]:
        listing = _listing(uow, listing_id)
        bids = uow.registry.bids_of(listing_id)
        if not actor.scope.unlimited and actor.party != listing.seller:
            bids = [b if b.bidder == actor.party else _anonymous(b) for b in bids]
        return listing, bids

    return read(uow_factory, work)


def _anonymous(made: Bid) -> Bid:
    """A bid as shown to a reader who is neither its bidder, nor the seller, nor oversight: its
    price and time, not who bid nor the bidder's id of it."""
    return replace(made, bidder="", client_id=None)


@use_case("listings.list")
def list_listings(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    state: ListingState | None,
    cursor: str | None,
    limit: int,
) -> Page[Listing]:
    """Listings in the order they were made, optionally in one state."""
    del actor  # every reader sees every listing
    after = decode_cursor("listings", cursor)
    check_page_size(limit)
    rows = read(uow_factory, lambda uow: uow.registry.list_listings(state, after, limit))
    return keyset_page("listings", rows, limit)
