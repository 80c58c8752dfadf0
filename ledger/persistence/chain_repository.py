"""The hash chain over the journal (`journal_chain`) and its head, read and appended by sealers.

Sealers queue on the chain's head row (`chain_heads`, locked FOR UPDATE on PostgreSQL; on SQLite
every write transaction holds the database's write lock from BEGIN IMMEDIATE); writers of entries
never touch it. Sealing extends the chain in entry seq order, so a round reads the entries above
the last one chained: a primary-key range, whatever the journal's size.

PostgreSQL commits out of seq order, so a sealer chains only seqs every transaction that drew
them has finished with. `allocation_mark` reads the last seq drawn, then the ids of this
database's transactions still writing; once none of them runs any more, every seq up to the mark
is committed (and visible) or will never be. That needs every writer of entries to hold its
transaction id before it draws a seq: the write path's `LOCK` takes row locks first. (Only this
database's transactions count: a long one in another database of the cluster delays nothing.)

The reads are lean (they run beside the writers, in the same process and on the same database):
an entry, its postings and its references come in three statements per page, on the driver
(fixed SQL, no per-row type processing: the few conversions are written out below), and give
exactly the `EntryRecord` the canonical entry is computed from. On PostgreSQL a page of links is
appended in one statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.domain.accounts import Side
from ledger.domain.chain import GENESIS_HASH, ChainHead, ChainLink
from ledger.domain.entries import EntryRecord, EntryStatus, PostingRecord, Reference
from ledger.persistence import tables as t
from ledger.persistence.sqlite_write_path import parse_instant

JOURNAL = "journal"  # the journal's row in chain_heads
# Postings and references are read by a seq range unless the wanted seqs are sparser than this.
_RANGE_DENSITY_MIN = 0.25

_SEQ_MAX = 2**63 - 1
_LINK_COLUMNS = (
    t.journal_chain.c.chain_seq,
    t.journal_chain.c.entry_seq,
    t.journal_chain.c.previous_hash,
    t.journal_chain.c.hash,
)
_SIDES = {side.value: side for side in Side}  # Enum look-ups by value are slow in bulk
_STATUSES = {status.value: status for status in EntryStatus}

# `{p}` is the driver's placeholder: %s (psycopg) or ? (sqlite3).
_ENTRY_COLUMNS = (
    "e.seq, e.entry_id, e.request_hash, e.entry_type, e.status, e.effective_at, e.recorded_at,"
    " e.memo, e.metadata, reversed_entry.entry_id, pending_entry.entry_id, e.expires_at"
)
_ENTRY_JOINS = (
    " LEFT JOIN entries reversed_entry ON reversed_entry.seq = e.reverses_seq"
    " LEFT JOIN entries pending_entry ON pending_entry.seq = e.pending_seq"
)
_ABOVE = (
    f"SELECT {_ENTRY_COLUMNS} FROM entries e{_ENTRY_JOINS}"  # noqa: S608 - constant text
    " WHERE e.seq > {p} AND e.seq <= {p} ORDER BY e.seq LIMIT {p}"
)
# An entry the chain should hold (its seq is not above the last one chained) but does not.
_UNACCOUNTED = (
    f"SELECT {_ENTRY_COLUMNS} FROM entries e{_ENTRY_JOINS}"  # noqa: S608 - constant text
    " WHERE e.seq <= {p} AND NOT EXISTS (SELECT 1 FROM journal_chain c"
    " WHERE c.entry_seq = e.seq) ORDER BY e.seq LIMIT 1"
)
_LINKS_PAGE = (
    f"SELECT c.chain_seq, c.entry_seq, c.previous_hash, c.hash, {_ENTRY_COLUMNS}"  # noqa: S608
    f" FROM journal_chain c LEFT JOIN entries e ON e.seq = c.entry_seq{_ENTRY_JOINS}"
    " WHERE c.chain_seq > {p} ORDER BY c.chain_seq LIMIT {p}"
)
_POSTINGS = (
    "SELECT p.entry_seq, a.code, p.instrument_code, p.side, p.units"
    " FROM postings p JOIN accounts a ON a.id = p.account_id WHERE {where}"
    " ORDER BY p.entry_seq, p.id"
)
_REFERENCES = (
    "SELECT r.entry_seq, r.kind, r.reference FROM entry_references r WHERE {where}"
    " ORDER BY r.entry_seq, r.kind, r.reference"
)
_RUNNING_XIDS = (
    "SELECT backend_xid::text FROM pg_stat_activity WHERE datname = current_database()"
    " AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()"
)
_HEAD_AND_TAIL = (
    "SELECT h.length, h.hash, h.position, c.chain_seq, c.entry_seq, c.previous_hash, c.hash"
    " FROM (SELECT 1 AS one) AS anchor"
    " LEFT JOIN chain_heads h ON h.name = 'journal'"
    " LEFT JOIN journal_chain c ON c.chain_seq = (SELECT MAX(chain_seq) FROM journal_chain)"
)
# PostgreSQL: a page of links in one statement (arrays), not one execution per link.
_APPEND_UNNEST = text(
    "INSERT INTO journal_chain (chain_seq, entry_seq, previous_hash, hash, sealed_at)"
    " SELECT chain_seq, entry_seq, previous_hash, hash, :sealed_at"
    " FROM unnest(CAST(:chain_seqs AS bigint[]), CAST(:entry_seqs AS bigint[]),"
    " CAST(:previous_hashes AS text[]), CAST(:hashes AS text[]))"
    " AS link(chain_seq, entry_seq, previous_hash, hash)"
)


class SqlChainRepository:
    """Links of the chain, its head, and the entries they seal."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgresql = connection.dialect.name == "postgresql"
        self._p = "%s" if self._postgresql else "?"

    def head(self, *, lock: bool = False) -> ChainHead:
        """Where the chain ends as its sealer recorded it (the genesis if nothing is recorded);
        with `lock`, sealers queue behind the row until this transaction ends."""
        if lock:  # the row must exist to be locked
            insert_ = postgresql_insert if self._postgresql else sqlite_insert
            self._connection.execute(
                insert_(t.chain_heads)
                .values(name=JOURNAL, length=0, hash=GENESIS_HASH, position=0)
                .on_conflict_do_nothing()
            )
        query = select(
            t.chain_heads.c.length, t.chain_heads.c.hash, t.chain_heads.c.position
        ).where(t.chain_heads.c.name == JOURNAL)
        row = self._connection.execute(query.with_for_update() if lock else query).first()
        return ChainHead(0, GENESIS_HASH, 0) if row is None else _head(*row)

    def move_head(self, head: ChainHead, sealed_at: datetime) -> None:
        """Record the chain's new end (the row is locked by `head(lock=True)`)."""
        self._connection.execute(
            update(t.chain_heads)
            .where(t.chain_heads.c.name == JOURNAL)
            .values(length=head.length, hash=head.hash, position=head.position, sealed_at=sealed_at)
        )

    def head_and_tail(self) -> tuple[ChainHead, ChainLink | None]:
        """The head as recorded and the last link, read together (one statement, one snapshot:
        a sealer committing between two reads would make them disagree)."""
        row = self._connection.exec_driver_sql(_HEAD_AND_TAIL).first()
        head = ChainHead(0, GENESIS_HASH, 0) if row is None or row[0] is None else _head(*row[:3])
        tail = None if row is None or row[3] is None else _link(*row[3:])
        return head, tail

    def link_at(self, chain_seq: int) -> ChainLink | None:
        row = self._connection.execute(
            select(*_LINK_COLUMNS).where(t.journal_chain.c.chain_seq == chain_seq)
        ).first()
        return None if row is None else _link(*row)

    def allocation_mark(self) -> tuple[int, frozenset[int]]:
        """(the highest seq drawn so far, the transactions of this database that may have drawn
        one and not finished); SQLite: (the highest seq committed, none)."""
        if not self._postgresql:
            return int(self._scalar("SELECT COALESCE(MAX(seq), 0) FROM entries")), frozenset()
        drawn = self._scalar(
            "SELECT COALESCE(pg_sequence_last_value("
            "pg_get_serial_sequence('entries', 'seq')::regclass), 0)"
        )
        # Read after the seq: whoever drew one up to it holds its id by then.
        return int(drawn), self.running_xids()

    def running_xids(self) -> frozenset[int]:
        """Ids of the transactions of this database that are writing now (SQLite: none)."""
        if not self._postgresql:
            return frozenset()
        rows = self._connection.exec_driver_sql(_RUNNING_XIDS)
        return frozenset(int(xid) for (xid,) in rows)

    def entries_above(self, seq: int, *, up_to: int, limit: int) -> list[EntryRecord]:
        """Up to `limit` committed entries with `seq` < their seq <= `up_to`, by seq."""
        return self._records(self._rows(_ABOVE, (seq, up_to, limit)))

    def append(self, links: Sequence[ChainLink], sealed_at: datetime) -> None:
        if not links:
            return
        if self._postgresql:
            self._connection.execute(
                _APPEND_UNNEST,
                {
                    "chain_seqs": [link.chain_seq for link in links],
                    "entry_seqs": [link.entry_seq for link in links],
                    "previous_hashes": [link.previous_hash for link in links],
                    "hashes": [link.hash for link in links],
                    "sealed_at": sealed_at,
                },
            )
            return
        self._connection.execute(
            insert(t.journal_chain),
            [
                {
                    "chain_seq": link.chain_seq,
                    "entry_seq": link.entry_seq,
                    "previous_hash": link.previous_hash,
                    "hash": link.hash,
                    "sealed_at": sealed_at,
                }
                for link in links
            ],
        )

    def links(self, after_chain_seq: int, limit: int) -> list[tuple[ChainLink, EntryRecord | None]]:
        rows = self._rows(_LINKS_PAGE, (after_chain_seq, limit))
        records = {
            record.seq: record for record in self._records([row[4:] for row in rows if row[4]])
        }
        return [(_link(*row[:4]), records.get(row[1])) for row in rows]

    def first_unaccounted(self, position: int) -> EntryRecord | None:
        """The first entry with a seq up to `position` (the last one chained) not chained."""
        records = self._records(self._rows(_UNACCOUNTED, (position,)))
        return records[0] if records else None

    def first_above(self, position: int) -> EntryRecord | None:
        """The first entry above `position`: the next the sealer chains."""
        records = self._records(self._rows(_ABOVE, (position, _SEQ_MAX, 1)))
        return records[0] if records else None

    # -- on the driver ---------------------------------------------------------------------------

    def _rows(self, statement: str, parameters: Sequence[Any]) -> list[Sequence[Any]]:
        result = self._connection.exec_driver_sql(statement.format(p=self._p), tuple(parameters))
        try:  # the driver's own tuples: no Row per row
            return list(result.cursor.fetchall()) if result.cursor is not None else []
        finally:
            result.close()

    def _scalar(self, statement: str) -> Any:
        return self._connection.exec_driver_sql(statement).scalar_one()

    def _records(self, rows: Sequence[Sequence[Any]]) -> list[EntryRecord]:
        """The records of entry rows (`_ENTRY_COLUMNS`), with their postings and references."""
        if not rows:
            return []
        seqs = [row[0] for row in rows]
        postings = self._grouped(_POSTINGS, "p.entry_seq", seqs)
        references = self._grouped(_REFERENCES, "r.entry_seq", seqs)
        moment = _aware if self._postgresql else parse_instant
        return [
            EntryRecord(
                seq=seq,
                entry_id=entry_id,
                request_hash=request_hash,
                entry_type=entry_type,
                status=_STATUSES[status],
                effective_at=moment(effective_at),
                recorded_at=moment(recorded_at),
                memo=memo,
                metadata=json.loads(metadata) if isinstance(metadata, str) else metadata,
                references=tuple(Reference(kind, ref) for kind, ref in references.get(seq, ())),
                postings=tuple(
                    PostingRecord(code, instrument, _SIDES[side], units)
                    for code, instrument, side, units in postings.get(seq, ())
                ),
                reverses_entry_id=reverses_entry_id,
                pending_entry_id=pending_entry_id,
                expires_at=None if expires_at is None else moment(expires_at),
            )
            for (
                seq,
                entry_id,
                request_hash,
                entry_type,
                status,
                effective_at,
                recorded_at,
                memo,
                metadata,
                reverses_entry_id,
                pending_entry_id,
                expires_at,
            ) in rows
        ]

    def _grouped(
        self, statement: str, entry_seq: str, seqs: Sequence[int]
    ) -> dict[int, list[Sequence[Any]]]:
        """Rows of `statement` for the entries `seqs`, grouped by entry (the rest of each row)."""
        low, high = min(seqs), max(seqs)
        parameters: Iterable[Any]
        if len(seqs) >= _RANGE_DENSITY_MIN * (high - low + 1):
            where, parameters = f"{entry_seq} BETWEEN {self._p} AND {self._p}", (low, high)
        elif self._postgresql:
            where, parameters = f"{entry_seq} = ANY({self._p})", (list(seqs),)
        else:
            where, parameters = f"{entry_seq} IN ({', '.join('?' * len(seqs))})", seqs
        wanted = set(seqs)
        grouped: dict[int, list[Sequence[Any]]] = {}
        for row in self._rows(statement.replace("{where}", where), tuple(parameters)):
            if row[0] in wanted:
                grouped.setdefault(row[0], []).append(row[1:])
        return grouped


def _aware(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _head(length: int, hash_: str, position: int) -> ChainHead:
    return ChainHead(int(length), hash_.strip(), int(position))


def _link(chain_seq: int, entry_seq: int, previous_hash: str, hash_: str) -> ChainLink:
    return ChainLink(chain_seq, entry_seq, previous_hash.strip(), hash_.strip())
