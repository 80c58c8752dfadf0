"""The trade workflow: propose → accept (a hold) → record (settle) or refuse / decline /
rescind / expire (hold released).

Acceptance places ONE pending `trade_settlement` entry holding the seller's rights in every
remaining vintage and the buyer's cash (price and the buyer's fee); recording posts it whole, so
the rights leg, the CNY leg and the fees settle in one transaction. Every rule is checked inside
that transaction after the balances are locked (all in one ordered lock, so that concurrent
trades never deadlock), on acceptance and again on recording. Each state change appends a line
to the trade's history. Proposing the same trade again is a safe retry; another proposal under
its id is a 409.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ledger.domain.accounts import Side
from ledger.domain.entries import PostingRequest, Reference
from ledger.domain.errors import (
    BasinMismatch,
    CityMayNotReceive,
    HoldingLimitExceeded,
    InvalidField,
    RecordExists,
    RecordNotFound,
    TradeStateInvalid,
)
from ledger.domain.pages import check_page_size, decode_cursor
from ledger.domain.ports import TradeEvent, UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import (
    AIR_POLLUTANTS,
    CARBON,
    CASH,
    CCER,
    PLEDGED,
    REVENUE,
    TRANSITIONS,
    WATER_POLLUTANTS,
    Party,
    PartyKind,
    Policy,
    Trade,
    TradeAction,
    TradeState,
    account_code,
    check_price,
    fee_split_fen,
    proceeds_account,
    remaining_vintages,
    rights_account,
    scale_of,
    trade_value_fen,
)
from ledger.services import journal
from ledger.services.parties import (
    amount,
    check_can_give,
    check_not_expired,
    ensure_instruments,
    lock_balances,
    move,
    party_of,
    policy_of,
)
from ledger.services.rights import EXCHANGE
from ledger.services.transactions import in_transaction, read

ENTRY_TYPE = "trade_settlement"


# -- proposal -----------------------------------------------------------------------------------


def propose(
    uow_factory: UnitOfWorkFactory, trade: Trade, *, vintage: int | None = None
) -> tuple[Trade, bool]:
    """Propose a trade (by its seller or its buyer); returns it and whether it is new. Rights
    trades move t/a in every vintage from the trade's year to the end of the seller's latest
    entitlement; carbon trades name a year. The same proposal again (a retry) answers the stored
    trade, whatever its state; another one under the same id is `RecordExists`."""

    def work(uow: UnitOfWork) -> tuple[Trade, bool]:
        existing = uow.registry.get_trade(trade.id)
        if existing is not None:
            return _replayed(existing, trade, vintage), False
        seller = party_of(uow, trade.seller, field="seller")
        party_of(uow, trade.buyer, field="buyer")
        if trade.seller == trade.buyer or trade.proposer not in (trade.seller, trade.buyer):
            raise InvalidField(
                "the proposer is the seller or the buyer, not both", field="proposer"
            )
        check_price(trade, policy_of(uow))
        first, last = _vintages(uow, trade, seller, vintage)
        proposed = replace(trade, first_vintage=first, last_vintage=last, state=TradeState.PROPOSED)
        ensure_instruments(uow, trade.family, proposed.vintages)
        now = uow.now()
        uow.registry.add_trade(proposed, now)
        uow.registry.add_trade_event(
            TradeEvent(trade.id, TradeState.PROPOSED, trade.proposer, now, "")
        )
        return proposed, True

    try:
        return in_transaction(uow_factory, work)
    except RecordExists:
        # A concurrent proposal under this id won the insert (say, this is a client's retry
        # while its first attempt still ran): if it is the same proposal, this is its replay.
        existing = read(uow_factory, lambda uow: uow.registry.get_trade(trade.id))
        if existing is None:
            raise
        return _replayed(existing, trade, vintage), False


def _replayed(existing: Trade, trade: Trade, vintage: int | None) -> Trade:
    """`existing` if `trade` proposes it again, else `RecordExists`. Compared: what a proposer
    sends (a carbon trade's year included), not the state or the rights vintages the ledger
    derived, which may have changed since."""
    same = _as_sent(existing) == _as_sent(trade)
    if trade.family == CARBON:
        same = same and existing.first_vintage == vintage
    if not same:
        raise RecordExists(f"trade {trade.id} exists ({existing.state.value})", field="id")
    return existing


def _as_sent(trade: Trade) -> Trade:
    return replace(trade, state=TradeState.PROPOSED, first_vintage=None, last_vintage=None)


def _vintages(
    uow: UnitOfWork, trade: Trade, seller: Party, vintage: int | None
) -> tuple[int | None, int | None]:
    if trade.family == CCER:
        return None, None
    if trade.family == CARBON:
        if vintage is None:
            raise InvalidField("a carbon trade names its compliance year", field="vintage")
        return vintage, vintage
    if trade.family not in AIR_POLLUTANTS | WATER_POLLUTANTS:
        raise InvalidField(f"unknown pollutant {trade.family!r}", field="pollutant")
    entitlements = uow.registry.list_entitlements(seller.code, trade.family, 0, 1000)
    if not entitlements:
        raise InvalidField(f"{seller.code} has no {trade.family} entitlement", field="seller")
    first = min(e.first_vintage for _, e in entitlements)
    last = max(e.last_vintage for _, e in entitlements)
    return remaining_vintages(first, last, trade.trade_date.year)


# -- actions ------------------------------------------------------------------------------------


def accept(uow_factory: UnitOfWorkFactory, trade_id: str, actor: str) -> Trade:
    """The counterparty accepts: every rule is checked and the hold is placed."""

    def work(uow: UnitOfWork) -> Trade:
        trade = _locked(uow, trade_id)
        if _retried(uow, trade, TradeAction.ACCEPT, actor):
            return trade
        state = trade.next_state(TradeAction.ACCEPT, actor)
        seller = party_of(uow, trade.seller)
        codes = trade.instrument_codes()
        check_not_expired(uow, codes)
        postings = _postings(uow, trade, seller)
        pledged = account_code(seller.code, PLEDGED)  # check_can_give reads it
        _lock_first(
            uow,
            {(p.account_code, p.instrument_code) for p in postings}
            | {(pledged, code) for code in codes},
        )
        check_can_give(uow, seller.code, rights_account(seller), codes, trade.units)
        _check_rules(uow, trade, seller)
        hold = journal.PostEntry(
            entry_id=_hold_id(trade),
            entry_type=ENTRY_TYPE,
            postings=tuple(postings),
            references=(Reference("trade", trade.id),),
            pending=True,
            metadata={"price_fen_per_t": trade.price_fen, "mode": trade.mode},
        )
        journal.write_in(uow, [hold])
        return _transition(uow, trade, state, actor)

    return in_transaction(uow_factory, work)


def _lock_first(uow: UnitOfWork, pairs: set[tuple[str, str]]) -> None:
    """Lock every balance a trade action reads or writes in one ordered statement, before any
    other balance lock, so that the later ones (the seller's check, the holding limit, the
    entry) find them held and wait for nothing. Accounts that do not exist are left out.

    Locking in two steps deadlocked on PostgreSQL: an acceptance held the seller's holdings and
    waited for the exchange's fee account, which a settlement of the same seller held while
    waiting for those holdings (found by `bench/load.py`'s mix of trades); and a recording
    locked its buyer's holdings for the holding limit before the settlement's other balances,
    among them its seller's holdings, which a recording of a trade the other way had locked
    first for its own limit (tests/integration/test_registry_concurrency.py).
    """
    known = uow.accounts.cached(code for code, _ in pairs)
    lock_balances(uow, sorted(pair for pair in pairs if pair[0] in known))


def record(uow_factory: UnitOfWorkFactory, trade_id: str, actor: str) -> Trade:
    """The authority records the trade: rules again, then the hold is posted (settlement)."""

    def work(uow: UnitOfWork) -> Trade:
        trade = _locked(uow, trade_id)
        if _retried(uow, trade, TradeAction.RECORD, actor):
            return trade
        state = trade.next_state(TradeAction.RECORD, actor)
        seller = party_of(uow, trade.seller)
        holds = uow.journal.get_many([_hold_id(trade)]).values()
        # The hold credits the buyer's holdings, so this also locks what the limit reads.
        _lock_first(uow, {(p.account_code, p.instrument_code) for h in holds for p in h.postings})
        _check_rules(uow, trade, seller)
        journal.write_in(uow, resolve=_resolution(trade, "settlement"))
        return _transition(uow, trade, state, actor)

    return in_transaction(uow_factory, work)


def decline(uow_factory: UnitOfWorkFactory, trade_id: str, actor: str) -> Trade:
    """The counterparty declines a proposal."""
    return _close(uow_factory, trade_id, TradeAction.DECLINE, actor)


def rescind(uow_factory: UnitOfWorkFactory, trade_id: str, actor: str) -> Trade:
    """The proposer withdraws (releasing the hold if it was accepted)."""
    return _close(uow_factory, trade_id, TradeAction.RESCIND, actor)


def refuse(uow_factory: UnitOfWorkFactory, trade_id: str, actor: str, reason: str = "") -> Trade:
    """The authority refuses to record the trade (releasing the hold if any)."""
    return _close(uow_factory, trade_id, TradeAction.REFUSE, actor, reason)


def expire(uow_factory: UnitOfWorkFactory, trade_id: str) -> Trade:
    """A trade past its `expires_at` lapses (releasing the hold if any)."""

    def work(uow: UnitOfWork) -> Trade:
        trade = _locked(uow, trade_id)
        if trade.expires_at is None or trade.expires_at > uow.now():
            raise TradeStateInvalid(f"trade {trade_id} is not past a deadline", field="state")
        return _close_in(uow, trade, TradeAction.EXPIRE, "ledger", "")

    return in_transaction(uow_factory, work)


def expire_due(uow_factory: UnitOfWorkFactory, limit: int = 100) -> list[str]:
    """Expire every proposed or accepted trade past its deadline; the ids of those expired."""
    due = read(uow_factory, lambda uow: uow.registry.due_trades(uow.now(), limit))
    expired = []
    for trade_id in due:
        try:
            expire(uow_factory, trade_id)
        except TradeStateInvalid:
            continue  # acted on concurrently: recorded, refused or expired by someone else
        expired.append(trade_id)
    return expired


def _close(
    uow_factory: UnitOfWorkFactory, trade_id: str, action: TradeAction, actor: str, note: str = ""
) -> Trade:
    def work(uow: UnitOfWork) -> Trade:
        trade = _locked(uow, trade_id)
        if _retried(uow, trade, action, actor):
            return trade
        return _close_in(uow, trade, action, actor, note)

    return in_transaction(uow_factory, work)


def _retried(uow: UnitOfWork, trade: Trade, action: TradeAction, actor: str) -> bool:
    """Whether this is a retry of the action that brought the trade into its current state, by
    the same actor (say, after a lost response): it then answers with the trade, changing
    nothing, instead of refusing the retry as an illegal transition."""
    if trade.state is not TRANSITIONS[action][1]:
        return False
    events = uow.registry.trade_events(trade.id)
    return bool(events) and events[-1].actor == actor


def _close_in(uow: UnitOfWork, trade: Trade, action: TradeAction, actor: str, note: str) -> Trade:
    state = trade.next_state(action, actor)
    if trade.state is TradeState.ACCEPTED:
        journal.write_in(uow, resolve=_resolution(trade, "release"), void=True)
    return _transition(uow, trade, state, actor, note)


def _hold_id(trade: Trade) -> str:
    return f"trade-{trade.id}-hold"


def _resolution(trade: Trade, suffix: str) -> journal.ResolvePending:
    return journal.ResolvePending(_hold_id(trade), f"trade-{trade.id}-{suffix}")


def _locked(uow: UnitOfWork, trade_id: str) -> Trade:
    trade = uow.registry.get_trade(trade_id, lock=True)
    if trade is None:
        raise RecordNotFound(f"no trade {trade_id!r}", field="trade_id")
    return trade


def _transition(
    uow: UnitOfWork, trade: Trade, state: TradeState, actor: str, note: str = ""
) -> Trade:
    now = uow.now()
    uow.registry.set_trade_state(trade.id, state, now)
    uow.registry.add_trade_event(TradeEvent(trade.id, state, actor, now, note))
    return replace(trade, state=state)


# -- the rules and the entry --------------------------------------------------------------------


def _check_rules(uow: UnitOfWork, trade: Trade, seller: Party) -> None:
    """Every configurable rule, in a fixed order, inside the locked transaction."""
    policy = policy_of(uow)
    codes = trade.instrument_codes()
    check_not_expired(uow, codes)
    check_price(trade, policy)
    buyer = party_of(uow, trade.buyer)
    _check_city(uow, trade, buyer, policy)
    _check_basin(uow, trade, seller, buyer, policy)
    _check_holding_limit(uow, trade, buyer, codes, policy)


def _check_city(uow: UnitOfWork, trade: Trade, buyer: Party, policy: Policy) -> None:
    if not policy.check_city_eligibility or trade.family not in AIR_POLLUTANTS:
        return
    city = uow.registry.get_city(buyer.city) if buyer.city else None
    if city is not None and not city.may_receive_air_rights:
        raise CityMayNotReceive(
            f"{buyer.code}'s city {city.name} may not receive air-pollutant rights",
            field="buyer",
        )


def _check_basin(
    uow: UnitOfWork, trade: Trade, seller: Party, buyer: Party, policy: Policy
) -> None:
    if not policy.check_basin or trade.family not in WATER_POLLUTANTS:
        return
    basins = [uow.registry.get_city(p.city) if p.city else None for p in (seller, buyer)]
    names = {city.basin for city in basins if city is not None and city.basin}
    if len(names) > 1 or (len(names) == 1 and any(c is None or not c.basin for c in basins)):
        raise BasinMismatch(
            f"{seller.code} and {buyer.code} are not in one river basin", field="buyer"
        )


def _check_holding_limit(
    uow: UnitOfWork, trade: Trade, buyer: Party, codes: Sequence[str], policy: Policy
) -> None:
    limit = policy.holding_limit_units.get(trade.family)
    if limit is None:
        return
    holdings = rights_account(buyer)
    # Locked already by `_lock_first` (the trade's entry credits them): locking again waits for
    # nothing, and keeps the check race-safe should a caller ever not lock first.
    _, balances = lock_balances(uow, [(holdings, code) for code in codes])
    for code in codes:
        if balances[(holdings, code)].posted + trade.units > limit:
            raise HoldingLimitExceeded(
                f"{buyer.code} would hold more than {limit} units of {code}", field="quantity"
            )


def _postings(uow: UnitOfWork, trade: Trade, seller: Party) -> list[PostingRequest]:
    """Rights in every vintage; the buyer's cash for price and fee; proceeds and fees."""
    buyer = party_of(uow, trade.buyer)
    scale = scale_of(trade.family)
    postings = [
        line
        for code in trade.instrument_codes()
        for line in move(rights_account(seller), rights_account(buyer), code, trade.units, scale)
    ]
    value = trade_value_fen(trade.price_fen, trade.units, scale)
    if value == 0:
        return postings
    fees_apply = PartyKind.AUTHORITY not in (seller.kind, buyer.kind)
    buyer_fee, seller_fee = fee_split_fen(value, policy_of(uow).fee_rate) if fees_apply else (0, 0)
    buyer_cash = account_code(buyer.code, "cash")
    postings += [
        PostingRequest(buyer_cash, CASH, Side.DEBIT, amount(2, value + buyer_fee)),
        PostingRequest(proceeds_account(seller), CASH, Side.CREDIT, amount(2, value - seller_fee)),
    ]
    if buyer_fee + seller_fee:
        fees = amount(2, buyer_fee + seller_fee)
        postings.append(PostingRequest(account_code(EXCHANGE, REVENUE), CASH, Side.CREDIT, fees))
    return postings


# -- queries --------------------------------------------------------------------------------


def get_trade(uow_factory: UnitOfWorkFactory, trade_id: str) -> tuple[Trade, list[TradeEvent]]:
    """A trade and its history."""

    def work(uow: UnitOfWork) -> tuple[Trade, list[TradeEvent]]:
        trade = uow.registry.get_trade(trade_id)
        if trade is None:
            raise RecordNotFound(f"no trade {trade_id!r}", field="trade_id")
        return trade, uow.registry.trade_events(trade_id)

    return read(uow_factory, work)


def list_trades(
    uow_factory: UnitOfWorkFactory,
    *,
    party: str | None,
    family: str | None,
    state: TradeState | None,
    cursor: str | None,
    limit: int,
) -> list[tuple[int, Trade]]:
    after = decode_cursor("trades", cursor)
    check_page_size(limit)
    return read(
        uow_factory, lambda uow: uow.registry.list_trades(party, family, state, after, limit)
    )
