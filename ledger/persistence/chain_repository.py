"""The hash chain over the journal (`journal_chain`), read and appended by the sealer.

Sealers are serialized by a transaction-scoped advisory lock on PostgreSQL (writers of entries
never take it) and by the write lock every SQLite write transaction holds from BEGIN IMMEDIATE.

The sealer's reads are lean and bounded, because they run beside the writers (in the same
process, under the same interpreter lock, and on the same database): unchained entries are looked
for only above a seq the sealer knows to be fully chained (its horizon), so a round reads an index
range the size of what was written since, never the whole journal; an entry, its postings and its
references come in three statements per page, on the driver (fixed SQL, no per-row type
processing: the few conversions are written out below), and give exactly the `EntryRecord` the
canonical entry is computed from. On PostgreSQL a page of links is appended in one statement.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, text

from ledger.domain.accounts import Side
from ledger.domain.chain import ChainLink
from ledger.domain.entries import EntryRecord, EntryStatus, PostingRecord, Reference
from ledger.persistence import tables as t
from ledger.persistence.sqlite_write_path import instant, parse_instant

SEALER_LOCK_KEY = 0x4C45444745524348  # "LEDGERCH": the advisory lock only sealers take
# Postings and references are read by a seq range unless the wanted seqs are sparser than this.
_RANGE_DENSITY_MIN = 0.25

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
# Above the horizon only, on both sides of the anti-join: a merge of two short index ranges.
_UNCHAINED = (
    f"SELECT {_ENTRY_COLUMNS} FROM entries e{_ENTRY_JOINS}"  # noqa: S608 - constant text
    " WHERE e.seq > {p} AND NOT EXISTS (SELECT 1 FROM journal_chain c"
    " WHERE c.entry_seq = e.seq AND c.entry_seq > {p})"
)
_UNCHAINED_PAGE = _UNCHAINED + " ORDER BY e.seq LIMIT {p}"
_UNCHAINED_BEFORE = _UNCHAINED + " AND e.recorded_at < {p} ORDER BY e.seq LIMIT 1"
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
# PostgreSQL: a page of links in one statement (arrays), not one execution per link.
_APPEND_UNNEST = text(
    "INSERT INTO journal_chain (chain_seq, entry_seq, previous_hash, hash, sealed_at)"
    " SELECT chain_seq, entry_seq, previous_hash, hash, :sealed_at"
    " FROM unnest(CAST(:chain_seqs AS bigint[]), CAST(:entry_seqs AS bigint[]),"
    " CAST(:previous_hashes AS text[]), CAST(:hashes AS text[]))"
    " AS link(chain_seq, entry_seq, previous_hash, hash)"
)


class SqlChainRepository:
    """Links of the chain and the entries they seal."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._postgresql = connection.dialect.name == "postgresql"
        self._p = "%s" if self._postgresql else "?"

    @property
    def commits_in_seq_order(self) -> bool:
        """SQLite: one writer at a time allocates seqs and commits, so commits follow seq order;
        on PostgreSQL a transaction may commit a lower seq after a higher one was committed."""
        return not self._postgresql

    def tail(self, *, lock: bool = False) -> ChainLink | None:
        if lock and self._postgresql:
            self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEALER_LOCK_KEY}
            )
        row = self._connection.execute(
            select(
                t.journal_chain.c.chain_seq,
                t.journal_chain.c.entry_seq,
                t.journal_chain.c.previous_hash,
                t.journal_chain.c.hash,
            )
            .order_by(t.journal_chain.c.chain_seq.desc())
            .limit(1)
        ).first()
        return None if row is None else _link(*row)

    def highest_chained_seq(self) -> int:
        """The highest entry seq chained (0: none); one probe of the chain's entry_seq index."""
        return int(
            self._connection.execute(
                select(func.coalesce(func.max(t.journal_chain.c.entry_seq), 0))
            ).scalar_one()
        )

    def unchained(self, limit: int, *, above: int = 0) -> list[EntryRecord]:
        """Up to `limit` committed entries with seq > `above` not chained yet, by seq."""
        return self._records(self._rows(_UNCHAINED_PAGE, (above, above, limit)))

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

    def first_unchained_before(self, moment: datetime) -> EntryRecord | None:
        records = self._records(self._rows(_UNCHAINED_BEFORE, (0, 0, self._instant(moment))))
        return records[0] if records else None

    # -- on the driver ---------------------------------------------------------------------------

    def _rows(self, statement: str, parameters: Sequence[Any]) -> list[Sequence[Any]]:
        result = self._connection.exec_driver_sql(statement.format(p=self._p), tuple(parameters))
        try:  # the driver's own tuples: no Row per row
            return list(result.cursor.fetchall()) if result.cursor is not None else []
        finally:
            result.close()

    def _instant(self, moment: datetime) -> Any:
        # SQLite holds instants as naive UTC text (see UtcDateTime); psycopg takes datetimes.
        return moment if self._postgresql else instant(moment)

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


def _link(chain_seq: int, entry_seq: int, previous_hash: str, hash_: str) -> ChainLink:
    return ChainLink(chain_seq, entry_seq, previous_hash.strip(), hash_.strip())
