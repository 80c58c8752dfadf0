"""Repositories over one SQLAlchemy connection: instruments, accounts and the journal.

The write path is Core statements, not the ORM (the ORM costs 2–4× on this path), and its hot
statements go to the driver directly (`sqlite_write_path`, `postgresql_write_path`). Instruments
and the fixed part of accounts never change, so they are cached per store; flags that do change
(frozen, closed) are always read with the lock of the balances.
"""

from __future__ import annotations

import json
from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar, cast

from sqlalchemy import (
    Connection,
    Select,
    and_,
    bindparam,
    case,
    exists,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Row

from ledger.domain.access import EVERYTHING, Scope
from ledger.domain.accounts import Account, Balance, Side
from ledger.domain.amounts import Instrument, InstrumentKind
from ledger.domain.entries import (
    BalanceKey,
    EntryRecord,
    EntryStatus,
    PostingRecord,
    Reference,
)
from ledger.domain.errors import RetryableConflict
from ledger.domain.ports import (
    AccountDraft,
    NewEntry,
    StatementLine,
    TrialBalanceLine,
    Violation,
)
from ledger.domain.registry import locked_last
from ledger.persistence import postgresql_write_path, sqlite_write_path
from ledger.persistence import tables as t
from ledger.persistence.invariants import invariant_violations
from ledger.persistence.scoping import visible_to


class Caches:
    """Per-store caches of immutable rows: instruments and accounts' fixed columns; and the
    balance rows writes found missing (their retries create them before locking anything)."""

    def __init__(self) -> None:
        self.instruments: dict[str, Instrument] = {}
        self.accounts: dict[str, Account] = {}
        self.missing_balances: set[BalanceKey] = set()

    def in_transaction(self) -> TransactionCaches:
        return TransactionCaches(self)


class TransactionCaches:
    """One transaction's view of the store's caches. What it reads or creates is cached for the
    transaction only, and for the store when it commits: a row created by a transaction that
    rolls back (a retry, a refusal) must not outlive it in the cache."""

    def __init__(self, shared: Caches) -> None:
        self._shared = shared
        self.instruments: ChainMap[str, Instrument] = ChainMap({}, shared.instruments)
        self.accounts: ChainMap[str, Account] = ChainMap({}, shared.accounts)
        self.missing_balances = shared.missing_balances
        # Created by this transaction, so invisible to every other: their balance rows cannot
        # be wanted by another writer, and are created in place.
        self.new_accounts: set[int] = set()
        self.new_instruments: set[str] = set()

    def publish(self) -> None:
        """The transaction committed: what it cached holds for everyone."""
        self._shared.instruments.update(self.instruments.maps[0])
        self._shared.accounts.update(self.accounts.maps[0])


class SqlInstrumentRepository:
    """Instruments: registered once, never changed, so cached after the first read."""

    def __init__(self, connection: Connection, caches: TransactionCaches) -> None:
        self._connection = connection
        self._cache = caches.instruments
        self._new = caches.new_instruments

    def get_many(self, codes: Iterable[str]) -> dict[str, Instrument]:
        found, missing = _look_up(self._cache, codes)
        if missing:
            rows = self._connection.execute(
                select(t.instruments).where(t.instruments.c.code.in_(missing))
            )
            for row in rows:
                found[row.code] = self._cache[row.code] = _instrument(row)
        return found

    def add(self, instrument: Instrument, created_at: datetime) -> None:
        self._new.add(instrument.code)
        self._connection.execute(
            insert(t.instruments).values(
                code=instrument.code,
                name=instrument.name,
                kind=instrument.kind.value,
                unit=instrument.unit,
                scale=instrument.scale,
                created_at=created_at,
            )
        )

    def list(self) -> list[Instrument]:
        rows = self._connection.execute(select(t.instruments).order_by(t.instruments.c.code))
        return [_instrument(row) for row in rows]


V = TypeVar("V")


def _look_up(cache: ChainMap[str, V], keys: Iterable[str]) -> tuple[dict[str, V], list[str]]:
    """What a transaction's cache holds of `keys`, and the keys it lacks. Read map by map: a
    ChainMap's own look-ups are Python loops over its maps, twice per key (in, then get)."""
    mine, shared = cache.maps
    found: dict[str, V] = {}
    missing = []
    for key in set(keys):
        value = mine.get(key) or shared.get(key)
        if value is None:
            missing.append(key)
        else:
            found[key] = value
    return found, missing


def _instrument(row: Row[Any]) -> Instrument:
    return Instrument(row.code, row.name, InstrumentKind(row.kind), row.unit, row.scale)


class SqlAccountRepository:
    """Accounts by code; the result always carries the current frozen and closed flags."""

    def __init__(self, connection: Connection, caches: TransactionCaches) -> None:
        self._connection = connection
        self._cache = caches.accounts
        self._new = caches.new_accounts

    def get_many(self, codes: Iterable[str]) -> dict[str, Account]:
        rows = self._connection.execute(select(t.accounts).where(t.accounts.c.code.in_(set(codes))))
        found = {row.code: _account(row) for row in rows}
        self._cache.update(found)
        return found

    def cached(self, codes: Iterable[str]) -> dict[str, Account]:
        """Accounts with possibly stale flags (fixed columns are exact); reads only misses."""
        found, missing = _look_up(self._cache, codes)
        if missing:
            found.update(self.get_many(missing))
        return found

    def add(self, draft: AccountDraft, created_at: datetime) -> Account:
        account_id = self._connection.execute(
            insert(t.accounts)
            .values(
                code=draft.code,
                party=draft.party,
                name=draft.name,
                normal_side=draft.normal_side.value,
                non_negative=draft.non_negative,
                instrument_code=draft.instrument_code,
                frozen=False,
                closed=False,
                created_at=created_at,
            )
            .returning(t.accounts.c.id)
        ).scalar_one()
        self._new.add(account_id)
        return Account(
            account_id,
            draft.code,
            draft.party,
            draft.name,
            draft.normal_side,
            draft.non_negative,
            draft.instrument_code,
            frozen=False,
            closed=False,
        )

    def lock(self, code: str) -> Account | None:
        """The account with its row locked: no balance row can be created for it meanwhile."""
        row = self._connection.execute(
            select(t.accounts).where(t.accounts.c.code == code).with_for_update()
        ).first()
        return None if row is None else _account(row)

    def set_flags(self, account_id: int, *, frozen: bool, closed: bool) -> None:
        self._connection.execute(
            update(t.accounts)
            .where(t.accounts.c.id == account_id)
            .values(frozen=frozen, closed=closed)
        )

    def list(
        self, party: str | None, after_id: int, limit: int, *, scope: Scope = EVERYTHING
    ) -> list[Account]:
        query = select(t.accounts).where(
            t.accounts.c.id > after_id, visible_to(scope, t.accounts.c.party)
        )
        if party is not None:
            query = query.where(t.accounts.c.party == party)
        rows = self._connection.execute(query.order_by(t.accounts.c.id).limit(limit))
        return [_account(row) for row in rows]


def _account(row: Row[Any]) -> Account:
    return Account(
        id=row.id,
        code=row.code,
        party=row.party,
        name=row.name,
        normal_side=Side(row.normal_side),
        non_negative=row.non_negative,
        instrument_code=row.instrument_code,
        frozen=row.frozen,
        closed=row.closed,
    )


_CURRENT = select(t.balances).where(
    t.balances.c.account_id == bindparam("account_id"),
    t.balances.c.instrument_code == bindparam("instrument_code"),
)
_SAME_BALANCE = and_(
    t.postings.c.account_id == bindparam("account_id"),
    t.postings.c.instrument_code == bindparam("instrument_code"),
    ~t.postings.c.pending,
)
# Recorded axis: running balances make this one probe of ix_postings_account_recorded.
_AS_OF_RECORDED = (
    select(t.postings.c.debits_after, t.postings.c.credits_after)
    .where(_SAME_BALANCE, t.postings.c.recorded_at <= bindparam("moment"))
    .order_by(t.postings.c.recorded_at.desc(), t.postings.c.id.desc())
    .limit(1)
)
# Σ debits and Σ credits (units) of the postings a query selects; 0 when there are none.
_IS_DEBIT = t.postings.c.side == Side.DEBIT.value
DEBITS_SUM = func.coalesce(func.sum(case((_IS_DEBIT, t.postings.c.units), else_=0)), 0)
CREDITS_SUM = func.coalesce(func.sum(case((_IS_DEBIT, 0), else_=t.postings.c.units)), 0)
# Effective axis: effective time may be back-dated, so no running balance applies: sum.
_AS_OF_EFFECTIVE = select(DEBITS_SUM, CREDITS_SUM).where(
    _SAME_BALANCE, t.postings.c.effective_at <= bindparam("moment")
)


# Entries with the ids of the entries they reverse or resolve. Built once: making the aliases
# (a proxy per column, each time) cost 3 ms of a read of one entry.
_REVERSED = t.entries.alias("reversed_entry")
_PENDING = t.entries.alias("pending_entry")
_RESOLVER = t.entries.alias("resolver")
_ENTRIES = (
    select(
        t.entries,
        _REVERSED.c.entry_id.label("reverses_entry_id"),
        _PENDING.c.entry_id.label("pending_entry_id"),
    )
    .outerjoin(_REVERSED, _REVERSED.c.seq == t.entries.c.reverses_seq)
    .outerjoin(_PENDING, _PENDING.c.seq == t.entries.c.pending_seq)
)


def _entry_whole(postgresql: bool) -> Select[Any]:
    """One entry, by `entry_id`, with its postings and references as JSON arrays: one read."""

    def as_json(*pairs: Any) -> Any:
        if postgresql:
            return func.json_agg(func.json_build_object(*pairs))
        return func.json_group_array(func.json_object(*pairs))

    postings, references = t.postings, t.entry_references
    lines = as_json(
        *("id", postings.c.id, "code", t.accounts.c.code),
        *("instrument", postings.c.instrument_code, "side", postings.c.side),
        *("units", postings.c.units),
    )
    names = as_json("kind", references.c.kind, "reference", references.c.reference)
    return _ENTRIES.add_columns(
        select(lines)
        .select_from(postings.join(t.accounts, t.accounts.c.id == postings.c.account_id))
        .where(postings.c.entry_seq == t.entries.c.seq)
        .scalar_subquery()
        .label("lines"),
        select(names)
        .where(references.c.entry_seq == t.entries.c.seq)
        .scalar_subquery()
        .label("names"),
    ).where(t.entries.c.entry_id == bindparam("entry_id"))


_ENTRY_WHOLE = {"postgresql": _entry_whole(True), "sqlite": _entry_whole(False)}


class SqlJournalRepository:
    """Journal entries, postings and the balances they move."""

    def __init__(self, connection: Connection, caches: TransactionCaches) -> None:
        self._connection = connection
        self._caches = caches
        self._postgresql = connection.dialect.name == "postgresql"
        # The hot statements go straight to the driver (see sqlite_/postgresql_write_path).
        self._sqlite_cursor = None if self._postgresql else self._driver_cursor()
        # PostgreSQL: balances saved go out with the next insert, in its one statement; the
        # flags each lock reported, to detect a freeze or close that committed during the wait.
        self._unsaved: list[tuple[Balance, datetime]] = []
        self._flags_locked: dict[int, tuple[bool, bool]] = {}
        self.written_seqs: list[int] = []
        self._unresolved: set[int] = set()  # pending entries found unresolved after their lock

    def _driver_cursor(self) -> Any:
        return self._connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    @cached_property
    def _pg_cursor(self) -> Any:
        """PostgreSQL's driver cursor, made by the first write (reads never need it)."""
        return self._driver_cursor() if self._postgresql else None

    def unbalanced_written_entries(self) -> list[tuple[int, str]]:
        """Entries written in this transaction that do not balance (SQLite's pre-commit check)."""
        if self._sqlite_cursor is None or not self.written_seqs:
            return []
        return sqlite_write_path.unbalanced_entries(self._sqlite_cursor, self.written_seqs)

    # -- the write path -------------------------------------------------------------------

    def lock(
        self, accounts: Mapping[str, Account], keys: Iterable[BalanceKey]
    ) -> tuple[dict[str, Account], dict[BalanceKey, Balance]]:
        wanted = set(keys)
        last_ids = {account.id for code, account in accounts.items() if locked_last(code)}
        last = {key for key in wanted if key[0] in last_ids}
        if not last or last == wanted:
            return self._lock_in_order(accounts, wanted)
        # Every writer locks the balances of revenue accounts after all its others
        # (`locked_last`): two statements, each in key order, for the rare write that has both.
        first_accounts, first = self._lock_in_order(accounts, wanted - last)
        last_accounts, then = self._lock_in_order(accounts, last)
        refreshed = {code: a for code, a in last_accounts.items() if a.id in last_ids}
        return first_accounts | refreshed, first | then

    def _lock_in_order(
        self, accounts: Mapping[str, Account], wanted: set[BalanceKey]
    ) -> tuple[dict[str, Account], dict[BalanceKey, Balance]]:
        # Creating a row holds it, so a row created after others are locked is out of the one
        # order every writer locks in, and two writers may each hold what the other wants. On
        # PostgreSQL a write that finds rows missing is therefore retried whole, and its retry
        # creates them (in key order) before it locks anything: once per row, not per write.
        # (Rows of an account or instrument this transaction created are nobody else's: made
        # in place. SQLite's one writer holds the whole database: in place too.)
        seen_missing = self._caches.missing_balances  # by earlier attempts, any thread
        create_first = wanted & seen_missing
        if create_first:
            self._create_balances(accounts, create_first)
            seen_missing -= create_first
        rows, flags = self._lock_rows(wanted)
        missing = wanted - rows.keys()
        contended = {key for key in missing if not self._ours(key)} if self._postgresql else set()
        if contended:
            seen_missing |= contended
            raise RetryableConflict(f"{len(contended)} balance rows missing: created on the retry")
        if missing:
            self._create_balances(accounts, missing)
            rows, flags = self._lock_rows(wanted)
        return _with_flags(accounts, flags), rows

    def _ours(self, key: BalanceKey) -> bool:
        return key[0] in self._caches.new_accounts or key[1] in self._caches.new_instruments

    def _lock_rows(
        self, keys: set[BalanceKey]
    ) -> tuple[dict[BalanceKey, Balance], dict[int, tuple[bool, bool]]]:
        if self._sqlite_cursor is not None:
            return sqlite_write_path.lock_rows(self._sqlite_cursor, keys)
        assert self._pg_cursor is not None
        self.flush()
        balances, flags = postgresql_write_path.lock_rows(self._pg_cursor, keys)
        self._flags_locked.update(flags)
        return balances, flags

    def _create_balances(self, accounts: Mapping[str, Account], keys: Iterable[BalanceKey]) -> None:
        """Create the balance rows of `keys` that do not exist yet, in key order."""
        by_id = {account.id: account for account in accounts.values()}
        rows = [
            {
                "account_id": account_id,
                "instrument_code": instrument_code,
                "normal_side": by_id[account_id].normal_side.value,
                "non_negative": by_id[account_id].non_negative,
            }
            for account_id, instrument_code in sorted(keys)
        ]
        if self._pg_cursor is not None:
            postgresql_write_path.create_balances(self._pg_cursor, rows)
            return
        statement = (
            sqlite_insert(t.balances).values([{**row, **_UNTOUCHED} for row in rows])
        ).on_conflict_do_nothing()
        self._connection.execute(statement)

    def save_balances(self, balances: Iterable[Balance], recorded_at: datetime) -> None:
        if self._sqlite_cursor is not None:
            sqlite_write_path.save_balances(self._sqlite_cursor, balances, recorded_at)
            return
        self._unsaved.extend((balance, recorded_at) for balance in balances)

    def flush(self) -> None:
        """Write balances saved since the last insert (PostgreSQL; before a lock or commit)."""
        if self._unsaved:
            self._write_postgresql([], [])

    def insert(self, new_entries: Sequence[NewEntry]) -> list[EntryRecord]:
        self._unresolved.difference_update(new.pending_seq for new in new_entries)
        if self._sqlite_cursor is not None:
            seqs = self._insert_sqlite(new_entries)
        else:
            seqs = self._write_postgresql(
                _entry_rows(new_entries), _posting_rows(new_entries), _reference_rows(new_entries)
            )
        self.written_seqs.extend(seqs)
        return [_record_of_new(seq, new) for seq, new in zip(seqs, new_entries, strict=True)]

    def _insert_sqlite(self, new_entries: Sequence[NewEntry]) -> list[int]:
        """Entries, postings and references (SQLite: rows built from the entries directly)."""
        assert self._sqlite_cursor is not None
        seqs = sqlite_write_path.insert_entries(self._sqlite_cursor, new_entries)
        sqlite_write_path.insert_postings(self._sqlite_cursor, new_entries, seqs)
        references = [
            {"entry_seq": seq, "kind": r.kind, "reference": r.id}
            for new, seq in zip(new_entries, seqs, strict=True)
            for r in new.draft.references
        ]
        if references:
            self._connection.execute(insert(t.entry_references), references)
        return seqs

    def _write_postgresql(
        self,
        entry_rows: list[dict[str, Any]],
        posting_rows: list[dict[str, Any]],
        reference_rows: Sequence[dict[str, Any]] = (),
    ) -> list[int]:
        """The saved balances, entries, postings and references in one statement; the entries'
        seqs.

        Refused as retryable if an account is blocked now that its lock reported open.
        """
        assert self._pg_cursor is not None
        unsaved, self._unsaved = self._unsaved, []
        written = postgresql_write_path.write(
            self._pg_cursor, unsaved, entry_rows, posting_rows, reference_rows
        )
        opened = {i for i, flags in self._flags_locked.items() if not any(flags)}
        if written.blocked & opened:
            raise RetryableConflict("an account was frozen or closed while this write waited")
        return [written.seqs[row["entry_id"]] for row in entry_rows]

    # -- reading entries ------------------------------------------------------------------

    def get_many(self, entry_ids: Iterable[str]) -> dict[str, EntryRecord]:
        records = self._records(t.entries.c.entry_id.in_(set(entry_ids)))
        return {record.entry_id: record for record in records}

    def get_whole(self, entry_id: str) -> EntryRecord | None:
        statement = _ENTRY_WHOLE["postgresql" if self._postgresql else "sqlite"]
        row = self._connection.execute(statement, {"entry_id": entry_id}).first()
        if row is None:
            return None
        lines = sorted(_json_rows(row.lines), key=lambda line: int(line["id"]))
        postings = tuple(
            PostingRecord(p["code"], p["instrument"], Side(p["side"]), int(p["units"]))
            for p in lines
        )
        names = sorted((r["kind"], r["reference"]) for r in _json_rows(row.names))
        return _record(row, postings, tuple(Reference(kind, name) for kind, name in names))

    def get_by_seq(self, seq: int) -> EntryRecord:
        (record,) = self._records(t.entries.c.seq == seq)
        return record

    def found_unresolved(self, seq: int) -> None:
        self._unresolved.add(seq)

    def follower_of(self, seq: int, *, link: str) -> EntryRecord | None:
        if link == "pending" and seq in self._unresolved:
            return None  # asked after the lock in this transaction (see found_unresolved)
        column = t.entries.c.reverses_seq if link == "reverses" else t.entries.c.pending_seq
        records = self._records(column == seq)
        return records[0] if records else None

    def due_pending(self, now: datetime, limit: int) -> list[EntryRecord]:
        return self._records(
            and_(
                t.entries.c.status == EntryStatus.PENDING.value,
                t.entries.c.expires_at <= now,
                ~exists().where(_RESOLVER.c.pending_seq == t.entries.c.seq),
            ),
            limit=limit,
        )

    def _records(self, condition: Any, limit: int | None = None) -> list[EntryRecord]:
        query = _ENTRIES.where(condition).order_by(t.entries.c.seq).limit(limit)
        rows = self._connection.execute(query).all()
        if not rows:
            return []
        seqs = [row.seq for row in rows]
        postings = self._postings_of(seqs)
        references = self._references_of(seqs)
        return [
            _record(row, postings.get(row.seq, ()), references.get(row.seq, ())) for row in rows
        ]

    def _postings_of(self, seqs: list[int]) -> dict[int, tuple[PostingRecord, ...]]:
        rows = self._connection.execute(
            select(
                t.postings.c.entry_seq,
                t.accounts.c.code,
                t.postings.c.instrument_code,
                t.postings.c.side,
                t.postings.c.units,
            )
            .join(t.accounts, t.accounts.c.id == t.postings.c.account_id)
            .where(t.postings.c.entry_seq.in_(seqs))
            .order_by(t.postings.c.id)
        )
        grouped: dict[int, list[PostingRecord]] = {}
        for row in rows:
            grouped.setdefault(row.entry_seq, []).append(
                PostingRecord(row.code, row.instrument_code, Side(row.side), row.units)
            )
        return {seq: tuple(lines) for seq, lines in grouped.items()}

    def _references_of(self, seqs: list[int]) -> dict[int, tuple[Reference, ...]]:
        rows = self._connection.execute(
            select(t.entry_references)
            .where(t.entry_references.c.entry_seq.in_(seqs))
            .order_by(t.entry_references.c.kind, t.entry_references.c.reference)
        )
        grouped: dict[int, list[Reference]] = {}
        for row in rows:
            grouped.setdefault(row.entry_seq, []).append(Reference(row.kind, row.reference))
        return {seq: tuple(refs) for seq, refs in grouped.items()}

    # -- balances -------------------------------------------------------------------------

    def balances_of(self, account_id: int) -> list[Balance]:
        rows = self._connection.execute(
            select(t.balances)
            .where(t.balances.c.account_id == account_id)
            .order_by(t.balances.c.instrument_code)
        )
        return [_balance(row) for row in rows]

    def balance_of(self, account_id: int, instrument_code: str) -> Balance | None:
        row = self._connection.execute(
            _CURRENT, {"account_id": account_id, "instrument_code": instrument_code}
        ).first()
        return None if row is None else _balance(row)

    def posted_as_of(
        self, account_id: int, instrument_code: str, moment: datetime, *, axis: str
    ) -> tuple[int, int]:
        """Posted (debits, credits) as of `moment` on the recorded or the effective time axis."""
        key = {"account_id": account_id, "instrument_code": instrument_code, "moment": moment}
        if axis == "recorded":
            row = self._connection.execute(_AS_OF_RECORDED, key).first()
            return (row.debits_after, row.credits_after) if row else (0, 0)
        row = self._connection.execute(_AS_OF_EFFECTIVE, key).one()
        return int(row[0]), int(row[1])

    def statement(
        self, account_id: int, instrument_code: str, after_posting_id: int, limit: int
    ) -> list[StatementLine]:
        rows = self._connection.execute(
            select(
                t.postings.c.id,
                t.entries.c.entry_id,
                t.entries.c.entry_type,
                t.postings.c.recorded_at,
                t.postings.c.effective_at,
                t.postings.c.side,
                t.postings.c.units,
                t.postings.c.debits_after,
                t.postings.c.credits_after,
            )
            .join(t.entries, t.entries.c.seq == t.postings.c.entry_seq)
            .where(
                t.postings.c.account_id == account_id,
                t.postings.c.instrument_code == instrument_code,
                ~t.postings.c.pending,
                *self._after(after_posting_id),
            )
            .order_by(t.postings.c.recorded_at, t.postings.c.id)
            .limit(limit)
        )
        return [
            StatementLine(
                row.id,
                row.entry_id,
                row.entry_type,
                row.recorded_at,
                row.effective_at,
                Side(row.side),
                row.units,
                row.debits_after,
                row.credits_after,
            )
            for row in rows
        ]

    @staticmethod
    def _after(posting_id: int) -> list[Any]:
        """Keyset condition: postings after `posting_id` in (recorded_at, id) order."""
        if not posting_id:
            return []
        last = select(t.postings.c.recorded_at).where(t.postings.c.id == posting_id)
        return [
            tuple_(t.postings.c.recorded_at, t.postings.c.id)
            > tuple_(last.scalar_subquery(), literal(posting_id))
        ]

    def trial_balance(self, instrument_code: str) -> list[TrialBalanceLine]:
        rows = self._connection.execute(
            select(
                t.accounts.c.code,
                t.accounts.c.party,
                t.balances.c.normal_side,
                t.balances.c.debits_posted,
                t.balances.c.credits_posted,
            )
            .join(t.accounts, t.accounts.c.id == t.balances.c.account_id)
            .where(t.balances.c.instrument_code == instrument_code)
            .order_by(t.accounts.c.code)
        )
        return [
            TrialBalanceLine(
                row.code, row.party, Side(row.normal_side), row.debits_posted, row.credits_posted
            )
            for row in rows
        ]

    def find_violations(self) -> list[Violation]:
        return invariant_violations(self._connection)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # "never changed" for a balance row just created
# The counters of a balance row just created (SQLite; PostgreSQL: CREATE_BALANCES).
_UNTOUCHED = dict.fromkeys(
    ("debits_posted", "credits_posted", "debits_pending", "credits_pending", "version"), 0
) | {"updated_at": _EPOCH}


def _with_flags(
    accounts: Mapping[str, Account], flags: Mapping[int, tuple[bool, bool]]
) -> dict[str, Account]:
    """The accounts with the frozen and closed flags the lock read (accounts none of whose
    balances were locked keep theirs; an account whose flags did not change is itself)."""
    refreshed = dict(accounts)
    for code, account in accounts.items():
        now = flags.get(account.id)
        if now is not None and now != (account.frozen, account.closed):
            refreshed[code] = replace(account, frozen=now[0], closed=now[1])
    return refreshed


def _balance(row: Row[Any]) -> Balance:
    return Balance(
        account_id=row.account_id,
        instrument_code=row.instrument_code,
        normal_side=Side(row.normal_side),
        non_negative=row.non_negative,
        debits_posted=row.debits_posted,
        credits_posted=row.credits_posted,
        debits_pending=row.debits_pending,
        credits_pending=row.credits_pending,
        version=row.version,
        updated_at=row.updated_at,
    )


def _json_rows(value: object) -> list[dict[str, Any]]:
    """Rows aggregated as JSON: a list on PostgreSQL (NULL if none), text on SQLite."""
    return cast(list[dict[str, Any]], json.loads(value) if isinstance(value, str) else value or [])


def _record(
    row: Row[Any], postings: tuple[PostingRecord, ...], references: tuple[Reference, ...]
) -> EntryRecord:
    return EntryRecord(
        seq=row.seq,
        entry_id=row.entry_id,
        request_hash=row.request_hash,
        entry_type=row.entry_type,
        status=EntryStatus(row.status),
        effective_at=row.effective_at,
        recorded_at=row.recorded_at,
        memo=row.memo,
        metadata=row.metadata,
        references=references,
        postings=postings,
        reverses_entry_id=row.reverses_entry_id,
        pending_entry_id=row.pending_entry_id,
        expires_at=row.expires_at,
    )


def _record_of_new(seq: int, new: NewEntry) -> EntryRecord:
    return EntryRecord(
        seq=seq,
        entry_id=new.draft.entry_id,
        request_hash=new.request_hash,
        entry_type=new.draft.entry_type,
        status=new.status,
        effective_at=new.effective_at,
        recorded_at=new.recorded_at,
        memo=new.draft.memo,
        metadata=dict(new.draft.metadata),
        references=new.draft.references,
        postings=tuple(
            PostingRecord(p.account_code, p.instrument_code, p.side, p.units) for p in new.postings
        ),
        reverses_entry_id=new.reverses_entry_id,
        pending_entry_id=new.pending_entry_id,
        expires_at=new.draft.expires_at,
    )


def _entry_rows(new_entries: Sequence[NewEntry]) -> list[dict[str, Any]]:
    return [
        {
            "entry_id": new.draft.entry_id,
            "request_hash": new.request_hash,
            "entry_type": new.draft.entry_type,
            "status": new.status.value,
            "effective_at": new.effective_at,
            "recorded_at": new.recorded_at,
            "memo": new.draft.memo,
            "metadata": dict(new.draft.metadata),
            "reverses_seq": new.reverses_seq,
            "pending_seq": new.pending_seq,
            "expires_at": new.draft.expires_at,
        }
        for new in new_entries
    ]


def _reference_rows(new_entries: Sequence[NewEntry]) -> list[dict[str, Any]]:
    """References naming their entry by id (PostgreSQL inserts them with their entries)."""
    return [
        {"entry_id": new.draft.entry_id, "kind": r.kind, "reference": r.id}
        for new in new_entries
        for r in new.draft.references
    ]


def _posting_rows(new_entries: Sequence[NewEntry]) -> list[dict[str, Any]]:
    """Postings naming their entry by id (PostgreSQL inserts both in one statement)."""
    return [
        {
            "entry_id": new.draft.entry_id,
            "account_id": p.account_id,
            "instrument_code": p.instrument_code,
            "side": p.side.value,
            "units": p.units,
            "pending": new.status is EntryStatus.PENDING,
            "recorded_at": new.recorded_at,
            "effective_at": new.effective_at,
            "debits_after": p.debits_after,
            "credits_after": p.credits_after,
        }
        for new in new_entries
        for p in new.postings
    ]
