"""The trade workflow: propose → accept (a hold) → record (settle) or refuse / decline /
rescind / expire (hold released).

Acceptance places ONE pending `trade_settlement` entry holding the seller's rights in every
remaining vintage and the buyer's cash (price and the buyer's fee); recording posts it whole, so
the rights leg, the CNY leg and the fees settle in one transaction. Every rule is checked inside
that transaction after the balances are locked (all in one ordered lock, so that concurrent
trades never deadlock), on acceptance and again on recording. A step reads what it needs once,
in as few statements as it can (a proposal's context in one; the trade with its parties; after
the lock, the policy and everything else the rules read in one; the hold in one) and hands it
on: the journal books against the balances locked here rather than locking them again. Each
state change appends a line to the trade's history, naming the party that acted. Proposing the
same trade again is a safe retry; another proposal under its id is a 409.

Who acts: a trade's seller and buyer (an enterprise's or the exchange's representative, or a
city or the province selling its reserve's rights: an authority takes part only as the seller)
propose, accept, decline and rescind, always as their own party; an authority that is no party
to the trade records or refuses it. A trade out of the actor's scope is not found. An error the
counterparty sees names none of the other party's amounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from ledger.domain.access import Actor, Role
from ledger.domain.accounts import Side
from ledger.domain.bounds import check_date
from ledger.domain.business_dates import effective_instant
from ledger.domain.entries import EntryRecord, PostingRequest, Reference
from ledger.domain.errors import (
    HoldingLimitExceeded,
    InsufficientBalance,
    InvalidField,
    LedgerError,
    RecordExists,
    RecordNotFound,
    TradePartyInvalid,
    TradeStateInvalid,
    UnknownParty,
)
from ledger.domain.pages import Created, Page, check_page_size, decode_cursor, keyset_page
from ledger.domain.ports import TradeEvent, TransferRules, UnitOfWork, UnitOfWorkFactory
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
from ledger.services import blocks, journal
from ledger.services.authority import acting_as, sees, use_case
from ledger.services.business_dates import effective_at_found
from ledger.services.parties import (
    Locked,
    Rules,
    amount,
    check_can_give,
    check_may_receive,
    check_same_basin,
    ensure_instruments,
    move,
    quantity,
    rules_from,
)
from ledger.services.rights import EXCHANGE
from ledger.services.transactions import in_transaction, read

ENTRY_TYPE = "trade_settlement"
TRADE_DATE = "trade_date"  # a trade's business date: its hold and settlement take effect then
AUTHORITY_ROLES = frozenset({Role.REGULATOR, Role.CITY_AUTHORITY})
SWEEPER = "ledger"  # the actor a lapse names in a trade's history


# -- proposal -----------------------------------------------------------------------------------


@use_case("trades.propose")
def propose(
    uow_factory: UnitOfWorkFactory, actor: Actor, trade: Trade, *, vintage: int | None = None
) -> Created[Trade]:
    """Propose a trade as its seller or its buyer (`trade.proposer`, if named, is the actor's
    party). Rights trades move t/a in every vintage from the trade's year to the end of the
    seller's latest entitlement; carbon trades name a year. The same proposal again (a retry)
    answers the stored trade, whatever its state; another one under the same id is
    `RecordExists`."""

    def work(uow: UnitOfWork) -> Created[Trade]:
        sent = replace(trade, proposer=acting_as(actor, trade.proposer or None, field="proposer"))
        # In range before its instant is computed: a day at the calendar's end has none.
        moment = effective_instant(check_date(sent.trade_date, TRADE_DATE))
        found = uow.registry.proposal_context(
            sent.id, sent.seller, sent.buyer, sent.family, moment
        )  # one read: what follows, and whether the trade exists
        if found.existing is not None:
            return Created(_replayed(found.existing, sent, vintage), replayed=True)
        if sent.seller == sent.buyer or sent.proposer not in (sent.seller, sent.buyer):
            raise InvalidField(
                "the proposer is the seller or the buyer, not both", field="proposer"
            )
        _check_trader(actor, sent, sent.proposer)
        seller, buyer = _parties_among(found.parties, sent)
        if buyer.kind is PartyKind.AUTHORITY:
            raise TradePartyInvalid(
                "an authority takes rights back by a reserve operation, not a trade",
                field="buyer",
            )
        check_price(sent, rules_from(found.policy).policy)
        first, last = _vintages(sent, seller, vintage, found.entitled)
        closed = found.closed_period
        effective_at_found(uow, sent.trade_date, closed, vintages=[first], field=TRADE_DATE)
        proposed = replace(sent, first_vintage=first, last_vintage=last, state=TradeState.PROPOSED)
        return Created(add_proposal(uow, proposed))

    return in_transaction(uow_factory, work, actor=actor)


def add_proposal(uow: UnitOfWork, trade: Trade) -> Trade:
    """Inside the caller's unit of work: store a checked proposal (its vintages set) and the
    first line of its history, naming its proposer."""
    ensure_instruments(uow, trade.family, trade.vintages)
    event = TradeEvent(trade.id, TradeState.PROPOSED, trade.proposer, uow.now(), "")
    uow.registry.add_trade(trade, event)
    return trade


def _replayed(existing: Trade, trade: Trade, vintage: int | None) -> Trade:
    """`existing` if `trade` proposes it again, else `RecordExists`. Compared: what a proposer
    sends (a carbon trade's year included), not the state or the rights vintages the ledger
    derived, which may have changed since."""
    same = _as_sent(existing) == _as_sent(trade)
    if trade.family == CARBON:
        same = same and existing.first_vintage == vintage
    if not same:
        raise RecordExists(f"trade {trade.id} exists, proposed otherwise", field="id")
    return existing


def _as_sent(trade: Trade) -> Trade:
    return replace(trade, state=TradeState.PROPOSED, first_vintage=None, last_vintage=None)


def _check_trader(actor: Actor, trade: Trade, party: str) -> None:
    """An authority takes part in a trade only as the seller of its reserve's rights."""
    if actor.role in AUTHORITY_ROLES and party != trade.seller:
        raise TradePartyInvalid(
            f"an authority trades only as the seller of its reserve's rights, not as {party}",
            field="actor",
        )


def rights_vintages(uow: UnitOfWork, family: str, seller: str, year: int) -> tuple[int, int]:
    """The vintages a sale of `seller`'s rights in `year` moves: from that year to the end of
    its latest entitlement of the pollutant."""
    entitlements = uow.registry.list_entitlements(seller, family, 0, 1000)
    first = min((e.first_vintage for _, e in entitlements), default=None)
    last = max((e.last_vintage for _, e in entitlements), default=None)
    span = None if first is None or last is None else (first, last)
    return _remaining(family, seller, year, span)


def _remaining(
    family: str, seller: str, year: int, entitled: tuple[int, int] | None
) -> tuple[int, int]:
    """From `year` to the end of the seller's entitlements of `family` (`entitled`: their
    earliest first and latest last vintage; None: it has none)."""
    if entitled is None:
        raise InvalidField(f"{seller} has no {family} entitlement", field="seller")
    return remaining_vintages(*entitled, year)


def _vintages(
    trade: Trade, seller: Party, vintage: int | None, entitled: tuple[int, int] | None
) -> tuple[int | None, int | None]:
    if trade.family == CCER:
        return None, None
    if trade.family == CARBON:
        if vintage is None:
            raise InvalidField("a carbon trade names its compliance year", field="vintage")
        return vintage, vintage
    if trade.family not in AIR_POLLUTANTS | WATER_POLLUTANTS:
        raise InvalidField(f"unknown pollutant {trade.family!r}", field="pollutant")
    return _remaining(trade.family, seller.code, trade.trade_date.year, entitled)


# -- actions ------------------------------------------------------------------------------------


@use_case("trades.accept")
def accept(
    uow_factory: UnitOfWorkFactory, actor: Actor, trade_id: str, party: str | None = None
) -> Trade:
    """The counterparty accepts (as the actor's party; `party`, if named, must be it): every
    rule is checked and the hold is placed."""

    def work(uow: UnitOfWork) -> Trade:
        trade, seller, buyer = _visible_with_parties(uow, actor, trade_id)
        acting = _trading_party(actor, trade, party)
        if _retried(uow, trade, TradeAction.ACCEPT, acting):
            return trade
        return accept_in(uow, trade, acting, parties=(seller, buyer))

    return in_transaction(uow_factory, work, actor=actor)


def accept_in(
    uow: UnitOfWork, trade: Trade, acting: str, *, parties: tuple[Party, Party] | None = None
) -> Trade:
    """Inside the caller's unit of work: `acting` accepts `trade` (locked by the caller), every
    rule is checked and the hold is placed (also a reserve listing's sale, `listings`).
    `parties`: its seller and buyer, if the caller read them already."""
    state = trade.next_state(TradeAction.ACCEPT, acting)
    seller, buyer = parties or _parties(uow, trade)
    locked = journal.lock(uow, _balances_moved(trade, seller, buyer), defer_last=True)
    rules, found = _read_rules(uow, trade, seller, buyer)  # after the lock (see _check_rules)
    codes = trade.instrument_codes()
    rules.check_not_expired(codes)
    postings, payment = _postings(trade, seller, buyer, rules.policy)
    giver = rights_account(seller)
    balances = locked.by_code()
    check_can_give(uow, seller.code, giver, codes, trade.units, locked=balances, disclose=False)
    _check_rules(uow, trade, (seller, buyer), (rules, found), balances)
    hold = journal.PostEntry(
        entry_id=_hold_id(trade),
        entry_type=ENTRY_TYPE,
        postings=tuple(postings),
        references=(Reference("trade", trade.id),),
        pending=True,
        metadata={"price_fen_per_t": trade.price_fen, "mode": trade.mode},
        effective_at=_effective_at(uow, trade, found),
    )
    accepted = _transition(uow, trade, state, acting)  # first: the hold's write locks the fees'
    try:
        journal.write_in(uow, [hold], locked=locked)
    except InsufficientBalance as short:
        # The seller's rights were checked under this lock: what is short is the buyer's
        # cash. The booking's refusal names the shortfall, which the seller (who may be
        # the one accepting) must not learn; this one names the trade's cost only.
        raise InsufficientBalance(
            f"{buyer.code}'s cash does not cover the {quantity(uow, CASH, payment)} "
            "(price and fee) this trade costs",
            field="buyer",
        ) from short
    return accepted


def _balances_moved(trade: Trade, seller: Party, buyer: Party) -> set[tuple[str, str]]:
    """Every balance an acceptance reads or writes, whatever the policy (read after the lock)
    says: both parties' rights and the seller's pledged rights (`check_can_give` reads them) in
    each vintage; if the trade has a price, the buyer's cash, the seller's proceeds and the
    fees' account. Locked in one order before any other balance lock; the revenue accounts
    among them (the fees', an authority's proceeds) last, when the hold's write books them
    (`journal.lock(..., defer_last=True)`): every priced trade credits the exchange's fees, so
    trades queue on that one row for the write and the commit only.

    Locking in two steps deadlocked on PostgreSQL: an acceptance held the seller's holdings and
    waited for the exchange's fee account, which a settlement of the same seller held while
    waiting for those holdings (found by `bench/load.py`'s mix of trades); and a recording
    locked its buyer's holdings for the holding limit before the settlement's other balances,
    among them its seller's holdings, which a recording of a trade the other way had locked
    first for its own limit (tests/integration/test_registry_concurrency.py). Locking the fees'
    account last in every transaction, not just later, is what keeps the first from recurring.
    """
    accounts = [rights_account(seller), rights_account(buyer), account_code(seller.code, PLEDGED)]
    pairs = {(account, code) for account in accounts for code in trade.instrument_codes()}
    if trade_value_fen(trade.price_fen, trade.units, scale_of(trade.family)):
        pairs |= {(account, CASH) for account in _cash_accounts(seller, buyer) if account}
    return pairs


def _parties(uow: UnitOfWork, trade: Trade) -> tuple[Party, Party]:
    """The trade's seller and buyer, read together."""
    return _parties_among(uow.registry.get_parties([trade.seller, trade.buyer]), trade)


def _parties_among(found: Mapping[str, Party], trade: Trade) -> tuple[Party, Party]:
    """The trade's seller and buyer among parties read, or `UnknownParty`."""
    for code, field in ((trade.seller, "seller"), (trade.buyer, "buyer")):
        if code not in found:
            raise UnknownParty(f"no party {code!r}", field=field)
    return found[trade.seller], found[trade.buyer]


@use_case("trades.record")
def record(
    uow_factory: UnitOfWorkFactory, actor: Actor, trade_id: str, party: str | None = None
) -> Trade:
    """The authority records the trade: rules again, then the hold is posted (settlement)."""

    def work(uow: UnitOfWork) -> Trade:
        trade, seller, buyer = _visible_with_parties(uow, actor, trade_id)
        acting = _authority_party(actor, trade, party, TradeAction.RECORD)
        if _retried(uow, trade, TradeAction.RECORD, acting):
            return trade
        state = trade.next_state(TradeAction.RECORD, acting)
        hold_id = _hold_id(trade)
        hold = uow.journal.get_whole(hold_id)  # read once: passed to the journal
        lines = hold.postings if hold is not None else ()  # none: the journal refuses below
        # The hold credits the buyer's holdings, so this also locks what the limit reads.
        pairs = {(p.account_code, p.instrument_code) for p in lines}
        locked = journal.lock(uow, pairs, defer_last=True)
        rules = _read_rules(uow, trade, seller, buyer, hold)
        _check_rules(uow, trade, (seller, buyer), rules, locked.by_code())
        settlement = replace(
            _resolution(trade, "settlement"), effective_at=_effective_at(uow, trade, rules[1])
        )
        recorded = _transition(uow, trade, state, acting)  # first: the settlement locks the fees'
        journal.write_in(uow, resolve=settlement, pending_entry=hold, locked=locked)
        return recorded

    return in_transaction(uow_factory, work, actor=actor)


@use_case("trades.decline")
def decline(
    uow_factory: UnitOfWorkFactory, actor: Actor, trade_id: str, party: str | None = None
) -> Trade:
    """The counterparty declines a proposal."""
    return _close(uow_factory, actor, trade_id, TradeAction.DECLINE, party)


@use_case("trades.rescind")
def rescind(
    uow_factory: UnitOfWorkFactory, actor: Actor, trade_id: str, party: str | None = None
) -> Trade:
    """The proposer withdraws (releasing the hold if it was accepted)."""
    return _close(uow_factory, actor, trade_id, TradeAction.RESCIND, party)


@use_case("trades.refuse")
def refuse(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    trade_id: str,
    reason: str = "",
    party: str | None = None,
) -> Trade:
    """The authority refuses to record the trade (releasing the hold if any)."""
    return _close(uow_factory, actor, trade_id, TradeAction.REFUSE, party, reason)


@use_case("trades.expire")
def expire(uow_factory: UnitOfWorkFactory, actor: Actor, trade_id: str) -> Trade:
    """A trade past its `expires_at` lapses (releasing the hold if any)."""
    return in_transaction(
        uow_factory, lambda uow: _lapse(uow, _visible(uow, actor, trade_id, lock=True)), actor=actor
    )


def expire_due(uow_factory: UnitOfWorkFactory, limit: int = 100) -> list[str]:
    """The sweeper (no actor: the deadline acts): expire every proposed or accepted trade past
    its deadline; the ids of those expired."""
    due = read(uow_factory, lambda uow: uow.registry.due_trades(uow.now(), limit))
    expired = []
    for trade_id in due:
        try:
            _expire(uow_factory, trade_id)
        except TradeStateInvalid:
            continue  # acted on concurrently: recorded, refused or expired by someone else
        expired.append(trade_id)
    return expired


def _expire(uow_factory: UnitOfWorkFactory, trade_id: str) -> Trade:
    return in_transaction(uow_factory, lambda uow: _lapse(uow, _locked(uow, trade_id)))


def _lapse(uow: UnitOfWork, trade: Trade) -> Trade:
    if trade.expires_at is None or trade.expires_at > uow.now():
        raise TradeStateInvalid(f"trade {trade.id} is not past a deadline", field="state")
    return _close_in(uow, trade, TradeAction.EXPIRE, SWEEPER, "")


def _close(  # noqa: PLR0917 - an action and its context
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    trade_id: str,
    action: TradeAction,
    party: str | None,
    note: str = "",
) -> Trade:
    def work(uow: UnitOfWork) -> Trade:
        trade = _visible(uow, actor, trade_id, lock=True)
        if action is TradeAction.REFUSE:
            acting = _authority_party(actor, trade, party, action)
        else:
            acting = _trading_party(actor, trade, party)
        if _retried(uow, trade, action, acting):
            return trade
        return _close_in(uow, trade, action, acting, note)

    return in_transaction(uow_factory, work, actor=actor)


def _trading_party(actor: Actor, trade: Trade, named: str | None) -> str:
    """The party a seller's or buyer's action is taken as: the actor's own (an authority's only
    as the seller)."""
    acting = acting_as(actor, named)
    _check_trader(actor, trade, acting)
    return acting


def _authority_party(actor: Actor, trade: Trade, named: str | None, action: TradeAction) -> str:
    """The authority recording or refusing a trade, as its party: never a party to the trade
    (a city does not decide on its own reserve's sale)."""
    acting = acting_as(actor, named)
    if acting in (trade.seller, trade.buyer):
        raise TradePartyInvalid(
            f"{acting} is a party to trade {trade.id}: another authority may {action.value} it",
            field="actor",
        )
    return acting


def _retried(uow: UnitOfWork, trade: Trade, action: TradeAction, acting: str) -> bool:
    """Whether this is a retry of the action that brought the trade into its current state, by
    the same party (say, after a lost response): it then answers with the trade, changing
    nothing, instead of refusing the retry as an illegal transition."""
    if trade.state is not TRANSITIONS[action][1]:
        return False
    events = uow.registry.trade_events(trade.id)
    return bool(events) and events[-1].actor == acting


def _close_in(uow: UnitOfWork, trade: Trade, action: TradeAction, acting: str, note: str) -> Trade:
    state = trade.next_state(action, acting)
    if trade.state is TradeState.ACCEPTED:
        journal.write_in(uow, resolve=_resolution(trade, "release"), void=True)
    return _transition(uow, trade, state, acting, note)


def _hold_id(trade: Trade) -> str:
    return f"trade-{trade.id}-hold"


def _resolution(trade: Trade, suffix: str) -> journal.ResolvePending:
    return journal.ResolvePending(_hold_id(trade), f"trade-{trade.id}-{suffix}")


def _locked(uow: UnitOfWork, trade_id: str) -> Trade:
    trade = uow.registry.get_trade(trade_id, lock=True)
    if trade is None:
        raise _not_found(trade_id)
    return trade


def _visible(uow: UnitOfWork, actor: Actor, trade_id: str, *, lock: bool = False) -> Trade:
    """The trade, if the actor sees it (its seller or buyer is in scope); else the same 404 as
    for an unknown id."""
    trade = uow.registry.get_trade(trade_id, lock=lock)
    if trade is None or not sees(uow, actor, trade.seller, trade.buyer):
        raise _not_found(trade_id)
    return trade


def _visible_with_parties(
    uow: UnitOfWork, actor: Actor, trade_id: str
) -> tuple[Trade, Party, Party]:
    """The trade, locked, with its seller and buyer (one read), if the actor sees it."""
    found = uow.registry.get_trade_and_parties(trade_id, lock=True)
    if found is None or not sees(uow, actor, found[0].seller, found[0].buyer):
        raise _not_found(trade_id)
    return found


def _not_found(trade_id: str) -> LedgerError:
    return RecordNotFound(f"trade {trade_id!r} not found", field="trade_id")


def _transition(
    uow: UnitOfWork, trade: Trade, state: TradeState, acting: str, note: str = ""
) -> Trade:
    uow.registry.set_trade_state(TradeEvent(trade.id, state, acting, uow.now(), note))
    return replace(trade, state=state)


# -- the rules and the entry --------------------------------------------------------------------


def _read_rules(
    uow: UnitOfWork, trade: Trade, seller: Party, buyer: Party, hold: EntryRecord | None = None
) -> tuple[Rules, TransferRules]:
    """After the lock: the policy, the buyer's city and its decision, both parties' blocks,
    whether the trade date is in a closed period and, recording, whether the hold (its balances
    locked) was resolved meanwhile, in one read. An unresolved hold is told to the journal,
    which then does not ask again; a resolved one it finds and refuses itself."""
    found = uow.registry.transfer_rules(
        seller.code,
        buyer.code,
        buyer.city or None,
        trade.trade_date.year,
        effective_instant(trade.trade_date),
        None if hold is None else hold.seq,
    )
    if hold is not None and found.pending_resolved is False:
        uow.journal.found_unresolved(hold.seq)
    return rules_from(found.policy), found


def _effective_at(uow: UnitOfWork, trade: Trade, found: TransferRules) -> datetime | None:
    """The trade date's effective time, refused in a closed period (read with the rules)."""
    return effective_at_found(uow, trade.trade_date, found.closed_period, field=TRADE_DATE)


def _check_rules(
    uow: UnitOfWork,
    trade: Trade,
    parties: tuple[Party, Party],
    rules: tuple[Rules, TransferRules],
    locked: Locked,
) -> None:
    """Every configurable rule, in a fixed order, inside the locked transaction (`rules` read
    after the lock: an expiry that held the balances first is seen)."""
    seller, buyer = parties
    codes = trade.instrument_codes()
    policy, found = rules[0].policy, rules[1]
    rules[0].check_not_expired(codes)
    check_price(trade, policy)
    year, city = trade.trade_date.year, (found.city, found.decision)
    check_may_receive(uow, trade.family, seller, buyer, year, policy, found=city)
    blocks.check_transfer(
        uow, seller.code, buyer.code, trade.family, trade.trade_date, found=found.blocks
    )
    check_same_basin(uow, trade.family, seller, buyer, policy)
    _check_holding_limit(uow, trade, buyer, codes, policy, locked)


def _check_holding_limit(  # noqa: PLR0917 - a rule over the locked balances
    uow: UnitOfWork,
    trade: Trade,
    buyer: Party,
    codes: Sequence[str],
    policy: Policy,
    locked: Locked,
) -> None:
    """The buyer's holdings (locked first: the trade's entry credits them) stay
    within the policy's limit; the refusal names the limit, not what the buyer holds."""
    limit = policy.holding_limit_units.get(trade.family)
    if limit is None:
        return
    holdings = rights_account(buyer)
    for code in codes:
        if locked[(holdings, code)].posted + trade.units > limit:
            raise HoldingLimitExceeded(
                f"{buyer.code} would hold more than the limit of {quantity(uow, code, limit)}",
                field="quantity",
            )


def _postings(
    trade: Trade, seller: Party, buyer: Party, policy: Policy
) -> tuple[list[PostingRequest], int]:
    """Rights in every vintage; the buyer's cash for price and fee; proceeds and fees. And what
    the buyer pays (fen)."""
    scale = scale_of(trade.family)
    postings = [
        line
        for code in trade.instrument_codes()
        for line in move(rights_account(seller), rights_account(buyer), code, trade.units, scale)
    ]
    value = trade_value_fen(trade.price_fen, trade.units, scale)
    if value == 0:
        return postings, 0
    buyer_cash, proceeds, fees_account = _cash_accounts(seller, buyer)
    buyer_fee, seller_fee = fee_split_fen(value, policy.fee_rate) if fees_account else (0, 0)
    postings += [
        PostingRequest(buyer_cash, CASH, Side.DEBIT, amount(2, value + buyer_fee)),
        PostingRequest(proceeds, CASH, Side.CREDIT, amount(2, value - seller_fee)),
    ]
    if fees_account and buyer_fee + seller_fee:
        fees = amount(2, buyer_fee + seller_fee)
        postings.append(PostingRequest(fees_account, CASH, Side.CREDIT, fees))
    return postings, value + buyer_fee


def _cash_accounts(seller: Party, buyer: Party) -> tuple[str, str, str | None]:
    """The buyer's cash, the seller's proceeds, and the exchange's fee revenue (None when an
    authority is a party: its trades pay no fees)."""
    fees_apply = PartyKind.AUTHORITY not in (seller.kind, buyer.kind)
    fees_account = account_code(EXCHANGE, REVENUE) if fees_apply else None
    return account_code(buyer.code, "cash"), proceeds_account(seller), fees_account


# -- queries --------------------------------------------------------------------------------


@use_case("trades.read")
def get_trade(
    uow_factory: UnitOfWorkFactory, actor: Actor, trade_id: str
) -> tuple[Trade, list[TradeEvent]]:
    """A trade and its history."""

    def work(uow: UnitOfWork) -> tuple[Trade, list[TradeEvent]]:
        trade = _visible(uow, actor, trade_id)
        return trade, uow.registry.trade_events(trade_id)

    return read(uow_factory, work)


@use_case("trades.list")
def list_trades(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    *,
    party: str | None,
    family: str | None,
    state: TradeState | None,
    cursor: str | None,
    limit: int,
) -> Page[Trade]:
    """Trades the actor sees (as seller or buyer in scope), filtered, one page after `cursor`."""
    after = decode_cursor("trades", cursor)
    check_page_size(limit)
    rows = read(
        uow_factory,
        lambda uow: uow.registry.list_trades(party, family, state, after, limit, scope=actor.scope),
    )
    return keyset_page("trades", rows, limit)
