"""The hash chain over the journal (`journal_chain`), read and appended by the sealer.

Sealers are serialized by a transaction-scoped advisory lock on PostgreSQL (writers of entries
never take it) and by the write lock every SQLite write transaction holds from BEGIN IMMEDIATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, exists, insert, select, text

from ledger.domain.chain import ChainLink
from ledger.domain.entries import EntryRecord
from ledger.persistence import tables as t
from ledger.persistence.repositories import SqlJournalRepository

SEALER_LOCK_KEY = 0x4C45444745524348  # "LEDGERCH": the advisory lock only sealers take

_UNCHAINED = ~exists().where(t.journal_chain.c.entry_seq == t.entries.c.seq)


class SqlChainRepository:
    """Links of the chain and the entries they seal."""

    def __init__(self, connection: Connection, journal: SqlJournalRepository) -> None:
        self._connection = connection
        self._journal = journal

    def tail(self, *, lock: bool = False) -> ChainLink | None:
        if lock and self._connection.dialect.name == "postgresql":
            self._connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEALER_LOCK_KEY}
            )
        row = self._connection.execute(
            select(t.journal_chain).order_by(t.journal_chain.c.chain_seq.desc()).limit(1)
        ).first()
        return None if row is None else _link(row)

    def unchained(self, limit: int) -> list[EntryRecord]:
        seqs = list(
            self._connection.execute(
                select(t.entries.c.seq).where(_UNCHAINED).order_by(t.entries.c.seq).limit(limit)
            ).scalars()
        )
        records = self._journal.records_by_seq(seqs)
        return [records[seq] for seq in seqs if seq in records]

    def append(self, links: Sequence[ChainLink], sealed_at: datetime) -> None:
        if not links:
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
        rows = self._connection.execute(
            select(t.journal_chain)
            .where(t.journal_chain.c.chain_seq > after_chain_seq)
            .order_by(t.journal_chain.c.chain_seq)
            .limit(limit)
        ).all()
        links = [_link(row) for row in rows]
        records = self._journal.records_by_seq(link.entry_seq for link in links)
        return [(link, records.get(link.entry_seq)) for link in links]

    def first_unchained_before(self, moment: datetime) -> EntryRecord | None:
        seq = self._connection.execute(
            select(t.entries.c.seq)
            .where(_UNCHAINED, t.entries.c.recorded_at < moment)
            .order_by(t.entries.c.seq)
            .limit(1)
        ).scalar()
        return None if seq is None else self._journal.records_by_seq([seq]).get(seq)


def _link(row: Any) -> ChainLink:
    return ChainLink(row.chain_seq, row.entry_seq, row.previous_hash.strip(), row.hash.strip())
