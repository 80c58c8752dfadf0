"""Finance reports as of any date: trial balance, supply per instrument, a party's holdings, an
account's statement with running balances, trades per period and the public market report.

Each returns a `ReportTable` whose rows are produced lazily, a page per read transaction, so an
export of any size holds one page in memory. "As of D" means everything effective (or recorded,
on the recorded axis) before the end of the Beijing day D; without D, everything so far.

Every report but the market's is a use case of its actor: the rows are those of the parties the
actor's scope sees, filtered in the query; a party's report of a party out of scope answers the
same 404 as an unknown party. The market report is public (operation `market.report`): it names
no party, so it takes no actor.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from ledger.domain.access import Actor, Forbidden
from ledger.domain.accounts import Side
from ledger.domain.amounts import Instrument
from ledger.domain.bounds import check_date
from ledger.domain.errors import InvalidField, PartyNotFound, UnknownInstrument
from ledger.domain.finance import (
    Cell,
    Column,
    ColumnKind,
    MarketTrade,
    ReportTable,
    day_range,
    end_of_day,
    quarter_bounds,
    quarter_label,
    supply_line,
    suppressed,
    volume_weighted_price_fen,
)
from ledger.domain.limits import PAGE_SIZE_MAX
from ledger.domain.ports import UnitOfWork, UnitOfWorkFactory
from ledger.domain.registry import HOLDINGS, PartyKind, Trade, scale_of, trade_value_fen
from ledger.domain.tax_filing import FiledReturn
from ledger.services import tax
from ledger.services.authority import party_in_scope, use_case
from ledger.services.transactions import read

AXES = ("effective", "recorded")
_FAR_FUTURE = datetime(9999, 1, 1).astimezone()
AMOUNT = ColumnKind.AMOUNT


def _before(as_of: date | None) -> datetime:
    return _FAR_FUTURE if as_of is None else end_of_day(as_of)


def _instrument(uow: UnitOfWork, code: str) -> Instrument:
    instrument = uow.instruments.get_many([code]).get(code)
    if instrument is None:
        raise UnknownInstrument(f"no instrument {code!r}", field="instrument")
    return instrument


def _dated(name: str, as_of: date | None, axis: str, **more: str) -> dict[str, str]:
    if as_of is not None:
        check_date(as_of, "as_of")
    if axis not in AXES:
        raise InvalidField(f"axis is one of {AXES}", field="axis")
    return {"report": name, "as_of": as_of.isoformat() if as_of else "now", "axis": axis, **more}


# -- trial balance, supply, holdings ---------------------------------------------------------


@use_case("finance.trial_balance")
def trial_balance(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    instrument_code: str,
    as_of: date | None = None,
    axis: str = "effective",
) -> ReportTable:
    """Every account's net balance in one instrument in its debit or credit column."""
    parameters = _dated("trial_balance", as_of, axis, instrument=instrument_code)

    def work(uow: UnitOfWork) -> list[tuple[str, str, str, Decimal, Decimal]]:
        instrument = _instrument(uow, instrument_code)
        before = _before(as_of)
        nets = uow.finance.account_nets(instrument_code, None, before, axis, scope=actor.scope)
        return [
            (
                n.account_code,
                n.party,
                n.normal_side.value,
                instrument.to_amount(max(n.debits - n.credits, 0)),
                instrument.to_amount(max(n.credits - n.debits, 0)),
            )
            for n in nets
        ]

    rows = read(uow_factory, work)
    columns = (
        Column("account"),
        Column("party"),
        Column("normal_side"),
        Column("debit", AMOUNT, summed=True),
        Column("credit", AMOUNT, summed=True),
    )
    return ReportTable("trial_balance", columns, rows, parameters)


SUPPLY_COLUMNS = (
    Column("instrument"),
    Column("unit"),
    Column("issued", AMOUNT),
    Column("held", AMOUNT),
    Column("pledged", AMOUNT),
    Column("surrendered", AMOUNT),
    Column("retired", AMOUNT),
    Column("cancelled", AMOUNT),
    Column("in_reserve", AMOUNT),
    Column("other", AMOUNT),
    Column("difference", AMOUNT),
)


@use_case("finance.supply")
def supply(uow_factory: UnitOfWorkFactory, actor: Actor, as_of: date | None = None) -> ReportTable:
    """Per instrument other than cash: issued = held + pledged + surrendered + retired +
    cancelled + in reserve + other; `difference` (issued − the rest) must be zero. Its identity
    holds over every party only: a scoped actor is refused, not shown a part of it."""
    if not actor.scope.unlimited:
        raise Forbidden("the supply report covers every party: a scoped principal may not read it")
    parameters = _dated("supply", as_of, "effective")

    def work(uow: UnitOfWork) -> list[tuple[str | Decimal, ...]]:
        nets = uow.finance.account_nets(None, None, _before(as_of), "effective")
        by_instrument: dict[str, list[tuple[str, Side, int, int]]] = defaultdict(list)
        for n in nets:
            by_instrument[n.instrument_code].append(
                (n.account_code, n.normal_side, n.debits, n.credits)
            )
        instruments = uow.instruments.get_many(by_instrument)
        rows: list[tuple[str | Decimal, ...]] = []
        for code in sorted(by_instrument):
            instrument = instruments[code]
            if instrument.kind.value == "cash":
                continue
            line = supply_line(code, by_instrument[code])
            amounts = [line.issued, *line.categories.values(), line.difference]
            rows.append((code, instrument.unit, *map(instrument.to_amount, amounts)))
        return rows

    return ReportTable("supply", SUPPLY_COLUMNS, read(uow_factory, work), parameters)


@use_case("finance.supply")
def holdings_by_city(
    uow_factory: UnitOfWorkFactory, actor: Actor, as_of: date | None = None
) -> list[tuple[str, str, Decimal]]:
    """Rights held in enterprises' holdings accounts (available and on hold), per city and
    pollutant, every vintage together, as (city, pollutant, t): the supply report's `held`
    broken down by where the holders are. Read in the actor's scope (in SQL)."""
    before = _before(as_of)

    def work(uow: UnitOfWork) -> list[tuple[str, str, Decimal]]:
        nets = [
            n
            for n in uow.finance.account_nets(None, None, before, "effective", scope=actor.scope)
            if n.account_code == f"{n.party}:{HOLDINGS.suffix}"
        ]
        city_of = _cities(uow, actor, {n.party for n in nets})
        instruments = uow.instruments.get_many({n.instrument_code for n in nets})
        held: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for n in nets:
            instrument = instruments[n.instrument_code]
            if instrument.kind.value == "cash" or n.party not in city_of:
                continue
            pollutant = n.instrument_code.rsplit("-", 1)[0]
            held[city_of[n.party], pollutant] += instrument.to_amount(n.credits - n.debits)
        return [(city, pollutant, t) for (city, pollutant), t in sorted(held.items())]

    return read(uow_factory, work)


def _cities(uow: UnitOfWork, actor: Actor, codes: set[str]) -> dict[str, str]:
    """The city of each enterprise among `codes` the actor sees (one page of parties at a time)."""
    found: dict[str, str] = {}
    after = 0
    while True:
        rows = uow.registry.list_parties(
            PartyKind.ENTERPRISE, None, after, PAGE_SIZE_MAX, scope=actor.scope
        )
        found.update((p.code, p.city) for _seq, p in rows if p.code in codes and p.city)
        if len(rows) < PAGE_SIZE_MAX:
            return found
        after = rows[-1][0]


@use_case("finance.holdings")
def holdings(
    uow_factory: UnitOfWorkFactory, actor: Actor, party: str, as_of: date | None = None
) -> ReportTable:
    """A party's posted balance in every account and instrument, on its normal side."""
    parameters = _dated("holdings", as_of, "effective", party=party)

    def work(uow: UnitOfWork) -> list[tuple[str, str, str, Decimal]]:
        party_in_scope(uow, actor, party)
        nets = uow.finance.account_nets(None, party, _before(as_of), "effective")
        instruments = uow.instruments.get_many({n.instrument_code for n in nets})
        return [
            (
                n.account_code,
                n.instrument_code,
                instruments[n.instrument_code].unit,
                instruments[n.instrument_code].to_amount(
                    n.debits - n.credits if n.normal_side is Side.DEBIT else n.credits - n.debits
                ),
            )
            for n in nets
        ]

    columns = (Column("account"), Column("instrument"), Column("unit"), Column("balance", AMOUNT))
    return ReportTable("holdings", columns, read(uow_factory, work), parameters)


# -- an account's statement --------------------------------------------------------------------

STATEMENT_COLUMNS = (
    Column("effective_at", ColumnKind.DATE),
    Column("recorded_at", ColumnKind.DATE),
    Column("entry_id"),
    Column("entry_type"),
    Column("debit", AMOUNT, summed=True),
    Column("credit", AMOUNT, summed=True),
    Column("balance", AMOUNT),
)


@use_case("finance.statement")
def account_statement(  # noqa: PLR0917 - the statement's coordinates
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    party: str,
    account: str,
    instrument_code: str,
    first: date,
    last: date,
) -> ReportTable:
    """Movements of `{party}:{account}` effective in first..last with the running balance on
    the account's normal side after each; the first row is the opening balance."""
    check_date(first, "from")
    check_date(last, "to")
    if first > last:
        raise InvalidField("from must not be after to", field="from")
    code = f"{party}:{account}"
    starts_at, ends_at = day_range(first, last)

    def header(uow: UnitOfWork) -> tuple[int, Side, Instrument, int]:
        party_in_scope(uow, actor, party)
        found = uow.accounts.cached([code]).get(code)
        if found is None:
            raise PartyNotFound(f"{party} has no account {account!r}", field="account")
        instrument = _instrument(uow, instrument_code)
        nets = [
            n
            for n in uow.finance.account_nets(instrument_code, party, starts_at, "effective")
            if n.account_code == code
        ]
        opening = sum(_signed(found.normal_side, n.debits, n.credits) for n in nets)
        return found.id, found.normal_side, instrument, opening

    account_id, normal, instrument, opening = read(uow_factory, header)

    def rows() -> Iterator[tuple[object, ...]]:
        balance = opening
        yield (None, None, "opening balance", "", None, None, instrument.to_amount(balance))
        after = 0
        while True:
            page = read(
                uow_factory,
                lambda uow, a=after: uow.finance.movements(  # type: ignore[misc]
                    account_id, instrument_code, (starts_at, ends_at), a, PAGE_SIZE_MAX
                ),
            )
            for line in page:
                debit = line.units if line.side is Side.DEBIT else 0
                balance += _signed(normal, debit, line.units - debit)
                yield (
                    line.effective_at,
                    line.recorded_at,
                    line.entry_id,
                    line.entry_type,
                    instrument.to_amount(debit),
                    instrument.to_amount(line.units - debit),
                    instrument.to_amount(balance),
                )
            if len(page) < PAGE_SIZE_MAX:
                return
            after = page[-1].posting_id

    def row_count() -> int:
        between = (starts_at, ends_at)
        return 1 + read(  # the opening balance, then each movement
            uow_factory,
            lambda uow: uow.finance.count_movements(account_id, instrument_code, between),
        )

    parameters = {
        "report": "statement",
        "account": code,
        "instrument": instrument_code,
        "from": first.isoformat(),
        "to": last.isoformat(),
    }
    return ReportTable(
        "statement",
        STATEMENT_COLUMNS,
        rows(),  # type: ignore[arg-type]
        parameters,
        row_count=row_count,
    )


def _signed(normal: Side, debits: int, credits: int) -> int:
    return debits - credits if normal is Side.DEBIT else credits - debits


# -- trades and the market -------------------------------------------------------------------

TRADE_COLUMNS = (
    Column("trade_id"),
    Column("trade_date", ColumnKind.DATE),
    Column("state"),
    Column("seller"),
    Column("buyer"),
    Column("pollutant"),
    Column("vintages"),
    Column("quantity", AMOUNT),
    Column("price_cny", AMOUNT),
    Column("value_cny", AMOUNT, summed=True),
)


@use_case("finance.trades")
def trades(
    uow_factory: UnitOfWorkFactory,
    actor: Actor,
    first: date,
    last: date,
    state: str | None = "settled",
) -> ReportTable:
    """Trades dated first..last (settled ones by default) whose seller or buyer the actor
    sees, with their value in CNY."""
    if first > last:
        raise InvalidField("from must not be after to", field="from")

    def rows() -> Iterator[tuple[object, ...]]:
        after = 0
        while True:
            page = read(
                uow_factory,
                lambda uow, a=after: uow.finance.trades_between(  # type: ignore[misc]
                    first, last, state, a, PAGE_SIZE_MAX, scope=actor.scope
                ),
            )
            yield from (_trade_row(trade) for _, trade in page)
            if len(page) < PAGE_SIZE_MAX:
                return
            after = page[-1][0]

    parameters = {
        "report": "trades",
        "from": first.isoformat(),
        "to": last.isoformat(),
        "state": state or "any",
    }
    return ReportTable("trades", TRADE_COLUMNS, rows(), parameters)  # type: ignore[arg-type]


def _trade_row(trade: Trade) -> tuple[object, ...]:
    scale = scale_of(trade.family)
    vintages = "" if trade.first_vintage is None else f"{trade.first_vintage}-{trade.last_vintage}"
    return (
        trade.id,
        trade.trade_date,
        trade.state.value,
        trade.seller,
        trade.buyer,
        trade.family,
        vintages,
        Decimal(trade.units).scaleb(-scale),
        Decimal(trade.price_fen).scaleb(-2),
        Decimal(trade_value_fen(trade.price_fen, trade.units, scale)).scaleb(-2),
    )


MARKET_COLUMNS = (
    Column("quarter"),
    Column("market"),
    Column("pollutant"),
    Column("trades", ColumnKind.INTEGER),
    Column("volume", AMOUNT),
    Column("unit"),
    Column("value_cny", AMOUNT),
    Column("volume_weighted_price_cny", AMOUNT),
    Column("suppressed"),
)
BILATERAL, RESERVE_SALES, BUY_BACKS = "bilateral", "reserve", "buy_back"


@dataclass
class _MarketCell:
    trades: int = 0
    volume: int = 0
    value_fen: int = 0
    parties: set[str] = field(default_factory=set)


def market_report(uow_factory: UnitOfWorkFactory, first: date, last: date) -> ReportTable:
    """Public (`market.report`, no actor): per quarter, market and pollutant, the settled
    trades' count, volume (t/a or tCO2), value and volume-weighted price; no party is named.
    Markets (rules §7.11: reserve sales apart from bilateral trades): `bilateral`; `reserve`,
    every sale from a government reserve (a listing's or a trade whose seller is an authority,
    and a reserve operation's sale); `buy_back`, a reserve's buy-backs (public money paid out).
    A cell of fewer than 3 trades or 3 distinct parties (an authority counts as one) shows
    only that it was suppressed; the range is widened to whole quarters (`quarter_bounds`), so
    that no two reports differ by a single trade."""
    if first > last:
        raise InvalidField("from must not be after to", field="from")
    first, last = quarter_bounds(first, last)

    def settled_in(uow: UnitOfWork) -> list[MarketTrade]:
        operations = uow.finance.market_reserve_operations(first, last)
        return [*uow.finance.market_trades(first, last), *operations]

    cells: dict[tuple[str, str, str], _MarketCell] = defaultdict(_MarketCell)
    for trade in read(uow_factory, settled_in):
        cell = cells[(quarter_label(trade.trade_date), _market_of(trade), trade.family)]
        cell.trades += 1
        cell.volume += trade.units
        cell.value_fen += trade.value
        cell.parties.update((trade.seller, trade.buyer))
    rows = [_market_row(key, cell) for key, cell in sorted(cells.items())]
    parameters = {"report": "market", "from": first.isoformat(), "to": last.isoformat()}
    return ReportTable("market", MARKET_COLUMNS, rows, parameters)


def _market_of(trade: MarketTrade) -> str:
    if trade.buy_back:
        return BUY_BACKS
    return RESERVE_SALES if trade.reserve else BILATERAL


def _market_row(key: tuple[str, str, str], cell: _MarketCell) -> tuple[Cell, ...]:
    quarter, market, family = key
    scale = scale_of(family)
    unit = "tCO2" if scale == 0 else "t"
    if suppressed(cell.trades, len(cell.parties)):
        return (quarter, market, family, None, None, unit, None, None, "yes")
    price = volume_weighted_price_fen(cell.value_fen, cell.volume, scale)
    return (
        quarter,
        market,
        family,
        cell.trades,
        Decimal(cell.volume).scaleb(-scale),
        unit,
        Decimal(cell.value_fen).scaleb(-2),
        None if price is None else Decimal(price).scaleb(-2),
        "no",
    )


# -- tax returns (from the tax service) -------------------------------------------------------

TAX_COLUMNS = (
    Column("return_id"),
    Column("taxpayer"),
    Column("quarter"),
    Column("version", ColumnKind.INTEGER),
    Column("filed_at", ColumnKind.DATE),
    Column("void"),
    Column("tax_before_reduction_cny", AMOUNT, summed=True),
    Column("reduction_cny", AMOUNT, summed=True),
    Column("tax_due_cny", AMOUNT, summed=True),
)


@use_case("finance.tax_returns")
def tax_returns(uow_factory: UnitOfWorkFactory, actor: Actor, year: int) -> ReportTable:
    """The environmental-tax returns of a year in force, in filing order, as the tax service
    lists them to the actor (the parties it sees). A return an amended one supersedes is left
    out (rules §7.5): each quarter counts once in the totals, at its latest version, whose
    `version` says how many times it was amended. (A year's returns are a few per taxpayer and
    quarter: they are read before the first row, to know which are superseded.)"""

    def rows() -> Iterator[tuple[object, ...]]:
        filed_returns = _returns_of(uow_factory, actor, year)
        superseded = {filed.supersedes for filed in filed_returns}
        for filed in filed_returns:
            if filed.id in superseded:
                continue
            computed = filed.computed
            yield (
                filed.id,
                computed.taxpayer,
                f"{computed.year}-Q{computed.quarter}",
                filed.version,
                filed.filed_at,
                "yes" if filed.void else "no",
                computed.total_before,
                computed.total_reduction,
                computed.total_due,
            )

    parameters = {"report": "tax_returns", "year": str(year)}
    return ReportTable("tax_returns", TAX_COLUMNS, rows(), parameters)  # type: ignore[arg-type]


def _returns_of(uow_factory: UnitOfWorkFactory, actor: Actor, year: int) -> list[FiledReturn]:
    found: list[FiledReturn] = []
    cursor = None
    while True:
        page = tax.list_returns(uow_factory, actor, None, year, cursor, PAGE_SIZE_MAX)
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor
