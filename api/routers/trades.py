"""Trades and compliance: propose and act on trades; obligations, surrenders, status, deadline,
the shortfall penalty's payments; rights penalties.
Translation only: who may act as which party, what each actor sees and every rule live in the
services."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Path, Query, Response

from api import penalty_schemas as ps
from api import registry_schemas as rs
from api.answers import PENDING, created, or_pending
from api.auth import Acts
from api.dependencies import Cursor, Filter, IdPath, Store, YearQuery
from api.routing import Routes
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.penalties import PenaltyStatus
from ledger.domain.registry import ListingState, TradeState
from ledger.services import compliance, listings, penalties, trading

router = Routes(prefix="/v1")
T = TypeVar("T")
R = TypeVar("R")

STATES = "^(" + "|".join(s.value for s in TradeState) + ")$"


@router.post("/trades", response_model=rs.TradeOut, status_code=201, tags=["trades"])
def propose(body: rs.TradeIn, store: Store, actor: Acts, response: Response) -> rs.TradeOut:
    """Propose a trade (by the seller or the buyer, as the caller's party); nothing is held yet.
    The same proposal again (a retry) answers the stored trade, in whatever state it is now,
    marked `Idempotent-Replayed`."""
    made = trading.propose(store, actor, body.to_domain(), vintage=body.vintage)
    return created(response, made, rs.trade_out)


@router.get("/trades", response_model=rs.TradePage, tags=["trades"])
def list_trades(  # noqa: PLR0917 - query parameters
    store: Store,
    actor: Acts,
    party: Filter = None,
    instrument: Filter = None,
    state: Annotated[str | None, Query(pattern=STATES)] = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.TradePage:
    """Trades, filtered by party (seller or buyer), pollutant or carbon unit, and state."""
    page = trading.list_trades(
        store,
        actor,
        party=party,
        family=instrument,
        state=TradeState(state) if state else None,
        cursor=cursor,
        limit=limit,
    )
    return rs.TradePage(trades=[rs.trade_out(t) for t in page.items], next_cursor=page.next_cursor)


@router.post("/listings", response_model=rs.ListingOut, status_code=201, tags=["trades"])
def create_listing(
    body: rs.ListingIn, store: Store, actor: Acts, response: Response
) -> rs.ListingOut:
    """A city or the province lists its reserve's rights, at a fixed price or by auction."""
    return created(
        response, listings.create_listing(store, actor, body.to_domain()), rs.listing_out
    )


@router.get("/listings", response_model=rs.ListingPage, tags=["trades"])
def list_listings(
    store: Store,
    actor: Acts,
    state: Annotated[str | None, Query(pattern="^(open|sold|unsold|withdrawn)$")] = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.ListingPage:
    """Reserve listings (public offers: every reader sees them), optionally in one state."""
    page = listings.list_listings(
        store, actor, ListingState(state) if state else None, cursor, limit
    )
    return rs.ListingPage(
        listings=[rs.listing_out(item) for item in page.items], next_cursor=page.next_cursor
    )


@router.get("/listings/{listing_id}", response_model=rs.ListingOut, tags=["trades"])
def get_listing(listing_id: IdPath, store: Store, actor: Acts) -> rs.ListingOut:
    """A listing and its bids (bidders named to the bidder, the seller and oversight)."""
    return rs.listing_out(*listings.get_listing(store, actor, listing_id))


@router.post("/listings/{listing_id}/accept", response_model=rs.TradeOut, tags=["trades"])
def accept_listing(
    listing_id: IdPath, body: rs.TradeActionIn, store: Store, actor: Acts
) -> rs.TradeOut:
    """An enterprise buys a fixed-price listing: its sale (the trade of the listing's id) is
    accepted, every rule checked and the hold placed; an authority then records it."""
    return rs.trade_out(listings.accept_listing(store, actor, listing_id, body.actor))


@router.post(
    "/listings/{listing_id}/bids", response_model=rs.BidOut, status_code=201, tags=["trades"]
)
def bid(
    listing_id: IdPath, body: rs.BidIn, store: Store, actor: Acts, response: Response
) -> rs.BidOut:
    """An enterprise bids in an auction: at least the starting price, above the best bid. Under
    your `id` (unique within the listing) the same bid again (a retry) answers the stored bid as
    it is now, marked `Idempotent-Replayed`, even once outbid or after the close; another bid
    under that id is a 409. Without an `id`, each call is a new bid."""
    price = rs.fen(body.price_cny_per_t, "price_cny_per_t")
    made = listings.bid(store, actor, listing_id, price, body.actor, body.id)
    return created(response, made, rs.bid_out)


@router.post("/listings/{listing_id}/close", response_model=rs.ListingOut, tags=["trades"])
def close_listing(listing_id: IdPath, store: Store, actor: Acts) -> rs.ListingOut:
    """The seller closes its listing: an auction is sold to the best bid the rules allow (or
    closes unsold); a fixed-price listing is withdrawn. Closing again answers the close."""
    closed = listings.close_listing(store, actor, listing_id)
    return rs.listing_out(*listings.get_listing(store, actor, closed.id))


@router.get("/trades/{trade_id}", response_model=rs.TradeOut, tags=["trades"])
def get_trade(trade_id: IdPath, store: Store, actor: Acts) -> rs.TradeOut:
    """A trade and its history of states."""
    return rs.trade_out(*trading.get_trade(store, actor, trade_id))


@router.post("/trades/{trade_id}/accept", response_model=rs.TradeOut, tags=["trades"])
def accept(trade_id: IdPath, body: rs.TradeActionIn, store: Store, actor: Acts) -> rs.TradeOut:
    """The counterparty accepts: every rule is checked and the seller's rights are held."""
    return rs.trade_out(trading.accept(store, actor, trade_id, body.actor))


@router.post("/trades/{trade_id}/decline", response_model=rs.TradeOut, tags=["trades"])
def decline(trade_id: IdPath, body: rs.TradeActionIn, store: Store, actor: Acts) -> rs.TradeOut:
    """The counterparty declines the proposal."""
    return rs.trade_out(trading.decline(store, actor, trade_id, body.actor))


@router.post("/trades/{trade_id}/rescind", response_model=rs.TradeOut, tags=["trades"])
def rescind(trade_id: IdPath, body: rs.TradeActionIn, store: Store, actor: Acts) -> rs.TradeOut:
    """The proposer withdraws; a hold is released."""
    return rs.trade_out(trading.rescind(store, actor, trade_id, body.actor))


@router.post("/trades/{trade_id}/record", response_model=rs.TradeOut, tags=["trades"])
def record(trade_id: IdPath, body: rs.TradeActionIn, store: Store, actor: Acts) -> rs.TradeOut:
    """The authority records the trade: rights, cash and fees settle atomically."""
    return rs.trade_out(trading.record(store, actor, trade_id, body.actor))


@router.post("/trades/{trade_id}/refuse", response_model=rs.TradeOut, tags=["trades"])
def refuse(trade_id: IdPath, body: rs.TradeActionIn, store: Store, actor: Acts) -> rs.TradeOut:
    """The authority refuses the trade; a hold is released."""
    return rs.trade_out(trading.refuse(store, actor, trade_id, body.reason, body.actor))


@router.post("/trades/{trade_id}/expire", response_model=rs.TradeOut, tags=["trades"])
def expire(trade_id: IdPath, store: Store, actor: Acts) -> rs.TradeOut:
    """A trade past its `expires_at` lapses; a hold is released."""
    return rs.trade_out(trading.expire(store, actor, trade_id))


# -- compliance ------------------------------------------------------------------------------


@router.post("/obligations", response_model=rs.ObligationOut, status_code=201, tags=["compliance"])
def set_obligation(
    body: rs.ObligationIn, store: Store, actor: Acts, response: Response
) -> rs.ObligationOut:
    """A regulator enters verified emissions for a period: the enterprise's obligation."""
    made = compliance.set_obligation(store, actor, body.to_domain())
    return created(response, made, rs.obligation_out)


@router.get("/obligations", response_model=rs.ObligationPage, tags=["compliance"])
def list_obligations(  # noqa: PLR0917 - query parameters
    store: Store,
    actor: Acts,
    party: Filter = None,
    period: YearQuery = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.ObligationPage:
    """Obligations, filtered by party and period; follow `next_cursor`."""
    page = compliance.list_obligations(store, actor, party, period, cursor, limit)
    return rs.ObligationPage(
        obligations=[rs.obligation_out(o) for o in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "/obligations/{obligation_id}/surrenders",
    response_model=list[rs.SurrenderOut],
    status_code=201,
    tags=["compliance"],
)
def surrender(
    obligation_id: IdPath, body: rs.SurrenderIn, store: Store, actor: Acts, response: Response
) -> list[rs.SurrenderOut]:
    """Surrender allowances (oldest vintage first unless `instrument` is named) or CCER."""
    family = "CCER" if body.instrument == "CCER" else "CEA"
    request = compliance.SurrenderRequest(
        body.id,
        obligation_id,
        rs.quantity_units(body.quantity_tco2, family, "quantity_tco2"),
        body.instrument,
        body.business_date,
    )
    return created(
        response,
        compliance.surrender(store, actor, request),
        lambda parts: [
            rs.SurrenderOut(instrument=s.instrument_code, quantity_tco2=str(s.units)) for s in parts
        ],
    )


@router.get("/obligations/{obligation_id}/status", response_model=rs.StatusOut, tags=["compliance"])
def status(obligation_id: IdPath, store: Store, actor: Acts) -> rs.StatusOut:
    """Obligation, surrendered, shortfall, and the shortfall left after current holdings."""
    return rs.status_out(compliance.status(store, actor, obligation_id))


@router.post(
    "/obligations/{obligation_id}/close",
    response_model=rs.StatusOut,
    tags=["compliance"],
    responses=PENDING,
)
def close(obligation_id: IdPath, body: rs.DeadlineIn, store: Store, actor: Acts) -> Any:
    """At the deadline: book the shortfall penalty and deduct the shortfall from next year.
    With a shortfall, under four-eyes (`obligation_close`): 202 and a request."""
    price = rs.fen(body.average_price_cny, "average_price_cny")
    return or_pending(compliance.close_deadline(store, actor, obligation_id, price), rs.status_out)


@router.post(
    "/obligations/{obligation_id}/penalty-payments",
    response_model=rs.StatusOut,
    status_code=201,
    tags=["compliance"],
)
def pay_shortfall_penalty(
    obligation_id: IdPath, body: ps.PaymentIn, store: Store, actor: Acts, response: Response
) -> rs.StatusOut:
    """Pay (part of) a closed obligation's shortfall penalty from the enterprise's cash, at most
    what it still owes: a `penalty_payment` entry. The same payment again answers the status as
    it is, marked `Idempotent-Replayed`."""
    payment = body.to_domain(obligation_id)
    paid = compliance.pay_shortfall_penalty(store, actor, payment, body.business_date)
    return created(response, paid, rs.status_out)


@router.get("/carbon-deductions", response_model=rs.DeductionPage, tags=["compliance"])
def list_deductions(  # noqa: PLR0917 - query parameters
    store: Store,
    actor: Acts,
    party: Filter = None,
    obligation: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.DeductionPage:
    """Shortfalls of closed obligations deducted from later CEA allocations, one line per
    allocation and obligation (rules §7.9); an enterprise sees its own."""
    page = compliance.list_deductions(store, actor, party, obligation, cursor, limit)
    return rs.DeductionPage(
        deductions=[rs.deduction_out(d) for d in page.items], next_cursor=page.next_cursor
    )


@router.get("/parties/{code}/compliance", response_model=list[rs.StatusOut], tags=["compliance"])
def party_compliance(
    code: Annotated[str, Path(max_length=32)], store: Store, actor: Acts
) -> list[rs.StatusOut]:
    """Every obligation of an enterprise with what it surrendered and its (projected) shortfall."""
    return [rs.status_out(s) for s in compliance.statuses_of(store, actor, code)]


# -- rights penalties (rules §7.10) -------------------------------------------------------------


@router.post(
    "/rights-penalties",
    response_model=ps.PenaltyOut,
    status_code=201,
    tags=["compliance"],
    responses=PENDING,
)
def book_penalty(body: ps.PenaltyIn, store: Store, actor: Acts, response: Response) -> Any:
    """A regulator books a penalty for a rights pollutant of a verified report that shows
    non-compliance (emissions above the rights held, pledged included, or hourly exceedances):
    a `penalty` entry the enterprise owes. Under four-eyes (`penalty`): 202 and a request."""
    booked = penalties.book_penalty(store, actor, body.to_domain(), body.business_date)
    return or_pending(
        booked,
        lambda made: created(response, made, lambda p: ps.penalty_out(PenaltyStatus(p, 0))),
    )


@router.get("/rights-penalties", response_model=ps.PenaltyPage, tags=["compliance"])
def list_penalties(
    store: Store,
    actor: Acts,
    party: Filter = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> ps.PenaltyPage:
    """Rights penalties with what was paid; an enterprise sees its own."""
    page = penalties.list_penalties(store, actor, party, cursor, limit)
    return ps.PenaltyPage(
        penalties=[ps.penalty_out(p) for p in page.items], next_cursor=page.next_cursor
    )


@router.get("/rights-penalties/{penalty_id}", response_model=ps.PenaltyOut, tags=["compliance"])
def get_penalty(penalty_id: IdPath, store: Store, actor: Acts) -> ps.PenaltyOut:
    """A rights penalty, what was paid of it and what it still owes."""
    return ps.penalty_out(penalties.get_penalty(store, actor, penalty_id))


@router.post(
    "/rights-penalties/{penalty_id}/payments",
    response_model=ps.PenaltyOut,
    status_code=201,
    tags=["compliance"],
)
def pay_penalty(
    penalty_id: IdPath, body: ps.PaymentIn, store: Store, actor: Acts, response: Response
) -> ps.PenaltyOut:
    """Pay (part of) a penalty from the enterprise's cash, at most what it still owes: a
    `penalty_payment` entry. The same payment again answers the penalty as it is."""
    paid = penalties.pay_penalty(store, actor, body.to_domain(penalty_id), body.business_date)
    return created(response, paid, ps.penalty_out)
