"""The registry's business records over one SQLAlchemy connection (Core statements).

Listings return (position, record) pairs: the position is the row's `seq`, which cursors name.
`trade_events` is only ever inserted into: it is the append-only history of trade states.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Select,
    Table,
    and_,
    bindparam,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Row

from ledger.domain.access import EVERYTHING, Scope
from ledger.domain.finance import PeriodState
from ledger.domain.penalties import PenaltyPayment, RightsPenalty
from ledger.domain.ports import ProposalContext, Surrender, TradeEvent, TransferRules
from ledger.domain.registry import (
    CASH,
    HOLDINGS,
    Acquisition,
    Bid,
    BlockKind,
    City,
    CityYear,
    Deduction,
    Entitlement,
    Listing,
    ListingMode,
    ListingState,
    Obligation,
    Outlet,
    Party,
    PartyKind,
    Pledge,
    Trade,
    TradeState,
    TradingBlock,
    account_code,
    instrument_code,
)
from ledger.persistence import tables as t
from ledger.persistence.scoping import visible_to

POLICY_KEY = "registry"

# The trade workflow's statements, built once (building them per call cost more than sending
# them). A trade is read with its seller and buyer; locking it locks the trade's row only.
_TRADE_ID = t.trades.c.id == bindparam("trade_id")
_SELLER, _BUYER = t.parties.alias("seller"), t.parties.alias("buyer")
_TRADE = select(t.trades).where(_TRADE_ID)
_LOCK_TRADE = _TRADE.with_for_update()
_TRADE_AND_PARTIES = (
    select(
        t.trades,
        *(column.label(f"seller_{column.name}") for column in _SELLER.c),
        *(column.label(f"buyer_{column.name}") for column in _BUYER.c),
    )
    .join_from(t.trades, _SELLER, _SELLER.c.code == t.trades.c.seller)
    .join(_BUYER, _BUYER.c.code == t.trades.c.buyer)
    .where(_TRADE_ID)
)
_LOCK_TRADE_AND_PARTIES = _TRADE_AND_PARTIES.with_for_update(of=t.trades)
_TRADE_COLUMNS = (
    "id", "seller", "buyer", "proposer", "family", "units", "price_fen", "first_vintage",
    "last_vintage", "trade_date", "state", "mode", "zero_price_reason", "expires_at",
    "created_at", "updated_at",
)  # fmt: skip
_ADD_TRADE = insert(t.trades).values({name: bindparam(f"t_{name}") for name in _TRADE_COLUMNS})
_ADD_TRADE_EVENT = insert(t.trade_events).values(
    trade_id=bindparam("e_trade_id"),
    state=bindparam("e_state"),
    actor=bindparam("e_actor"),
    at=bindparam("e_at"),
    note=bindparam("e_note"),
)
_MOVE_TRADE = (
    update(t.trades)
    .where(t.trades.c.id == bindparam("e_trade_id"))
    .values(state=bindparam("e_state"), updated_at=bindparam("e_at"))
)
# PostgreSQL: the trade's row and its history line in one statement (a data-modifying CTE).
_ADD_TRADE_PG = _ADD_TRADE_EVENT.add_cte(_ADD_TRADE.cte("added"))
_MOVE_TRADE_PG = _ADD_TRADE_EVENT.add_cte(_MOVE_TRADE.cte("moved"))


def _policy_value() -> Any:
    """The policy row's value (NULL: none yet), as a column of a read of other things."""
    value = select(t.policies.c.value).where(t.policies.c.key == POLICY_KEY)
    return value.scalar_subquery().label("policy")


def _closed_period() -> Any:
    """The label of a closed period containing the instant `moment` (NULL: none), as a column."""
    moment = bindparam("moment", type_=t.periods.c.starts_at.type)
    closed = (
        select(t.periods.c.label)
        .where(
            t.periods.c.state == PeriodState.CLOSED.value,
            t.periods.c.starts_at <= moment,
            t.periods.c.ends_at > moment,
        )
        .order_by(t.periods.c.starts_at)
        .limit(1)
    )
    return closed.scalar_subquery().label("closed_period")


_ONE_ROW = select(literal(1).label("one")).subquery("one_row")  # what a read of one row joins to


def _transfer_rules(postgresql: bool) -> Select[Any]:
    """What a transfer's rules read, as one row: the policy, the receiving city and its decision
    for the year, the blocks of the two parties (a JSON array), a closed period containing the
    entry's effective time, and whether the pending entry `pending_seq` has a resolution."""
    blocks = t.trading_blocks
    fields = ("seq", "id", "party_code", "kind", "pollutant", "effective_from", "lifted_on")
    pairs = [part for name in (*fields, "basis") for part in (literal(name), blocks.c[name])]
    as_json = (
        func.json_agg(func.json_build_object(*pairs))
        if postgresql
        else func.json_group_array(func.json_object(*pairs))
    )
    cities, years = t.cities, t.city_years
    return select(
        _policy_value(),
        cities.c.name.label("city"),
        cities.c.basin,
        years.c.may_receive_air_rights,
        years.c.basis,
        select(as_json)
        .where(blocks.c.party_code.in_([bindparam("giver"), bindparam("receiver")]))
        .scalar_subquery()
        .label("blocks"),
        _closed_period(),
        exists()
        .where(t.entries.c.pending_seq == bindparam("pending_seq"))
        .label("pending_resolved"),
    ).select_from(
        _ONE_ROW.outerjoin(cities, cities.c.name == bindparam("receiver_city")).outerjoin(
            years, and_(years.c.city == cities.c.name, years.c.year == bindparam("year"))
        )
    )


_TRANSFER_RULES = {"postgresql": _transfer_rules(True), "sqlite": _transfer_rules(False)}


def _proposal() -> Select[Any]:
    """What a proposal reads, as one row: the trade under its id (NULL columns: none), its
    seller and buyer (labelled as in `_TRADE_AND_PARTIES`), the policy, the span of the
    seller's entitlements of the family, and a closed period containing the trade date."""
    held = t.entitlements
    of_family = and_(
        held.c.party_code == bindparam("seller"), held.c.pollutant == bindparam("family")
    )
    return select(
        t.trades,
        *(column.label(f"seller_{column.name}") for column in _SELLER.c),
        *(column.label(f"buyer_{column.name}") for column in _BUYER.c),
        _policy_value(),
        select(func.min(held.c.first_vintage)).where(of_family).scalar_subquery().label("first"),
        select(func.max(held.c.last_vintage)).where(of_family).scalar_subquery().label("last"),
        _closed_period(),
    ).select_from(
        _ONE_ROW.outerjoin(t.trades, _TRADE_ID)
        .outerjoin(_SELLER, _SELLER.c.code == bindparam("seller"))
        .outerjoin(_BUYER, _BUYER.c.code == bindparam("buyer"))
    )


_PROPOSAL = _proposal()


class SqlRegistryRepository:
    """Parties, outlets, cities, policy, entitlements, pledges, trades, obligations."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgresql = connection.dialect.name == "postgresql"

    def _page(self, query: Select[Any], seq: Any, after: int, limit: int) -> list[Row[Any]]:
        return list(self._connection.execute(query.where(seq > after).order_by(seq).limit(limit)))

    # -- parties, outlets, cities, policy ---------------------------------------------------

    def add_party(self, party: Party, at: datetime) -> None:
        self._connection.execute(
            insert(t.parties).values(
                code=party.code,
                kind=party.kind.value,
                name=party.name,
                credit_code=party.credit_code,
                city=party.city,
                county=party.county,
                tax_tier=party.tax_tier,
                industry=party.industry,
                created_at=at,
            )
        )

    def get_party(self, code: str, *, lock: bool = False) -> Party | None:
        query = select(t.parties).where(t.parties.c.code == code)
        if lock:  # FOR NO KEY UPDATE: an insert referencing the party (KEY SHARE) does not wait
            query = query.with_for_update(key_share=True)
        row = self._connection.execute(query).first()
        return None if row is None else _party(row)

    def get_parties(self, codes: Iterable[str]) -> dict[str, Party]:
        rows = self._connection.execute(select(t.parties).where(t.parties.c.code.in_(set(codes))))
        return {row.code: _party(row) for row in rows}

    def list_parties(
        self,
        kind: PartyKind | None,
        city: str | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
        name: str | None = None,
    ) -> list[tuple[int, Party]]:
        query = select(t.parties).where(visible_to(scope, t.parties.c.code))
        if name is not None:  # a case-insensitive part of the name; % and _ are plain text
            query = query.where(
                func.lower(t.parties.c.name).contains(name.lower(), autoescape=True)
            )
        if kind is not None:
            query = query.where(t.parties.c.kind == kind.value)
        if city is not None:
            query = query.where(t.parties.c.city == city)
        return [(r.seq, _party(r)) for r in self._page(query, t.parties.c.seq, after, limit)]

    def add_outlet(self, outlet: Outlet) -> None:
        self._connection.execute(
            insert(t.outlets).values(
                party_code=outlet.party_code,
                outlet_code=outlet.outlet_code,
            )
        )

    def get_outlet(self, party: str, outlet_code: str) -> Outlet | None:
        row = self._connection.execute(
            select(t.outlets).where(
                t.outlets.c.party_code == party, t.outlets.c.outlet_code == outlet_code
            )
        ).first()
        return None if row is None else _outlet(row)

    def list_outlets(
        self, party: str | None, after: int, limit: int, *, scope: Scope = EVERYTHING
    ) -> list[tuple[int, Outlet]]:
        query = select(t.outlets).where(visible_to(scope, t.outlets.c.party_code))
        if party is not None:
            query = query.where(t.outlets.c.party_code == party)
        return [(r.seq, _outlet(r)) for r in self._page(query, t.outlets.c.seq, after, limit)]

    def put_city(self, city: City) -> None:
        updated = self._connection.execute(
            update(t.cities).where(t.cities.c.name == city.name).values(basin=city.basin)
        )
        if updated.rowcount == 0:
            self._connection.execute(insert(t.cities).values(name=city.name, basin=city.basin))

    def get_city(self, name: str) -> City | None:
        row = self._connection.execute(select(t.cities).where(t.cities.c.name == name)).first()
        return None if row is None else City(row.name, row.basin)

    def put_city_year(self, decision: CityYear) -> None:
        table = t.city_years
        values = {
            "may_receive_air_rights": decision.may_receive_air_rights,
            "basis": decision.basis,
        }
        updated = self._connection.execute(
            update(table)
            .where(table.c.city == decision.city, table.c.year == decision.year)
            .values(**values)
        )
        if updated.rowcount == 0:
            self._connection.execute(
                insert(table).values(city=decision.city, year=decision.year, **values)
            )

    def city_in_year(self, name: str, year: int) -> tuple[City | None, CityYear | None]:
        cities, years = t.cities, t.city_years
        joined = cities.outerjoin(years, and_(years.c.city == cities.c.name, years.c.year == year))
        row = self._connection.execute(
            select(cities.c.name, cities.c.basin, years.c.may_receive_air_rights, years.c.basis)
            .select_from(joined)
            .where(cities.c.name == name)
        ).first()
        if row is None:
            return None, None
        decided = row.may_receive_air_rights
        decision = None if decided is None else CityYear(name, year, decided, row.basis)
        return City(row.name, row.basin), decision

    def city_years(self, name: str) -> list[CityYear]:
        table = t.city_years
        rows = self._connection.execute(
            select(table).where(table.c.city == name).order_by(table.c.year)
        )
        return [CityYear(r.city, r.year, r.may_receive_air_rights, r.basis) for r in rows]

    def transfer_rules(  # noqa: PLR0917 - the transfer's parts
        self,
        giver: str,
        receiver: str,
        receiver_city: str | None,
        year: int,
        moment: datetime,
        pending_seq: int | None = None,
    ) -> TransferRules:
        statement = _TRANSFER_RULES["postgresql" if self._postgresql else "sqlite"]
        row = self._connection.execute(
            statement,
            {
                "giver": giver,
                "receiver": receiver,
                "receiver_city": receiver_city,
                "year": year,
                "moment": moment,
                "pending_seq": pending_seq,
            },
        ).one()
        city = None if row.city is None else City(row.city, row.basin)
        decided = row.may_receive_air_rights
        decision = None
        if city is not None and decided is not None:
            decision = CityYear(city.name, year, bool(decided), row.basis)
        return TransferRules(
            policy=None if row.policy is None else dict(row.policy),
            city=city,
            decision=decision,
            blocks=_blocks_of_json(row.blocks),
            closed_period=row.closed_period,
            pending_resolved=None if pending_seq is None else bool(row.pending_resolved),
        )

    def proposal_context(
        self, trade_id: str, seller: str, buyer: str, family: str, moment: datetime
    ) -> ProposalContext:
        row = self._connection.execute(
            _PROPOSAL,
            {
                "trade_id": trade_id,
                "seller": seller,
                "buyer": buyer,
                "family": family,
                "moment": moment,
            },
        ).one()
        named = [
            _party_of(row, columns)
            for columns in (_SELLER_COLUMNS, _BUYER_COLUMNS)
            if row._mapping[columns[0]] is not None
        ]
        return ProposalContext(
            existing=None if row.id is None else _trade(row),
            parties={party.code: party for party in named},
            policy=None if row.policy is None else dict(row.policy),
            entitled=None if row.first is None else (row.first, row.last),
            closed_period=row.closed_period,
        )

    def get_policy(self) -> dict[str, object] | None:
        value = self._connection.execute(
            select(t.policies.c.value).where(t.policies.c.key == POLICY_KEY)
        ).scalar()
        return None if value is None else dict(value)

    def put_policy(self, values: Mapping[str, object]) -> None:
        stored = {k: str(v) if isinstance(v, Decimal) else v for k, v in values.items()}
        updated = self._connection.execute(
            update(t.policies).where(t.policies.c.key == POLICY_KEY).values(value=stored)
        )
        if updated.rowcount == 0:
            self._connection.execute(insert(t.policies).values(key=POLICY_KEY, value=stored))

    # -- entitlements and pledges --------------------------------------------------------------

    def add_entitlement(self, entitlement: Entitlement, at: datetime) -> None:
        self._connection.execute(
            insert(t.entitlements).values(
                id=entitlement.id,
                party_code=entitlement.party_code,
                pollutant=entitlement.pollutant,
                units=entitlement.units,
                first_vintage=entitlement.first_vintage,
                last_vintage=entitlement.last_vintage,
                permit=entitlement.permit,
                acquisition=entitlement.acquisition.value,
                created_at=at,
            )
        )

    def get_entitlement(self, entitlement_id: str) -> Entitlement | None:
        row = self._connection.execute(
            select(t.entitlements).where(t.entitlements.c.id == entitlement_id)
        ).first()
        return None if row is None else _entitlement(row)

    def list_entitlements(
        self,
        party: str | None,
        pollutant: str | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, Entitlement]]:
        query = select(t.entitlements).where(visible_to(scope, t.entitlements.c.party_code))
        if party is not None:
            query = query.where(t.entitlements.c.party_code == party)
        if pollutant is not None:
            query = query.where(t.entitlements.c.pollutant == pollutant)
        rows = self._page(query, t.entitlements.c.seq, after, limit)
        return [(r.seq, _entitlement(r)) for r in rows]

    def add_pledge(self, pledge: Pledge, at: datetime) -> None:
        self._connection.execute(
            insert(t.pledges).values(
                id=pledge.id,
                party_code=pledge.party_code,
                pollutant=pledge.pollutant,
                units=pledge.units,
                holder=pledge.holder,
                first_vintage=pledge.first_vintage,
                last_vintage=pledge.last_vintage,
                released=pledge.released,
                created_at=at,
            )
        )

    def get_pledge(self, pledge_id: str) -> Pledge | None:
        row = self._connection.execute(select(t.pledges).where(t.pledges.c.id == pledge_id)).first()
        return None if row is None else _pledge(row)

    def release_pledge(self, pledge_id: str) -> None:
        self._connection.execute(
            update(t.pledges).where(t.pledges.c.id == pledge_id).values(released=True)
        )

    # -- trading blocks ------------------------------------------------------------------

    def add_block(self, block: TradingBlock, at: datetime) -> None:
        self._connection.execute(
            insert(t.trading_blocks).values(
                id=block.id,
                party_code=block.party_code,
                kind=block.kind.value,
                pollutant=block.pollutant,
                effective_from=block.effective_from,
                lifted_on=block.lifted_on,
                basis=block.basis,
                created_at=at,
                set_by_city=block.set_by_city,
            )
        )

    def get_block(self, block_id: str) -> TradingBlock | None:
        row = self._connection.execute(
            select(t.trading_blocks).where(t.trading_blocks.c.id == block_id)
        ).first()
        return None if row is None else _block(row)

    def lift_block(self, block_id: str, day: date) -> None:
        self._connection.execute(
            update(t.trading_blocks).where(t.trading_blocks.c.id == block_id).values(lifted_on=day)
        )

    def blocks_of(self, parties: Sequence[str]) -> list[TradingBlock]:
        table = t.trading_blocks
        rows = self._connection.execute(
            select(table).where(table.c.party_code.in_(parties)).order_by(table.c.seq)
        )
        return [_block(row) for row in rows]

    def list_blocks(
        self, party: str | None, after: int, limit: int, *, scope: Scope = EVERYTHING
    ) -> list[tuple[int, TradingBlock]]:
        table = t.trading_blocks
        query = select(table).where(visible_to(scope, table.c.party_code))
        if party is not None:
            query = query.where(table.c.party_code == party)
        return [(r.seq, _block(r)) for r in self._page(query, table.c.seq, after, limit)]

    # -- reserve listings ----------------------------------------------------------------

    def add_listing(self, listing: Listing, at: datetime) -> None:
        self._connection.execute(
            insert(t.listings).values(
                id=listing.id,
                seller=listing.seller,
                family=listing.family,
                units=listing.units,
                price_fen=listing.price_fen,
                mode=listing.mode.value,
                listing_date=listing.listing_date,
                first_vintage=listing.first_vintage,
                last_vintage=listing.last_vintage,
                state=listing.state.value,
                created_at=at,
            )
        )

    def get_listing(self, listing_id: str, *, lock: bool = False) -> Listing | None:
        query = select(t.listings).where(t.listings.c.id == listing_id)
        if lock:
            query = query.with_for_update()
        row = self._connection.execute(query).first()
        return None if row is None else _listing(row)

    def set_listing_state(self, listing_id: str, state: ListingState) -> None:
        self._connection.execute(
            update(t.listings).where(t.listings.c.id == listing_id).values(state=state.value)
        )

    def list_listings(
        self, state: ListingState | None, after: int, limit: int
    ) -> list[tuple[int, Listing]]:
        query = select(t.listings)
        if state is not None:
            query = query.where(t.listings.c.state == state.value)
        return [(r.seq, _listing(r)) for r in self._page(query, t.listings.c.seq, after, limit)]

    def add_bid(self, bid: Bid) -> None:
        self._connection.execute(
            insert(t.listing_bids).values(
                listing_id=bid.listing_id,
                bidder=bid.bidder,
                price_fen=bid.price_fen,
                at=bid.at,
                outcome=bid.outcome,
                client_id=bid.client_id,
            )
        )

    def bids_of(self, listing_id: str) -> list[Bid]:
        bids = t.listing_bids
        rows = self._connection.execute(
            select(bids).where(bids.c.listing_id == listing_id).order_by(bids.c.id)
        )
        return [
            Bid(r.listing_id, r.bidder, r.price_fen, r.at, r.id, r.outcome, r.client_id)
            for r in rows
        ]

    def set_bid_outcome(self, seq: int, outcome: str) -> None:
        self._connection.execute(
            update(t.listing_bids).where(t.listing_bids.c.id == seq).values(outcome=outcome)
        )

    def taken_back(self, entitlement_id: str) -> list[tuple[int, int, int]]:
        """(first vintage, last vintage, units) of every reclaim and buy-back of an entitlement
        not reversed, from their entries' metadata."""
        entries, references = t.entries, t.entry_references
        reversal = entries.alias("reversal")
        rows = self._connection.execute(
            select(entries.c.metadata)
            .join(references, references.c.entry_seq == entries.c.seq)
            .where(
                references.c.kind == "entitlement",
                references.c.reference == entitlement_id,
                entries.c.entry_type.in_(("reclaim", "buy_back")),
                ~select(reversal.c.seq).where(reversal.c.reverses_seq == entries.c.seq).exists(),
            )
        )
        return [(int(m["first_vintage"]), int(m["last_vintage"]), int(m["units"])) for (m,) in rows]

    def paid_rights(self, party: str, pollutant: str, codes: Sequence[str]) -> dict[str, int]:
        """Per instrument code of `codes`: the rights `party` paid for and still has to show,
        net. Bought in settled trades at a price, or in reserve sales with a cash leg; less sold
        in settled trades and bought back naming no entitlement (neither reversed)."""
        wanted = {code: 0 for code in codes}
        trades = t.trades.c
        rows = self._connection.execute(
            select(trades.first_vintage, trades.last_vintage, trades.units, trades.buyer).where(
                trades.state == "settled",
                trades.family == pollutant,
                or_(and_(trades.buyer == party, trades.price_fen > 0), trades.seller == party),
            )
        )
        for first, last, units, buyer in rows:
            for vintage in range(first or 0, (last or -1) + 1):
                code = instrument_code(pollutant, vintage)
                if code in wanted:
                    wanted[code] += units if buyer == party else -units
        for code, units in self._reserve_flows(party, list(wanted)):
            wanted[code] += units
        return wanted

    def _reserve_flows(self, party: str, codes: Sequence[str]) -> list[tuple[str, int]]:
        """(code, signed units) into `party`'s holdings from paid reserve sales, out of them by
        buy-backs that name no entitlement; reversed entries left out."""
        entries, postings, accounts = t.entries, t.postings, t.accounts
        cash = postings.alias("cash")
        reversal = entries.alias("reversal")
        paid = (
            select(cash.c.id)
            .where(cash.c.entry_seq == entries.c.seq, cash.c.instrument_code == CASH)
            .exists()
        )
        named = (
            select(t.entry_references.c.entry_seq)
            .where(
                t.entry_references.c.entry_seq == entries.c.seq,
                t.entry_references.c.kind == "entitlement",
            )
            .exists()
        )
        rows = self._connection.execute(
            select(postings.c.instrument_code, postings.c.side, postings.c.units)
            .join(entries, entries.c.seq == postings.c.entry_seq)
            .join(accounts, accounts.c.id == postings.c.account_id)
            .where(
                accounts.c.code == account_code(party, HOLDINGS),
                postings.c.instrument_code.in_(codes),
                entries.c.status == "posted",
                or_(
                    and_(entries.c.entry_type == "reserve_sale", paid),
                    and_(entries.c.entry_type == "buy_back", ~named),
                ),
                ~select(reversal.c.seq).where(reversal.c.reverses_seq == entries.c.seq).exists(),
            )
        )
        return [(code, units if side == "credit" else -units) for code, side, units in rows]

    def list_pledges(
        self,
        party: str | None,
        pollutant: str | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, Pledge]]:
        query = select(t.pledges).where(visible_to(scope, t.pledges.c.party_code))
        if party is not None:
            query = query.where(t.pledges.c.party_code == party)
        if pollutant is not None:
            query = query.where(t.pledges.c.pollutant == pollutant)
        return [(r.seq, _pledge(r)) for r in self._page(query, t.pledges.c.seq, after, limit)]

    # -- trades --------------------------------------------------------------------------------

    def add_trade(self, trade: Trade, event: TradeEvent) -> None:
        values = _trade_row(trade, event.at) | _event_row(event)
        if self._postgresql:  # one statement: the trade and its history's first line
            self._connection.execute(_ADD_TRADE_PG, values)
            return
        self._connection.execute(_ADD_TRADE, values)
        self._connection.execute(_ADD_TRADE_EVENT, values)

    def get_trade(self, trade_id: str, *, lock: bool = False) -> Trade | None:
        query = _LOCK_TRADE if lock else _TRADE
        row = self._connection.execute(query, {"trade_id": trade_id}).first()
        return None if row is None else _trade(row)

    def get_trade_and_parties(
        self, trade_id: str, *, lock: bool = False
    ) -> tuple[Trade, Party, Party] | None:
        query = _LOCK_TRADE_AND_PARTIES if lock else _TRADE_AND_PARTIES
        row = self._connection.execute(query, {"trade_id": trade_id}).first()
        if row is None:
            return None
        return _trade(row), _party_of(row, _SELLER_COLUMNS), _party_of(row, _BUYER_COLUMNS)

    def set_trade_state(self, event: TradeEvent) -> None:
        values = _event_row(event)
        if self._postgresql:  # one statement: the new state and its history line
            self._connection.execute(_MOVE_TRADE_PG, values)
            return
        self._connection.execute(_MOVE_TRADE, values)
        self._connection.execute(_ADD_TRADE_EVENT, values)

    def trade_events(self, trade_id: str) -> list[TradeEvent]:
        rows = self._connection.execute(
            select(t.trade_events)
            .where(t.trade_events.c.trade_id == trade_id)
            .order_by(t.trade_events.c.id)
        )
        return [TradeEvent(r.trade_id, TradeState(r.state), r.actor, r.at, r.note) for r in rows]

    def list_trades(
        self,
        party: str | None,
        family: str | None,
        state: TradeState | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, Trade]]:
        query = select(t.trades).where(visible_to(scope, t.trades.c.seller, t.trades.c.buyer))
        if party is not None:
            query = query.where(or_(t.trades.c.seller == party, t.trades.c.buyer == party))
        if family is not None:
            query = query.where(t.trades.c.family == family)
        if state is not None:
            query = query.where(t.trades.c.state == state.value)
        return [(r.seq, _trade(r)) for r in self._page(query, t.trades.c.seq, after, limit)]

    def due_trades(self, now: datetime, limit: int) -> list[str]:
        rows = self._connection.execute(
            select(t.trades.c.id)
            .where(t.trades.c.state.in_(["proposed", "accepted"]), t.trades.c.expires_at <= now)
            .order_by(t.trades.c.seq)
            .limit(limit)
        )
        return list(rows.scalars())

    # -- compliance ----------------------------------------------------------------------------

    def add_obligation(self, obligation: Obligation, at: datetime) -> None:
        self._connection.execute(
            insert(t.obligations).values(
                id=obligation.id,
                party_code=obligation.party_code,
                period=obligation.period,
                verified_units=obligation.verified_units,
                deadline=obligation.deadline,
                closed=obligation.closed,
                penalty_fen=obligation.penalty_fen,
                deduction_units=obligation.deduction_units,
                created_at=at,
            )
        )

    def get_obligation(self, obligation_id: str, *, lock: bool = False) -> Obligation | None:
        query = select(t.obligations).where(t.obligations.c.id == obligation_id)
        if lock:
            query = query.with_for_update()
        row = self._connection.execute(query).first()
        return None if row is None else _obligation(row)

    def close_obligation(self, obligation_id: str, penalty_fen: int, deduction_units: int) -> None:
        self._connection.execute(
            update(t.obligations)
            .where(t.obligations.c.id == obligation_id)
            .values(closed=True, penalty_fen=penalty_fen, deduction_units=deduction_units)
        )

    def list_obligations(
        self,
        party: str | None,
        period: int | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, Obligation]]:
        query = select(t.obligations).where(visible_to(scope, t.obligations.c.party_code))
        if party is not None:
            query = query.where(t.obligations.c.party_code == party)
        if period is not None:
            query = query.where(t.obligations.c.period == period)
        rows = self._page(query, t.obligations.c.seq, after, limit)
        return [(r.seq, _obligation(r)) for r in rows]

    def add_surrender(self, surrender: Surrender, at: datetime) -> None:
        self._connection.execute(
            insert(t.surrenders).values(
                id=surrender.id,
                obligation_id=surrender.obligation_id,
                instrument_code=surrender.instrument_code,
                units=surrender.units,
                created_at=at,
            )
        )

    def surrenders_of(self, obligation_id: str) -> list[Surrender]:
        rows = self._connection.execute(
            select(t.surrenders)
            .where(t.surrenders.c.obligation_id == obligation_id)
            .order_by(t.surrenders.c.created_at, t.surrenders.c.id)
        )
        return [Surrender(r.id, r.obligation_id, r.instrument_code, r.units) for r in rows]

    # -- deductions of a shortfall from later allocations (rules §7.9) --------------------------

    def owing_obligations(self, party: str, before_year: int) -> list[Obligation]:
        """Closed obligations of `party` for years before `before_year` with a shortfall to
        deduct, oldest first, locked: two allocations never both deduct the same units."""
        query = (
            select(t.obligations)
            .where(
                t.obligations.c.party_code == party,
                t.obligations.c.period < before_year,
                t.obligations.c.closed.is_(True),
                t.obligations.c.deduction_units > 0,
            )
            .order_by(t.obligations.c.period, t.obligations.c.seq)
            .with_for_update()
        )
        return [_obligation(row) for row in self._connection.execute(query)]

    def deducted_units(self, obligation_ids: Sequence[str]) -> dict[str, int]:
        """Units deducted so far from allocations, per obligation (absent: none)."""
        if not obligation_ids:
            return {}
        rows = self._connection.execute(
            select(t.carbon_deductions.c.obligation_id, func.sum(t.carbon_deductions.c.units))
            .where(t.carbon_deductions.c.obligation_id.in_(obligation_ids))
            .group_by(t.carbon_deductions.c.obligation_id)
        )
        return {obligation_id: int(units) for obligation_id, units in rows}

    def add_deductions(self, deductions: Sequence[Deduction], at: datetime) -> None:
        for deduction in deductions:
            self._connection.execute(
                insert(t.carbon_deductions).values(
                    id=deduction.id,
                    obligation_id=deduction.obligation_id,
                    party_code=deduction.party_code,
                    allocation_id=deduction.allocation_id,
                    year=deduction.year,
                    allocated_units=deduction.allocated_units,
                    units=deduction.units,
                    created_at=at,
                )
            )

    def deductions_of_allocation(self, allocation_id: str) -> list[Deduction]:
        rows = self._connection.execute(
            select(t.carbon_deductions)
            .where(t.carbon_deductions.c.allocation_id == allocation_id)
            .order_by(t.carbon_deductions.c.seq)
        )
        return [_deduction(row) for row in rows]

    def list_deductions(
        self,
        party: str | None,
        obligation_id: str | None,
        after: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, Deduction]]:
        table = t.carbon_deductions
        query = select(table).where(visible_to(scope, table.c.party_code))
        if party is not None:
            query = query.where(table.c.party_code == party)
        if obligation_id is not None:
            query = query.where(table.c.obligation_id == obligation_id)
        return [(r.seq, _deduction(r)) for r in self._page(query, table.c.seq, after, limit)]

    # -- penalties for rights non-compliance (rules §7.10) --------------------------------------

    def add_rights_penalty(self, penalty: RightsPenalty, at: datetime) -> None:
        self._connection.execute(
            insert(t.rights_penalties).values(
                id=penalty.id,
                party_code=penalty.party_code,
                report_id=penalty.report_id,
                pollutant=penalty.pollutant,
                amount_fen=penalty.amount_fen,
                findings=",".join(penalty.findings),
                note=penalty.note,
                created_at=at,
            )
        )

    def get_rights_penalty(self, penalty_id: str, *, lock: bool = False) -> RightsPenalty | None:
        query = select(t.rights_penalties).where(t.rights_penalties.c.id == penalty_id)
        if lock:
            query = query.with_for_update()
        row = self._connection.execute(query).first()
        return None if row is None else _rights_penalty(row)

    def list_rights_penalties(
        self, party: str | None, after: int, limit: int, *, scope: Scope = EVERYTHING
    ) -> list[tuple[int, RightsPenalty]]:
        table = t.rights_penalties
        query = select(table).where(visible_to(scope, table.c.party_code))
        if party is not None:
            query = query.where(table.c.party_code == party)
        return [(r.seq, _rights_penalty(r)) for r in self._page(query, table.c.seq, after, limit)]

    def add_penalty_payment(self, payment: PenaltyPayment, at: datetime) -> None:
        self._add_payment(t.rights_penalty_payments, "penalty_id", payment, at)

    def get_penalty_payment(self, payment_id: str) -> PenaltyPayment | None:
        return self._payment(t.rights_penalty_payments, "penalty_id", payment_id)

    def paid_fen(self, penalty_id: str) -> int:
        return self._paid(t.rights_penalty_payments, "penalty_id", penalty_id)

    # -- payments of an obligation's shortfall penalty (rules §5), kept as a rights penalty's ----

    def add_obligation_payment(self, payment: PenaltyPayment, at: datetime) -> None:
        self._add_payment(t.obligation_penalty_payments, "obligation_id", payment, at)

    def get_obligation_payment(self, payment_id: str) -> PenaltyPayment | None:
        return self._payment(t.obligation_penalty_payments, "obligation_id", payment_id)

    def obligation_paid_fen(self, obligation_id: str) -> int:
        return self._paid(t.obligation_penalty_payments, "obligation_id", obligation_id)

    def _add_payment(self, table: Table, owed: str, payment: PenaltyPayment, at: datetime) -> None:
        """A payment row of `table`, whose column `owed` names the penalty (its owner's key)."""
        values = {"id": payment.id, owed: payment.penalty_id, "amount_fen": payment.amount_fen}
        self._connection.execute(insert(table).values(**values, created_at=at))

    def _payment(self, table: Table, owed: str, payment_id: str) -> PenaltyPayment | None:
        row = self._connection.execute(select(table).where(table.c.id == payment_id)).first()
        if row is None:
            return None
        return PenaltyPayment(row.id, row._mapping[owed], row.amount_fen)

    def _paid(self, table: Table, owed: str, key: str) -> int:
        paid = self._connection.execute(
            select(func.coalesce(func.sum(table.c.amount_fen), 0)).where(table.c[owed] == key)
        ).scalar_one()
        return int(paid)


def _party(row: Row[Any]) -> Party:
    return Party(
        row.code,
        PartyKind(row.kind),
        row.name,
        row.credit_code,
        row.city,
        row.county,
        row.tax_tier,
        row.industry,
    )


_PARTY_FIELDS = ("code", "kind", "name", "credit_code", "city", "county", "tax_tier", "industry")
_SELLER_COLUMNS = tuple(f"seller_{name}" for name in _PARTY_FIELDS)
_BUYER_COLUMNS = tuple(f"buyer_{name}" for name in _PARTY_FIELDS)


def _party_of(row: Row[Any], columns: tuple[str, ...]) -> Party:
    """A party read beside another record, its columns labelled (`_SELLER_COLUMNS`...)."""
    values = row._mapping
    code, kind, *rest = (values[column] for column in columns)
    return Party(code, PartyKind(kind), *rest)


def _trade_row(trade: Trade, at: datetime) -> dict[str, Any]:
    """A new trade's parameters for `_ADD_TRADE`."""
    values = {
        "id": trade.id,
        "seller": trade.seller,
        "buyer": trade.buyer,
        "proposer": trade.proposer,
        "family": trade.family,
        "units": trade.units,
        "price_fen": trade.price_fen,
        "first_vintage": trade.first_vintage,
        "last_vintage": trade.last_vintage,
        "trade_date": trade.trade_date,
        "state": trade.state.value,
        "mode": trade.mode,
        "zero_price_reason": trade.zero_price_reason,
        "expires_at": trade.expires_at,
        "created_at": at,
        "updated_at": at,
    }
    return {f"t_{name}": value for name, value in values.items()}


def _event_row(event: TradeEvent) -> dict[str, Any]:
    """A history line's parameters for `_ADD_TRADE_EVENT` and `_MOVE_TRADE`."""
    return {
        "e_trade_id": event.trade_id,
        "e_state": event.state.value,
        "e_actor": event.actor,
        "e_at": event.at,
        "e_note": event.note,
    }


def _outlet(row: Row[Any]) -> Outlet:
    return Outlet(row.party_code, row.outlet_code)


def _entitlement(row: Row[Any]) -> Entitlement:
    return Entitlement(
        row.id,
        row.party_code,
        row.pollutant,
        row.units,
        row.first_vintage,
        row.last_vintage,
        row.permit,
        Acquisition(row.acquisition),
    )


def _listing(row: Row[Any]) -> Listing:
    return Listing(
        row.id,
        row.seller,
        row.family,
        row.units,
        row.price_fen,
        ListingMode(row.mode),
        row.listing_date,
        row.first_vintage,
        row.last_vintage,
        ListingState(row.state),
    )


def _block(row: Row[Any]) -> TradingBlock:
    return TradingBlock(
        row.id,
        row.party_code,
        BlockKind(row.kind),
        row.effective_from,
        row.pollutant,
        row.basis,
        row.lifted_on,
        row.set_by_city,
    )


def _blocks_of_json(value: object) -> list[TradingBlock]:
    """Blocks aggregated as JSON (`_transfer_rules`: a list on PostgreSQL, text on SQLite;
    none on PostgreSQL is NULL), in the order they were set. Their setter is not read: no
    transfer rule depends on it (only lifting does, which reads the block itself)."""
    rows = cast(list[dict[str, Any]], json.loads(value) if isinstance(value, str) else value or [])
    return [
        TradingBlock(
            row["id"],
            row["party_code"],
            BlockKind(row["kind"]),
            date.fromisoformat(row["effective_from"]),
            row["pollutant"],
            row["basis"],
            None if row["lifted_on"] is None else date.fromisoformat(row["lifted_on"]),
        )
        for row in sorted(rows, key=lambda row: int(row["seq"]))
    ]


def _pledge(row: Row[Any]) -> Pledge:
    return Pledge(
        row.id,
        row.party_code,
        row.pollutant,
        row.units,
        row.holder,
        row.first_vintage,
        row.last_vintage,
        row.released,
    )


def _trade(row: Row[Any]) -> Trade:
    return Trade(
        id=row.id,
        seller=row.seller,
        buyer=row.buyer,
        proposer=row.proposer,
        family=row.family,
        units=row.units,
        price_fen=row.price_fen,
        first_vintage=row.first_vintage,
        last_vintage=row.last_vintage,
        trade_date=row.trade_date,
        state=TradeState(row.state),
        mode=row.mode,
        zero_price_reason=row.zero_price_reason,
        expires_at=row.expires_at,
    )


def _obligation(row: Row[Any]) -> Obligation:
    return Obligation(
        row.id,
        row.party_code,
        row.period,
        row.verified_units,
        row.deadline,
        row.closed,
        row.penalty_fen,
        row.deduction_units,
    )


def _deduction(row: Row[Any]) -> Deduction:
    return Deduction(
        row.id,
        row.obligation_id,
        row.party_code,
        row.allocation_id,
        row.year,
        row.allocated_units,
        row.units,
    )


def _rights_penalty(row: Row[Any]) -> RightsPenalty:
    return RightsPenalty(
        row.id,
        row.party_code,
        row.report_id,
        row.pollutant,
        row.amount_fen,
        tuple(row.findings.split(",")) if row.findings else (),
        row.note,
    )
