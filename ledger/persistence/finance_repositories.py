"""The finance repository: closed periods, imported statements, reconciliations and the report
queries (sums of postings as of an instant, movements on the effective axis, trades by date).

Reports aggregate in SQL (one row per account) or read a page at a time, so no report holds the
journal in memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.engine import Row

from ledger.domain.access import EVERYTHING, Scope
from ledger.domain.accounts import Side
from ledger.domain.finance import (
    AccountNet,
    MarketTrade,
    MovementLine,
    Period,
    PeriodKind,
    PeriodRecord,
    PeriodState,
    ReconciliationConfirmed,
    beijing_date,
    closed_period_error,
    day_range,
)
from ledger.domain.reconciliation import (
    LedgerItem,
    Match,
    MatchRecord,
    Reconciliation,
    StatementImport,
    StatementLine,
    Tolerance,
)
from ledger.domain.registry import CASH, RESERVE, Trade
from ledger.persistence import tables as t
from ledger.persistence.registry_repositories import _trade
from ledger.persistence.repositories import CREDITS_SUM, DEBITS_SUM
from ledger.persistence.scoping import visible_to

_LOCK_ENTRIES = text("LOCK TABLE entries IN SHARE ROW EXCLUSIVE MODE")
# The reserve operations the market report shows: what a reserve sells, and what it buys back.
RESERVE_MARKET_TYPES = ("reserve_sale", "buy_back")


def finance_error(message: str) -> Exception | None:
    """The rejection behind a finance trigger's message (see migration 0007), if it is one."""
    if "period_closed" in message:
        _, _, rest = message.partition("period_closed:")
        label = rest.split()[0] if rest.strip() else "of this entry's effective time"
        return closed_period_error(label, field=None)
    if "reconciliation_confirmed" in message:
        return ReconciliationConfirmed("the reconciliation is confirmed: nothing in it changes")
    return None


class SqlFinanceRepository:
    """Finance records over one connection (the unit of work's)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgresql = connection.dialect.name == "postgresql"
        # Instants this transaction found in no closed period. A use case checks its business
        # date, then the journal the entry's effective time, the same instant: asked once. A
        # close committing in between adds nothing to know: the database's `entries_period_open`
        # trigger refuses the entry with the same code (a close waits for the journal's writers).
        self._open_at: set[datetime] = set()

    # -- periods ------------------------------------------------------------------------

    def closed_period_among(self, moments: Sequence[datetime]) -> str | None:
        if not moments or self._open_at.issuperset(moments):
            return None
        conditions = [
            and_(t.periods.c.starts_at <= moment, t.periods.c.ends_at > moment)
            for moment in moments
        ]
        label: str | None = self._connection.execute(
            select(t.periods.c.label)
            .where(t.periods.c.state == PeriodState.CLOSED.value, or_(*conditions))
            .order_by(t.periods.c.starts_at)
            .limit(1)
        ).scalar()
        if label is None:
            self._open_at.update(moments)
        return label

    def found_open(self, moments: Sequence[datetime]) -> None:
        self._open_at.update(moments)

    def lock_journal_for_close(self) -> None:
        # SQLite: the unit of work already holds the database's write lock (BEGIN IMMEDIATE).
        if self._postgresql:
            self._connection.execute(_LOCK_ENTRIES)

    def get_period(self, label: str, *, lock: bool = False) -> PeriodRecord | None:
        query = select(t.periods).where(t.periods.c.label == label)
        if lock:
            query = query.with_for_update()
        row = self._connection.execute(query).first()
        return None if row is None else _period(row)

    def save_period(self, record: PeriodRecord) -> None:
        self._open_at.clear()  # this transaction closes or reopens a period: ask again
        values = {
            "kind": record.period.kind.value,
            "starts_at": record.period.starts_at,
            "ends_at": record.period.ends_at,
            "state": record.state.value,
            "closed_by": record.closed_by,
            "closed_at": record.closed_at,
            "entries_at_close": record.entries_at_close,
            "reopened_by": record.reopened_by,
            "reopened_at": record.reopened_at,
            "reason": record.reason,
        }
        updated = self._connection.execute(
            update(t.periods).where(t.periods.c.label == record.period.label).values(values)
        ).rowcount
        if not updated:
            self._connection.execute(insert(t.periods).values(label=record.period.label, **values))

    def add_period_event(
        self, label: str, action: str, actor: str, at: datetime, reason: str
    ) -> None:
        self._connection.execute(
            insert(t.period_events).values(
                label=label, action=action, actor=actor, at=at, reason=reason
            )
        )

    def list_periods(self) -> list[PeriodRecord]:
        rows = self._connection.execute(select(t.periods).order_by(t.periods.c.starts_at))
        return [_period(row) for row in rows]

    def count_entries_between(self, starts_at: datetime, ends_at: datetime) -> int:
        return int(
            self._connection.execute(
                select(func.count())
                .select_from(t.entries)
                .where(t.entries.c.effective_at >= starts_at, t.entries.c.effective_at < ends_at)
            ).scalar_one()
        )

    # -- reports ------------------------------------------------------------------------

    def account_nets(
        self,
        instrument_code: str | None,
        party: str | None,
        before: datetime,
        axis: str,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[AccountNet]:
        moment = t.postings.c.recorded_at if axis == "recorded" else t.postings.c.effective_at
        query = (
            select(
                t.accounts.c.code,
                t.accounts.c.party,
                t.accounts.c.normal_side,
                t.postings.c.instrument_code,
                DEBITS_SUM.label("debits"),
                CREDITS_SUM.label("credits"),
            )
            .join(t.accounts, t.accounts.c.id == t.postings.c.account_id)
            .where(~t.postings.c.pending, moment < before, visible_to(scope, t.accounts.c.party))
            .group_by(
                t.accounts.c.code,
                t.accounts.c.party,
                t.accounts.c.normal_side,
                t.postings.c.instrument_code,
            )
            .order_by(t.postings.c.instrument_code, t.accounts.c.code)
        )
        if instrument_code is not None:
            query = query.where(t.postings.c.instrument_code == instrument_code)
        if party is not None:
            query = query.where(t.accounts.c.party == party)
        return [
            AccountNet(
                row.code,
                row.party,
                Side(row.normal_side),
                row.instrument_code,
                int(row.debits),
                int(row.credits),
            )
            for row in self._connection.execute(query)
        ]

    def movements(
        self,
        account_id: int,
        instrument_code: str,
        between: tuple[datetime, datetime],
        after_posting_id: int,
        limit: int,
    ) -> list[MovementLine]:
        p = t.postings.c
        query = (
            select(
                p.id,
                t.entries.c.entry_id,
                t.entries.c.entry_type,
                p.effective_at,
                p.recorded_at,
                p.side,
                p.units,
            )
            .join(t.entries, t.entries.c.seq == p.entry_seq)
            .where(*_movement_filter(account_id, instrument_code, between))
            .order_by(p.effective_at, p.id)
            .limit(limit)
        )
        if after_posting_id:
            last = select(p.effective_at).where(p.id == after_posting_id).scalar_subquery()
            query = query.where(
                tuple_(p.effective_at, p.id) > tuple_(last, literal(after_posting_id))
            )
        return [
            MovementLine(
                row.id,
                row.entry_id,
                row.entry_type,
                row.effective_at,
                row.recorded_at,
                Side(row.side),
                row.units,
            )
            for row in self._connection.execute(query)
        ]

    def count_movements(
        self, account_id: int, instrument_code: str, between: tuple[datetime, datetime]
    ) -> int:
        query = (
            select(func.count())
            .select_from(t.postings)
            .where(*_movement_filter(account_id, instrument_code, between))
        )
        return int(self._connection.execute(query).scalar_one())

    def trades_between(
        self,
        first: date,
        last: date,
        state: str | None,
        after_seq: int,
        limit: int,
        *,
        scope: Scope = EVERYTHING,
    ) -> list[tuple[int, Trade]]:
        query = (
            select(t.trades)
            .where(
                t.trades.c.trade_date >= first,
                t.trades.c.trade_date <= last,
                t.trades.c.seq > after_seq,
                visible_to(scope, t.trades.c.seller, t.trades.c.buyer),
            )
            .order_by(t.trades.c.seq)
            .limit(limit)
        )
        if state is not None:
            query = query.where(t.trades.c.state == state)
        return [(row.seq, _trade(row)) for row in self._connection.execute(query)]

    def market_trades(self, first: date, last: date) -> list[MarketTrade]:
        trades, sellers = t.trades.c, t.parties.c
        rows = self._connection.execute(
            select(
                trades.trade_date,
                trades.family,
                trades.units,
                trades.price_fen,
                trades.seller,
                trades.buyer,
                sellers.kind,
            )
            .join(t.parties, sellers.code == trades.seller)
            .where(
                trades.state == "settled",
                trades.trade_date >= first,
                trades.trade_date <= last,
            )
            .order_by(trades.trade_date, trades.seq)
        )
        return [
            MarketTrade(
                r.trade_date,
                r.family,
                r.units,
                r.price_fen,
                r.seller,
                r.buyer,
                reserve=r.kind == "authority",
            )
            for r in rows
        ]

    def market_reserve_operations(self, first: date, last: date) -> list[MarketTrade]:
        entries, postings, accounts = t.entries, t.postings, t.accounts
        reversal = entries.alias("reversal")
        start, end = day_range(first, last)
        # Found from the reserves' postings (few accounts, indexed by account and instant), not
        # by reading every entry of the quarter: the report is public.
        at_reserve, reserves = postings.alias("at_reserve"), accounts.alias("reserves")
        touching_reserves = (
            select(at_reserve.c.entry_seq)
            .join(reserves, reserves.c.id == at_reserve.c.account_id)
            .where(
                reserves.c.code.like(f"%:{RESERVE.suffix}"),
                at_reserve.c.effective_at >= start,
                at_reserve.c.effective_at < end,
            )
        )
        rows = self._connection.execute(
            select(
                entries.c.seq,
                entries.c.entry_type,
                entries.c.effective_at,
                accounts.c.party,
                postings.c.instrument_code,
                postings.c.side,
                postings.c.units,
            )
            .join(postings, postings.c.entry_seq == entries.c.seq)
            .join(accounts, accounts.c.id == postings.c.account_id)
            .where(
                entries.c.seq.in_(touching_reserves),
                entries.c.entry_type.in_(RESERVE_MARKET_TYPES),
                entries.c.status == "posted",
                entries.c.effective_at >= start,
                entries.c.effective_at < end,
                ~select(reversal.c.seq).where(reversal.c.reverses_seq == entries.c.seq).exists(),
            )
            .order_by(entries.c.effective_at, entries.c.seq, postings.c.id)
        )
        grouped: dict[int, list[Any]] = {}
        for row in rows:
            grouped.setdefault(row.seq, []).append(row)
        return [_reserve_market_trade(lines) for lines in grouped.values()]

    # -- statements -----------------------------------------------------------------------

    def get_import(self, import_id: str) -> StatementImport | None:
        row = self._connection.execute(
            select(t.statement_imports).where(t.statement_imports.c.id == import_id)
        ).first()
        return None if row is None else _import(row)

    def find_import(self, sha256: str) -> StatementImport | None:
        row = self._connection.execute(
            select(t.statement_imports).where(t.statement_imports.c.sha256 == sha256)
        ).first()
        return None if row is None else _import(row)

    def imported_fingerprints(self, fingerprints: Sequence[str]) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = {}
        lines = t.statement_lines.c
        for start in range(0, len(fingerprints), 500):  # bounded IN lists
            rows = self._connection.execute(
                select(lines.fingerprint, lines.import_id, lines.line_no).where(
                    lines.fingerprint.in_(fingerprints[start : start + 500])
                )
            )
            found.update({row.fingerprint: (row.import_id, row.line_no) for row in rows})
        return found

    def add_import(
        self, record: StatementImport, lines: Sequence[tuple[StatementLine, str]]
    ) -> None:
        self._connection.execute(
            insert(t.statement_imports).values(
                id=record.id,
                account_code=record.account_code,
                source=record.source,
                currency=record.currency,
                filename=record.filename,
                sha256=record.sha256,
                line_count=record.line_count,
                first_date=record.first_date,
                last_date=record.last_date,
                imported_by=record.imported_by,
                imported_at=record.imported_at,
            )
        )
        rows = [
            {
                "import_id": record.id,
                "line_no": line.line_no,
                "booked_on": line.booked_on,
                "reference": line.reference,
                "amount_fen": line.amount_fen,
                "counterparty": line.counterparty,
                "description": line.description,
                "fingerprint": fingerprint,
            }
            for line, fingerprint in lines
        ]
        for start in range(0, len(rows), 1000):
            self._connection.execute(insert(t.statement_lines), rows[start : start + 1000])

    def import_lines(self, import_id: str) -> list[tuple[int, StatementLine]]:
        rows = self._connection.execute(
            select(t.statement_lines)
            .where(t.statement_lines.c.import_id == import_id)
            .order_by(t.statement_lines.c.line_no)
        )
        return [
            (
                row.id,
                StatementLine(
                    row.line_no,
                    row.booked_on,
                    row.reference,
                    row.amount_fen,
                    row.counterparty,
                    row.description,
                ),
            )
            for row in rows
        ]

    # -- reconciliations -----------------------------------------------------------------

    def add_reconciliation(self, record: Reconciliation) -> None:
        self._connection.execute(
            insert(t.reconciliations).values(
                id=record.id,
                import_id=record.import_id,
                account_code=record.account_code,
                currency=record.currency,
                amount_tolerance_fen=record.tolerance.amount_fen,
                date_tolerance_days=record.tolerance.days,
                window_start=record.window_start,
                window_end=record.window_end,
                state=record.state,
                created_by=record.created_by,
                created_at=record.created_at,
            )
        )

    def get_reconciliation(
        self, reconciliation_id: str, *, lock: bool = False
    ) -> Reconciliation | None:
        query = select(t.reconciliations).where(t.reconciliations.c.id == reconciliation_id)
        if lock:
            query = query.with_for_update()
        row = self._connection.execute(query).first()
        return None if row is None else _reconciliation(row)

    def confirm_reconciliation(self, reconciliation_id: str, by: str, at: datetime) -> None:
        self._connection.execute(
            update(t.reconciliations)
            .where(t.reconciliations.c.id == reconciliation_id)
            .values(state="confirmed", confirmed_by=by, confirmed_at=at)
        )

    def ledger_items(
        self, account_id: int, instrument_code: str, between: tuple[datetime, datetime]
    ) -> list[LedgerItem]:
        p = t.postings.c
        rows = self._connection.execute(
            select(
                p.id,
                p.side,
                p.units,
                p.effective_at,
                t.entries.c.seq,
                t.entries.c.entry_id,
                t.accounts.c.normal_side,
            )
            .join(t.entries, t.entries.c.seq == p.entry_seq)
            .join(t.accounts, t.accounts.c.id == p.account_id)
            .where(
                p.account_id == account_id,
                p.instrument_code == instrument_code,
                ~p.pending,
                p.effective_at >= between[0],
                p.effective_at < between[1],
            )
            .order_by(p.effective_at, p.id)
        ).all()
        references = self._references([row.seq for row in rows])
        return [
            LedgerItem(
                row.id,
                row.entry_id,
                frozenset({row.entry_id, *references.get(row.seq, ())}),
                beijing_date(row.effective_at),
                row.units if row.side == row.normal_side else -row.units,
            )
            for row in rows
        ]

    def _references(self, seqs: list[int]) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        r = t.entry_references.c
        for start in range(0, len(seqs), 500):
            rows = self._connection.execute(
                select(r.entry_seq, r.reference).where(r.entry_seq.in_(seqs[start : start + 500]))
            )
            for row in rows:
                found.setdefault(row.entry_seq, []).append(row.reference)
        return found

    def add_match(  # noqa: PLR0917 - what a match is
        self,
        reconciliation_id: str,
        match: Match,
        reason: str,
        by: str,
        at: datetime,
        client_id: str | None = None,
    ) -> int:
        match_id: int = self._connection.execute(
            insert(t.reconciliation_matches)
            .values(
                reconciliation_id=reconciliation_id,
                method=match.method,
                difference_fen=match.difference_fen,
                reason=reason,
                created_by=by,
                created_at=at,
                client_id=client_id,
            )
            .returning(t.reconciliation_matches.c.id)
        ).scalar_one()
        items = [
            {"match_id": match_id, "statement_line_id": i, "posting_id": None}
            for i in match.line_ids
        ]
        items += [
            {"match_id": match_id, "statement_line_id": None, "posting_id": i}
            for i in match.posting_ids
        ]
        self._connection.execute(insert(t.reconciliation_match_items), items)
        return match_id

    def active_matches(self, reconciliation_id: str) -> list[MatchRecord]:
        m = t.reconciliation_matches.c
        return self._matches(m.reconciliation_id == reconciliation_id, m.unmatched_at.is_(None))

    def find_match(self, reconciliation_id: str, client_id: str) -> MatchRecord | None:
        m = t.reconciliation_matches.c
        found = self._matches(m.reconciliation_id == reconciliation_id, m.client_id == client_id)
        return found[0] if found else None

    def _matches(self, *conditions: ColumnElement[bool]) -> list[MatchRecord]:
        m = t.reconciliation_matches.c
        i = t.reconciliation_match_items.c
        rows = self._connection.execute(
            select(
                m.id,
                m.method,
                m.difference_fen,
                m.reason,
                m.created_by,
                m.created_at,
                m.client_id,
                i.statement_line_id,
                i.posting_id,
            )
            .join(t.reconciliation_match_items, i.match_id == m.id)
            .where(*conditions)
            .order_by(m.id, i.id)
        )
        grouped: dict[int, tuple[Any, list[int], list[int]]] = {}
        for row in rows:
            _, lines, postings = grouped.setdefault(row.id, (row, [], []))
            if row.statement_line_id is not None:
                lines.append(row.statement_line_id)
            else:
                postings.append(row.posting_id)
        return [
            MatchRecord(
                match_id,
                Match(tuple(lines), tuple(postings), row.method, row.difference_fen),
                row.reason,
                row.created_by,
                row.created_at,
                row.client_id,
            )
            for match_id, (row, lines, postings) in grouped.items()
        ]

    def unmatch(self, match_id: int, by: str, at: datetime, reason: str) -> None:
        self._connection.execute(
            update(t.reconciliation_matches)
            .where(t.reconciliation_matches.c.id == match_id)
            .values(unmatched_by=by, unmatched_at=at, unmatch_reason=reason)
        )


def _period(row: Row[Any]) -> PeriodRecord:
    return PeriodRecord(
        Period(row.label, PeriodKind(row.kind), row.starts_at, row.ends_at),
        PeriodState(row.state),
        row.closed_by,
        row.closed_at,
        row.entries_at_close,
        row.reopened_by,
        row.reopened_at,
        row.reason,
    )


def _import(row: Row[Any]) -> StatementImport:
    return StatementImport(
        row.id,
        row.account_code,
        row.source,
        row.currency,
        row.filename,
        row.sha256,
        row.line_count,
        row.first_date,
        row.last_date,
        row.imported_by,
        row.imported_at,
    )


def _reconciliation(row: Row[Any]) -> Reconciliation:
    return Reconciliation(
        row.id,
        row.import_id,
        row.account_code,
        row.currency,
        Tolerance(row.amount_tolerance_fen, row.date_tolerance_days),
        row.window_start,
        row.window_end,
        row.state,
        row.created_by,
        row.created_at,
        row.confirmed_by,
        row.confirmed_at,
    )


def _movement_filter(
    account_id: int, instrument_code: str, between: tuple[datetime, datetime]
) -> tuple[ColumnElement[bool], ...]:
    """The posted lines of an account in an instrument effective over `between` (a statement's
    movements, counted and paged alike)."""
    p = t.postings.c
    return (
        p.account_id == account_id,
        p.instrument_code == instrument_code,
        ~p.pending,
        p.effective_at >= between[0],
        p.effective_at < between[1],
    )


def _reserve_market_trade(lines: Sequence[Any]) -> MarketTrade:
    """A reserve operation's entry as a market trade: the rights legs (the same t/a in each
    vintage) say the pollutant, the quantity, who gave and who received; the cash leg, the value."""
    rights = [line for line in lines if line.instrument_code != CASH]
    given = next(line for line in rights if line.side == Side.DEBIT.value)
    taken = next(line for line in rights if line.side == Side.CREDIT.value)
    value = sum(
        line.units
        for line in lines
        if line.instrument_code == CASH and line.side == Side.DEBIT.value
    )
    return MarketTrade(
        beijing_date(lines[0].effective_at),
        given.instrument_code.rsplit("-", 1)[0],
        given.units,
        0,
        seller=given.party,
        buyer=taken.party,
        reserve=True,
        buy_back=lines[0].entry_type == "buy_back",
        value_fen=value,
    )
