"""Reserve listings (rules §4): an authority lists its reserve's rights at a fixed price or by
auction and closes its listing; an enterprise buys a fixed-price listing or bids in an auction.

Each form calls the use case of its endpoint (`/v1/listings…`, `ledger.services.listings`) with
the page's actor and the API's schema, so the floor price, the holds and every refusal are the
API's; a listing's sale is the trade of the same id, recorded on the trade proposals page by an
authority that is no party to it (docs/decisions/a-reserve-listings-sale-is-a-trade.md).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import registry_schemas as rs
from api.console import i18n
from api.console.pages_authority import POLLUTANTS
from api.console.permissions import PREFIX
from api.console.web import (
    Acts,
    Form,
    act,
    context_of,
    form_values,
    gettext,
    language_of,
    render,
)
from api.dependencies import Cursor, IdPath
from ledger.domain.access import Actor
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.operations import may
from ledger.domain.pages import Created
from ledger.domain.registry import Bid, Listing, ListingMode, ListingState, Trade, scale_of
from ledger.services import listings, parties

router = APIRouter()
# Open listings unless another state is asked for ("all": every state).
State = Annotated[str, Query(pattern=r"^(open|sold|unsold|withdrawn|all)$")]
STATES = ("open", "sold", "unsold", "withdrawn", "all")
ROWS = PAGE_SIZE_DEFAULT  # a module name: a test pages with fewer


def quantity_of(listing: Listing) -> Decimal:
    """The listing's t/a in each vintage, to the kg."""
    return Decimal(listing.units).scaleb(-scale_of(listing.family))


def cny(fen: int) -> Decimal:
    return Decimal(fen).scaleb(-2)


def _may(actor: Actor) -> dict[str, bool]:
    """The forms the page offers the role (the API's table decides; the use cases check)."""
    operations = ("create", "accept", "bid", "close")
    return {name: may(actor.role, f"listings.{name}") for name in operations}


@router.get("/listings", include_in_schema=False)
def listings_page(
    request: Request, actor: Acts, state: State = "open", cursor: Cursor = None
) -> Response:
    """Listings (every reader sees every listing: they are public offers), open ones first
    shown; for an authority the form to list its reserve's rights, with the floor prices."""
    store = context_of(request).store
    wanted = None if state == "all" else ListingState(state)
    page = listings.list_listings(store, actor, wanted, cursor, ROWS)
    floors = parties.get_policy(store, actor).floor_fen_per_t
    return render(
        request,
        "listings.html",
        listings=page.items,
        next_cursor=page.next_cursor,
        state=state,
        states=STATES,
        may=_may(actor),
        quantity_of=quantity_of,
        cny=cny,
        floors={family: cny(fen) for family, fen in sorted(floors.items())},
        pollutants=POLLUTANTS,
        new_id=f"L-{secrets.token_hex(4).upper()}",
        today=datetime.now(i18n.CHINA_STANDARD_TIME).date(),
    )


@router.get("/listings/{listing_id}", include_in_schema=False)
def listing_page(request: Request, listing_id: IdPath, actor: Acts) -> Response:
    """One listing and its bids (a bidder is named to itself, the seller and oversight); the
    form to buy, bid or close, as the role and the listing allow."""
    listing, bids = listings.get_listing(context_of(request).store, actor, listing_id)
    best = max((b.price_fen for b in bids), default=None)
    return render(
        request,
        "listing.html",
        listing=listing,
        bids=sorted(bids, key=lambda b: b.seq, reverse=True),
        best=None if best is None else cny(best),
        may=_may(actor),
        quantity_of=quantity_of,
        cny=cny,
        auction=ListingMode.AUCTION,
        open_state=ListingState.OPEN,
        new_id=f"B-{secrets.token_hex(4).upper()}",
    )


@router.post("/listings", include_in_schema=False)
def create_listing(request: Request, actor: Acts, form: Form) -> Response:
    """List reserve rights as the actor's authority (`POST /v1/listings`)."""
    _, language = gettext(request), language_of(request)
    names = ("id", "pollutant", "quantity", "mode", "price_cny_per_t", "listing_date")
    body = {key: value for key, value in form_values(form, *names).items() if value is not None}
    body["seller"] = actor.party or ""
    store = context_of(request).store

    def run() -> Created[Listing]:
        return listings.create_listing(store, actor, rs.ListingIn.model_validate(body).to_domain())

    def done(made: Created[Listing]) -> str:
        listed = made.record
        message = _("Listing %(id)s open: %(quantity)s t/a of %(pollutant)s in %(vintages)s.")
        return message % {
            "id": listed.id,
            "quantity": i18n.amount(quantity_of(listed), language),
            "pollutant": listed.family,
            "vintages": f"{listed.first_vintage}–{listed.last_vintage}",
        }

    return act(request, f"{PREFIX}/listings", done, run)


@router.post("/listings/{listing_id}/accept", include_in_schema=False)
def buy(request: Request, listing_id: IdPath, actor: Acts, form: Form) -> Response:
    """Buy a fixed-price listing as the actor's enterprise (`POST …/accept`)."""
    del form
    _ = gettext(request)
    store = context_of(request).store

    def done(sale: Trade) -> str:
        message = _("You bought listing %(id)s: its trade waits for an authority's record.")
        return message % {"id": sale.id}

    return act(
        request,
        f"{PREFIX}/listings/{listing_id}",
        done,
        lambda: listings.accept_listing(store, actor, listing_id),
    )


@router.post("/listings/{listing_id}/bids", include_in_schema=False)
def bid(request: Request, listing_id: IdPath, actor: Acts, form: Form) -> Response:
    """Bid in an auction as the actor's enterprise (`POST …/bids`); the same form sent twice
    replays (its hidden id): one bid, not a second refused as not above the first."""
    _, language = gettext(request), language_of(request)
    store = context_of(request).store
    values = form_values(form, "id", "price_cny_per_t")
    body = {k: v for k, v in values.items() if v is not None}

    def run() -> Created[Bid]:
        sent = rs.BidIn.model_validate(body)
        price = rs.fen(sent.price_cny_per_t, "price_cny_per_t")
        return listings.bid(store, actor, listing_id, price, bid_id=sent.id)

    def done(made: Created[Bid]) -> str:
        message = _("Bid of %(price)s per t placed on listing %(id)s.")
        price = i18n.money(cny(made.record.price_fen), language)
        return message % {"price": price, "id": listing_id}

    return act(request, f"{PREFIX}/listings/{listing_id}", done, run)


@router.post("/listings/{listing_id}/close", include_in_schema=False)
def close(request: Request, listing_id: IdPath, actor: Acts, form: Form) -> Response:
    """The seller closes its listing (`POST …/close`): an auction is sold to the best bid the
    rules allow, or closes unsold; a fixed-price listing is withdrawn."""
    del form
    _ = gettext(request)
    store = context_of(request).store

    def done(closed: Listing) -> str:
        message = _("Listing %(id)s closed: %(state)s.")  # sold, unsold or withdrawn
        return message % {"id": closed.id, "state": _(closed.state.value)}

    return act(
        request,
        f"{PREFIX}/listings/{listing_id}",
        done,
        lambda: listings.close_listing(store, actor, listing_id),
    )
