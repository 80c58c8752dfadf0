"""Trades and compliance: propose and act on trades; obligations, surrenders, status, deadline."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from api import registry_schemas as rs
from api.auth import Caller, acting_party
from api.dependencies import Cursor, Filter, IdPath, Store, YearQuery
from api.scoping import View
from ledger.domain.access import Principal
from ledger.domain.errors import PartyNotFound, RecordNotFound
from ledger.domain.limits import PAGE_SIZE_DEFAULT
from ledger.domain.pages import next_cursor
from ledger.domain.ports import UnitOfWorkFactory
from ledger.domain.registry import Trade, TradeState
from ledger.services import compliance, trading

router = APIRouter(prefix="/v1")

STATES = "^(" + "|".join(s.value for s in TradeState) + ")$"


@router.post(
    "/trades",
    response_model=rs.TradeOut,
    status_code=201,
    tags=["trades"],
    responses={200: {"model": rs.TradeOut, "description": "Proposed already, as defined"}},
)
def propose(body: rs.TradeIn, store: Store, caller: Caller, response: Response) -> rs.TradeOut:
    """Propose a trade (by the seller or the buyer); nothing is held yet. The same proposal
    again (a retry) answers 200 with the stored trade, in whatever state it is now."""
    proposer = acting_party(caller, body.proposer)
    trade = replace(body.to_domain(), proposer=proposer)
    proposed, created = trading.propose(store, trade, vintage=body.vintage)
    response.status_code = 201 if created else 200
    return rs.trade_out(proposed)


@router.get("/trades", response_model=rs.TradePage, tags=["trades"])
def list_trades(  # noqa: PLR0917 - query parameters
    store: Store,
    view: View,
    party: Filter = None,
    instrument: Filter = None,
    state: Annotated[str | None, Query(pattern=STATES)] = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.TradePage:
    """Trades, filtered by party (seller or buyer), pollutant or carbon unit, and state."""
    if view.excludes(party):
        return rs.TradePage(trades=[], next_cursor=None)
    page = trading.list_trades(
        store,
        party=view.party_filter(party),
        family=instrument,
        state=TradeState(state) if state else None,
        cursor=cursor,
        limit=limit,
    )
    return rs.TradePage(
        trades=[rs.trade_out(t) for _, t in page if view.sees(t.seller, t.buyer)],
        next_cursor=next_cursor("trades", [position for position, _ in page], limit),
    )


@router.get("/trades/{trade_id}", response_model=rs.TradeOut, tags=["trades"])
def get_trade(trade_id: IdPath, store: Store, view: View) -> rs.TradeOut:
    """A trade and its history of states."""
    trade, history = trading.get_trade(store, trade_id)
    view.require(RecordNotFound, f"trade {trade_id!r}", trade.seller, trade.buyer)
    return rs.trade_out(trade, history)


@router.post("/trades/{trade_id}/accept", response_model=rs.TradeOut, tags=["trades"])
def accept(
    trade_id: IdPath, body: rs.TradeActionIn, store: Store, caller: Caller, view: View
) -> rs.TradeOut:
    """The counterparty accepts: every rule is checked and the seller's rights are held."""
    return _act(trading.accept, store, view, caller, trade_id, body.actor)


@router.post("/trades/{trade_id}/decline", response_model=rs.TradeOut, tags=["trades"])
def decline(
    trade_id: IdPath, body: rs.TradeActionIn, store: Store, caller: Caller, view: View
) -> rs.TradeOut:
    """The counterparty declines the proposal."""
    return _act(trading.decline, store, view, caller, trade_id, body.actor)


@router.post("/trades/{trade_id}/rescind", response_model=rs.TradeOut, tags=["trades"])
def rescind(
    trade_id: IdPath, body: rs.TradeActionIn, store: Store, caller: Caller, view: View
) -> rs.TradeOut:
    """The proposer withdraws; a hold is released."""
    return _act(trading.rescind, store, view, caller, trade_id, body.actor)


@router.post("/trades/{trade_id}/record", response_model=rs.TradeOut, tags=["trades"])
def record(
    trade_id: IdPath, body: rs.TradeActionIn, store: Store, caller: Caller, view: View
) -> rs.TradeOut:
    """The authority records the trade: rights, cash and fees settle atomically."""
    return _act(trading.record, store, view, caller, trade_id, body.actor)


@router.post("/trades/{trade_id}/refuse", response_model=rs.TradeOut, tags=["trades"])
def refuse(
    trade_id: IdPath, body: rs.TradeActionIn, store: Store, caller: Caller, view: View
) -> rs.TradeOut:
    """The authority refuses the trade; a hold is released."""
    return _act(
        partial(trading.refuse, reason=body.reason), store, view, caller, trade_id, body.actor
    )


@router.post("/trades/{trade_id}/expire", response_model=rs.TradeOut, tags=["trades"])
def expire(trade_id: IdPath, store: Store, view: View) -> rs.TradeOut:
    """A trade past its `expires_at` lapses; a hold is released."""
    _visible_trade(store, view, trade_id)
    return rs.trade_out(trading.expire(store, trade_id))


def _act(  # noqa: PLR0917 - an action and its context
    action: Callable[[UnitOfWorkFactory, str, str], Trade],
    store: Store,
    view: View,
    caller: Principal,
    trade_id: str,
    named_actor: str | None,
) -> rs.TradeOut:
    """A trade action by the caller's party, on a trade the caller can see."""
    _visible_trade(store, view, trade_id)
    return rs.trade_out(action(store, trade_id, acting_party(caller, named_actor)))


def _visible_trade(store: Store, view: View, trade_id: str) -> None:
    if view.scope.unlimited:  # the action itself refuses an unknown trade
        return
    trade, _ = trading.get_trade(store, trade_id)
    view.require(RecordNotFound, f"trade {trade_id!r}", trade.seller, trade.buyer)


# -- compliance ------------------------------------------------------------------------------


@router.post("/obligations", response_model=rs.ObligationOut, status_code=201, tags=["compliance"])
def set_obligation(body: rs.ObligationIn, store: Store) -> rs.ObligationOut:
    """A regulator enters verified emissions for a period: the enterprise's obligation."""
    return rs.obligation_out(compliance.set_obligation(store, body.to_domain()))


@router.get("/obligations", response_model=rs.ObligationPage, tags=["compliance"])
def list_obligations(  # noqa: PLR0917 - query parameters
    store: Store,
    view: View,
    party: Filter = None,
    period: YearQuery = None,
    cursor: Cursor = None,
    limit: int = PAGE_SIZE_DEFAULT,
) -> rs.ObligationPage:
    """Obligations, filtered by party and period; follow `next_cursor`."""
    if view.excludes(party):
        return rs.ObligationPage(obligations=[], next_cursor=None)
    page = compliance.list_obligations(store, view.party_filter(party), period, cursor, limit)
    following = next_cursor("obligations", [position for position, _ in page], limit)
    return rs.ObligationPage(
        obligations=[rs.obligation_out(o) for _, o in page if view.sees(o.party_code)],
        next_cursor=following,
    )


@router.post(
    "/obligations/{obligation_id}/surrenders",
    response_model=list[rs.SurrenderOut],
    status_code=201,
    tags=["compliance"],
)
def surrender(
    obligation_id: IdPath, body: rs.SurrenderIn, store: Store, view: View
) -> list[rs.SurrenderOut]:
    """Surrender allowances (oldest vintage first unless `instrument` is named) or CCER."""
    _visible_obligation(store, view, obligation_id)
    family = "CCER" if body.instrument == "CCER" else "CEA"
    request = compliance.SurrenderRequest(
        body.id,
        obligation_id,
        rs.quantity_units(body.quantity_tco2, family, "quantity_tco2"),
        body.instrument,
    )
    return [
        rs.SurrenderOut(instrument=s.instrument_code, quantity_tco2=str(s.units))
        for s in compliance.surrender(store, request)
    ]


@router.get("/obligations/{obligation_id}/status", response_model=rs.StatusOut, tags=["compliance"])
def status(obligation_id: IdPath, store: Store, view: View) -> rs.StatusOut:
    """Obligation, surrendered, shortfall, and the shortfall left after current holdings."""
    found = compliance.status(store, obligation_id)
    view.require(RecordNotFound, f"obligation {obligation_id!r}", found.obligation.party_code)
    return rs.status_out(found)


@router.post("/obligations/{obligation_id}/close", response_model=rs.StatusOut, tags=["compliance"])
def close(obligation_id: IdPath, body: rs.DeadlineIn, store: Store) -> rs.StatusOut:
    """At the deadline: book the shortfall penalty and deduct the shortfall from next year."""
    price = rs.fen(body.average_price_cny, "average_price_cny")
    return rs.status_out(compliance.close_deadline(store, obligation_id, price))


@router.get("/parties/{code}/compliance", response_model=list[rs.StatusOut], tags=["compliance"])
def party_compliance(
    code: Annotated[str, Path(max_length=32)], store: Store, view: View
) -> list[rs.StatusOut]:
    """Every obligation of an enterprise with what it surrendered and its (projected) shortfall."""
    view.require(PartyNotFound, f"party {code!r}", code)
    return [rs.status_out(s) for s in compliance.statuses_of(store, code)]


def _visible_obligation(store: Store, view: View, obligation_id: str) -> None:
    if view.scope.unlimited:  # the surrender itself refuses an unknown obligation
        return
    found = compliance.status(store, obligation_id)
    view.require(RecordNotFound, f"obligation {obligation_id!r}", found.obligation.party_code)
